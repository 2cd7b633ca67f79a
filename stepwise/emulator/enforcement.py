"""Every AWS call made in the embedded AWS is checked as AWS checks it: the request's limits, then IAM.

`RequestGate` hooks botocore (the `before-parameter-build` and `before-call` events of every client
created while it is installed, the way moto intercepts calls) so that each request is:
1. validated against the service model's constraints that AWS enforces and botocore does not
   (stepwise/emulator/validation.py): a `ValidationException` (or the service's own code), as AWS;
2. authorized, when made on behalf of a principal of the stack (the state machine's role for its Task
   states, a function's role inside its handler, the SageMaker execution role for a job's S3 reads and
   writes...), against the deployed policies (stepwise/emulator/iam.py): `AccessDenied` naming the
   principal, the action and the resource, as AWS answers. A GetObject/HeadObject on a missing key is
   a 403 for a principal without s3:ListBucket on the bucket, as on AWS.

Who acts is a context variable (`Principals.acting_as(role_arn)`): the owner sets it where AWS would
assume a role. Calls made with no principal are the user's own (an administrator, as `sam deploy` and
`aws` commands run): validated, not authorized. Every denial is recorded (`denials`) so that a run's
summary can say which permission is missing.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from stepwise.emulator import validation
from stepwise.emulator.iam import Authorizer, Caller

_PARAMS_KEY = "stepwise_params"


@dataclass(frozen=True)
class Denial:
    """One denied request: who, what, on which resource, and the permission that would allow it."""

    principal: str
    action: str
    resource: str
    message: str
    missing_permission: str


class Principals:
    """Who the current call is made by: a role ARN (its session) or None (the user)."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self._current: contextvars.ContextVar[str | None] = contextvars.ContextVar(
            "stepwise_principal", default=None
        )
        self._callers: dict[str, Caller] = {}

    @contextlib.contextmanager
    def acting_as(self, role_arn: str | None) -> Iterator[None]:
        token = self._current.set(role_arn)
        try:
            yield
        finally:
            self._current.reset(token)

    def current(self) -> str | None:
        return self._current.get()

    def caller(self, role_arn: str) -> Caller:
        """The assumed-role session a role's calls carry (one per role, reused)."""
        caller = self._callers.get(role_arn)
        if caller is None:
            name = role_arn.rsplit("/", 1)[-1]
            account = role_arn.split(":")[4]
            caller = Caller(f"arn:aws:sts::{account}:assumed-role/{name}/stepwise-local")
            self._callers[role_arn] = caller
        return caller


_ACTIVE: RequestGate | None = None  # the installed gate (one embedded AWS per process at a time)
_DISPATCHERS: list[tuple[str, Callable]] = []


def _register_dispatchers() -> None:
    """Put the gate's hooks into botocore's handlers, once: every session made afterwards has them.
    boto3's default session, if one was made before, is dropped so that the next `boto3.client()`
    makes one that has them."""
    if _DISPATCHERS:
        return
    import boto3
    from botocore.handlers import BUILTIN_HANDLERS

    def dispatch(method: str) -> Callable:
        def hook(**kwargs: Any) -> None:
            gate = _ACTIVE
            if gate is not None:
                getattr(gate, method)(**kwargs)

        return hook

    _DISPATCHERS.extend(
        [
            ("before-parameter-build", dispatch("_remember_params")),
            ("before-call", dispatch("_before_call")),
            ("after-call", dispatch("_after_call")),
        ]
    )
    BUILTIN_HANDLERS.extend(_DISPATCHERS)
    boto3.DEFAULT_SESSION = None


