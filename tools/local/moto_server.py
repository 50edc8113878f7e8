"""moto's HTTP server with DynamoDB operations serialized, as DynamoDB isolates them. A harness setting of the local
platform (`make local`, the services' tests, `make chaos`): run as ``python -m tools.local.moto_server [moto.server
args]``.

Why: moto's threaded server runs requests concurrently, and its ``transact_write_items`` is all-or-nothing only by
copying every table it touches before applying the items and restoring the copies when a condition fails. A write
that lands between the copy and the restore (another request's PutItem, UpdateItem or transaction) is wiped by the
restore, and a read in between sees a transaction half applied. DynamoDB does neither: a transaction is isolated
from every other write and from GetItem. With several inventory workers reserving stock concurrently, that moto
behaviour loses reservations and stock, so no test could tell whether the services keep stock exact. Here every
DynamoDB read and write of the backend holds the lock of each table it touches, which makes each operation atomic
and isolated (and a table's operations serial, which a laptop's test load does not notice; the tables of different
services stay independent).

moto's whole-table copy also makes every transaction cost as much as the table is large, which under the lock would
stall all DynamoDB traffic as tables grow (a chaos run writes thousands of items). Here a transaction instead keeps a
copy of just the items it touches and puts those back when it is cancelled: the same all-or-nothing outcome, at the
cost of the transaction's own items.

Connections are kept alive, as AWS's endpoints keep them: werkzeug's development server answers every request with
``Connection: close`` (http.server cannot find the next request line when an application leaves part of a body
unread), so each AWS call of a service would open a new TCP connection, which it never does against AWS, and the
client's connection set-up (socket, urllib3 connection, botocore's pool bookkeeping) would be counted as the
service's work in `make bench-services`. :class:`KeepAliveRequestHandler` reads whatever body the application left
before the next request, and closes only where it cannot know where the body ends (chunked requests).

Cognito's GlobalSignOut is an unsigned request (the access token is its credential), so moto's server, which reads the
region from the signature, looks for the token in us-east-1's pools and answers NotAuthorized for a token of any
other region's pool; its in-process mock reads the region from the host name instead. Here the operation finds the
pool that issued the token in whichever region holds it, as moto already does for GetUser and InitiateAuth
(:func:`sign_out_in_the_tokens_region`).

When the local platform has moto enforce IAM (``LocalPlatform(enforce_iam=True)``, tools/local/access_proof), moto would
authorize most requests against resource ``*`` and a DynamoDB transaction as an action IAM does not have; here each
request is authorized as IAM does, per (action, resource) it names (:func:`authorize_named_resources`).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
import os
import sys
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto import server, settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.wsgi import LimitedStream

# Backend methods that read or write the items of one table (the table's name is their first argument; batch
# operations go through them item by item), and those that span tables.
ONE_TABLE = ("get_item", "put_item", "update_item", "delete_item", "query", "scan")
TRANSACTIONS = ("transact_write_items", "transact_get_items")
PARTIQL = ("execute_statement", "execute_transaction", "batch_execute_statement")
_tables_lock = threading.Lock()
_table_locks: dict[str, threading.RLock] = {}
_partiql_lock = threading.RLock()  # PartiQL names its tables inside statements; this project does not use it


def _lock_of(table: str) -> threading.RLock:
    # Re-entrant: transact_write_items calls get_item and the writes of the same table itself.
    with _tables_lock:
        return _table_locks.setdefault(table, threading.RLock())


def _transaction_tables(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[str]:
    items = kwargs.get("transact_items", args[1] if len(args) > 1 else [])
    names = {str(op.get("TableName")) for entry in items or [] for op in entry.values() if isinstance(op, dict)}
    return sorted(names)  # always in the same order: two transactions never wait on each other's locks


def _serialized(method: Callable[..., Any]) -> Callable[..., Any]:
    """Hold the lock of every table the operation touches: operations on one table are serial (isolated), those on
    different tables (products, users, inventory) run side by side."""

    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        name = method.__name__
        if name in PARTIQL:
            with _partiql_lock:
                return method(*args, **kwargs)
        tables = (_transaction_tables(args, kwargs) if name in TRANSACTIONS
                  else [str(kwargs.get("table_name", args[1] if len(args) > 1 else ""))])
        with contextlib.ExitStack() as held:
            for table in tables:
                held.enter_context(_lock_of(table))
            return method(*args, **kwargs)

    locked.__dict__["serialized"] = True
    return locked


Touched = list[tuple[Table, DynamoType, DynamoType | None, Item | None]]


def _touched(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> Touched:
    """(table, hash key, range key, a copy of the item as it is now, or None) for every item of a transaction."""
    out: Touched = []
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        table = backend.tables.get(str(op.get("TableName")))
        if table is None:
            continue  # moto reports the missing table itself
        key = op.get("Item") if op_type == "Put" else op.get("Key")
        if not isinstance(key, dict) or table.hash_key_attr not in key or (
                table.range_key_attr and table.range_key_attr not in key):
            continue  # moto refuses the malformed item itself, before writing anything
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        current = table.get_item(hash_key, range_key)
        out.append((table, hash_key, range_key, copy.deepcopy(current) if current is not None else None))
    return out


def _put_back(touched: Touched) -> None:
    for table, hash_key, range_key, item in reversed(touched):  # the first copy of an item is the one that wins
        if item is not None:
            if range_key is not None:
                table.items[hash_key][range_key] = item
            else:
                table.items[hash_key] = item  # type: ignore[assignment]
        elif table.get_item(hash_key, range_key) is not None:
            table.delete_item(hash_key, range_key)


def _item_level_rollback(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def transact(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> Any:
        touched = _touched(self, transact_items)
        try:
            return method(self, transact_items)
        except Exception:
            _put_back(touched)
            raise

    return transact


def _deepcopy_all_but_tables(value: Any, memo: dict[int, Any] | None = None) -> Any:
    # transact_write_items' own backup of whole tables becomes a reference (its restore then changes nothing);
    # _item_level_rollback restores what the transaction touched. Everything else is copied as before.
    return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def serialize_dynamodb() -> None:
    """Wrap the DynamoDB backend's item operations with one process-wide lock, and give transactions an item-level
    rollback instead of moto's whole-table copies (idempotent)."""
    if not getattr(DynamoDBBackend.transact_write_items, "serialized", False):
        DynamoDBBackend.transact_write_items = _item_level_rollback(  # type: ignore[method-assign]
            DynamoDBBackend.transact_write_items)
        dynamodb_models.copy = SimpleNamespace(deepcopy=_deepcopy_all_but_tables)  # type: ignore[assignment]
    for name in (*ONE_TABLE, *TRANSACTIONS, *PARTIQL):
        method = getattr(DynamoDBBackend, name, None)
        if method is not None and not getattr(method, "serialized", False):
            setattr(DynamoDBBackend, name, _serialized(method))


