"""Run the four services locally against a throwaway PostgreSQL cluster and moto in server mode.

    python -m tools.local_platform [--max-receive-count N] [--visibility-timeout S]

creates the AWS resources of config/topology.py in moto (topics, queues with DLQs and redrive policies, filtered
raw-delivery subscriptions, tables with their indexes, the Cognito pool/client/admin group, the orders DB secret,
the resource servers and service app clients of topology.RESOURCE_SERVER_SCOPES / SERVICE_CALLS with their secrets),
starts the client-credentials token endpoint moto lacks (tools/local_token_endpoint.py), then starts each
service's API (uvicorn, ports = topology.LISTENER_PORTS) and worker (consumers + outbox relay) as
processes from the same entrypoints as the container images, and, given a cloud assembly (or synthesizing dev when
none is given on the command line), the local edge in front of them (tools/local_edge: the synthesized API Gateway
with its API key, authorizer, models and throttles). Once ready it prints EDGE_URL=... and API_KEY=... on lines of
their own and writes them to .local/edge.env. Ctrl-C / SIGTERM stops everything it started.

`LocalPlatform` is the same thing as a context manager, used by the services' tests, tools/e2e.py,
tools/bench_services.py and tools/chaos.py.

Harness settings (how the local platform differs from AWS on purpose):
- moto runs through tools/moto_server.py, which serializes DynamoDB operations as DynamoDB isolates them (moto's own
  transactions copy and restore whole tables, wiping concurrent writes).
- `proxied=(services...)` puts a switchable TCP proxy (tools/tcp_proxy.py) between those services and moto, and
  `proxied_db=True` one between orders and PostgreSQL, so tests can cut AWS (`aws_down`) or the database (`db_down`).
- Each worker writes its liveness heartbeat file under the platform's work directory, not the container's /tmp.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx

from config import environments, topology
from config.environment import EnvironmentConfig
from config.topology import Service
from tools.local_edge.assembly import edge_argv, synthesize
from tools.local_edge.authorizer import CognitoPool
from tools.local_edge.definition import EdgeDefinition
from tools.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parent.parent
SERVICES_DIR = ROOT / "services"
REGION = "us-east-1"
LOCAL_ENVIRONMENT = "dev"  # the local platform mirrors the dev environment's messaging settings
EDGE_ENV_FILE = ROOT / ".local" / "edge.env"
SMOKE_ENV_FILE = ROOT / ".local" / "smoke.env"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def default_max_receive_count() -> int:
    """The redrive policy's maxReceiveCount of the dev environment (config/environments.py), as CDK deploys it."""
    return environments.load(LOCAL_ENVIRONMENT).messaging.dlq_max_receive_count


def default_visibility_timeout() -> int:
    return environments.load(LOCAL_ENVIRONMENT).messaging.visibility_timeout_seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bindir(tool: str = "initdb") -> Path:
    """Directory holding PostgreSQL's server tools: $PG_BIN, else the newest Debian-style install, else PATH."""
    candidates = [os.environ["PG_BIN"]] if os.environ.get("PG_BIN") else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name),
                         reverse=True)
    found = shutil.which(tool)
    if found:
        candidates.append(str(Path(found).parent))
    for c in candidates:
        if (Path(c) / tool).exists():
            return Path(c)
    raise RuntimeError(f"PostgreSQL tool {tool} not found (set PG_BIN)")


@dataclass
class Resources:
    topic_arns: dict[str, str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)
    dlq_urls: dict[str, str] = field(default_factory=dict)
    tables: dict[Service, str] = field(default_factory=dict)
    user_pool_id: str = ""
    client_id: str = ""
    db_secret_arn: str = ""
    # Service-to-service calls: each calling service's app client (client-credentials grant) and its secret's ARN.
    service_client_ids: dict[Service, str] = field(default_factory=dict)
    service_secret_arns: dict[Service, str] = field(default_factory=dict)


