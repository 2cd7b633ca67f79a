"""The serving side of SageMaker's built-in XGBoost container (algorithm mode), run as a local process.

    python -m stepwise.containers.xgboost_serving --model-dir DIR --port P [--host 127.0.0.1]

DIR is what SageMaker extracts model.tar.gz into (the container's /opt/ml/model): it holds the file
`xgboost-model`, saved by the training container with `Booster.save_model`. The server loads it
before it listens, then answers, as the real container does:

- `GET /ping`: 200 once the model is loaded;
- `POST /invocations`: `text/csv` in (rows of features, no header, no label), one prediction per row
  out, encoded as the algorithm-mode container's handler does (sagemaker-xgboost-container,
  handler_service.default_output_fn): `Accept: text/csv` (the default) gives the values joined by
  commas on one line (one per line when SAGEMAKER_BATCH is set, as in batch transform);
  `Accept: application/json` gives a JSON list `[p1, p2, ...]` (sagemaker_inference's encoder).
  Clients that accept both commas and newlines read both the same, here and on AWS.

CSV is read as the real container reads it (algorithm_mode/serve_utils.parse_content_data →
encoder.csv_to_dmatrix, then xgboost): the body is stripped of surrounding whitespace and split at
newlines and commas; an empty cell is a missing value, and so is `nan` in any case (`NaN`, `-nan`):
both become NaN, which xgboost scores as missing, exactly as a DMatrix with NaN in that place. Any
other cell is what Python's float() reads, spaces around it allowed (`1e3`, `+2`, `.5`, `1_000`).

A payload the model cannot score gets a 4xx with a message that names the row and says what to fix:
400 for an empty body, a non-numeric or blank (spaces only) cell, a row with another number of
features than the model's (a blank line between rows is such a row), or an infinite value (`inf`, or
beyond float32's ±3.4e38, which XGBoost refuses); 415 for a content type other than text/csv, 406 for
an Accept type it cannot produce. The real container refuses the same rows, with other statuses: 415
for a non-numeric, blank or infinite cell and for ragged rows, 400 for more features than the model
has, 204 for an empty body. One difference on purpose: it scores a row with *fewer* features than the
model (xgboost takes the missing trailing columns as missing values); here that is a 400, since it is
almost always a client bug (a dropped column). The real container sniffs the delimiter from the first
line; here it is always a comma, as Stepwise sends. It also reads libsvm and recordio-protobuf;
Stepwise sends CSV only, so this server says so (415) rather than guessing.

HTTP is served by uvicorn (`stepwise.emulator.server`), one request at a time in its event loop, as a
real container's worker predicts: keep-alive connections; a body over 6 MB gets 413 (the connection
stays usable: the rest of the body is discarded as it arrives); a request whose headers or body do not
arrive within 60 s gets 408 or a closed connection, and an idle connection is closed after 60 s, so a
stalled client holds no thread; a malformed request (a negative or non-numeric Content-Length) gets
400; a chunked body is read; a method other than GET on /ping or POST on /invocations gets 405, another
path 404. If the model cannot be loaded the process prints why and exits with status 1, so an endpoint
fails to start as on SageMaker. It binds to loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if __name__ == "__main__":
    # Only as the server process: xgboost imports scikit-learn when it is installed, just to offer its
    # sklearn-style estimators, which serving never uses; that import is most of the server's start-up
    # (~1.2 s of ~1.6 s), and so of every endpoint's time in Creating. A None entry in sys.modules makes
    # `import sklearn` raise ImportError, which xgboost handles by leaving those estimators out.
    sys.modules.setdefault("sklearn", None)
import xgboost as xgb  # noqa: E402

from stepwise.containers import model_archive  # noqa: E402

if TYPE_CHECKING:
    from stepwise.emulator.server import App, Limits, LoopbackServer, Reply

MODEL_FILE = model_archive.MODEL_FILE
CSV = "text/csv"
JSON = "application/json"
BATCH_ENV = "SAGEMAKER_BATCH"  # set by SageMaker in batch transform containers
ROUTES = {"/ping": ("GET", "HEAD"), "/invocations": ("POST",)}  # path -> the methods it answers


class PayloadError(Exception):
    """A request the model cannot score; `status` is the HTTP status to answer with."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def load_model(model_dir: Path) -> xgb.Booster:
    """Load `xgboost-model` from the extracted model.tar.gz; raise ValueError saying what is wrong."""
    path = Path(model_dir) / MODEL_FILE
    if not path.is_file():
        found = sorted(p.name for p in Path(model_dir).iterdir()) if Path(model_dir).is_dir() else []
        raise ValueError(
            f"model file {path} not found (the folder holds {found or 'nothing'}): model.tar.gz must "
            f"contain '{MODEL_FILE}' at its top level, as the built-in XGBoost training job writes it"
        )
    booster = xgb.Booster()
    try:
        # from bytes: xgboost tells JSON from UBJSON itself (the file name carries no extension)
        booster.load_model(bytearray(path.read_bytes()))
    except xgb.core.XGBoostError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise ValueError(f"{path} is not a model XGBoost can load: {first_line}") from error
    # as the real container: one thread per prediction (its workers are processes), and no OpenMP
    # threads left spinning between requests on a laptop's few cores
    booster.set_param({"nthread": 1})
    if booster.num_features() == 0:
        raise ValueError(f"{path} loaded but has no features: it is not a trained model")
    return booster


