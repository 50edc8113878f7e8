"""What a failure means for a message (common/failures.py), the consumer's retry schedule, hostile bodies."""

from __future__ import annotations

import json

import psycopg
import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout

from common.consumer import RetryPolicy
from common.envelope import InvalidEnvelope, parse
from common.failures import Kind, Permanent, RetryLater, classify, describe


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "Operation")


@pytest.mark.parametrize(("exc", "kind"), [
    (PoolTimeout("couldn't get a connection after 5.00 sec"), Kind.UNAVAILABLE),
    (psycopg.OperationalError("connection failed: connection refused"), Kind.UNAVAILABLE),  # no SQLSTATE
    (pg_errors.AdminShutdown("terminating connection due to administrator command"), Kind.UNAVAILABLE),
    (pg_errors.SerializationFailure("could not serialize access"), Kind.UNAVAILABLE),
    (pg_errors.DeadlockDetected("deadlock detected"), Kind.UNAVAILABLE),
    (pg_errors.ProgramLimitExceeded("index row size exceeds maximum"), Kind.PERMANENT),  # this row, always
    (psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"), Kind.PERMANENT),
    (pg_errors.InvalidTextRepresentation("invalid input syntax for type uuid"), Kind.PERMANENT),
    (EndpointConnectionError(endpoint_url="https://sqs.eu-west-1.amazonaws.com"), Kind.UNAVAILABLE),
    (ConnectTimeoutError(endpoint_url="https://dynamodb"), Kind.UNAVAILABLE),
    (ReadTimeoutError(endpoint_url="https://dynamodb"), Kind.UNAVAILABLE),
    (client_error("ThrottlingException"), Kind.UNAVAILABLE),
    (client_error("ProvisionedThroughputExceededException"), Kind.UNAVAILABLE),
    (client_error("InternalServerError", 500), Kind.UNAVAILABLE),
    (client_error("SomethingNew", 503), Kind.UNAVAILABLE),
    (client_error("AccessDeniedException"), Kind.UNAVAILABLE),  # an operator's mistake, not the message's
    (client_error("ValidationException"), Kind.PERMANENT),  # e.g. an item over 400 KB
    (RetryLater("payment before reservation outcome"), Kind.RETRY_LATER),
    (Permanent("payment amount does not match"), Kind.PERMANENT),
    (ConnectionResetError(), Kind.UNAVAILABLE),
    (KeyError("order_id"), Kind.PERMANENT),
    (RecursionError("maximum recursion depth exceeded"), Kind.PERMANENT),
    (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), Kind.PERMANENT),
])
def test_classify(exc: BaseException, kind: Kind) -> None:
    assert classify(exc) is kind


def test_describe_is_one_printable_line_that_fits_a_message_attribute() -> None:
    text = describe(psycopg.DataError("bad\x00value\nsecond line " + "x" * 1000))
    assert text.startswith("DataError: bad\\x00value second line")
    assert len(text) <= 500 and text.isprintable()


def test_retry_schedules_back_off_to_their_caps() -> None:
    policy = RetryPolicy(budget_seconds=14400, backoff_max_seconds=300, ordering_backoff_max_seconds=120)
    assert [policy.visibility(Kind.UNAVAILABLE, n) for n in (1, 2, 3, 8, 9, 50)] == [2, 4, 8, 256, 300, 300]
    assert [policy.visibility(Kind.RETRY_LATER, n) for n in (1, 2, 3, 7, 8, 500)] == [1, 2, 4, 64, 120, 120]


@pytest.mark.parametrize("body", [
    "[" * 10_000 + "]" * 10_000,  # RecursionError in the decoder
    '{"a":' * 5_000 + "1" + "}" * 5_000,
    json.dumps({"id": "1", "type": "ReserveStock", "version": 1, "time": "2024-01-01T00:00:00Z", "source": "x",
                "correlation_id": "c", "data": {"order_id": "o", "lines": ["[" * 5000]}}),
    '{"id": "\\ud800"}',  # a lone surrogate
    "9" * 10_000,  # ValueError: exceeds the limit for integer string conversion
    "", "null", "\x00", '"just a string"',
])
def test_hostile_bodies_are_invalid_envelopes_not_crashes(body: str) -> None:
    with pytest.raises(InvalidEnvelope):
        parse(body)


def test_deeply_nested_data_inside_a_valid_envelope_is_invalid() -> None:
    nested: object = "x"
    for _ in range(3000):
        nested = [nested]
    body = json.dumps({"id": "1", "type": "UserRegistered", "version": 1, "time": "2024-01-01T00:00:00Z",
                       "source": "x", "correlation_id": "c", "data": {"user_id": "u", "email": "a@b.co",
                                                                        "name": "n", "extra": "y"}})
    body = body.replace('"y"', "[" * 3000 + "]" * 3000)
    with pytest.raises(InvalidEnvelope):
        parse(body)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.binary().map(lambda b: b.decode("latin-1")),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                              lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)).map(json.dumps)))
def test_parse_raises_nothing_but_invalid_envelope(body: str) -> None:
    try:
        parse(body)
    except InvalidEnvelope:
        pass
