"""The shared DynamoDB client sends requests without botocore's validation (DynamoDB validates them itself:
common/aws.py, SERVER_VALIDATED); where calls are recorded (the local platform, AWS_CALL_LOG), they are validated as
botocore would, because moto validates less than AWS (it accepts an empty transaction)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ParamValidationError

from common import aws
from common.failures import Kind, classify
from common.tests.moto_server import own_moto


@pytest.fixture
def moto() -> Iterator[None]:
    with own_moto():
        yield
    aws._clients.clear()


def test_unrecorded_dynamodb_requests_are_left_to_the_service(moto: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(aws.VALIDATE_ENV, raising=False)  # as a pod in AWS runs
    aws._clients.clear()
    aws.client("dynamodb").transact_write_items(TransactItems=[])  # moto accepts it; AWS answers ValidationException


def test_recorded_dynamodb_requests_are_validated_as_botocore_would(moto: None, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(aws.VALIDATE_ENV, raising=False)
    monkeypatch.setenv("AWS_CALL_LOG", str(tmp_path / "calls"))
    aws._clients.clear()
    with pytest.raises(ParamValidationError) as refused:
        aws.client("dynamodb").transact_write_items(TransactItems=[])
    assert classify(refused.value) is Kind.PERMANENT
    aws.client("sqs").list_queues()  # a client that validates itself is recorded as before
    assert list(tmp_path.glob("calls.*.jsonl"))
