"""Pieces shared by the DynamoDB-backed services (products, inventory, users)."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI

from common import aws
from common.api import create_app
from common.ddb import to_item

# Errors that mean "DynamoDB/SNS unreachable or throttling": the API answers 503 and the caller retries.
AWS_UNAVAILABLE: tuple[type[Exception], ...] = (BotoCoreError, ClientError)


def table_ready(table: str) -> bool:
    """Readiness probe: a GetItem on a key that never exists (needs no permission beyond the service's own)."""
    aws.client("dynamodb").get_item(TableName=table, Key=to_item({"pk": "READYZ", "sk": "READYZ"}))
    return True


def create_table_app(service: str, title: str, description: str, *, table: str, cors_origin: str) -> FastAPI:
    """The API app of a service whose store is ``table``: ready while the table answers, 503 while AWS does not."""
    return create_app(service, title, description, ready=lambda: table_ready(table),
                      unavailable_errors=AWS_UNAVAILABLE, cors_origin=cors_origin)