class RequestGate:
    """The botocore hooks that validate and authorize every request of the embedded AWS."""

    def __init__(
        self,
        principals: Principals,
        authorizer: Callable[[], Authorizer | None],
        *,
        region: str,
        object_exists: Callable[[str, str], bool],
        enforce_iam: bool = True,
        on_success: Callable[[str, str, dict], None] | None = None,
    ) -> None:
        self.principals = principals
        self._authorizer = authorizer
        self.region = region
        self.object_exists = object_exists
        self.enforce_iam = enforce_iam
        self.on_success = on_success
        self.denials: list[Denial] = []
        self._lock = threading.Lock()
        self._installed = False

    # ---------------------------------------------------------------- botocore wiring
    def install(self) -> None:
        """From now on, every botocore client runs this gate. The hooks are registered once per process
        in BUILTIN_HANDLERS (as moto registers its own) and call whichever gate is installed, so a
        client of a session made under an earlier gate (boto3's default session outlives an embedded
        AWS when moto's mock is nested in another) is checked by this one."""
        global _ACTIVE
        _register_dispatchers()
        _ACTIVE = self
        self._installed = True

    def uninstall(self) -> None:
        global _ACTIVE
        if _ACTIVE is self:
            _ACTIVE = None
        self._installed = False

    def _remember_params(self, params: dict, context: dict, **_: Any) -> None:
        if self._installed:
            context[_PARAMS_KEY] = params

    def _before_call(self, model: Any, context: dict, **_: Any) -> None:
        if not self._installed:
            return  # a client created while installed, used after: the gate is off
        params = context.get(_PARAMS_KEY)
        if params is None:
            return
        service = model.service_model.service_name
        operation = model.name
        client_config = context.get("client_config")
        botocore_checked = bool(getattr(client_config, "parameter_validation", True))
        self.check(service, operation, params, botocore_checked=botocore_checked)

    def _after_call(
        self, model: Any, parsed: dict, context: dict, http_response: Any = None, **_: Any
    ) -> None:
        if not self._installed or self.on_success is None:
            return
        params = context.get(_PARAMS_KEY)
        status = getattr(http_response, "status_code", 200)
        if params is None or status >= 300 or (isinstance(parsed, dict) and "Error" in parsed):
            return
        self.on_success(model.service_model.service_name, model.name, params)

    # ---------------------------------------------------------------- the checks
    def check(self, service: str, operation: str, params: dict, *, botocore_checked: bool = True) -> None:
        """Raise the ClientError AWS would answer `params` with, or return."""
        rejected = validation.check(service, operation, params, botocore_checked=botocore_checked)
        if rejected is not None:
            raise rejected.client_error()
        principal = self.principals.current()
        if principal is None or not self.enforce_iam:
            return
        self.authorize(principal, service, operation, params)

    def authorize(self, principal: str, service: str, operation: str, params: dict) -> None:
        """Raise AccessDenied (as a ClientError) unless `principal` may make this request."""
        authorizer = self._authorizer()
        if authorizer is None or not self.enforce_iam:
            return
        caller = self.principals.caller(principal)
        decision = authorizer.authorize(caller, service, operation, params, region=self.region)
        if not decision.allowed:
            error = decision.error()
            self._record(error)
            raise error.client_error()
        if service == "s3" and operation in ("GetObject", "HeadObject") and params.get("Key") is not None:
            bucket, key = params.get("Bucket"), params["Key"]
            if not self.object_exists(bucket, key):
                missing = authorizer.missing_key_error(caller, operation, bucket, region=self.region)
                if missing is not None:
                    self._record(missing)
                    raise missing.client_error()

    def allowed(self, principal: str, action: str, resource: str) -> Any:
        """Is `principal` allowed `action` on `resource`? For what AWS checks without an API call of
        ours (a service pulling an image as a role). Returns the AccessDenied, or None."""
        authorizer = self._authorizer()
        if authorizer is None or not self.enforce_iam:
            return None
        from stepwise.emulator.iam import Check

        decision = authorizer.evaluate(
            self.principals.caller(principal), Check(action, resource), region=self.region
        )
        if decision.allowed:
            return None
        error = decision.error()
        self._record(error)
        return error

    def _record(self, error: Any) -> None:
        check = error.check
        denial = Denial(
            principal=error.caller.arn,
            action=check.action,
            resource=check.resource,
            message=error.message,
            missing_permission=error.missing_permission,
        )
        with self._lock:
            self.denials.append(denial)
