"""The `stepwise` command line. Each command imports its module lazily: `stepwise --help` stays fast."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _data_generate(args: argparse.Namespace) -> int:
    from stepwise.data import generate_dataset

    try:
        paths = generate_dataset(rows=args.rows, seed=args.seed, out_dir=args.out)
    except (ValueError, TypeError, NotADirectoryError) as error:
        print(f"stepwise: error: {error}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stepwise", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="work with raw datasets")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="COMMAND")
    generate = data_commands.add_parser(
        "generate", help="write claims.csv and customers.csv with the tutorial's schema"
    )
    generate.add_argument("--rows", type=int, default=5000, help="number of claims (default 5000)")
    generate.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    generate.add_argument("--out", type=Path, required=True, help="folder to write the two files into")
    generate.set_defaults(handler=_data_generate)

    # local mode: run/runs/show/registry/approve, and serve/invoke (modules import moto lazily)
    from stepwise.local import cli_endpoints, cli_run

    cli_run.add_commands(commands)
    cli_endpoints.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
