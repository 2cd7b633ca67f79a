"""Local mode's state folder: what one process saves, the next one restores (moto, no network)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from stepwise.local.state import StateStore

BUCKET = "state-test-bucket"
GROUP = "fraud"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"


def _clients():
    return boto3.client("s3", region_name="us-east-1"), boto3.client("sagemaker", region_name="us-east-1")


def _package(sagemaker, status: str, run: str) -> str:
    return sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [
                {"Image": "xgboost:1.7-1", "ModelDataUrl": f"s3://{BUCKET}/runs/{run}/model.tar.gz"}
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        CustomerMetadataProperties={"executionName": run},
    )["ModelPackageArn"]


@pytest.fixture(autouse=True)
def sagemaker_fixes():
    """Local mode runs moto with its SageMaker corrections (stepwise.local.moto_fixes)."""
    from stepwise.local.moto_fixes import install_sagemaker_fixes, uninstall_sagemaker_fixes

    install_sagemaker_fixes()
    yield
    uninstall_sagemaker_fixes()


@pytest.fixture
def saved(tmp_path: Path) -> StateStore:
    """A first 'process': two datasets, three package versions (one approved later), an endpoint."""
    store = StateStore(tmp_path / "state")
    with mock_aws():
        s3, sagemaker = _clients()
        s3.create_bucket(Bucket=BUCKET)
        for dataset in ("d1", "d2"):
            s3.put_object(Bucket=BUCKET, Key=f"raw/{dataset}/claims.csv", Body=f"claims {dataset}".encode())
        s3.put_object(Bucket=BUCKET, Key="runs/r1/model.tar.gz", Body=b"\x1f\x8b model")
        sagemaker.create_model_package_group(
            ModelPackageGroupName=GROUP, ModelPackageGroupDescription="models"
        )
        _package(sagemaker, "Approved", "r1")
        pending = _package(sagemaker, "PendingManualApproval", "r2")
        _package(sagemaker, "Rejected", "r3")
        sagemaker.update_model_package(ModelPackageArn=pending, ModelApprovalStatus="Approved")
        sagemaker.create_model(
            ModelName="m-v2",
            PrimaryContainer={
                "Image": "xgboost:1.7-1",
                "ModelDataUrl": f"s3://{BUCKET}/runs/r1/model.tar.gz",
            },
            ExecutionRoleArn=ROLE,
        )
        variant = {"VariantName": "AllTraffic", "ModelName": "m-v2", "InitialInstanceCount": 1}
        sagemaker.create_endpoint_config(
            EndpointConfigName="c-v2", ProductionVariants=[{**variant, "InstanceType": "ml.m5.large"}]
        )
        sagemaker.create_endpoint(EndpointName="fraud", EndpointConfigName="c-v2")
        assert store.save_s3(s3, [BUCKET]) == 3
        store.save_sagemaker(sagemaker)
    return store


def test_restore_gives_the_same_objects_versions_and_arns(saved: StateStore) -> None:
    with mock_aws():
        s3, sagemaker = _clients()
        s3.create_bucket(Bucket=BUCKET)
        assert saved.restore_s3(s3) == 3
        saved.restore_sagemaker(sagemaker)
        body = s3.get_object(Bucket=BUCKET, Key="raw/d2/claims.csv")["Body"].read()
        assert body == b"claims d2"
        packages = sagemaker.list_model_packages(ModelPackageGroupName=GROUP, SortBy="CreationTime")
        restored = [
            (p["ModelPackageArn"], p["ModelApprovalStatus"]) for p in packages["ModelPackageSummaryList"]
        ]
        prefix = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}"
        assert restored == [
            (f"{prefix}/1", "Approved"),
            (f"{prefix}/2", "Approved"),
            (f"{prefix}/3", "Rejected"),
        ]
        package = sagemaker.describe_model_package(ModelPackageName=f"{prefix}/2")
        assert package["CustomerMetadataProperties"] == {"executionName": "r2"}
        assert sagemaker.describe_endpoint(EndpointName="fraud")["EndpointConfigName"] == "c-v2"


def test_restored_raw_objects_keep_their_upload_order(saved: StateStore) -> None:
    manifest = json.loads((saved.s3_dir / "manifest.json").read_text())
    assert [entry["key"] for entry in manifest if entry["key"].startswith("raw/")] == [
        "raw/d1/claims.csv",
        "raw/d2/claims.csv",
    ]


def test_saving_again_drops_deleted_objects(saved: StateStore) -> None:
    with mock_aws():
        s3, _ = _clients()
        s3.create_bucket(Bucket=BUCKET)
        saved.restore_s3(s3)
        s3.delete_object(Bucket=BUCKET, Key="raw/d1/claims.csv")
        assert saved.save_s3(s3, [BUCKET]) == 2
    assert not (saved.s3_dir / BUCKET / "raw" / "d1" / "claims.csv").exists()
    assert (saved.s3_dir / BUCKET / "raw" / "d2" / "claims.csv").read_bytes() == b"claims d2"