def _request_requirements(response: Any) -> tuple[tuple[str, str], ...]:
    """What IAM authorizes for a request (tools/local/access_proof.call_of): (action, resource ARN) pairs, from its
    signing scope, operation and parameters."""
    from tools.local.access_proof import call_of

    scope = response.headers.get("Authorization", "").split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    if len(scope) < 5:
        return ()
    params: dict[str, Any] = {}
    parsed, body = getattr(response, "params", None), response.body
    if isinstance(parsed, dict) and parsed:  # moto's own parse of the request (DynamoDB, newer handlers)
        params = parsed
    elif isinstance(body, dict):
        params = body
    else:
        text = body.decode(errors="replace") if isinstance(body, bytes) else str(body or "")
        if text.lstrip().startswith("{"):
            with contextlib.suppress(ValueError):
                params = json.loads(text)
        if not params:
            params = {k: v[0] for k, v in (response.querystring or {}).items() if v}
    record = {"pod": "", "service": scope[3], "operation": response._get_action(), "params": params}
    return call_of(record, region=scope[2], account=response.current_account).requirements


def _with_resources(method: Callable[..., Any]) -> Callable[..., Any]:
    """moto authorizes most services' requests against ``*`` (SQS alone names its queue), which no
    least-privilege statement matches, and a DynamoDB transaction as ``dynamodb:TransactWriteItems``, which IAM
    does not have: once it enforces IAM, each (action, resource) IAM would check is checked instead."""

    @functools.wraps(method)
    def authorize(self: Any, resource: str = "*") -> None:
        enforcing = ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT
        requirements = _request_requirements(self) if enforcing and resource == "*" else ()
        if not requirements:
            single = _single_entry_action(self) if enforcing else None
            if single is None:
                method(self, resource)
                return
            # A batch call on a resource moto names itself (an SQS queue): IAM authorizes its single-entry action.
            self._get_action = functools.partial(str, single)
            try:
                method(self, resource)
            finally:
                del self._get_action
            return
        operation = self._get_action()
        for action, arn in requirements:
            # moto's check reads the action from _get_action(); the item's own action for a transaction's items
            self._get_action = functools.partial(str, action.split(":", 1)[1])
            try:
                method(self, arn)
            finally:
                del self._get_action
        assert self._get_action() == operation

    authorize.__dict__["with_resources"] = True
    return authorize


