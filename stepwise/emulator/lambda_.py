"""The stack's Lambda functions: packaged as `sam build` packages them, run here as Lambda runs them.

Packaging (`FunctionPackage.build`): a function is its CodeUri folder plus its layers, nothing else.
- the function folder is copied into `<build>/<LogicalId>/` (its code at the root, as in the zip);
- each layer's content is merged into the function's `<build>/<LogicalId>.opt/`, the folder Lambda
  mounts at /opt: a `makefile`/python layer (functions/shared) is `python/<its code>`, a plain layer
  (the processing scripts) is copied as is;
- the third-party packages a function may import are exactly the distributions its requirements
  files (the function's, its layers' `requirements.txt` with their dependencies, `requirements-
  nodeps.txt` without) resolve to in this environment, plus what the Lambda Python runtime provides
  (boto3, botocore, s3transfer, jmespath, python-dateutil, six, urllib3) and the standard library.
  They are not copied: they are already installed here, and `sam build` would install the same.

Running (`FunctionRunner.invoke`): the handler module is imported from the build folder on first call
(a cold start) and kept (warm); each function has its own modules (its code's and its layers': two
functions never share a module-level client or cache, and a new runner starts every function cold);
while the function imports and runs, an import made by the function's own files of anything outside
its package fails as on Lambda (`Runtime.ImportModuleError: Unable to
import module 'app': No module named 'xgboost'` at init). The function runs as its execution role (its
AWS calls are authorized against that role's policies), with its Environment (values under /opt point
at its `.opt` folder), and its output goes to its CloudWatch Logs log group (LoggingConfig.LogGroup, else
/aws/lambda/<name>) and to `<logs>/<execution>/lambda/<name>.log`. An exception becomes Lambda's
unhandled-error payload `{errorType, errorMessage, stackTrace}` with FunctionError "Unhandled": the
error name Step Functions' Retry and Catch match. One function runs at a time: os.environ, sys.path
and the standard streams are process-wide.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import re
import shutil
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# What the Lambda Python runtime (python3.12) provides besides the standard library
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3", "awslambdaric"}
)
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
_LOCK = threading.RLock()  # one function at a time: os.environ, sys.path and the streams are global


# ------------------------------------------------------------------------------------------------
# Packaging
# ------------------------------------------------------------------------------------------------
@dataclass
class LayerSource:
    logical_id: str
    content_dir: Path
    build_method: str | None  # "makefile", "python3.12"... or None: the content as is


@dataclass
class FunctionPackage:
    """A function as `sam build` leaves it: its folder, its /opt, and the modules it may import."""

    logical_id: str
    code_dir: Path
    opt_dir: Path
    handler: str
    allowed_modules: frozenset[str]
    digest: str  # content hash of the package (code, layers, requirements)

    @property
    def module_name(self) -> str:
        return self.handler.rpartition(".")[0]

    @property
    def python_paths(self) -> list[Path]:
        """sys.path entries, as Lambda orders them: the function's code, then /opt/python."""
        return [self.code_dir, self.opt_dir / "python"]


