"""EmbeddedAWS: the one owner of the embedded AWS of a process, a dress rehearsal of the cloud.

It owns every moto patch (moto_seams), every child process (processes.Supervisor) and the state folder
(store.Store). `start()`:
1. starts moto (in-process; Step Functions executes definitions) with fake credentials, so nothing can
   reach a real account;
2. deploys template.yaml as `sam build && sam deploy` would (cloudformation.py): the first time a new
   stack; later the stored stack is re-created as it was (same names) and updated with a change set
   when the template, its parameters or the code changed;
3. restores what earlier commands left (S3 objects, the SageMaker registry, models and endpoints);
4. enforces, from then on, AWS's request limits and IAM on every call (enforcement.RequestGate): the
   state machine's Task states call AWS as its role, each function as its role, SageMaker jobs and
   endpoints as their execution role, EventBridge targets as theirs.

Runs start as in the cloud: an object written under raw/ makes S3 send its event, the template's
EventBridge rule matches it and starts the state machine (`upload_dataset`); `put_event` delivers any
event (events/*.json) to the rules; `approve` updates a model package, SageMaker sends its state change
event, and the approval rule (enabled with ModelApprovalStatus=PendingManualApproval) starts the run
that deploys it. Everything is written to the state folder as it happens.

`mock_aws` patches botocore for the whole process: only local-mode commands may use this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from stepwise import project_root
from stepwise.emulator import cloudformation, moto_seams
from stepwise.emulator.store import Store

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
DEFAULT_STATE_DIR = Path(".stepwise")
# Wait states run 120x faster locally (and end early when an endpoint changes status); Retry intervals
# do not wait at all: local failures are not throttling that waiting would cure.
WAIT_SCALE = 1 / 120
RETRY_SCALE = 0.0
_FAKE_CREDENTIALS = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "stepwise-local",
    "AWS_SECRET_ACCESS_KEY": "stepwise-local",
    "AWS_SESSION_TOKEN": "stepwise-local",
}
# SageMaker calls whose success changes what later commands must find: journaled, replayed on start
_JOURNALED_SAGEMAKER = {
    "CreateModelPackageGroup",
    "CreateModelPackage",
    "UpdateModelPackage",
    "DeleteModelPackage",
    "DeleteModelPackageGroup",
    "CreateModel",
    "DeleteModel",
    "CreateEndpointConfig",
    "DeleteEndpointConfig",
    "CreateEndpoint",
    "UpdateEndpoint",
    "DeleteEndpoint",
}


class EmbeddedAWS:
    """The embedded AWS. Use as a context manager, or `start()` and `close()`."""

    def __init__(
        self,
        state_dir: Path = DEFAULT_STATE_DIR,
        *,
        parameters: dict[str, str] | None = None,
        enforce_iam: bool = True,
        template: Path | None = None,
        wait_scale: float = WAIT_SCALE,
        retry_scale: float = RETRY_SCALE,
        stack_name: str = cloudformation.STACK_NAME,
        deploy: bool = True,
        with_stack: bool = True,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        # None: the template the stack was last deployed from, else the one Stepwise ships
        self._template_file = Path(template).resolve() if template is not None else None
        self.template_file = self._template_file or project_root() / "template.yaml"  # until start() picks
        self.parameter_overrides = dict(parameters or {})
        self.enforce_iam = enforce_iam
        self.wait_scale = wait_scale
        self.retry_scale = retry_scale
        self.stack_name = stack_name
        self.deploy = deploy  # False: the stack stays as the last deploy left it (approve, serve...)
        # False: no stack at all (tests that run definitions of their own on the emulated services)
        self.with_stack = with_stack
        self.account_id, self.region = ACCOUNT_ID, REGION
        self.started_executions: list[str] = []
        self._clients: dict[str, Any] = {}
        self._saved_environment: dict[str, str | None] = {}
        self._mock: Any = None
        self._restoring = False
        self._journaling = False
        self._roles_of_machines: dict[str, str] = {}
        self._authorizer: Any = None
        self.stack: Any = None
        self.restore_warnings: list[str] = []  # journaled calls that failed when replayed
        self.repairs: list[str] = []  # what start() found inconsistent in the state folder and repaired

    # ================================================================ lifecycle
    def __enter__(self) -> EmbeddedAWS:
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def start(self) -> None:
        from moto import mock_aws

        from stepwise.emulator.enforcement import Principals, RequestGate
        from stepwise.emulator.lambda_ import FunctionRunner
        from stepwise.emulator.processes import Supervisor
        from stepwise.emulator.stepfunctions import Clock, Engine

        self._isolate_environment()
        self.store = Store(self.state_dir)
        self.principals = Principals(self.account_id)
        self.clock = Clock(self.wait_scale, self.retry_scale)
        self.supervisor = Supervisor()
        self.engine = Engine()
        self.gate = RequestGate(
            self.principals,
            lambda: self._authorizer,
            region=self.region,
            object_exists=self._object_exists,
            enforce_iam=self.enforce_iam,
            on_success=self._journal_call,
        )
        self.lambdas = FunctionRunner(self.principals.acting_as, self._write_function_log)
        self._mock = mock_aws(
            config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
        )
        self._mock.start()
        _quiet_moto_logs()
        try:
            self.supervisor.open()
            self.lambdas.open()
            self.gate.install()
            self._wire_services()
            moto_seams.install(self)
            if self.with_stack:
                self._deploy_and_restore()
            else:
                self._package = None
        except BaseException:
            self.close()
            raise

    def close(self, *, process_exits: bool = False) -> None:
        """Stop every job and model server, give moto its behaviour back, stop moto. With
        `process_exits` (the `stepwise` command, about to end) moto is left as it is: undoing the
        seams and resetting moto's backends costs a quarter of a second and dies with the process."""
        with contextlib.suppress(AttributeError):
            self.supervisor.close()
        with contextlib.suppress(AttributeError):
            self.endpoints.close()
        with contextlib.suppress(AttributeError):
            self.lambdas.close()
        with contextlib.suppress(AttributeError):
            self.gate.uninstall()
        if not process_exits:
            moto_seams.uninstall(self)
            if self._mock is not None:
                self._mock.stop()
        self._mock = None
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment.clear()
        self._clients.clear()
        with contextlib.suppress(AttributeError):
            self.store.close()

    def _isolate_environment(self) -> None:
        """Nothing here may reach a real account: fake credentials, no profile, no endpoint override
        (boto3 would send a call to AWS_ENDPOINT_URL past moto's interception)."""
        for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL") or n == "AWS_PROFILE"]:
            self._saved_environment[name] = os.environ.pop(name)
        for name, value in _FAKE_CREDENTIALS.items():
            self._saved_environment.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    # ================================================================ clients
    def client(self, service: str) -> Any:
        """A boto3 client of the embedded AWS. Its calls are made by whoever acts at the time: the user
        (an administrator) unless inside `self.principals.acting_as(role)`."""
        import boto3

        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=self.region)
        return self._clients[service]

    # ================================================================ the services
    def _wire_services(self) -> None:
        from stepwise.emulator.eventbridge import EventBridge
        from stepwise.emulator.sagemaker.endpoints import Endpoints, EndpointServices
        from stepwise.emulator.sagemaker.jobs import JobServices, SyncJobs

        self.eventbridge = EventBridge(
            account=self.account_id,
            region=self.region,
            rules=self._default_bus_rules,
            start_execution=self._start_execution_for_target,
            on_started=self.started_executions.append,
        )
        SyncJobs(
            JobServices(
                clients=self.client,
                acting_as=self.principals.acting_as,
                supervisor=self.supervisor,
                may_pull=self._why_role_may_not_pull,
                may_assume=lambda role: self._may_assume(role, "sagemaker.amazonaws.com"),
                finish=self._finish_job,
                jobs_root=self.state_dir / "runs",
                account_id=self.account_id,
                region=self.region,
            )
        ).register(self.engine)
        self.endpoints = Endpoints(
            EndpointServices(
                supervisor=self.supervisor,
                work_dir=self.state_dir / "endpoints",
                read_model=self._read_model_as,
                may_run=self._why_endpoint_cannot_run,
                changed=self.clock.tick,
                record=lambda deployed: self.store.put("deployed-endpoints", deployed),
                seams=moto_seams,
            ),
            restored=self.store.get("deployed-endpoints", {}),
        )

    # ---------------------------------------------------------------- IAM decisions AWS makes itself
    def _may_assume(self, role_arn: str, service_principal: str) -> bool:
        if self._authorizer is None or not self.enforce_iam:
            return True
        return self._authorizer.may_assume_role(role_arn, service_principal, source_account=self.account_id)

    def _why_role_may_not_pull(self, role_arn: str, image: str) -> str | None:
        """SageMaker pulls a job's image as the job's role: ecr:GetAuthorizationToken, then
        ecr:BatchGetImage and ecr:GetDownloadUrlForLayer on the image's repository."""
        from stepwise.emulator.sagemaker.jobs import image_repository_arn

        repository = image_repository_arn(image)
        if repository is None or not role_arn:
            return None
        for action, resource in (
            ("ecr:GetAuthorizationToken", "*"),
            ("ecr:BatchGetImage", repository),
            ("ecr:GetDownloadUrlForLayer", repository),
        ):
            denied = self.gate.allowed(role_arn, action, resource)
            if denied is not None:
                return denied.message
        return None

    def _why_endpoint_cannot_run(self, role_arn: str, image: str) -> str | None:
        if not self._may_assume(role_arn, "sagemaker.amazonaws.com"):
            return (
                f"Could not assume role {role_arn}. Please ensure that the role exists and allows principal "
                "'sagemaker.amazonaws.com' to assume the role."
            )
        return self._why_role_may_not_pull(role_arn, image)

    def _read_model_as(self, role_arn: str, url: str) -> bytes:
        from stepwise.emulator.sagemaker.jobs import parse_s3_uri

        bucket, key = parse_s3_uri(url)
        with self.principals.acting_as(role_arn):
            try:
                return self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
            except Exception as error:  # noqa: BLE001 (the endpoint fails with the reason)
                response = getattr(error, "response", {}).get("Error", {})
                raise RuntimeError(
                    f"could not download model data from {url}: "
                    f"{response.get('Code', type(error).__name__)}: {response.get('Message', error)}"
                ) from None

    def _finish_job(self, kind: str, name: str, result: dict) -> None:
        finish = moto_seams.finish_processing_job if kind == "processing" else moto_seams.finish_training_job
        finish(self.account_id, self.region, name, result)

    # ---------------------------------------------------------------- Step Functions
    def state_machine_role(self, env: Any) -> str | None:
        """The role a state machine's Task states call AWS as (for the seams)."""
        arn = env.states.context_object.context_object_data["StateMachine"]["Id"]
        role = self._roles_of_machines.get(arn)
        if role is None:
            with self.principals.acting_as(None):
                role = self.client("stepfunctions").describe_state_machine(stateMachineArn=arn)["roleArn"]
            self._roles_of_machines[arn] = role
        return role

    def invoke_for_state_machine(self, role_arn: str | None, parameters: dict) -> dict:
        """A Lambda Task: lambda:InvokeFunction as the state machine's role, then the function."""
        from stepwise.emulator.stepfunctions import TaskFailed

        name = str(parameters.get("FunctionName", ""))
        if role_arn:
            try:
                self.gate.authorize(role_arn, "lambda", "Invoke", {"FunctionName": name})
            except Exception as error:  # noqa: BLE001 (as Step Functions reports Lambda's refusal)
                details = getattr(error, "response", {}).get("Error", {})
                raise TaskFailed(
                    "Lambda.AWSLambdaException",
                    f"{details.get('Message', error)} (Service: AWSLambda; Status Code: 403; Error Code: "
                    f"{details.get('Code', 'AccessDeniedException')}; Request ID: {uuid.uuid4()}; "
                    "Proxy: null)",
                ) from None
        function = self.lambdas.find(name) or self._load_function(name)
        if function is None:
            raise TaskFailed(
                "Lambda.ResourceNotFoundException",
                f"Function not found: {name} (Service: AWSLambda; Status Code: 404; Error Code: "
                f"ResourceNotFoundException; Request ID: {uuid.uuid4()}; Proxy: null)",
            )
        raw = parameters.get("Payload") or b"{}"
        event = json.loads(raw.decode() if isinstance(raw, (bytes, bytearray)) else raw)
        execution = event.get("executionName") if isinstance(event, dict) else None
        return self.lambdas.invoke(function, event, log_name=execution)

    def _start_execution_for_target(self, role_arn: str, machine_arn: str, name: str, payload: str) -> str:
        with self.principals.acting_as(role_arn or None):
            return self.client("stepfunctions").start_execution(
                stateMachineArn=machine_arn, name=name, input=payload
            )["executionArn"]

    def _default_bus_rules(self) -> list[Any]:
        from moto.events.models import events_backends

        bus = events_backends[self.account_id][self.region].event_buses.get("default")
        return list(bus.rules.values()) if bus else []

    # ---------------------------------------------------------------- Lambda
    def _load_function(self, name_or_arn: str) -> Any:
        """A function of the stack not yet known to the runner (during a deploy)."""
        if getattr(self, "_package", None) is None:
            return None
        self._refresh_functions()
        return self.lambdas.find(name_or_arn)

    def _refresh_functions(self) -> None:
        """The runner's functions: every function of the package whose Lambda function exists. Names are
        the stack's (`<stack>-<logical id>-<suffix>`, stable: see physical_suffix), so this works while
        CloudFormation is still creating the stack (a custom resource's function)."""
        from stepwise.emulator.lambda_ import DeployedFunction

        lambda_client = self.client("lambda")
        resources = self._package.template["Resources"]
        deployed = []
        for logical_id, built in self._package.functions.items():
            properties = resources[logical_id]["Properties"]
            name = properties.get("FunctionName")
            if not isinstance(name, str):
                name = f"{self.stack_name}-{logical_id}-{self.physical_suffix(self.stack_name, logical_id)}"
            try:
                with self.principals.acting_as(None):
                    configuration = lambda_client.get_function_configuration(FunctionName=name)
            except lambda_client.exceptions.ResourceNotFoundException:
                continue
            deployed.append(
                DeployedFunction(
                    name=configuration["FunctionName"],
                    arn=configuration["FunctionArn"],
                    role_arn=configuration["Role"],
                    environment=(configuration.get("Environment") or {}).get("Variables", {}),
                    package=built,
                    log_group=self._log_group_of(properties)
                    or f"/aws/lambda/{configuration['FunctionName']}",
                    memory_mb=int(configuration.get("MemorySize") or 128),
                    timeout_seconds=int(configuration.get("Timeout") or 3),
                )
            )
        self.lambdas.deploy(deployed)

    def _log_group_of(self, properties: dict) -> str | None:
        """LoggingConfig.LogGroup of a function: a Ref to a log group of the template whose name is a
        literal or a Fn::Sub of the stack name."""
        reference = (properties.get("LoggingConfig") or {}).get("LogGroup")
        if not (isinstance(reference, dict) and "Ref" in reference):
            return reference if isinstance(reference, str) else None
        group = self._package.template["Resources"].get(reference["Ref"], {}).get("Properties", {})
        name = group.get("LogGroupName")
        if isinstance(name, dict) and isinstance(name.get("Fn::Sub"), str):
            return name["Fn::Sub"].replace("${AWS::StackName}", self.stack_name)
        return name if isinstance(name, str) else None

    def _write_function_log(self, function: Any, name: str, lines: list[str]) -> None:
        """A function's output: its log group (as Lambda writes it, with the function's role) and a file."""
        folder = self.state_dir / "runs" / name / "lambda" if name else self.state_dir / "runs" / "_lambda"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{function.name}.log", "a") as handle:
            handle.write("\n".join(lines) + "\n")
        now = int(time.time() * 1000)
        stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"  # as Lambda names them
        events = [(now, line) for line in lines]
        self.store.record_logs(function.log_group, stream, events)
        moto_seams.put_log_events_quietly(self.account_id, self.region, function.log_group, stream, events)

    # ================================================================ deploy and restore
    def _deploy_and_restore(self) -> None:
        """Deploy the stack (see the module docstring) and restore what earlier commands left."""
        deployer = cloudformation.Deployer(
            self.client, region=self.region, account_id=self.account_id, salt=self.store.salt()
        )
        self._deployer = deployer
        stored = self.store.get("stack")
        self.template_file = self._choose_template(stored)
        self._package = cloudformation.package(
            self.template_file, self.state_dir / "build", deployer.artifacts_bucket, self.region
        )
        with self._journal(False):
            deployer.upload_artifacts(self._package)
        if stored is None:
            # what the deploy writes (the custom resource publishes the processing code) is kept
            with self._journal(True):
                self.stack = deployer.create(self.stack_name, self._package.template, self.stack_parameters())
            self._restore_objects()
        else:
            self._restoring = True
            try:
                self.stack = deployer.create(self.stack_name, stored["template"], stored["parameters"])
                self._restore_objects()
                self._restore_calls()
                self._restore_logs()
            finally:
                self._restoring = False
            self._check_restored_state()
            if self.deploy:
                parameters = self.stack_parameters()
                if stored.get("digest") != self._package.digest or stored["parameters"] != parameters:
                    with self._journal(True):
                        self.stack = deployer.update(self.stack_name, self._package.template, parameters)
        self._refresh_functions()
        self._load_policies()
        deployed_template = self._package.template if self.deploy or stored is None else stored["template"]
        self.store.put(
            "stack",
            {
                "name": self.stack.name,
                "templateFile": str(self.template_file),
                "template": deployed_template,
                "parameters": self.stack.parameters,
                "digest": self._package.digest
                if deployed_template is self._package.template
                else stored["digest"],
                "custom": self._custom_answers,
                "resources": self.stack.resources,
                "outputs": self.stack.outputs,
            },
        )
        self._journaling = True
        self.engine.check_definition(self.definition(), moto_seams.sagemaker_implements)
        self._restore_executions()

    def _choose_template(self, stored: dict | None) -> Path:
        """The template file to package: the one asked for, else the one the stack was deployed from
        (its folder holds the code: CodeUri, ContentUri and DefinitionUri are relative to it)."""
        if self._template_file is not None:
            chosen = self._template_file
        elif stored and stored.get("templateFile"):
            chosen = Path(stored["templateFile"])
        else:
            chosen = project_root() / "template.yaml"
        if not chosen.is_file():
            raise cloudformation.DeployError(
                f"{chosen} does not exist: `stepwise run -t TEMPLATE` deploys the stack from another "
                "copy of the project"
            )
        return chosen

    def stack_parameters(self) -> dict[str, str]:
        """The parameters a deploy gives the stack: the template's defaults and this command's
        overrides (`sam deploy --parameter-overrides`); an override applies to the deploy that gives it."""
        template = cloudformation.load_template(self.template_file)
        declared = template.get("Parameters", {})
        unknown = sorted(set(self.parameter_overrides) - set(declared))
        if unknown:
            raise cloudformation.DeployError(
                f"template.yaml has no parameter {', '.join(unknown)}: "
                f"it declares {', '.join(sorted(declared))}"
            )
        defaults = {k: str(v["Default"]) for k, v in declared.items() if "Default" in v}
        return {**defaults, **{k: str(v) for k, v in self.parameter_overrides.items()}}

    # ---------------------------------------------------------------- custom resources
    _custom_answers: dict[str, Any] = {}

    def run_custom_resource(
        self,
        *,
        logical_id: str,
        resource_type: str,
        stack_id: str,
        properties: dict,
        request_type: str = "Create",
        physical_id: str | None = None,
        old_properties: dict | None = None,
    ) -> tuple[str, dict]:
        """A custom resource (from the CloudFormation seam): its function answers at a ResponseURL.
        Re-creating the stored stack gives the stored answer, as the resource exists already."""
        stored = (self.store.get("stack") or {}).get("custom", {})
        if request_type == "Create" and self._restoring and logical_id in stored:
            physical_id, data = stored[logical_id]
            self._custom_answers = {**self._custom_answers, logical_id: [physical_id, data]}
            return physical_id, data
        function = self.lambdas.find(str(properties.get("ServiceToken", ""))) or self._load_function(
            str(properties.get("ServiceToken", ""))
        )
        if function is None:
            raise cloudformation.DeployError(
                f"{logical_id}: ServiceToken {properties.get('ServiceToken')} is no function of the stack"
            )
        response_url = cloudformation.ResponseURL()
        try:
            event = cloudformation.custom_resource_event(
                request_type,
                logical_id=logical_id,
                resource_type=resource_type,
                stack_id=stack_id,
                properties=properties,
                response_url=response_url.url,
                physical_id=physical_id,
                old_properties=old_properties,
            )
            self.lambdas.invoke(function, event, log_name="_deploy")
            answer = response_url.response
        finally:
            response_url.close()
        if answer is None:
            raise cloudformation.DeployError(
                f"{logical_id}: the custom resource's function did not answer CloudFormation (see its log)"
            )
        if answer.get("Status") != "SUCCESS":
            raise cloudformation.DeployError(f"{logical_id}: {answer.get('Reason') or 'FAILED'}")
        physical_id, data = answer.get("PhysicalResourceId") or logical_id, answer.get("Data") or {}
        self._custom_answers = {**self._custom_answers, logical_id: [physical_id, data]}
        return physical_id, data

    def physical_suffix(self, stack_name: str, logical_id: str, size: int = 12) -> str:
        return self._deployer.physical_suffix(stack_name, logical_id, size)

    # ---------------------------------------------------------------- policies
    def _load_policies(self) -> None:
        from stepwise.emulator.iam import Authorizer

        authorizer = Authorizer(account_id=self.account_id)
        for role_arn, documents, trust in moto_seams.role_policies(self.account_id):
            authorizer.put_identity_policies(role_arn, documents)
            authorizer.put_trust_policy(role_arn, trust)
        for bucket, document in moto_seams.bucket_policies(self.account_id):
            authorizer.put_resource_policy(f"arn:aws:s3:::{bucket}", document)
        self._authorizer = authorizer

    # ---------------------------------------------------------------- journal
    @contextlib.contextmanager
    def _journal(self, on: bool) -> Iterator[None]:
        saved, self._journaling = self._journaling, on
        try:
            yield
        finally:
            self._journaling = saved

    def journal_object(self, bucket: str, key: Any, deleted: bool = False) -> None:
        """From the S3 seam: an object written or deleted (not while restoring)."""
        if not self._journaling:
            return
        if deleted:
            self.store.record_deletion(bucket, key)
            return
        self.store.record_object(
            bucket,
            key.name,
            key.value,
            etag=str(key.etag).strip('"'),
            content_type=getattr(key, "content_type", None),
            metadata=dict(getattr(key, "metadata", {}) or {}),
        )

    def _journal_call(self, service: str, operation: str, params: dict) -> None:
        if self._journaling and service == "sagemaker" and operation in _JOURNALED_SAGEMAKER:
            self.store.record_call(
                service, operation, {k: v for k, v in params.items() if k != "ClientToken"}
            )
            if "ModelPackage" in operation:
                self.snapshot_registry()

    def snapshot_registry(self) -> None:
        """The registry as the console reads it (stepwise/console/records.py): every package."""
        from stepwise.console.records import package_record

        sagemaker = self.client("sagemaker")
        found = []
        with self.principals.acting_as(None):
            groups = _all(sagemaker, "list_model_package_groups", "ModelPackageGroupSummaryList")
            for group in groups:
                name = group["ModelPackageGroupName"]
                summaries = _all(
                    sagemaker, "list_model_packages", "ModelPackageSummaryList", ModelPackageGroupName=name
                )
                for summary in sorted(summaries, key=lambda item: item.get("ModelPackageVersion", 0)):
                    found.append(
                        package_record(
                            sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
                        )
                    )
        self.store.put("registry", found)

    def _restore_objects(self) -> None:
        for stored in self.store.current_objects():
            path = self.store.blob_path(stored.blob)
            try:
                data = path.read_bytes()
            except OSError:
                data = None
            if data is None or len(data) != stored.size:
                self.store.record_deletion(stored.bucket, stored.key)
                self.repairs.append(
                    f"s3://{stored.bucket}/{stored.key}: its bytes ({path}) are missing or truncated; "
                    "the object is removed"
                )
                continue
            moto_seams.put_object_quietly(
                self.account_id, stored.bucket, stored.key, data, stored.content_type, stored.metadata
            )

    def _check_restored_state(self) -> None:
        """What a process killed at any point can leave, found and repaired (each repair said in
        `self.repairs`): executions it was running, endpoints whose model cannot be served, registered
        versions whose model artifact is gone. The caller holds the state folder's lock: no other
        process runs these executions."""
        for described in self.store.execution_descriptions():
            if described.get("status") == "RUNNING":
                self.store.mark_aborted(
                    described["name"], "the stepwise process running it ended before it did (killed?)"
                )
                self.repairs.append(f"execution {described['name']} was left RUNNING: recorded as ABORTED")
        for package in self.store.get("registry") or []:
            url = (package.get("container") or {}).get("ModelDataUrl")
            if url and not self._stored_object(url):
                self.repairs.append(
                    f"{package['group']} version {package['version']}: its model artifact {url} is missing; "
                    "it cannot be deployed (train again with `stepwise run --force`)"
                )
        sagemaker = moto_seams.sagemaker_backend(self.account_id, self.region)
        self._resume_endpoint_deployments(sagemaker)
        for name, found, cannot_serve in self.endpoints.check_restored(self._stored_object):
            if not cannot_serve:
                self.repairs.append(f"endpoint {name}: {found}")
                continue
            endpoint = sagemaker.endpoints.get(name)
            if endpoint is not None:
                moto_seams.set_endpoint_failed(
                    endpoint, f"Restored from {self.state_dir}: {found}", rolled_back=False
                )
            self.repairs.append(
                f"endpoint {name}: {found}; it is now Failed (`stepwise deploy N` deploys a version)"
            )

    def _resume_endpoint_deployments(self, sagemaker: Any) -> None:
        """An endpoint whose CreateEndpoint or UpdateEndpoint was accepted but had not finished when the
        process ended: on AWS it would finish, so its deployment runs again (the replayed calls put the
        endpoint on the last config asked for; the record says what really served)."""
        for name, endpoint in list(sagemaker.endpoints.items()):
            record = self.endpoints.deployed.get(name)
            asked = endpoint.endpoint_config_name
            if record is None:
                moto_seams.set_endpoint_deploying(endpoint, asked, updating=False)
                self.endpoints.deploy(sagemaker, endpoint, asked, rolling_back_to=None)
                self.repairs.append(f"endpoint {name} was still Creating when its process ended: created it")
            elif record["EndpointConfigName"] != asked:
                serving = record["EndpointConfigName"]
                moto_seams.set_endpoint_serving(sagemaker, endpoint, serving)
                moto_seams.set_endpoint_deploying(endpoint, asked, updating=True)
                self.endpoints.deploy(sagemaker, endpoint, asked, rolling_back_to=serving)
                self.repairs.append(
                    f"endpoint {name} was still Updating to {asked} when its process ended: it served "
                    f"{serving}; the update ran again"
                )
            else:
                continue
            deadline = time.monotonic() + 120  # a model server's start: this command may end soon after
            while endpoint.endpoint_status in ("Creating", "Updating") and time.monotonic() < deadline:
                time.sleep(0.05)

    def _stored_object(self, url: str) -> bytes | None:
        bucket, _, key = url.removeprefix("s3://").partition("/")
        return self.store.read_object(bucket, key)

    def _restore_calls(self) -> None:
        """Replay the journaled SageMaker calls: the same registry, versions and ARNs. Endpoints come
        back InService on the config they served (their servers start on first use)."""
        from botocore import xform_name

        sagemaker = self.client("sagemaker")
        for _service, operation, request in self.store.calls("sagemaker"):
            if operation in ("CreateEndpoint", "UpdateEndpoint"):
                moto_seams.restore_endpoint(self.account_id, self.region, request)
                continue
            if operation == "DeleteEndpoint":  # what serves now is recorded: leave it alone
                moto_seams.delete_endpoint_quietly(self.account_id, self.region, request["EndpointName"])
                continue
            try:
                getattr(sagemaker, xform_name(operation))(**request)
            except Exception as error:  # noqa: BLE001 (a call that failed again: report, go on)
                self.restore_warnings.append(f"{operation} {json.dumps(request)[:200]}: {error}")

    def _restore_logs(self) -> None:
        """CloudWatch Logs as earlier commands left them (functions' and jobs' log events)."""
        streams: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for _seq, group, stream, timestamp, message in self.store.log_events():
            streams.setdefault((group, stream), []).append((timestamp, message))
        for (group, stream), events in streams.items():
            moto_seams.put_log_events_quietly(self.account_id, self.region, group, stream, events)

    def _restore_executions(self) -> None:
        """The stack's earlier executions, for ListExecutions, DescribeExecution and GetExecutionHistory
        (their histories are read from the store when asked for)."""
        for described in self.store.execution_descriptions():
            name = described["name"]
            moto_seams.restore_execution(
                self.account_id, self.region, described, lambda name=name: self.store.execution_events(name)
            )

    # ---------------------------------------------------------------- journal: logs, a deleted stack
    def journal_logs(self, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        if self._journaling:
            self.store.record_logs(group, stream, events)

    def journal_logs_deleted(self, group: str, stream: str | None) -> None:
        if self._journaling:
            self.store.delete_logs(group, stream)

    def stack_deleted(self, name: str) -> None:
        """From the CloudFormation seam: DeleteStack of the stack succeeded. The state folder then
        records no stack (see Store.forget_stack); the SageMaker journal goes too when SageMaker holds
        nothing any more (the destroy that came first deleted it all)."""
        if name != self.stack_name or not self._journaling:
            return
        import shutil

        from moto.logs.models import logs_backends
        from moto.s3.models import s3_backends

        existing_buckets = set(s3_backends[self.account_id]["aws"].buckets)
        existing_groups = set(logs_backends[self.account_id][self.region].groups)
        left = moto_seams.sagemaker_resources_left(self.account_id, self.region)
        self.store.forget_stack(
            buckets=sorted(set(self.store.object_buckets()) - existing_buckets),
            log_groups=sorted(set(self.store.log_groups()) - existing_groups),
            keep_calls=bool(left),
        )
        if left:
            self.snapshot_registry()
        shutil.rmtree(self.state_dir / "runs", ignore_errors=True)
        self.stack = None

    def _object_exists(self, bucket: str, key: str) -> bool:
        return moto_seams.object_exists(self.account_id, bucket, key)

    # ================================================================ what the stack is
    def definition(self) -> dict:
        machine = self.state_machine_arn
        with self.principals.acting_as(None):
            return json.loads(
                self.client("stepfunctions").describe_state_machine(stateMachineArn=machine)["definition"]
            )

    @property
    def state_machine_arn(self) -> str:
        (arn,) = self.stack.of_type("AWS::StepFunctions::StateMachine").values()
        return arn

    @property
    def bucket(self) -> str:
        return self.stack.outputs.get("BucketName") or next(
            iter(self.stack.of_type("AWS::S3::Bucket").values())
        )

    # ================================================================ runs
    def upload_dataset(self, data_dir: Path, dataset_id: str | None = None) -> list[str]:
        """Upload claims.csv and customers.csv to raw/<dataset>/ as a user would (S3 sends their events,
        the upload rule starts the state machine); the executions started, in order."""
        from datetime import UTC, datetime

        dataset_id = dataset_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        before = len(self.started_executions)
        for name in ("claims.csv", "customers.csv"):
            self.client("s3").upload_file(str(Path(data_dir) / name), self.bucket, f"raw/{dataset_id}/{name}")
        return self.started_executions[before:]

    def put_event(self, event: dict, *, force: bool = False) -> list[str]:
        """Deliver an EventBridge event to the stack's rules; with `force`, the input says to retrain
        (as a manual StartExecution with `"force": true` would)."""
        if force:
            event = {**event, "force": True}
        return self.eventbridge.publish(event)

    def s3_event_of(self, key: str) -> dict:
        """The "Object Created" event S3 sent for the current version of `key` in the stack's bucket."""
        from stepwise.emulator.eventbridge import s3_object_event

        with self.principals.acting_as(None):
            head = self.client("s3").head_object(Bucket=self.bucket, Key=key)
        return s3_object_event(
            self.bucket,
            key,
            size=head["ContentLength"],
            etag=head["ETag"],
            version_id=head.get("VersionId"),
            reason="PutObject",
            account=self.account_id,
            region=self.region,
        )

    def start_manually(self, payload: dict, *, force: bool = False) -> str:
        """StartExecution as the user does it (`aws stepfunctions start-execution`: a UUID name)."""
        if force:
            payload = {**payload, "force": True}
        with self.principals.acting_as(None):
            arn = self.client("stepfunctions").start_execution(
                stateMachineArn=self.state_machine_arn, name=str(uuid.uuid4()), input=json.dumps(payload)
            )["executionArn"]
        self.started_executions.append(arn)
        return arn

    def start_deploy_of(self, package_arn: str) -> str:
        """Start the state machine with the package's approval event: the run deploys the package."""
        from stepwise.emulator.eventbridge import model_package_event

        with self.principals.acting_as(None):
            package = self.client("sagemaker").describe_model_package(ModelPackageName=package_arn)
        return self.start_manually(model_package_event(package, account=self.account_id, region=self.region))

    def run_schedule(self, force: bool = False) -> list[str]:
        """What the schedule rule's target receives when it fires (asked for: even while it is off)."""
        from stepwise.emulator.eventbridge import scheduled_event

        rules = [rule for rule in self._default_bus_rules() if getattr(rule, "scheduled_expression", None)]
        started = []
        for rule in rules:
            event = scheduled_event(rule.arn, account=self.account_id, region=self.region)
            if force:
                event["force"] = True
            started += self.eventbridge.deliver_to_rule(rule, event)
        return started

    def describe(self, execution_arn: str) -> dict:
        with self.principals.acting_as(None):
            return self.client("stepfunctions").describe_execution(executionArn=execution_arn)

    def history(self, execution_arn: str) -> list[dict]:
        with self.principals.acting_as(None):
            sfn = self.client("stepfunctions")
            return _all(sfn, "get_execution_history", "events", executionArn=execution_arn)

    def wait(
        self,
        execution_arn: str,
        on_events: Callable[[list[dict]], None] | None = None,
        poll_seconds: float = 0.05,
        history_seconds: float = 1.0,
    ) -> dict:
        """Poll until the execution ends; pass each batch of new history events to `on_events`. The
        history is saved to the state folder as it grows."""
        seen, next_history = 0, 0.0
        while True:
            # the interpreter's own record between history fetches: DescribeExecution through the API
            # twenty times a second would take a tenth of a core from the run it watches
            status = moto_seams.execution_status(self.account_id, self.region, execution_arn)
            finished = status not in (None, "RUNNING")
            if finished or time.monotonic() >= next_history:
                described = self.describe(execution_arn)
                finished = described["status"] != "RUNNING"
                events = self.history(execution_arn)
                new_events, seen = events[seen:], len(events)
                next_history = time.monotonic() + history_seconds
                parameters = self.stack.parameters if self.stack is not None else None
                self.store.save_execution(described, events, parameters=parameters)
                if on_events is not None:
                    on_events(new_events)
            elif on_events is not None:
                on_events([])
            if finished:
                return described
            time.sleep(poll_seconds)

    def stop(self, execution_arn: str, cause: str = "Stopped by the user") -> None:
        """StopExecution; its job processes are killed."""
        with self.principals.acting_as(None):
            self.client("stepfunctions").stop_execution(
                executionArn=execution_arn, error="Interrupted", cause=cause
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.describe(execution_arn)["status"] == "RUNNING":
            time.sleep(0.05)
        self.supervisor.kill_all()


def _all(client: Any, method: str, key: str, **arguments: Any) -> list[dict]:
    items: list[dict] = []
    for page in client.get_paginator(method).paginate(**arguments):
        items.extend(page.get(key, []))
    return items


def _quiet_moto_logs() -> None:
    """moto logs every caught Task failure as an ERROR; the progress display says what happened."""
    import logging

    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
    logging.getLogger("moto").setLevel(logging.WARNING)


__all__ = ["ACCOUNT_ID", "DEFAULT_STATE_DIR", "REGION", "EmbeddedAWS"]