def _single_entry_action(response: Any) -> str | None:
    """The operation IAM authorizes a batch call as (SendMessageBatch -> SendMessage), or None for other calls."""
    from tools.local.access_proof import BATCH_ACTIONS

    operation = response._get_action()
    return next((single.split(":", 1)[1] for batch, single in BATCH_ACTIONS.items()
                 if batch.split(":", 1)[1] == operation), None)


def authorize_named_resources() -> None:
    """Have moto's IAM enforcement check the resources each request names (idempotent)."""
    method = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action
    if not getattr(method, "with_resources", False):
        ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = _with_resources(  # type: ignore
            method)


class KeepAliveRequestHandler(MotoRequestHandler):
    """moto's request handler, with HTTP/1.1 keep-alive (see the module's docstring).

    werkzeug (3.1) answers with ``Connection: close`` and, after each answer, reads whatever else the socket holds
    (which would swallow the client's next request). Here the application reads the body through a stream bounded
    by its Content-Length; werkzeug's read-after-answer sees an empty stream; what the application left of the body
    is read before the next request line. A chunked body (no length known up front) closes the connection, as
    werkzeug always did."""

    _body: LimitedStream | None = None
    _EMPTY = io.BytesIO(b"")

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        length = environ.get("CONTENT_LENGTH") or "0"
        if environ.get("wsgi.input_terminated") or not length.isdigit():
            self._body = None
            return environ
        self._body = LimitedStream(self.rfile, int(length))  # type: ignore[arg-type]  # a binary file, as werkzeug reads it
        environ["wsgi.input"] = self._body
        environ["wsgi.input_terminated"] = True  # werkzeug's Request reads our bounded stream as it is
        self.rfile = self._EMPTY  # werkzeug's read-after-answer (run_wsgi's `execute`) finds nothing
        return environ

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value.lower() == "close" and self._body is not None:
            return  # http.server keeps an HTTP/1.1 connection open unless this header closes it
        super().send_header(keyword, value)

    def run_wsgi(self) -> None:
        connection_file = self.rfile
        try:
            super().run_wsgi()
        finally:
            self.rfile = connection_file
        if self._body is None:
            self.close_connection = True
            return
        try:
            self._body.exhaust()  # the next request line starts right after this body
        except Exception:
            self.close_connection = True
        self._body = None


def sign_out_in_the_tokens_region() -> None:
    """GlobalSignOut from the backend of the region whose pool issued the token (idempotent)."""
    from moto.cognitoidp.models import RegionAgnosticBackend
    from moto.cognitoidp.responses import CognitoIdpResponse
    from moto.core.responses import EmptyResult

    method = CognitoIdpResponse.global_sign_out
    if getattr(method, "region_agnostic", False):
        return

    @functools.wraps(method)
    def global_sign_out(self: Any) -> Any:
        token = self._get_param("AccessToken")
        agnostic = RegionAgnosticBackend(self.current_account, self.region)
        agnostic._find_backend_by_access_token(token).global_sign_out(token)
        return EmptyResult()

    global_sign_out.__dict__["region_agnostic"] = True
    CognitoIdpResponse.global_sign_out = global_sign_out  # type: ignore[method-assign]


def _exit_now(signum: int, frame: object) -> None:
    # moto's own handler raises SystemExit, and the interpreter then waits on the server's worker threads as long
    # as clients keep connections open; the state is in memory only, so there is nothing to lose by leaving now.
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    serialize_dynamodb()
    authorize_named_resources()
    sign_out_in_the_tokens_region()
    server.signal_handler = _exit_now  # installed by server.main for SIGINT/SIGTERM
    server.MotoRequestHandler = KeepAliveRequestHandler  # type: ignore[misc]  # handed to run_simple by server.main
    server.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