def build_function(
    logical_id: str, source_dir: Path, handler: str, layers: list[LayerSource], build_root: Path
) -> FunctionPackage:
    """Copy the function and its layers into `build_root` (replacing an earlier build). A build whose
    sources (the function's folder, its layers' folders, its handler and the distributions its
    requirements resolve to) are those of the previous build is reused as it is."""
    code_dir, opt_dir = build_root / logical_id, build_root / f"{logical_id}.opt"
    if not source_dir.is_dir():
        raise FileNotFoundError(f"{logical_id}: CodeUri {source_dir} is not a folder")
    requirement_files = [source_dir / "requirements.txt"]
    nodeps_files: list[Path] = []
    for layer in layers:
        if layer.build_method:
            requirement_files.append(layer.content_dir / "requirements.txt")
            nodeps_files.append(layer.content_dir / "requirements-nodeps.txt")
    distributions = requirement_closure(requirement_files, nodeps_files)
    sources = tree_digest(
        [source_dir, *(layer.content_dir for layer in layers)],
        extra=[
            handler,
            *(f"{layer.logical_id}:{layer.build_method}" for layer in layers),
            *sorted(distributions),
        ],
    )
    manifest = build_root / f"{logical_id}.build.json"
    try:
        previous = json.loads(manifest.read_text())
    except (OSError, ValueError):
        previous = {}
    if previous.get("sources") == sources and code_dir.is_dir() and opt_dir.is_dir():
        return FunctionPackage(
            logical_id=logical_id,
            code_dir=code_dir,
            opt_dir=opt_dir,
            handler=handler,
            allowed_modules=frozenset(previous["allowed"]),
            digest=previous["digest"],
        )
    manifest.unlink(missing_ok=True)
    for folder in (code_dir, opt_dir):
        if folder.exists():
            shutil.rmtree(folder)
    shutil.copytree(source_dir, code_dir, ignore=_IGNORED)
    opt_dir.mkdir(parents=True)
    for layer in layers:
        if layer.build_method:  # built by sam: its code goes to python/, its packages are installed
            target = opt_dir / "python"
            for item in sorted(layer.content_dir.iterdir()):
                if item.is_dir() and not item.name.startswith((".", "__")):
                    shutil.copytree(item, target / item.name, ignore=_IGNORED, dirs_exist_ok=True)
        else:
            shutil.copytree(layer.content_dir, opt_dir, ignore=_IGNORED, dirs_exist_ok=True)
    (opt_dir / "python").mkdir(exist_ok=True)
    own = _top_level_names(code_dir) | _top_level_names(opt_dir / "python")
    allowed = frozenset(own | _modules_of(distributions) | RUNTIME_PROVIDED | set(sys.stdlib_module_names))
    package = FunctionPackage(
        logical_id=logical_id,
        code_dir=code_dir,
        opt_dir=opt_dir,
        handler=handler,
        allowed_modules=allowed,
        digest=tree_digest([code_dir, opt_dir], extra=sorted(distributions)),
    )
    manifest.write_text(
        json.dumps({"sources": sources, "allowed": sorted(allowed), "digest": package.digest})
    )
    return package