def parse_csv(body: bytes, num_features: int) -> np.ndarray:
    """CSV rows (no header, no label) → float32 matrix, or PayloadError naming the bad row and value.

    Decoded as the real container decodes it (serve_utils.parse_content_data → encoder.csv_to_dmatrix):
    the body stripped of surrounding whitespace, split at each newline, then at each comma; an empty
    cell is a missing value (NaN), and a cell is otherwise what Python's float() reads (so `nan` in any
    case is a missing value too, and spaces around a number do not matter). Rejected, as there: a
    non-numeric or blank cell, and a value that is infinite in float32 (`inf`, or beyond ±3.4e38),
    which XGBoost refuses while NaN means missing; and a row whose number of cells is not the model's
    (there: ragged rows and extra columns; fewer columns are scored, see the module's docstring).
    """
    if not body.strip():
        raise PayloadError(HTTPStatus.BAD_REQUEST, "empty body: send one or more CSV rows of features")
    try:
        lines = body.strip().decode("utf-8").split("\n")
    except UnicodeDecodeError as error:
        raise PayloadError(HTTPStatus.BAD_REQUEST, f"body is not UTF-8 text: {error}") from error
    try:  # numpy's C parser for the common case; anything it refuses or skips goes row by row below
        rows = np.loadtxt(lines, delimiter=",", dtype=np.float64, ndmin=2, comments=None)
    except ValueError:
        rows = None
    if rows is None or rows.shape != (len(lines), num_features):  # loadtxt skips blank lines
        rows = _parse_rows(lines, num_features)
    with np.errstate(over="ignore"):  # a value beyond float32's range becomes inf, refused below
        features = rows.astype(np.float32)
    infinite = np.isinf(features)
    if infinite.any():
        row, column = (int(i) + 1 for i in np.argwhere(infinite)[0])
        raise PayloadError(
            HTTPStatus.BAD_REQUEST,
            f"row {row} has an infinite value in column {column} ({float(rows[row - 1, column - 1])!r} "
            "as float32): "
            "XGBoost rejects infinite values; leave a missing value empty or write nan",
        )
    return features


def _parse_rows(lines: list[str], num_features: int) -> np.ndarray:
    """Row by row: the first row with the wrong number of features or a non-numeric value is named."""
    rows = []
    for number, line in enumerate(lines, start=1):
        cells = line.split(",")
        if len(cells) != num_features:
            what = "is empty" if not line.strip() else f"has {len(cells)} features"
            raise PayloadError(
                HTTPStatus.BAD_REQUEST,
                f"row {number} {what}; the model expects {num_features} "
                "(send features only: no header, no label column, no blank line)",
            )
        values = []
        for column, cell in enumerate(cells, start=1):
            if cell == "":
                values.append(np.nan)
                continue
            try:
                values.append(float(cell))
            except ValueError:
                problem = f"a non-numeric value {cell.strip()!r}" if cell.strip() else "a blank cell"
                raise PayloadError(
                    HTTPStatus.BAD_REQUEST,
                    f"row {number} has {problem} in column {column}: every feature must be a number "
                    "(encode categories as the training data did; a missing value is an empty cell or nan)",
                ) from None
        rows.append(values)
    return np.asarray(rows, dtype=np.float64)


def media_type(header: str | None, default: str) -> str:
    """'text/csv; charset=utf-8' → 'text/csv'; a missing header → default."""
    if not header:
        return default
    return header.split(";")[0].strip().lower()


