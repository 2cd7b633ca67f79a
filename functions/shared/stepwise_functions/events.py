"""Validating a function's event with a powertools Parser model, and saying clearly what is wrong.

Every Stepwise event model derives from `StepwiseEvent`: fields are camelCase in the event
(`modelPackageGroupName`), may fall back to an environment variable (`ENV_FALLBACKS`), and the
optional `executionArn` / `executionName` of the Step Functions execution become the log
correlation id.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, TypeVar

from aws_lambda_powertools.utilities.parser import parse
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic.alias_generators import to_camel


class InvalidEventError(ValueError):
    """The event does not match the function's contract; the message names every bad field."""


class StepwiseEvent(BaseModel):
    """Base of every function's event model."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    # field name -> environment variable used when the event leaves the field out (or null)
    ENV_FALLBACKS: ClassVar[dict[str, str]] = {}

    execution_arn: str | None = None
    execution_name: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _fill_from_environment(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for field, variable in cls.ENV_FALLBACKS.items():
            alias = cls.model_fields[field].alias or field
            if data.get(alias) is None and data.get(field) is None and os.environ.get(variable):
                data[alias] = os.environ[variable]
        return data

    @property
    def correlation_id(self) -> str | None:
        """What ties the logs to one pipeline run: the execution ARN, else its name."""
        return self.execution_arn or self.execution_name


def comma_separated(value: Any) -> Any:
    """For list fields: "a, b" (as an environment variable gives it) becomes ["a", "b"]."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


Model = TypeVar("Model", bound=BaseModel)


def parse_event(event: Any, model: type[Model], function: str) -> Model:
    """`event` validated as `model`, or InvalidEventError naming each bad field and how to fix it."""
    if not isinstance(event, dict):
        raise InvalidEventError(f"{function} expects a JSON object as its event, got {type(event).__name__}")
    try:
        return parse(event=event, model=model)
    except ValidationError as error:
        fallbacks = {
            (info.alias or name): variable
            for name, variable in getattr(model, "ENV_FALLBACKS", {}).items()
            for info in [model.model_fields[name]]
        }
        problems = []
        for detail in error.errors(include_url=False):
            field = ".".join(str(part) for part in detail["loc"]) or "(event)"
            missing = detail["type"] == "missing" and field in fallbacks
            hint = f" (or set the environment variable {fallbacks[field]})" if missing else ""
            problems.append(f"field '{field}': {detail['msg']}{hint}")
        raise InvalidEventError(f"{function} received an invalid event: " + "; ".join(problems)) from None
