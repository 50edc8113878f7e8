"""boto3 clients with bounded timeouts and botocore's standard retry mode, one of each per process.

botocore reads the region from AWS_DEFAULT_REGION, not AWS_REGION (our contract), so it is passed here;
boto3 itself reads, for the local platform, AWS_ENDPOINT_URL (moto) from the environment itself, so the same
code runs against AWS (Pod Identity credentials) and against moto without a branch.

Clients are thread-safe and sessions are not: each client is built once, under a lock, from a session used only
there, and shared by every thread of the process (consumers, relay, request handlers).

Observed calls: when the local platform sets AWS_CALL_LOG (a path prefix), every call of every client of this
process is appended, one JSON line each, to ``<prefix>.<pid>.jsonl``: the operation, the request's identifying
parameters (which resources it names), its outcome and the code path that made it. `make access-proof`
(tools/local/access_proof) evaluates them against the role the service ships with. In AWS the variable is never set.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ParamValidationError
from botocore.validate import ParamValidator

# Short timeouts: a hung AWS call must fail fast so an API returns 503 and a relay/consumer retries later, rather
# than a request hanging until the client gives up. Standard retry mode: throttling and transient errors are
# retried with jittered backoff (3 attempts in all), with a retry quota that stops retry storms.
CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 10
_RETRIES: dict[str, Any] = {"mode": "standard", "max_attempts": 3}
# Services whose requests botocore does not validate before sending. DynamoDB's are built from typed values
# (ddb.to_item, ddb.values), and botocore's validation walks every attribute of every item of a request: a
# transaction of a receive's reservations and their outbox records spent a tenth of the inventory worker's CPU per
# event there (docs/performance.md). DynamoDB validates each request itself and refuses an invalid one with
# ValidationException, a ClientError classified permanent as botocore's ParamValidationError is (common/failures.py).
SERVER_VALIDATED = frozenset({"dynamodb"})
# Set by the services' tests (services/conftest.py): their requests validated as where calls are recorded.
VALIDATE_ENV = "AWS_VALIDATE_REQUESTS"
_lock = threading.Lock()
_clients: dict[tuple[str, int, int], Any] = {}


def client(name: str, *, read_timeout: int = READ_TIMEOUT_SECONDS,
           max_attempts: int = 3) -> Any:
    """The process's client for service ``name``. ``read_timeout`` must outlast a long poll (SQS ReceiveMessage
    with WaitTimeSeconds), whose reply only comes when the wait is over; ``max_attempts`` 1 for a caller that
    retries on its own schedule."""
    key = (name, read_timeout, max_attempts)
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        if key not in _clients:
            config = Config(connect_timeout=CONNECT_TIMEOUT_SECONDS, read_timeout=read_timeout,
                            retries={**_RETRIES, "max_attempts": max_attempts},
                            parameter_validation=name not in SERVER_VALIDATED)
            _clients[key] = observed(
                boto3.session.Session(region_name=os.environ["AWS_REGION"]).client(name, config=config),
                validated=name not in SERVER_VALIDATED)
        return _clients[key]


# The request parameters that name a resource (and the one condition key the roles use, ses:FromAddress): what the
# access proof needs to find the resource ARNs of a call. Values of items and messages are never recorded.
IDENTIFYING = ("TableName", "IndexName", "QueueUrl", "TopicArn", "TargetArn", "SecretId", "KeyId", "ClientId",
               "UserPoolId", "FromEmailAddress", "ConfigurationSetName")
SERVICES_ROOT = str(Path(__file__).resolve().parent.parent)
_log_lock = threading.Lock()


def observed(client: Any, *, validated: bool = True) -> Any:
    """``client`` with its calls recorded when AWS_CALL_LOG is set (see the module's docstring); else unchanged.
    Recorded (or VALIDATE_ENV set), the requests of a client that does not validate them (``validated``:
    SERVER_VALIDATED) are validated here as botocore would: moto validates less than AWS does (it accepts an empty
    transaction), so a request AWS would refuse fails the local run and the tests as well."""
    prefix = os.environ.get("AWS_CALL_LOG")
    if not validated and (prefix or os.environ.get(VALIDATE_ENV)):
        client.meta.events.register("before-parameter-build", _validate)
    if prefix:
        client.meta.events.register("before-parameter-build", _before_call)
        client.meta.events.register("after-call", _after_call)
        client.meta.events.register("after-call-error", _after_call_error)
    return client


def identifying(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters of a request that name its resources, batch and transaction items included."""
    out: dict[str, Any] = {k: params[k] for k in IDENTIFYING if isinstance(params.get(k), str)}
    if isinstance(params.get("RequestItems"), dict):
        out["RequestItems"] = sorted(params["RequestItems"])
    if isinstance(params.get("TransactItems"), list):
        out["TransactItems"] = [{op: {"TableName": body.get("TableName")} for op, body in item.items()}
                                for item in params["TransactItems"] if isinstance(item, dict)]
    return out


def code_path() -> list[str]:
    """The service's own frames (outermost first) that led to the call: file:line function."""
    frames = traceback.extract_stack()[:-3]
    own = [f for f in frames if f.filename.startswith(SERVICES_ROOT) and not f.filename.endswith("common/aws.py")]
    return [f"{os.path.relpath(f.filename, SERVICES_ROOT)}:{f.lineno} {f.name}" for f in own][-6:]


def _validate(params: dict[str, Any], model: Any, **_: Any) -> None:
    report = ParamValidator().validate(params, model.input_shape)
    if report.has_errors():
        raise ParamValidationError(report=report.generate_report())


def _before_call(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    context["observed_call"] = {"service": model.service_model.signing_name, "api": model.service_model.service_name,
                                "operation": model.name, "params": identifying(params), "code_path": code_path()}


def _after_call(http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    error = parsed.get("Error", {}).get("Code") if isinstance(parsed.get("Error"), dict) else None
    _write(context, status=int(getattr(http_response, "status_code", 0)), error=error)


def _after_call_error(exception: BaseException, context: dict[str, Any], **_: Any) -> None:
    _write(context, status=0, error=type(exception).__name__)


def _write(context: dict[str, Any], *, status: int, error: str | None) -> None:
    call = context.get("observed_call")
    prefix = os.environ.get("AWS_CALL_LOG")
    if call is None or not prefix:
        return
    line = json.dumps({**call, "status": status, "error": error}, separators=(",", ":")) + "\n"
    try:
        with _log_lock, open(f"{prefix}.{os.getpid()}.jsonl", "a") as log:
            log.write(line)
    except OSError as exc:  # the record is evidence, not the service's work: say so and carry on
        print(f"aws call log: {exc}", file=sys.stderr)