def choose_accept(header: str | None) -> str:
    """The response type for an Accept header: text/csv unless JSON is asked for."""
    for candidate in (header or CSV).split(","):
        kind = media_type(candidate, CSV)
        if kind in (CSV, "text/*", "*/*"):
            return CSV
        if kind in (JSON, "application/*"):
            return JSON
    raise PayloadError(HTTPStatus.NOT_ACCEPTABLE, f"Accept {header!r} is not supported: use {CSV} or {JSON}")


def encode_predictions(predictions: np.ndarray, accept: str, batch: bool = False) -> bytes:
    """One prediction per row, as the real container encodes them: a JSON list, or CSV values joined
    by commas on one line (one per line, newline-terminated, in batch transform)."""
    values = predictions.tolist()  # Python floats: str() of each is what the real container writes
    if accept == JSON:
        return json.dumps(values).encode()
    if batch:
        return "".join(f"{v!r}\n" for v in values).encode()
    return ",".join(map(repr, values)).encode()


def predict(
    booster: xgb.Booster, body: bytes, content_type: str | None, accept: str | None
) -> tuple[str, bytes]:
    """Score one /invocations request: (response content type, response body), or PayloadError."""
    kind = media_type(content_type, CSV)
    if kind != CSV:
        raise PayloadError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            f"content type {content_type!r} is not supported: send {CSV} (rows of features, no header)",
        )
    response_type = choose_accept(accept)
    features = parse_csv(body, booster.num_features())
    predictions = booster.inplace_predict(features)
    return response_type, encode_predictions(
        predictions, response_type, batch=bool(os.environ.get(BATCH_ENV))
    )


def serving_app(booster: xgb.Booster, limits: Limits | None = None) -> App:
    """The container's HTTP interface as an ASGI app: GET /ping, POST /invocations."""
    from stepwise.emulator.server import BodyError, Limits, body_or_reply, header, respond

    limits = limits or Limits()
    text = {"Content-Type": "text/plain"}

    def body_error(error: BodyError) -> Reply:
        advice = ": send fewer rows per request" if error.status == 413 else ""
        return error.status, text, f"{error}{advice}\n".encode()

    async def app(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        allowed = ROUTES.get(path)
        if allowed is None:
            await respond(send, 404, text, b"not found: use GET /ping or POST /invocations\n")
            return
        if method not in allowed:
            message = f"method {method} is not allowed on {path}: use {' or '.join(allowed)}\n"
            await respond(send, 405, {**text, "Allow": ", ".join(allowed)}, message.encode())
            return
        if path == "/ping":
            await respond(send, 200, text, b"")
            return
        body = await body_or_reply(scope, receive, send, limits, body_error)
        if body is None:
            return
        try:  # in the event loop's thread: one prediction at a time, as a real container's worker
            response_type, payload = predict(
                booster, body, header(scope, b"content-type"), header(scope, b"accept")
            )
        except PayloadError as error:
            await respond(send, error.status, text, f"{error}\n".encode())
            return
        await respond(send, 200, {"Content-Type": response_type}, payload)

    return app


def serve(
    model_dir: Path, port: int, host: str = "127.0.0.1", limits: Limits | None = None
) -> LoopbackServer:
    """Load the model and return a server bound to host:port (call serve_forever or start on it).

    Startup costs the model load and the uvicorn import (~0.1 s), both before the port answers.
    """
    from stepwise.emulator.server import LOOPBACK_HOSTS, Limits, LoopbackServer

    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"host {host!r} is not loopback: the local model server binds to 127.0.0.1 only")
    limits = limits or Limits()
    return LoopbackServer(serving_app(load_model(model_dir), limits), host=host, port=port, limits=limits)


def _exit_with_parent() -> None:
    """A watchdog thread: when the parent dies (even by SIGKILL) this process is re-parented; then exit."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, required=True, help="folder holding xgboost-model")
    parser.add_argument("--port", type=int, required=True, help="port to listen on (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--exit-with-parent", action="store_true", help="exit when the process that started this one is gone"
    )
    args = parser.parse_args(argv)
    if args.exit_with_parent:
        _exit_with_parent()
    try:
        server = serve(args.model_dir, args.port, args.host)
    except (ValueError, OSError) as error:
        print(f"xgboost_serving: cannot start: {error}", file=sys.stderr, flush=True)
        return 1
    host, port = server.server_address[:2]
    # served from a thread: SIGTERM (an endpoint deleted or replaced) then ends the process at once, as
    # before, instead of uvicorn's graceful shutdown in the main thread; a prediction has nothing to save
    server.start(name="xgboost-serving")
    print(f"xgboost_serving: model loaded, listening on http://{host}:{port}", flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
