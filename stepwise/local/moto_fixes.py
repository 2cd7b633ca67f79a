"""Where moto's SageMaker differs from AWS in a way the pipeline notices, local mode corrects it.

- UpdateModelPackage: AWS adds the given CustomerMetadataProperties to the package's and keeps the
  rest (and keeps ApprovalDescription unless given); moto 5.2 replaces them with the request's, so an
  approval (`stepwise approve`, or any status change) erased the lineage register_model wrote.

Like the engine's hooks these patch moto's private classes: tests/unit/test_local_state.py covers them.
"""

from __future__ import annotations

from typing import Any

_ORIGINALS: dict[str, Any] = {}


def install_sagemaker_fixes() -> None:
    """Patch moto's SageMaker backend (idempotent)."""
    from moto.sagemaker.models import SageMakerModelBackend

    if _ORIGINALS:
        return
    _ORIGINALS["update_model_package"] = original = SageMakerModelBackend.update_model_package

    def update_model_package(
        self,
        model_package_arn: str,
        model_approval_status: str | None,
        approval_description: str | None,
        customer_metadata_properties: dict[str, str] | None,
        customer_metadata_properties_to_remove: list[str],
        additional_inference_specifications_to_add: list[Any] | None,
    ) -> str:
        name = self.model_package_name_mapping.get(model_package_arn, model_package_arn)
        package = self.model_packages.get(name)
        if package is not None:
            customer_metadata_properties = {
                **(package.customer_metadata_properties or {}),
                **(customer_metadata_properties or {}),
            } or None
            if approval_description is None:
                approval_description = package.approval_description
        return original(
            self,
            model_package_arn,
            model_approval_status,
            approval_description,
            customer_metadata_properties,
            customer_metadata_properties_to_remove,
            additional_inference_specifications_to_add,
        )

    SageMakerModelBackend.update_model_package = update_model_package


def uninstall_sagemaker_fixes() -> None:
    from moto.sagemaker.models import SageMakerModelBackend

    if "update_model_package" in _ORIGINALS:
        SageMakerModelBackend.update_model_package = _ORIGINALS.pop("update_model_package")
