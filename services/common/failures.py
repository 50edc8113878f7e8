"""What a failure to apply a message means for the message: wait for a dependency, try later, or give up.

Consumers (common/consumer.py) act on the kind, never on the exception type:

* ``UNAVAILABLE``: a dependency is unreachable or refusing service (PostgreSQL down, pool exhausted, AWS endpoint
  unreachable, throttling, expired credentials). Not the message's fault: the consumer stops receiving until the
  dependency answers again (backpressure) and the message is retried, for hours if need be.
* ``RETRY_LATER``: the message cannot be applied *yet* (a payment before its reservation outcome, an optimistic
  concurrency race lost too often). Retried on its own, shorter schedule.
* ``PERMANENT``: the message can never be applied as it is (not JSON, schema-invalid, unknown type, a business rule
  violated, a value the store cannot hold). Moved to the dead-letter queue with the reason at once.

Only PERMANENT failures, or a transient failure that outlived its budget, reach a dead-letter queue.
"""

from __future__ import annotations

from enum import StrEnum

import psycopg
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from psycopg_pool import PoolClosed, PoolTimeout


class Kind(StrEnum):
    UNAVAILABLE = "dependency-unavailable"
    RETRY_LATER = "retry-later"
    PERMANENT = "permanent"


class RetryLater(RuntimeError):
    """The message cannot be applied yet (ordering wait, contention); SQS redelivers it on the ordering schedule."""


class Permanent(RuntimeError):
    """The message can never be applied as it is (a business rule it violates)."""


class Unavailable(RuntimeError):
    """A dependency the handler needs is unreachable (for dependencies that raise no recognisable error)."""


# SQLSTATE classes of PostgreSQL errors that say nothing about the statement: connection exceptions (08), transaction
# rollback: serialization failure or deadlock (40), insufficient resources (53), lock not available (55), operator
# intervention: shutdown, restart, recovery (57), system error (58).
_PG_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "55", "57", "58"})
# AWS error codes that mean "the service or our access to it is unwell", whatever the request.
_AWS_UNAVAILABLE_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
    "LimitExceededException", "SlowDown", "RequestTimeout", "RequestTimeoutException", "ServiceUnavailable",
    "ServiceUnavailableException", "InternalError", "InternalFailure", "InternalServerError",
    "InternalServiceError", "KMSThrottlingException", "KMS.ThrottlingException", "TransactionInProgressException",
    "TransactionConflictException", "PriorRequestNotComplete", "EC2ThrottledException",
    # Access and key problems are operator errors, not the message's: retry while someone fixes them.
    "AccessDenied", "AccessDeniedException", "UnrecognizedClientException", "InvalidClientTokenId",
    "ExpiredToken", "ExpiredTokenException", "RequestExpired", "SignatureDoesNotMatch",
    "KMS.DisabledException", "KMS.KMSInvalidStateException", "KMS.AccessDeniedException", "KMSAccessDenied",
    "KmsAccessDenied", "KMS.NotFoundException", "ResourceNotFoundException", "NonExistentQueue",
    "AWS.SimpleQueueService.NonExistentQueue",
})


def classify(exc: BaseException) -> Kind:
    if isinstance(exc, Permanent):
        return Kind.PERMANENT
    if isinstance(exc, RetryLater):
        return Kind.RETRY_LATER
    if isinstance(exc, (Unavailable, PoolTimeout, PoolClosed, psycopg.InterfaceError)):
        return Kind.UNAVAILABLE
    if isinstance(exc, psycopg.OperationalError):
        # No SQLSTATE: the failure happened before the server answered (connection refused, reset, timeout).
        state = exc.sqlstate
        return Kind.UNAVAILABLE if state is None or state[:2] in _PG_TRANSIENT_CLASSES else Kind.PERMANENT
    if isinstance(exc, (BotoConnectionError, HTTPClientError, NoCredentialsError, PartialCredentialsError,
                        CredentialRetrievalError)):
        return Kind.UNAVAILABLE
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if str(error.get("Code", "")) in _AWS_UNAVAILABLE_CODES or status >= 500:
            return Kind.UNAVAILABLE
        return Kind.PERMANENT
    if isinstance(exc, BotoCoreError):
        return Kind.PERMANENT  # e.g. parameter validation: the request built from this message is invalid
    if isinstance(exc, (ConnectionError, TimeoutError)):  # builtins: sockets to any other dependency
        return Kind.UNAVAILABLE
    return Kind.PERMANENT


def describe(exc: BaseException, limit: int = 500) -> str:
    """``Type: message`` on one line, cut to ``limit`` characters (a DLQ message attribute holds it)."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    # Message attributes take the characters message bodies take: no NUL or other control characters.
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