class Postgres:
    """A throwaway cluster: initdb in a temp dir, run as the `postgres` OS user when we are root (initdb refuses)."""

    def __init__(self, workdir: Path, port: int) -> None:
        self.port = port
        self.dir = workdir / "pg"
        self.bindir = pg_bindir()
        self.superpass = secrets.token_urlsafe(16)
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *cmd: str) -> None:
        # argv built here from fixed PostgreSQL binaries and our own temp paths, never from user input
        subprocess.run([*self.as_user, *cmd], check=True, stdout=subprocess.DEVNULL,  # noqa: S603
                       stderr=subprocess.PIPE)

    def start(self) -> None:
        self.dir.mkdir()
        pwfile = self.dir / "pw"
        pwfile.write_text(self.superpass)
        if self.as_user:
            shutil.chown(self.dir, "postgres")
            shutil.chown(pwfile, "postgres")
        data = self.dir / "data"
        self._run(str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", "--pwfile", str(pwfile),
                  "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")
        # fsync off: the cluster is thrown away; durability would only slow tests and benchmarks alike.
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300 "
                "-c shared_buffers=128MB")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l", str(self.dir / "log"),
                  "-o", opts, "start")

    def stop(self) -> None:
        data = self.dir / "data"
        if data.exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")

    def dsn(self, user: str = "postgres", password: str | None = None, dbname: str = "postgres") -> str:
        pw = self.superpass if password is None else password
        return f"host=127.0.0.1 port={self.port} user={user} password={pw} dbname={dbname}"

    def create_database(self, user: str, password: str, dbname: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE ROLE "{user}" LOGIN PASSWORD \'{password}\'')
            conn.execute(f'CREATE DATABASE "{dbname}" OWNER "{user}"')


