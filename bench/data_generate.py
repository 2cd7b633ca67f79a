"""Synthetic data generator: time and peak memory for 1,000,000 rows, against a 10x smaller run.

    python bench/data_generate.py                      # 1,000,000 rows (about 15 s on an idle core)
    python bench/data_generate.py --rows 200000 --chunk-rows 50000

Each size runs in a fresh Python process (the same interpreter), into a temporary folder, and reports
its wall-clock and CPU time (the ratio uses CPU time: other processes on a shared machine stretch the
wall clock) and its peak resident memory above what the imports already took. Generation is
chunked, so time should grow about linearly with the rows (ratio near 10) and memory should not grow
(ratio near 1). Measured with the OS's own counters (getrusage), without tracing, so the timing is
not slowed by the measurement.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MB = 1024 * 1024

# Runs in the child: imports first, then one generation, then one line of JSON on stdout.
CHILD = """
import json, resource, sys, time
from pathlib import Path
from stepwise.data import generate_dataset

rows, chunk_rows, folder = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
rss_after_imports_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
start, start_cpu = time.perf_counter(), time.process_time()
paths = generate_dataset(rows=rows, seed=0, out_dir=folder, chunk_rows=chunk_rows)
seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({
    "seconds": seconds,
    "cpu_seconds": cpu_seconds,
    "bytes": sum(path.stat().st_size for path in paths),
    "imports_mb": rss_after_imports_kb / 1024,
    "generation_mb": (peak_kb - rss_after_imports_kb) / 1024,
}))
"""


def measure(rows: int, chunk_rows: int) -> dict[str, float]:
    """Generate `rows` rows in a fresh process; its time, output size and peak memory."""
    with tempfile.TemporaryDirectory() as folder:
        result = subprocess.run(
            [sys.executable, "-c", CHILD, str(rows), str(chunk_rows), folder],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(result.stdout)


def main() -> None:
    sys.path.insert(0, str(REPO))
    from stepwise.data import DEFAULT_CHUNK_ROWS

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS)
    args = parser.parse_args()
    sizes = {"baseline": max(1, args.rows // 10), "target": args.rows}

    results = {}
    for name, rows in sizes.items():
        result = results[name] = measure(rows, args.chunk_rows)
        seconds = result["seconds"]
        print(
            f"{rows:>10,} rows: {seconds:6.2f} s ({result['cpu_seconds']:.2f} s CPU,"
            f" {rows / seconds:,.0f} rows/s,"
            f" {result['bytes'] / MB:.0f} MB written), peak memory +{result['generation_mb']:.0f} MB"
            f" over {result['imports_mb']:.0f} MB of imports (chunks of {args.chunk_rows:,} rows)"
        )

    base, target = results["baseline"], results["target"]
    time_ratio = target["cpu_seconds"] / base["cpu_seconds"]
    memory_ratio = target["generation_mb"] / base["generation_mb"]
    scale = sizes["target"] / sizes["baseline"]
    print(f"{scale:.0f}x the rows: CPU time x{time_ratio:.1f}, peak memory x{memory_ratio:.2f}")


if __name__ == "__main__":
    main()
