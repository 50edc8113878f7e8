"""Recorded responses for the calls the offline account (moto's server) does not serve, and their recording.

A recording is one JSON file per operation, ``<service>.<Operation>.json``: ``{"source": ..., "calls": [{"params":
{...}, "response": {...}}]}``. A call is answered by the first recorded call whose params are all among the call's
own (an empty ``params`` answers any call); a call no recording answers goes to the endpoint (so moto still serves
the VPC quotas of an operation whose EC2 quotas are recorded). Each response is validated against the operation's
output shape in botocore's service model when it is loaded, as botocore's Stubber does, so a recording cannot drift
from the API.

``--record DIR`` runs against the real account and writes what it answered for those same operations, which is how
the committed recordings are refreshed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import botocore.client
from botocore.awsrequest import AWSResponse
from botocore.validate import validate_parameters

PARAMS_KEY = "account_check_params"


def _matches(recorded: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    return all(params.get(k) == v for k, v in recorded.items())


def _stash(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """Keep a call's API parameters where its later events (before-call, after-call) find them."""
    context[PARAMS_KEY] = dict(params)


def _watch(client: botocore.client.BaseClient, operations: set[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """Each of ``operations`` the client serves, with its parameters stashed for the handlers registered next."""
    service = client.meta.service_model.service_id.hyphenize()
    for svc, operation in sorted(operations):
        if svc == service:
            client.meta.events.register(f"before-parameter-build.{service}.{operation}", _stash)
            yield service, operation


class Replay:
    """Answers the operations ``(service id, operation)`` from recordings in ``directory``."""

    def __init__(self, directory: Path, operations: set[tuple[str, str]]) -> None:
        self.directory = directory
        self.operations = operations
        self._calls: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.answered: list[tuple[str, str]] = []  # the calls it answered, in order (tests read it)

    def calls(self, client: botocore.client.BaseClient, service: str, operation: str) -> list[dict[str, Any]]:
        key = (service, operation)
        if key not in self._calls:
            path = self.directory / f"{service}.{operation}.json"
            calls = json.loads(path.read_text())["calls"] if path.is_file() else []
            shape = client.meta.service_model.operation_model(operation).output_shape
            for c in calls:
                validate_parameters(c["response"], shape)
            self._calls[key] = calls
        return self._calls[key]

    def attach(self, client: botocore.client.BaseClient) -> None:
        for service, operation in _watch(client, self.operations):

            def answer(context: dict[str, Any], _svc: str = service, _op: str = operation,
                       **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
                params = context.get(PARAMS_KEY, {})
                for c in self.calls(client, _svc, _op):
                    if _matches(c.get("params", {}), params):
                        self.answered.append((_svc, _op))
                        response = {**c["response"], "ResponseMetadata": {"HTTPStatusCode": 200}}
                        return AWSResponse("replay://", 200, {}, None), response
                return None

            client.meta.events.register(f"before-call.{service}.{operation}", answer)


class Recorder:
    """Keeps what the account answered for the operations ``(service id, operation)``; :meth:`write` saves them."""

    def __init__(self, operations: set[tuple[str, str]]) -> None:
        self.operations = operations
        self.recorded: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def attach(self, client: botocore.client.BaseClient) -> None:
        for service, operation in _watch(client, self.operations):

            def keep(parsed: dict[str, Any], context: dict[str, Any], _svc: str = service, _op: str = operation,
                     **_: Any) -> None:
                response = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
                if "Error" not in response:
                    self.recorded.setdefault((_svc, _op), []).append(
                        {"params": context.get(PARAMS_KEY, {}), "response": response})

            client.meta.events.register(f"after-call.{service}.{operation}", keep)

    def write(self, directory: Path, source: str) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        out = []
        for (service, operation), calls in sorted(self.recorded.items()):
            path = directory / f"{service}.{operation}.json"
            path.write_text(json.dumps({"source": source, "calls": calls}, indent=1, default=str) + "\n")
            out.append(path)
        return out