class LocalPlatform:
    def __init__(
        self,
        *,
        max_receive_count: int | None = None,
        visibility_timeout: int | None = None,
        ports: dict[Service, int] | None = None,
        free_ports: bool = False,
        moto_port: int | None = None,
        proxied: tuple[Service, ...] = (),
        sqs_wait_seconds: int = 1,
        start_workers: bool = True,
        services: tuple[Service, ...] = topology.SERVICES,
        verbose: bool = False,
        edge_assembly: Path | None = None,
        proxied_db: bool = False,
        config: EnvironmentConfig | None = None,
    ) -> None:
        # The environment config whose messaging and orders settings the services get (dev unless a test or the
        # chaos run needs other deadlines).
        self.config = config or environments.load(LOCAL_ENVIRONMENT)
        self.max_receive_count = max_receive_count or self.config.messaging.dlq_max_receive_count
        self.visibility_timeout = visibility_timeout or self.config.messaging.visibility_timeout_seconds
        if ports is None:
            ports = {s: free_port() for s in topology.SERVICES} if free_ports else dict(topology.LISTENER_PORTS)
        self.ports = ports
        self.moto_port = moto_port or (free_port() if free_ports else 5000)
        self.token_port = free_port()
        self.proxied = proxied
        self.sqs_wait_seconds = sqs_wait_seconds
        self.start_workers = start_workers
        self.services = services
        self.verbose = verbose
        self.workdir = Path(tempfile.mkdtemp(prefix="local-platform-"))
        self.workdir.chmod(0o755)  # the postgres OS user must reach its data directory inside
        self.logdir = self.workdir / "logs"
        self.logdir.mkdir()
        # Spans of every process, one JSON line each (services/common/tracing.py, OTEL_TRACES_EXPORTER=file).
        self.traces_dir = self.workdir / "traces"
        self.pg = Postgres(self.workdir, free_port())
        self.resources = Resources()
        self.proxies: dict[Service, TcpProxy] = {}
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.db_password = secrets.token_urlsafe(16)
        # The local edge (started last, when an assembly is given) and the value of its API key.
        self.edge_assembly = edge_assembly
        self.edge_port = free_port()
        self.api_key = secrets.token_urlsafe(24)
        self.edge_stage = ""
        self.db_proxy: TcpProxy | None = None
        self.proxied_db = proxied_db
        self.heartbeat_dir = self.workdir / "heartbeats"
        self._envs: dict[str, dict[str, str]] = {}

    # --- addresses -------------------------------------------------------------------------------------------
    @property
    def moto_url(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    def url(self, service: Service) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.resources.user_pool_id}"

    @property
    def token_url(self) -> str:
        """The pool's OAuth2 token endpoint (Cognito: https://<domain>.auth.<region>.amazoncognito.com/oauth2/token)."""
        return f"http://127.0.0.1:{self.token_port}/oauth2/token"

    @property
    def jwks_url(self) -> str:
        # moto in server mode serves each pool's JWKS under /<pool id>/.well-known/jwks.json
        return f"{self.moto_url}/{self.resources.user_pool_id}/.well-known/jwks.json"

    @property
    def edge_url(self) -> str:
        """The API as clients reach it: the local edge, stage included (like the Edge stack's ApiUrl output)."""
        if not self.edge_stage:
            raise RuntimeError("the local edge is not running (no edge_assembly)")
        return f"http://127.0.0.1:{self.edge_port}/{self.edge_stage}"

    def orders_dsn(self) -> str:
        return self.pg.dsn("orders", self.db_password, "orders")

    @property
    def db_port(self) -> int:
        """Where orders reaches PostgreSQL: the proxy's port when the database can be cut, else the server's."""
        return self.db_proxy.port if self.db_proxy is not None else self.pg.port

    def client(self, name: str) -> Any:
        return boto3.session.Session(
            region_name=REGION, aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        ).client(name, endpoint_url=self.moto_url)

    # --- lifecycle -------------------------------------------------------------------------------------------
    def __enter__(self) -> LocalPlatform:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.pg.start()
        self.pg.create_database("orders", self.db_password, "orders")
        if self.proxied_db:
            self.db_proxy = TcpProxy(self.pg.port)
            self.db_proxy.up()
        self._spawn("moto", [sys.executable, "-m", "tools.moto_server", "-H", "127.0.0.1", "-p", str(self.moto_port)],
                    env={**os.environ, **FAKE_CREDENTIALS, "PYTHONPATH": str(ROOT)})
        self._wait_http(f"{self.moto_url}/moto-api/", "moto")
        self._spawn("token-endpoint", [sys.executable, "-m", "uvicorn", "tools.local_token_endpoint:app", "--host",
                                       "127.0.0.1", "--port", str(self.token_port), "--no-access-log"],
                    env={**os.environ, **FAKE_CREDENTIALS, "MOTO_URL": self.moto_url, "PYTHONPATH": str(ROOT)})
        self._wait_http(f"http://127.0.0.1:{self.token_port}/healthz", "token endpoint")
        self.create_resources()
        for svc in self.proxied:
            proxy = TcpProxy(self.moto_port)
            proxy.up()
            self.proxies[svc] = proxy
        for svc in self.services:
            env = self.env_for(svc)
            self._spawn(f"{svc.value}-api", [sys.executable, "-m", "uvicorn", f"{svc.value}.app:app", "--host",
                                             "127.0.0.1", "--port", str(self.ports[svc]), "--no-access-log"], env)
        for svc in self.services:
            self._wait_http(f"{self.url(svc)}/readyz", f"{svc.value} API")
        if self.start_workers:
            for svc in self.services:
                self.start_worker(svc)
        if self.edge_assembly is not None:
            self.start_edge(self.edge_assembly)

    def start_worker(self, service: Service, name: str | None = None) -> str:
        """Start (another) worker process of ``service``; returns its process name (``<service>-worker`` first)."""
        name = name or f"{service.value}-worker"
        env = {**self.env_for(service), "WORKER_HEARTBEAT_FILE": str(self.heartbeat_dir / f"{name}.json")}
        self._spawn(name, [sys.executable, "-m", f"{service.value}.worker"], env)
        return name

    def process(self, name: str) -> subprocess.Popen[bytes]:
        for n, p in reversed(self.procs):
            if n == name:
                return p
        raise KeyError(name)

    def restart(self, name: str) -> None:
        """Start the named process again with its first command and environment (after a kill)."""
        old = self.process(name)
        if old.poll() is None:
            raise RuntimeError(f"{name} is still running")
        self.procs = [(n, p) for n, p in self.procs if p is not old]
        self._spawn(name, list(old.args), self._envs[name])  # type: ignore[arg-type]

    def stop_process(self, name: str, timeout: float = 15) -> None:
        p = self.process(name)
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = [(n, q) for n, q in self.procs if q is not p]

    def start_edge(self, assembly: Path) -> None:
        prefix = environments.load(LOCAL_ENVIRONMENT).stack_prefix
        self.edge_stage = EdgeDefinition.from_assembly(assembly, prefix).stage  # also fails early on a bad template
        argv = edge_argv(assembly=assembly, stack_prefix=prefix,
                         port=self.edge_port, upstreams={s: self.url(s) for s in self.services},
                         pool=CognitoPool(issuer=self.issuer, jwks_url=self.jwks_url))
        self._spawn("edge", argv, {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT),
                                   "PYTHONUNBUFFERED": "1", "LOCAL_EDGE_API_KEY": self.api_key})
        self._wait_http(f"http://127.0.0.1:{self.edge_port}/ping", "local edge")

    def stop(self) -> None:
        # SIGTERM first so the workers finish the message in hand, as in Kubernetes; then SIGKILL stragglers.
        for _, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, p in reversed(self.procs):
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()
        for proxy in self.proxies.values():
            proxy.down()
        if self.db_proxy is not None:
            self.db_proxy.down()
        self.pg.stop()
        if not os.environ.get("KEEP_LOCAL_PLATFORM"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> None:
        out: Any = None if self.verbose else open(self.logdir / f"{name}.log", "ab")
        # cmd: our interpreter and module names; no shell, no user input
        p = subprocess.Popen(cmd, cwd=SERVICES_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,  # noqa: S603
                             start_new_session=True)
        self.procs.append((name, p))
        self._envs[name] = env

    def _wait_http(self, url: str, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited with {p.returncode}; see {self.logdir / (name + '.log')}:\n"
                                       + self.log_tail(name))
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{what} not ready at {url} after {timeout}s")

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logdir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def check_processes(self) -> None:
        for name, p in self.procs:
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited with {p.returncode}:\n{self.log_tail(name)}")

    # --- resources -------------------------------------------------------------------------------------------
    def create_resources(self) -> None:
        r = self.resources
        sns, sqs, ddb = self.client("sns"), self.client("sqs"), self.client("dynamodb")
        for t in topology.TOPICS:
            r.topic_arns[t.name] = sns.create_topic(Name=t.name)["TopicArn"]
        for q in topology.QUEUES:
            dlq_url = sqs.create_queue(QueueName=f"{q.name}-dlq",
                                       Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(self.max_receive_count)}
            url = sqs.create_queue(QueueName=q.name, Attributes={
                "RedrivePolicy": json.dumps(redrive), "VisibilityTimeout": str(self.visibility_timeout)})["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            r.queue_urls[q.name], r.dlq_urls[q.name] = url, dlq_url
            for sub in q.subscriptions:
                sns.subscribe(
                    TopicArn=r.topic_arns[sub.topic], Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True,
                    Attributes={"RawMessageDelivery": "true", "FilterPolicyScope": "MessageAttributes",
                                "FilterPolicy": json.dumps(topology.filter_policy(sub))},
                )
        for table in topology.TABLES:
            name = f"{table.service.value}-table"
            attrs = {table.partition_key, *([table.sort_key] if table.sort_key else [])}
            gsis = []
            for ix in table.indexes:
                attrs.update([ix.partition_key, *([ix.sort_key] if ix.sort_key else [])])
                schema = [{"AttributeName": ix.partition_key, "KeyType": "HASH"}]
                if ix.sort_key:
                    schema.append({"AttributeName": ix.sort_key, "KeyType": "RANGE"})
                gsis.append({"IndexName": ix.name, "KeySchema": schema, "Projection": {"ProjectionType": "ALL"}})
            key_schema = [{"AttributeName": table.partition_key, "KeyType": "HASH"}]
            if table.sort_key:
                key_schema.append({"AttributeName": table.sort_key, "KeyType": "RANGE"})
            ddb.create_table(
                TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=key_schema,
                AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in sorted(attrs)],
                GlobalSecondaryIndexes=gsis,
            )
            ddb.update_time_to_live(TableName=name,
                                    TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
            r.tables[table.service] = name
        idp = self.client("cognito-idp")
        pool = idp.create_user_pool(
            PoolName="ecommerce-users", AutoVerifiedAttributes=["email"],
            Policies={"PasswordPolicy": {"MinimumLength": 8, "RequireUppercase": True, "RequireLowercase": True,
                                         "RequireNumbers": True, "RequireSymbols": False}},
        )["UserPool"]
        r.user_pool_id = pool["Id"]
        r.client_id = idp.create_user_pool_client(
            UserPoolId=r.user_pool_id, ClientName="web", GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        idp.create_group(UserPoolId=r.user_pool_id, GroupName="admin")
        self.create_service_clients()
        # The JSON shape RDS generates for a managed master secret.
        secret = {"engine": "postgres", "host": "127.0.0.1", "port": self.db_port, "username": "orders",
                  "password": self.db_password, "dbname": "orders"}
        r.db_secret_arn = self.client("secretsmanager").create_secret(
            Name="orders/db", SecretString=json.dumps(secret))["ARN"]

    def create_service_clients(self) -> None:
        """Resource servers with their scopes, and per calling service an app client allowed the client-credentials
        grant with exactly the scopes it needs, its id and generated secret in a Secrets Manager secret."""
        r, idp = self.resources, self.client("cognito-idp")
        domain = f"ecommerce-{r.user_pool_id.split('_')[1].lower()}"  # self.token_url stands in for its /oauth2/token
        idp.create_user_pool_domain(UserPoolId=r.user_pool_id, Domain=domain)
        self.create_resource_servers(r.user_pool_id)
        for caller, scopes in topology.SERVICE_CALLS.items():
            r.service_client_ids[caller], _, r.service_secret_arns[caller] = self.add_service_client(
                f"{caller.value}-service", scopes)

    def create_resource_servers(self, user_pool_id: str) -> None:
        for server, scopes in topology.RESOURCE_SERVER_SCOPES.items():
            self.client("cognito-idp").create_resource_server(
                UserPoolId=user_pool_id, Identifier=server.value, Name=server.value,
                Scopes=[{"ScopeName": s, "ScopeDescription": f"{s} access to {server.value}"} for s in scopes])

    def add_service_client(self, name: str, scopes: tuple[str, ...],
                           user_pool_id: str | None = None) -> tuple[str, str, str]:
        """An app client with the client-credentials grant and `scopes`, and a secret holding {"client_id",
        "client_secret"}: (client id, client secret, secret ARN). Also used by tests for clients that are not
        allowed, or belong to another pool."""
        client = self.client("cognito-idp").create_user_pool_client(
            UserPoolId=user_pool_id or self.resources.user_pool_id, ClientName=name, GenerateSecret=True,
            AllowedOAuthFlows=["client_credentials"], AllowedOAuthScopes=list(scopes),
            AllowedOAuthFlowsUserPoolClient=True, ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]
        arn = self.client("secretsmanager").create_secret(
            Name=f"{name}/service-client-{client['ClientId']}",
            SecretString=json.dumps({"client_id": client["ClientId"], "client_secret": client["ClientSecret"]}),
        )["ARN"]
        return str(client["ClientId"]), str(client["ClientSecret"]), str(arn)

    def callers_of(self, service: Service) -> tuple[str, ...]:
        """App client ids of the services allowed (topology.SERVICE_CALLS) to call `service`'s internal routes."""
        prefix = f"{service.value}/"
        return tuple(self.resources.service_client_ids[c] for c, scopes in topology.SERVICE_CALLS.items()
                     if any(s.startswith(prefix) for s in scopes))

    def env_for(self, service: Service) -> dict[str, str]:
        """The environment a service's API and worker get: the same variable names the CDK Deployments render."""
        r = self.resources
        endpoint = f"http://127.0.0.1:{self.proxies[service].port}" if service in self.proxies else self.moto_url
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(SERVICES_DIR),
            "PYTHONUNBUFFERED": "1",
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,
            **FAKE_CREDENTIALS,
            "COGNITO_USER_POOL_ID": r.user_pool_id,
            "COGNITO_CLIENT_ID": r.client_id,
            "COGNITO_ISSUER": self.issuer,
            "COGNITO_JWKS_URL": self.jwks_url,
            "SQS_WAIT_SECONDS": str(self.sqs_wait_seconds),
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
            # Tracing on, to files (OTEL_TRACES_EXPORTER=console prints spans instead); metrics as EMF on stdout.
            "OTEL_TRACES_EXPORTER": os.environ.get("OTEL_TRACES_EXPORTER", "file"),
            "OTEL_TRACES_DIR": str(self.traces_dir),
            "OTEL_SERVICE_NAME": service.value,
            "PLATFORM_ENVIRONMENT": "local",
        }
        for t in topology.topics_published_by(service):
            env[topology.env_var("topic", t.name)] = r.topic_arns[t.name]
        for q in (*topology.queues_consumed_by(service), *topology.queues_produced_by(service)):
            env[topology.env_var("queue", q.name)] = r.queue_urls[q.name]
        for q in topology.queues_consumed_by(service):
            env[topology.env_var("dlq", q.name)] = r.dlq_urls[q.name]
        if topology.queues_consumed_by(service):
            env.update(self.config.messaging.consumer_environment())
        if service == Service.ORDERS:
            env.update(self.config.orders.environment())
        if service in r.tables:
            env["TABLE_NAME"] = r.tables[service]
        if service == Service.ORDERS:
            env["DB_SECRET_ARN"] = r.db_secret_arn
            env["PRODUCTS_URL"] = self.url(Service.PRODUCTS)
            env["PRODUCTS_TOKEN_URL"] = self.token_url
            env["SERVICE_CLIENT_SECRET_ARN"] = r.service_secret_arns[Service.ORDERS]
        if service == Service.PRODUCTS:
            env["SERVICE_CLIENT_IDS"] = ",".join(self.callers_of(Service.PRODUCTS))
        return env

    # --- helpers for tests and tools -------------------------------------------------------------------------
    @contextlib.contextmanager
    def db_down(self) -> Iterator[None]:
        """Make PostgreSQL unreachable for orders (started with `proxied_db=True`)."""
        assert self.db_proxy is not None, "start the platform with proxied_db=True"
        self.db_proxy.down()
        try:
            yield
        finally:
            self.db_proxy.up()

    @contextlib.contextmanager
    def aws_down(self, service: Service) -> Iterator[None]:
        """Make the AWS endpoint unreachable for one service (started with `proxied=(service,)`)."""
        proxy = self.proxies[service]
        proxy.down()
        try:
            yield
        finally:
            proxy.up()

    def user_token(
        self, username: str, password: str = "Passw0rd-local", groups: tuple[str, ...] = ()  # noqa: S107 - local only
    ) -> str:
        """Create a confirmed user (as an administrator would) and sign in; returns an access token."""
        idp = self.client("cognito-idp")
        pool = self.resources.user_pool_id
        with contextlib.suppress(idp.exceptions.UsernameExistsException):
            idp.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS",
                                  UserAttributes=[{"Name": "email", "Value": username}])
        idp.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)
        for g in groups:
            idp.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=g)
        auth = idp.initiate_auth(ClientId=self.resources.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": username, "PASSWORD": password})
        return str(auth["AuthenticationResult"]["AccessToken"])

    def describe(self) -> str:
        lines = [f"moto (AWS endpoint): {self.moto_url}", f"postgres: {self.pg.dsn()}",
                 f"token endpoint (client credentials): {self.token_url}"]
        lines += [f"{s.value:9} API: {self.url(s)}  (docs: {self.url(s)}/docs)" for s in topology.SERVICES]
        lines += [f"cognito pool {self.resources.user_pool_id}, client {self.resources.client_id}",
                  f"logs: {self.logdir}", f"traces: {self.traces_dir} (one JSON line per span)"]
        return "\n".join(lines)

    def spans(self) -> list[dict[str, Any]]:
        """Every span the services have finished so far (file exporter)."""
        return [json.loads(line) for path in sorted(self.traces_dir.glob("*.jsonl"))
                for line in path.read_text().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.local_platform", description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-receive-count", type=int, default=None,
                        help=f"receives before a message goes to its DLQ (default {default_max_receive_count()})")
    parser.add_argument("--visibility-timeout", type=int, default=None,
                        help=f"queue visibility timeout in seconds (default {default_visibility_timeout()})")
    parser.add_argument("--moto-port", type=int, default=5000)
    parser.add_argument("--verbose", action="store_true", help="service logs to this terminal instead of files")
    parser.add_argument("--assembly", type=Path, default=None,
                        help="cloud assembly whose Dev-Edge template the local edge enforces (default: synthesize dev)")
    args = parser.parse_args(argv)
    from tools.smoke import provision_local

    assembly = args.assembly or synthesize(LOCAL_ENVIRONMENT)
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with LocalPlatform(max_receive_count=args.max_receive_count, visibility_timeout=args.visibility_timeout,
                       moto_port=args.moto_port, verbose=args.verbose, edge_assembly=assembly) as platform:
        print(platform.describe(), flush=True)
        edge_env = f"EDGE_URL={platform.edge_url}\nAPI_KEY={platform.api_key}\n"
        EDGE_ENV_FILE.parent.mkdir(exist_ok=True)
        EDGE_ENV_FILE.write_text(edge_env)
        # What `make smoke` needs besides the edge: the smoke accounts' secret and the payment topic (in moto).
        SMOKE_ENV_FILE.write_text("".join(f"{k}={v}\n" for k, v in provision_local(platform).items()))
        try:
            print(edge_env, end="", flush=True)
            print("Ctrl-C to stop", flush=True)
            while not stop:
                time.sleep(0.5)
                platform.check_processes()
            print("stopping", flush=True)
        finally:
            EDGE_ENV_FILE.unlink(missing_ok=True)
            SMOKE_ENV_FILE.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