def tree_digest(folders: list[Path], extra: list[str] | None = None) -> str:
    """SHA-256 (hex, 16) over every file's relative path and content under `folders`."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(f"{folder.name}/{path.relative_to(folder).as_posix()}\0".encode())
            digest.update(path.read_bytes())
    for item in extra or []:
        digest.update(item.encode())
    return digest.hexdigest()[:16]


def _requirements(path: Path) -> list[Any]:
    from packaging.requirements import Requirement

    if not path.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_closure(files: list[Path], nodeps_files: list[Path]) -> set[str]:
    """Every distribution pip would install for these requirement files (with their dependencies; the
    `nodeps_files` without), from the installed distributions' own metadata."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    pending = [(requirement, True) for path in files for requirement in _requirements(path)]
    pending += [(requirement, False) for path in nodeps_files for requirement in _requirements(path)]
    while pending:
        requirement, follow = pending.pop()
        name = _canonical(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        if not follow:
            continue
        try:
            requires = importlib.metadata.requires(requirement.name) or []
        except importlib.metadata.PackageNotFoundError:
            raise FileNotFoundError(
                f"{requirement.name} (a function requirement) is not installed: `make run` installs it"
            ) from None
        for text in requires:
            dependency = Requirement(text)
            extras = requirement.extras or {""}
            if dependency.marker is None or any(dependency.marker.evaluate({"extra": e}) for e in extras):
                pending.append((dependency, True))
    return seen


@functools.cache
def _installed_modules() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(top-level module, canonical names of the distributions that provide it) of this environment
    (reading every distribution's file list takes a quarter of a second: once per process)."""
    return tuple(
        (module, tuple(_canonical(owner) for owner in owners))
        for module, owners in importlib.metadata.packages_distributions().items()
    )


def _modules_of(distributions: set[str]) -> set[str]:
    return {
        module for module, owners in _installed_modules() if any(owner in distributions for owner in owners)
    }


def _top_level_names(folder: Path) -> set[str]:
    if not folder.is_dir():
        return set()
    names = set()
    for item in folder.iterdir():
        if item.suffix == ".py":
            names.add(item.stem)
        elif item.is_dir() and not item.name.startswith((".", "__")):
            names.add(item.name)
    return names


# ------------------------------------------------------------------------------------------------
# Running
# ------------------------------------------------------------------------------------------------
class ImportModuleError(Exception):
    """Lambda's init failure: the handler's module could not be imported."""


@dataclass
class LambdaContext:
    """The attributes of AWS Lambda's context object that handlers (and powertools) read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    timeout_seconds: int = 60

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_seconds * 1000


@dataclass
class DeployedFunction:
    """A function of the deployed stack: its configuration (from the emulated Lambda) and package."""

    name: str
    arn: str
    role_arn: str
    environment: dict[str, str]
    package: FunctionPackage
    log_group: str
    memory_mb: int = 256
    timeout_seconds: int = 60


class _RoutedStream(io.TextIOBase):
    """sys.stdout / sys.stderr while the embedded AWS runs: what a function prints (in the thread that
    runs it) goes to that invocation's log; every other thread writes to the real stream. Never a
    process-wide redirect: another thread's output (the progress display) must not reach a function's
    log, nor a function's output the terminal."""

    def __init__(self, original: Any, local: threading.local) -> None:
        self.original = original
        self._local = local

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        sink = getattr(self._local, "sink", None)
        if sink is None:
            return self.original.write(text)
        sink(text)
        return len(text)

    def flush(self) -> None:
        if getattr(self._local, "sink", None) is None:
            self.original.flush()

    def isatty(self) -> bool:
        return self.original.isatty()

    def fileno(self) -> int:
        return self.original.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.original, "encoding", "utf-8")


class FunctionRunner:
    """Invokes the stack's functions in this process, as Lambda would, as their execution roles."""

    def __init__(
        self,
        acting_as: Callable[[str | None], contextlib.AbstractContextManager],
        write_log: Callable[[DeployedFunction, str, list[str]], None],
    ) -> None:
        self.functions: dict[str, DeployedFunction] = {}
        self._handlers: dict[str, Callable] = {}
        # each function's own modules (its code and its layers'), out of sys.modules between its calls
        self._modules: dict[str, dict[str, Any]] = {}
        self._roots: set[str] = set()  # the build folders of every function deployed
        self._acting_as = acting_as
        self._write_log = write_log
        self._local = threading.local()
        self._streams: tuple[Any, Any] | None = None

    def open(self) -> None:
        """Route what functions print to their logs (see _RoutedStream)."""
        if self._streams is None:
            self._streams = (sys.stdout, sys.stderr)
            sys.stdout = _RoutedStream(sys.stdout, self._local)
            sys.stderr = _RoutedStream(sys.stderr, self._local)

    def close(self) -> None:
        """Restore the streams; forget every function's modules (the next runner starts them cold)."""
        for name in [name for name, module in list(sys.modules.items()) if self._owner_root(module)]:
            sys.modules.pop(name, None)
        self._modules.clear()
        self._handlers.clear()
        if self._streams is not None:
            if isinstance(sys.stdout, _RoutedStream):
                sys.stdout = self._streams[0]
            if isinstance(sys.stderr, _RoutedStream):
                sys.stderr = self._streams[1]
            self._streams = None

    def deploy(self, functions: list[DeployedFunction]) -> None:
        """Make these the functions that run (a package that changed is imported again: a cold start)."""
        current = {f.name: f for f in functions}
        for name, function in current.items():
            old = self.functions.get(name)
            if (
                old is None
                or old.package.digest != function.package.digest
                or old.environment != function.environment
            ):
                self._handlers.pop(name, None)
                self._modules.pop(name, None)
            self._roots.update(_roots_of(function.package))
        self.functions = current

    def find(self, name_or_arn: str) -> DeployedFunction | None:
        """A function by name, ARN, partial ARN or qualified ARN."""
        name = (
            name_or_arn.split(":function:", 1)[1].split(":")[0]
            if ":function:" in name_or_arn
            else name_or_arn
        )
        return self.functions.get(name)

    def invoke(
        self, function: DeployedFunction, event: Any, *, log_name: str | None = None
    ) -> dict[str, Any]:
        """Lambda's Invoke response: {StatusCode, ExecutedVersion, Payload[, FunctionError]}."""
        lines: list[str] = []
        request_id = str(uuid.uuid4())
        context = LambdaContext(
            function_name=function.name,
            invoked_function_arn=function.arn,
            memory_limit_in_mb=function.memory_mb,
            aws_request_id=request_id,
            log_group_name=function.log_group,
            log_stream_name=f"local/[$LATEST]{request_id.replace('-', '')}",
            timeout_seconds=function.timeout_seconds,
        )
        with _LOCK:
            lines.append(f"START RequestId: {request_id} Version: $LATEST")
            try:
                with (
                    self._own_modules(function),
                    self._acting_as(function.role_arn),
                    self._environment(function),
                    self._output(lines),
                ):
                    handler = self._handler(function)
                    with self._import_guard(function.package), self._process_streams_kept():
                        result = handler(event, context)
                payload: Any = json.loads(json.dumps(result))  # what crosses Lambda's wire is JSON
                response = {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": payload}
            except ImportModuleError as error:
                response = _unhandled("Runtime.ImportModuleError", str(error), [])
                lines.append(f"[ERROR] Runtime.ImportModuleError: {error}")
            except Exception as error:  # Lambda's unhandled-error shape: errorType is the ASL error
                trace = traceback.format_exception(error)
                response = _unhandled(type(error).__name__, str(error), trace)
                lines.append(f"[ERROR] {type(error).__name__}: {error}")
                lines.extend(line.rstrip("\n") for line in trace)
            lines.append(f"END RequestId: {request_id}")
        self._write_log(function, log_name or request_id, lines)
        return response

    # ---------------------------------------------------------------- the function's process state
    def _handler(self, function: DeployedFunction) -> Callable:
        handler = self._handlers.get(function.name)
        if handler is not None:
            return handler
        package = function.package
        module_name, attribute = package.module_name, package.handler.rpartition(".")[2]
        path = package.code_dir / (module_name.replace(".", "/") + ".py")
        if not path.is_file():
            raise ImportModuleError(
                f"Unable to import module '{module_name}': No module named '{module_name}'"
            )
        unique = f"stepwise_lambda_{function.name}_{package.digest}"
        spec = importlib.util.spec_from_file_location(unique, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module  # as a regular import does (dataclasses and pydantic look it up)
        try:
            with self._import_guard(package):
                spec.loader.exec_module(module)
        except ModuleNotFoundError as error:
            sys.modules.pop(unique, None)
            raise ImportModuleError(f"Unable to import module '{module_name}': {error}") from None
        except BaseException:
            sys.modules.pop(unique, None)
            raise
        if not callable(getattr(module, attribute, None)):
            raise ImportModuleError(f"Handler '{attribute}' missing on module '{module_name}'")
        handler = getattr(module, attribute)
        self._handlers[function.name] = handler
        return handler

    def _owner_root(self, module: Any) -> str | None:
        origin = getattr(module, "__file__", None) or ""
        return next((root for root in self._roots if origin.startswith(root)), None)

    @contextlib.contextmanager
    def _own_modules(self, function: DeployedFunction) -> Iterator[None]:
        """While a function runs, sys.modules holds its own modules (imported from its package and
        layers) and no other function's, and sys.path starts with its package: each function is an
        execution environment of its own, as on Lambda, warm between its calls (module-level clients
        and caches persist) and cold in a new runner."""
        roots = _roots_of(function.package)
        # another function's modules, and any module of a name the package provides that this process
        # imported from elsewhere (a test importing functions/shared): the package's own shadow them
        provided = _provided_names(function.package)
        displaced = {
            name: module
            for name, module in list(sys.modules.items())
            if self._owner_root(module) or name.partition(".")[0] in provided
        }
        for name in displaced:
            sys.modules.pop(name)
        sys.modules.update(self._modules.get(function.name, {}))
        saved_path = list(sys.path)
        sys.path[:0] = [str(folder) for folder in function.package.python_paths]
        try:
            yield
        finally:
            sys.path[:] = saved_path
            own = {
                name: module
                for name, module in list(sys.modules.items())
                if (getattr(module, "__file__", None) or "").startswith(roots)
            }
            for name in own:
                sys.modules.pop(name, None)
            self._modules[function.name] = own
            sys.modules.update(displaced)  # a function that invoked this one gets its modules back

    @staticmethod
    @contextlib.contextmanager
    def _process_streams_kept() -> Iterator[None]:
        """A handler that replaces sys.stdout or sys.stderr (and closes its own) gives them back: nothing
        a function does to the process's streams outlives its invocation."""
        saved = (sys.stdout, sys.stderr)
        try:
            yield
        finally:
            sys.stdout, sys.stderr = saved

    @contextlib.contextmanager
    def _import_guard(self, package: FunctionPackage) -> Iterator[None]:
        """Imports made by the package's own files must stay inside its package (see module doc)."""
        roots = tuple(str(folder) + os.sep for folder in (package.code_dir, package.opt_dir))
        original = builtins.__import__

        def guarded(
            name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0
        ) -> Any:
            if level == 0 and globals:
                origin = globals.get("__file__") or ""
                top = name.partition(".")[0]
                if origin.startswith(roots) and top not in package.allowed_modules:
                    raise ModuleNotFoundError(f"No module named '{top}'", name=top)
            return original(name, globals, locals, fromlist, level)

        builtins.__import__ = guarded
        try:
            yield
        finally:
            builtins.__import__ = original

    @contextlib.contextmanager
    def _environment(self, function: DeployedFunction) -> Iterator[None]:
        opt = str(function.package.opt_dir)
        variables = {
            key: opt + value[len("/opt") :] if value == "/opt" or value.startswith("/opt/") else value
            for key, value in function.environment.items()
        }
        variables.update(
            AWS_LAMBDA_FUNCTION_NAME=function.name,
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(function.memory_mb),
            AWS_LAMBDA_LOG_GROUP_NAME=function.log_group,
        )
        saved = {name: os.environ.get(name) for name in variables}
        os.environ.update(variables)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    @contextlib.contextmanager
    def _output(self, lines: list[str]) -> Iterator[None]:
        pending: list[str] = []

        def sink(text: str) -> None:
            pending.append(text)
            joined = "".join(pending)
            *complete, rest = joined.split("\n")
            lines.extend(complete)
            pending[:] = [rest] if rest else []

        self._local.sink = sink
        try:
            yield
        finally:
            self._local.sink = None
            if pending:
                lines.append("".join(pending))


def _provided_names(package: FunctionPackage) -> frozenset[str]:
    """The top-level module names the package's folders provide (its code's and its layers')."""
    return frozenset(name for folder in package.python_paths for name in _top_level_names(Path(folder)))


def _roots_of(package: FunctionPackage) -> tuple[str, ...]:
    return (str(package.code_dir) + os.sep, str(package.opt_dir) + os.sep)


def _unhandled(error_type: str, message: str, trace: list[str]) -> dict[str, Any]:
    return {
        "StatusCode": 200,
        "FunctionError": "Unhandled",
        "ExecutedVersion": "$LATEST",
        "Payload": {"errorType": error_type, "errorMessage": message, "stackTrace": trace},
    }
