"""Run the platform locally in its deployed shape: the Services stack's manifests, resolved to PostgreSQL and moto.

    python -m tools.local.local_platform [--mode containers|processes] [--assembly DIR] [--max-receive-count N] ...

creates the AWS resources of config/topology.py in moto (topics, queues with DLQs and redrive policies, filtered
raw-delivery subscriptions, tables with their indexes, the Cognito pool/client/admin group, the orders DB secret,
the assembly's SES identities (verified) and configuration sets,
the resource servers and service app clients of topology.RESOURCE_SERVER_SCOPES / SERVICE_CALLS with their secrets),
starts the client-credentials token endpoint moto lacks (tools/local/local_token_endpoint.py) and a collector standing
in
for the CloudWatch agent (tools/local/otel_collector.py), then reads the Deployments of the synthesized Services stack
(tools/local/manifest_resolver.py: every CloudFormation token followed to its resource and mapped to its local
counterpart) and runs each one's container as its manifest says (tools/local/pod_runner.py): in Docker from the images
`make images` built (``containers``), or as processes from services/ with the same command and environment
(``processes``, the default here: fast). Ctrl-C / SIGTERM stops everything it started.

What the cluster gives a pod rather than its manifest has a local stand-in here, and only these
(:meth:`LocalPlatform.injected_environment`):
- EKS Pod Identity credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI and its token file) -> moto's static test keys
  (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY);
- AWS's public endpoints (and the VPC endpoints' private DNS) -> AWS_ENDPOINT_URL, moto (or a switchable proxy to
  it for the services in `proxied`), and for the services in `ses_proxied` AWS_ENDPOINT_URL_SESV2, a switchable
  proxy for SES alone;
- SQS_WAIT_SECONDS (long polls shortened for tests), LOG_LEVEL, and OTEL_BSP_SCHEDULE_DELAY (spans exported every
  200 ms instead of 5 s, so tests see them soon), read by the services or their libraries with defaults.

In front of the services runs the local edge (tools/local/local_edge: the synthesized API Gateway of the same assembly,
with its API key, authorizer, models and throttles). `make local` also serves the built storefront
(tools/local/storefront.py: web/dist with the synthesized Web stack's headers, its config.js naming the local edge;
the edge and the services allow its origin where the templates name the shop's), prints EDGE_URL=..., API_KEY=...
and WEB_URL=... on lines of their own once everything is ready and writes them to .local/edge.env.

Harness settings (how the local platform differs from AWS on purpose, for tests and `make chaos`):
- moto runs through tools/local/moto_server.py, which serializes DynamoDB operations as DynamoDB isolates them (moto's
own   transactions copy and restore whole tables, wiping concurrent writes) and rolls a cancelled transaction back item
  by item.
- `proxied=(services...)` puts a switchable TCP proxy (tools/local/tcp_proxy.py) between those services and moto, and
  `proxied_db=True` one between orders and PostgreSQL (the database secret names the proxy's port), so tests can cut
  AWS (`aws_down`) or the database (`db_down`).
- `config=` synthesizes the assembly from another environment config than dev's (e.g. shorter order deadlines for a
  chaos run); the manifests then carry its values, as they would in AWS.
- Every AWS call of every pod is recorded (services/common/aws.py, AWS_CALL_LOG: a file per pod under the work
  directory, bind-mounted into containers) and :meth:`LocalPlatform.access_proof` evaluates them against the roles
  of the synthesized Services stack (tools/local/access_proof). ``enforce_iam=True`` also has moto enforce those roles:
  each service's role is created in moto with its synthesized policy and the pods run with credentials of that
  role (an assumed-role session), the harness itself with an administrator user of its own.
- Each worker writes its liveness heartbeat file (WORKER_HEARTBEAT_FILE) under the platform's work directory rather
  than in the container's /tmp, so that several workers on one machine keep their own.

`LocalPlatform` is the same thing as a context manager, used by the services' tests, tools/local/e2e.py and
tools/bench/bench_services.py.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import glob
import hashlib
import json
import os
import pickle
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3
import httpx
from contract import environment as contract_environment
from contract.telemetry import TELEMETRY_ENV

from config import environments, topology
from config.environment import EnvironmentConfig
from config.topology import Service
from tools.assembly import Assembly
from tools.local import access_proof
from tools.local.access_proof import iam_enforcement
from tools.local.images import image_assets, image_exists, image_for_uri
from tools.local.local_edge.assembly import edge_argv
from tools.local.local_edge.authorizer import CognitoPool
from tools.local.local_edge.definition import EdgeDefinition
from tools.local.manifest_resolver import (
    LocalCounterparts,
    Resolver,
    UnresolvedToken,
    deployments,
    environment,
    service_aliases,
)
from tools.local.otel_collector import Collector
from tools.local.pod_runner import CONTAINERS, MODES, PROCESSES, DockerNetwork, Pod, PodSpec, image_cmd, pod_spec
from tools.local.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
SERVICES_DIR = ROOT / "services"
LOCAL_ENVIRONMENT = "dev"  # the local platform runs the dev environment's manifests and messaging settings
# The environment's region: CDK renders it literally into some values (the Cognito issuer), so moto serves it too.
REGION = environments.load(LOCAL_ENVIRONMENT).region
MOTO_ACCOUNT = "123456789012"  # moto's default account: the ARNs of the resources it creates
EDGE_ENV_FILE = ROOT / ".local" / "edge.env"
SMOKE_ENV_FILE = ROOT / ".local" / "smoke.env"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# A process started on this machine also needs what the image sets (PATH, PYTHONUNBUFFERED; PYTHONPATH per run).
CALLS_MOUNT = "/var/run/aws-calls"  # where a container writes its AWS_CALL_LOG (the host's calls_dir)
PROCESS_ENV = {"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}


_synthesized: dict[str, Path] = {}


def synthesize(env: str | EnvironmentConfig) -> Path:
    """The environment's cloud assembly (an environment's name, or a config of its own), synthesized once per
    process into a temporary directory, as `cdk synth` writes it (construct paths in the resources' metadata: the
    resolver identifies resources by them), without the nag packs (only the templates are read here). In a child
    process: the CDK reads that context from the environment of its Node runtime, which starts with the
    interpreter; a config is handed to it as a pickle of the validated dataclass."""
    config = environments.load(env) if isinstance(env, str) else env.validate()
    key = repr(config)
    if key in _synthesized:
        return _synthesized[key]
    shared = os.environ.get("TEST_ASSEMBLIES")
    if shared:
        # A `make test` run: one synthesis per config for all its stages and parallel workers (tests/synthesis.py
        # does the same for the tests' own assemblies); the Makefile empties the directory when the run starts.
        outdir = Path(shared) / f"local-{config.name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
        outdir.parent.mkdir(parents=True, exist_ok=True)
        with (outdir.parent / f"{outdir.name}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (outdir / ".synthesized").exists():
                shutil.rmtree(outdir, ignore_errors=True)
                _synthesize_into(config, outdir)
                (outdir / ".synthesized").write_text(config.name)
        _synthesized[key] = outdir
        return outdir
    outdir = Path(tempfile.mkdtemp(prefix=f"cdk.out.local-{config.name}."))
    atexit.register(shutil.rmtree, outdir, ignore_errors=True)  # staged assets included: tens of MB a run
    _synthesize_into(config, outdir)
    _synthesized[key] = outdir
    return outdir


def _synthesize_into(config: EnvironmentConfig, outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    config_file = outdir.parent / f"{outdir.name}.config.pickle"
    config_file.write_bytes(pickle.dumps(config))
    atexit.register(config_file.unlink, missing_ok=True)
    script = ("import pickle, sys; from pathlib import Path; from stacks.platform import build_app; "
              "build_app(pickle.loads(Path(sys.argv[1]).read_bytes()), outdir=sys.argv[2], nag=False)[0].synth()")
    context = json.dumps({"aws:cdk:enable-path-metadata": True})
    # argv: this interpreter, a fixed script, our own pickled config and our temp dir
    r = subprocess.run([sys.executable, "-c", script, str(config_file), str(outdir)], cwd=ROOT,  # noqa: S603
                       env={**os.environ, "CDK_CONTEXT_JSON": context, "PYTHONPATH": str(ROOT)},
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"synth of {config.name} for the local platform failed:\n{r.stderr[-3000:]}")


def check_contract(service: str, names: frozenset[str]) -> str | None:
    """The contract's check of a service's environment (contract/environment.py), for the environment read from the
    manifests (with telemetry where the manifests route it to an agent)."""
    return contract_environment.check(topology.CONTRACT, Service(service), names,
                                      telemetry=bool(names & set(TELEMETRY_ENV)))


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
    # The payment provider's webhook signing secret (the Data stack's PaymentWebhook) and its value, with which
    # tests and the e2e sign webhook requests as the provider does.
    payment_webhook_secret_arn: str = ""
    payment_webhook_secret: str = ""
    # Service-to-service calls: each calling service's app client (client-credentials grant) and its secret's ARN.
    service_client_ids: dict[Service, str] = field(default_factory=dict)
    service_secret_arns: dict[Service, str] = field(default_factory=dict)
    # SES configuration sets by the construct id of their owner (the Services manifests name them), and the SES
    # identities (domains) the Data stack declares, verified here as DKIM would verify them in AWS.
    configuration_sets: dict[str, str] = field(default_factory=dict)
    email_identities: list[str] = field(default_factory=list)


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

    def start(self, *, also_listen: str = "", admit: str = "") -> None:
        """``also_listen``: one more address to listen on (the containers' bridge gateway); ``admit``: the CIDR
        whose clients pg_hba lets in with a password (the containers' subnet)."""
        self.dir.mkdir()
        pwfile = self.dir / "pw"
        pwfile.write_text(self.superpass)
        if self.as_user:
            shutil.chown(self.dir, "postgres")
            shutil.chown(pwfile, "postgres")
        data = self.dir / "data"
        self._run(str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", "--pwfile", str(pwfile),
                  "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")
        if admit:
            with (data / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {admit} scram-sha-256\n")
        listen = ",".join(filter(None, ("127.0.0.1", also_listen)))
        # fsync off: the cluster is thrown away; durability would only slow tests and benchmarks alike.
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses={listen} -c fsync=off -c max_connections=300 "
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
    """The platform in its deployed shape on this machine: PostgreSQL, moto, the token endpoint and a telemetry
    collector on the host; the four services' Deployments, read from the synthesized Services stack and resolved to
    those, run as containers (``mode="containers"``, the images `make images` built) or as processes
    (``mode="processes"``, the same commands and environment, fast)."""

    def __init__(
        self,
        *,
        max_receive_count: int | None = None,
        visibility_timeout: int | None = None,
        ports: dict[Service, int] | None = None,
        free_ports: bool = False,
        moto_port: int | None = None,
        proxied: tuple[Service, ...] = (),
        ses_proxied: tuple[Service, ...] = (),
        sqs_wait_seconds: int = 1,
        start_workers: bool = True,
        services: tuple[Service, ...] = topology.SERVICES,
        verbose: bool = False,
        mode: str = PROCESSES,
        assembly: Path | None = None,
        name_prefix: str = "local-platform",
        edge: bool = True,
        proxied_db: bool = False,
        config: EnvironmentConfig | None = None,
        enforce_iam: bool = False,
        record_calls: bool = True,
        span_export_delay_ms: int | None = 200,
        web: bool = False,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        # Whose settings the manifests carry (dev's unless given: a test or a chaos run may want other deadlines).
        self.config = config or environments.load(LOCAL_ENVIRONMENT)
        self.max_receive_count = max_receive_count or self.config.messaging.dlq_max_receive_count
        self.visibility_timeout = visibility_timeout or self.config.messaging.visibility_timeout_seconds
        if ports is None:
            ports = {s: free_port() for s in topology.SERVICES} if free_ports else dict(topology.LISTENER_PORTS)
        self.ports = ports  # where url(service) listens: the API pod's address, open while it is ready
        # Each API pod's front (tools/local/tcp_proxy.py), holding its port from now on though it listens only once
        # the pod is ready: the platforms of parallel test workers and their clients' connections cannot take it.
        self._fronts = {s: TcpProxy(0, listen_port=port) for s, port in ports.items()}
        self.moto_port = moto_port or (free_port() if free_ports else 5000)
        self.token_port = free_port()
        self.proxied = proxied
        self.ses_proxied = ses_proxied
        self.sqs_wait_seconds = sqs_wait_seconds
        # Harness settings a benchmark turns off to measure pods as they run in AWS: every AWS call recorded for the
        # access proof (AWS_CALL_LOG, never set in AWS), and spans exported every 200 ms so that tests see them soon
        # (None: the SDK's default, 5 s, as in the cluster).
        self.record_calls = record_calls
        self.span_export_delay_ms = span_export_delay_ms
        self.start_workers = start_workers
        self.services = services
        self.verbose = verbose
        self.assembly = assembly.resolve() if assembly else None  # processes run elsewhere (cwd services/)
        self.name = f"{name_prefix}-{secrets.token_hex(3)}"
        self.workdir = Path(tempfile.mkdtemp(prefix="local-platform-"))
        self.workdir.chmod(0o755)  # the postgres OS user must reach its data directory inside
        self.logdir = self.workdir / "logs"
        self.logdir.mkdir()
        # Spans of every service, one JSON line each, written by the collector standing in for the CloudWatch agent.
        self.traces_dir = self.workdir / "traces"
        self.pg = Postgres(self.workdir, free_port())
        self.resources = Resources()
        self.proxies: dict[Service, TcpProxy] = {}
        self.ses_proxies: dict[Service, TcpProxy] = {}
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.pods: dict[str, Pod] = {}
        self.manifests: list[dict[str, Any]] = []
        self.network: DockerNetwork | None = None
        self.collector: Collector | None = None
        self.host = "127.0.0.1"  # where the host side listens; containers mode: the bridge network's gateway
        self.db_password = secrets.token_urlsafe(16)
        # The local edge in front of the services (started last, from the same assembly) and its API key's value.
        self.edge = edge
        self.edge_port = free_port()
        self.api_key = secrets.token_urlsafe(24)
        self.edge_stage = ""
        # The storefront's origin: where `make local` serves it (tools/local/storefront.py); it stands for the
        # origin the synthesized app names (config.web.origin) wherever CORS names it (the edge, the services).
        self.web_port = free_port()
        self.web = web  # serve the storefront too (tools/local/storefront.py), after the edge
        self.proxied_db = proxied_db
        self.db_proxy: TcpProxy | None = None
        self.heartbeat_dir = self.workdir / "heartbeats"
        # Each pod's AWS calls (AWS_CALL_LOG); writable by the containers' non-root users.
        self.calls_dir = self.workdir / "aws-calls"
        self.calls_dir.mkdir()
        self.calls_dir.chmod(0o777)
        self.enforce_iam = enforce_iam
        # The harness's own credentials (moto's dummy keys; an administrator user's when moto enforces IAM) and
        # each service's (the dummy keys, or an assumed-role session of the service's synthesized role).
        self.credentials = dict(FAKE_CREDENTIALS)
        self.service_credentials: dict[Service, dict[str, str]] = {}

    # --- addresses -------------------------------------------------------------------------------------------
    @property
    def moto_url(self) -> str:
        return f"http://{self.host}:{self.moto_port}"

    def url(self, service: Service) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.resources.user_pool_id}"

    @property
    def token_url(self) -> str:
        """The pool's OAuth2 token endpoint (Cognito: https://<domain>.auth.<region>.amazoncognito.com/oauth2/token)."""
        return f"http://{self.host}:{self.token_port}/oauth2/token"

    @property
    def jwks_url(self) -> str:
        # moto in server mode serves each pool's JWKS under /<pool id>/.well-known/jwks.json
        return f"{self.moto_url}/{self.resources.user_pool_id}/.well-known/jwks.json"

    @property
    def edge_url(self) -> str:
        """The API as clients reach it: the local edge, stage included (like the Edge stack's ApiUrl output)."""
        if not self.edge_stage:
            raise RuntimeError("the local edge is not running (started with edge=False)")
        return f"http://127.0.0.1:{self.edge_port}/{self.edge_stage}"

    @property
    def web_origin(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def _local_origin(self, env: dict[str, str]) -> dict[str, str]:
        """A pod's environment with the storefront's synthesized origin standing for the local storefront's."""
        return {k: self.web_origin if v == self.config.web.origin else v for k, v in env.items()}

    def orders_dsn(self) -> str:
        return self.pg.dsn("orders", self.db_password, "orders")

    @property
    def db_port(self) -> int:
        """Where orders reaches PostgreSQL: the proxy's port when the database can be cut, else the server's."""
        return self.db_proxy.port if self.db_proxy is not None else self.pg.port

    def client(self, name: str) -> Any:
        return boto3.session.Session(
            region_name=REGION, aws_access_key_id=self.credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.credentials["AWS_SECRET_ACCESS_KEY"],
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
        if self.assembly is None:
            self.assembly = synthesize(self.config)
        if self.mode == CONTAINERS:
            self.network = DockerNetwork(self.name)
            self.network.create()
            self.host = self.network.gateway
        self.pg.start(also_listen=self.host if self.mode == CONTAINERS else "",
                      admit=self.network.subnet if self.network else "")
        self.pg.create_database("orders", self.db_password, "orders")
        if self.proxied_db:
            self.db_proxy = TcpProxy(self.pg.port, host=self.host)
            self.db_proxy.up()
        self._spawn("moto", [sys.executable, "-m", "tools.local.moto_server", "-H", self.host, "-p",
                             str(self.moto_port)],
                    env={**os.environ, **FAKE_CREDENTIALS, "PYTHONPATH": str(ROOT)})
        self._wait_http(f"{self.moto_url}/moto-api/", "moto")
        if self.enforce_iam:
            self.credentials = iam_enforcement.administrator(self.client("iam"))
        self._spawn("token-endpoint", [sys.executable, "-m", "uvicorn", "tools.local.local_token_endpoint:app",
                                        "--host", self.host, "--port", str(self.token_port), "--no-access-log"],
                    env={**os.environ, **self.credentials, "MOTO_URL": self.moto_url, "AWS_REGION": REGION,
                         "PYTHONPATH": str(ROOT)})
        self._wait_http(f"http://{self.host}:{self.token_port}/healthz", "token endpoint")
        self.collector = Collector(self.traces_dir, host=self.host)
        self.collector.start()
        self.create_resources()
        for svc in self.proxied:
            proxy = TcpProxy(self.moto_port, host=self.host)
            proxy.up()
            self.proxies[svc] = proxy
        for svc in self.ses_proxied:
            proxy = TcpProxy(self.moto_port, host=self.host)
            proxy.up()
            self.ses_proxies[svc] = proxy
        self.manifests = self.resolved_manifests()
        if self.enforce_iam:
            self.service_credentials = iam_enforcement.service_roles(self.client("iam"), self.client("sts"),
                                                                     self.roles())
            iam_enforcement.enforce(self.moto_url)
        self._create_pods()
        for svc in self.services:
            self.pods[f"{svc.value}-api"].start()
        for svc in self.services:
            self.pods[f"{svc.value}-api"].wait_ready()
        if self.start_workers:
            for svc in self.services:
                self.pods[f"{svc.value}-worker"].start()
        if self.edge:
            self.start_edge()
        if self.web:
            self.start_web()

    def start_worker(self, service: Service, name: str) -> str:
        """Start another replica of ``service``'s worker Deployment, as the HPA would (tests of several workers)."""
        assert self.assembly is not None
        by_name = deployments(self.manifests)
        spec = pod_spec(by_name[f"{service.value}-worker"])
        spec = replace(spec, name=name, env={**self._local_origin(spec.env), **self.injected_environment(service),
                                             **self._worker_environment(name)})
        spec = self._observed(spec)
        self.pods[name] = self._pod(service, spec)
        self.pods[name].start()
        return name

    def stop_pod(self, name: str) -> None:
        self.pods.pop(name).stop()

    def start_edge(self) -> None:
        assert self.assembly is not None
        prefix = environments.load(LOCAL_ENVIRONMENT).stack_prefix
        self.edge_stage = EdgeDefinition.from_assembly(self.assembly, prefix).stage  # fails early on a bad template
        argv = edge_argv(assembly=self.assembly, stack_prefix=prefix,
                         port=self.edge_port, upstreams={s: self.url(s) for s in self.services},
                         pool=CognitoPool(issuer=self.issuer, jwks_url=self.jwks_url),
                         origin=(self.config.web.origin, self.web_origin))
        self._spawn("edge", argv, {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT),
                                   "PYTHONUNBUFFERED": "1", "LOCAL_EDGE_API_KEY": self.api_key})
        self._wait_http(f"http://127.0.0.1:{self.edge_port}/ping", "local edge")

    def start_web(self, dist: Path | None = None, name: str = "storefront") -> None:
        """The storefront (web/dist, or another build of it) as the Web stack serves it, at the platform's
        storefront origin (the one its edge's CORS allows), its config.js naming the local edge."""
        assert self.assembly is not None
        prefix = environments.load(LOCAL_ENVIRONMENT).stack_prefix
        argv = [sys.executable, "-m", "tools.local.storefront", "--assembly", str(self.assembly),
                "--stack-prefix", prefix, "--port", str(self.web_port), "--api-url", self.edge_url,
                "--region", REGION, "--user-pool-id", self.resources.user_pool_id,
                "--user-pool-client-id", self.resources.client_id, *(["--dist", str(dist)] if dist else [])]
        self._spawn(name, argv, {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT),
                                 "PYTHONUNBUFFERED": "1", "LOCAL_EDGE_API_KEY": self.api_key})
        self._wait_http(f"{self.web_origin}/config.js", name)

    @contextlib.contextmanager
    def storefront(self, dist: Path | None = None) -> Iterator[str]:
        """For a platform started without its storefront (``web=False``, the tests' session platform): the storefront
        (``dist``: another build of it, say a broken one) served as :meth:`start_web` serves it, for the time of a
        ``with``. Yields its URL."""
        if self.web:
            raise RuntimeError("this platform serves its storefront already (web=True)")
        name = f"storefront-{secrets.token_hex(3)}"
        self.start_web(dist, name)
        process = next(p for n, p in self.procs if n == name)
        try:
            yield f"{self.web_origin}/"
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            self.procs.remove((name, process))

    def stop(self) -> None:
        # Pods first, all at once as a namespace deletion does (SIGTERM: workers finish the message in hand, the API
        # drains), then what they depend on.
        with ThreadPoolExecutor(max_workers=max(1, len(self.pods))) as pool:
            for pod in self.pods.values():
                pool.submit(pod.stop)
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
        for proxy in (*self.proxies.values(), *self.ses_proxies.values(), *self._fronts.values()):
            proxy.close()
        if self.db_proxy is not None:
            self.db_proxy.close()
        if self.collector is not None:
            self.collector.stop()
        self.pg.stop()
        if self.network is not None:
            self.network.remove()
        if not os.environ.get("KEEP_LOCAL_PLATFORM"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> None:
        out: Any = None if self.verbose else open(self.logdir / f"{name}.log", "ab")
        # cmd: our interpreter and module names; no shell, no user input
        p = subprocess.Popen(cmd, cwd=SERVICES_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,  # noqa: S603
                             start_new_session=True)
        self.procs.append((name, p))

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
        for name, pod in self.pods.items():
            code = pod.exited()
            if code is not None:
                raise RuntimeError(f"{name} exited with {code}:\n{pod.log_tail()}")

    # --- the manifests, resolved to this platform -------------------------------------------------------------
    def counterparts(self, kind: type[LocalCounterparts] = LocalCounterparts) -> LocalCounterparts:
        r = self.resources
        assets = image_assets(self.assembly) if self.mode == CONTAINERS and self.assembly else []

        def image(uri: str) -> str:
            local = image_for_uri(uri, assets)
            if not image_exists(local):
                raise RuntimeError(f"image {local} for {uri} is not built: run `make images`")
            return local

        assert self.collector is not None
        return kind(
            region=REGION, account=MOTO_ACCOUNT, aws_endpoint=self.moto_url, token_url=self.token_url,
            service_url=self._service_url, collector_otlp=self.collector.otlp_endpoint,
            collector_emf=self.collector.emf_endpoint, topic_arns=r.topic_arns, queue_urls=r.queue_urls,
            dlq_urls=r.dlq_urls, tables=r.tables, user_pool_id=r.user_pool_id, web_client_id=r.client_id,
            service_client_ids=r.service_client_ids, service_secret_arns=r.service_secret_arns,
            db_secret_arn=r.db_secret_arn, images=image if self.mode == CONTAINERS else None,
            configuration_sets=r.configuration_sets, payment_webhook_secret_arn=r.payment_webhook_secret_arn)

    def _service_url(self, host_port: str) -> str:
        """A Service's cluster DNS name: kept in containers mode (the API container carries it as a network
        alias), the API pod's address in processes mode."""
        name = host_port.split(".", 1)[0]
        if name not in {s.value for s in topology.SERVICES}:
            raise UnresolvedToken(f"http://{host_port}: no local process or container serves this Service")
        return f"http://{host_port}" if self.mode == CONTAINERS else self.url(Service(name))

    def resolved_manifests(self) -> list[dict[str, Any]]:
        assert self.assembly is not None
        return Resolver(Assembly(self.assembly), self.counterparts()).manifests()

    def injected_environment(self, service: Service) -> dict[str, str]:
        """What the cluster, not the manifest, gives a pod, and its local stand-in (INJECTED_BY_CLUSTER)."""
        proxy = self.proxies.get(service)
        ses_proxy = self.ses_proxies.get(service)
        return {
            "AWS_ENDPOINT_URL": f"http://{self.host}:{proxy.port}" if proxy else self.moto_url,
            # boto3 prefers a service's own endpoint variable: SES alone can then be cut for this service.
            **({"AWS_ENDPOINT_URL_SESV2": f"http://{self.host}:{ses_proxy.port}"} if ses_proxy else {}),
            **self.service_credentials.get(service, FAKE_CREDENTIALS),
            "SQS_WAIT_SECONDS": str(self.sqs_wait_seconds),
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
            **({"OTEL_BSP_SCHEDULE_DELAY": str(self.span_export_delay_ms)} if self.span_export_delay_ms else {}),
        }

    def environment(self, service: Service, component: str = "api") -> dict[str, str]:
        """A pod's whole environment: its Deployment's, resolved, plus what the cluster injects."""
        deployment = deployments(self.manifests)[f"{service.value}-{component}"]
        return {**self._local_origin(environment(deployment)), **self.injected_environment(service)}

    def env_for(self, service: Service) -> dict[str, str]:
        """The API pod's environment for a process started on this machine (as processes mode starts it)."""
        return {**PROCESS_ENV, "PYTHONPATH": str(SERVICES_DIR), **self.environment(service)}

    def _create_pods(self) -> None:
        by_name = deployments(self.manifests)
        aliases = service_aliases(self.manifests)
        for svc in self.services:
            problem = check_contract(svc.value, frozenset(environment(by_name[f"{svc.value}-api"])))
            if problem:
                raise RuntimeError(problem)
            for component in ("api", "worker"):
                d = by_name[f"{svc.value}-{component}"]
                spec = pod_spec(d, aliases.get(d["metadata"]["name"], ()))
                env = {**self._local_origin(spec.env), **self.injected_environment(svc)}
                if component == "worker":
                    env.update(self._worker_environment(spec.name))
                spec = self._observed(replace(spec, env=env))
                pod = self._pod(svc, spec)
                if spec.port is not None:
                    pod.front = self._fronts[svc]
                self.pods[spec.name] = pod

    def _pod(self, service: Service, spec: PodSpec) -> Pod:
        return Pod(spec=spec, mode=self.mode, logfile=self.logdir / f"{spec.name}.log", cwd=SERVICES_DIR,
                   process_env={**PROCESS_ENV, "PYTHONPATH": str(SERVICES_DIR)},
                   default_cmd=self._image_cmd(service), network=self.network.name if self.network else "",
                   container_prefix=self.name, labels={"local-platform": self.name})

    def _observed(self, spec: PodSpec) -> PodSpec:
        """The pod with its AWS calls recorded to a file of its own in calls_dir (bind-mounted into a container)."""
        if not self.record_calls:
            return spec
        if self.mode == CONTAINERS:
            return replace(spec, env={**spec.env, "AWS_CALL_LOG": f"{CALLS_MOUNT}/{spec.name}"},
                           mounts=(*spec.mounts, (str(self.calls_dir), CALLS_MOUNT)))
        return replace(spec, env={**spec.env, "AWS_CALL_LOG": str(self.calls_dir / spec.name)})

    def roles(self) -> dict[str, access_proof.ServiceRole]:
        """Each service's role as the Services stack synthesizes it, resolved to this platform's resources."""
        assert self.assembly is not None
        return access_proof.service_roles(Assembly(self.assembly), self.counterparts(access_proof.PolicyCounterparts),
                                          environment_account=self.config.account)

    def access_proof(self) -> access_proof.Proof:
        """The AWS calls the pods have made so far, evaluated against their services' synthesized roles."""
        return access_proof.prove(self.roles(), access_proof.read_calls(self.calls_dir), region=REGION,
                                  account=MOTO_ACCOUNT)

    def _worker_environment(self, name: str) -> dict[str, str]:
        """Processes share this machine's /tmp: each worker keeps its heartbeat file in the platform's work
        directory (a harness setting; in containers mode the container's own /tmp would do, but one rule is
        simpler)."""
        if self.mode == CONTAINERS:
            return {}
        return {"WORKER_HEARTBEAT_FILE": str(self.heartbeat_dir / f"{name}.json")}

    def _image_cmd(self, service: Service) -> tuple[str, ...]:
        """The image's CMD (what the API container runs; its manifest gives no command), from the Dockerfile."""
        return image_cmd(SERVICES_DIR / service.value / "Dockerfile")

    # --- resources -------------------------------------------------------------------------------------------
    def create_resources(self) -> None:
        r = self.resources
        sns, sqs = self.client("sns"), self.client("sqs")
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
                    Attributes={"RawMessageDelivery": "true", "FilterPolicyScope": topology.filter_policy_scope(sub),
                                "FilterPolicy": json.dumps(topology.filter_policy(sub))},
                )
        for table in topology.TABLES:
            r.tables[table.service] = self.create_table(table, f"{table.service.value}-table")
        idp = self.client("cognito-idp")
        pool = idp.create_user_pool(
            PoolName="ecommerce-users", AutoVerifiedAttributes=["email"],
            Policies={"PasswordPolicy": {"MinimumLength": 8, "RequireUppercase": True, "RequireLowercase": True,
                                         "RequireNumbers": True, "RequireSymbols": False}},
        )["UserPool"]
        r.user_pool_id = pool["Id"]
        # The attributes ID tokens carry: Cognito's default for a client that names none (the Data stack's web
        # client) is every standard attribute; moto's is none unless they are listed.
        r.client_id = idp.create_user_pool_client(
            UserPoolId=r.user_pool_id, ClientName="web", GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            ReadAttributes=["email", "email_verified", "name"],
        )["UserPoolClient"]["ClientId"]
        idp.create_group(UserPoolId=r.user_pool_id, GroupName="admin")
        self.create_service_clients()
        # The JSON shape RDS generates for a managed master secret.
        secret = {"engine": "postgres", "host": self.host, "port": self.db_port, "username": "orders",
                  "password": self.db_password, "dbname": "orders"}
        r.db_secret_arn = self.client("secretsmanager").create_secret(
            Name="orders/db", SecretString=json.dumps(secret))["ARN"]
        r.payment_webhook_secret = secrets.token_urlsafe(48)
        r.payment_webhook_secret_arn = self.client("secretsmanager").create_secret(
            Name="orders/payment-webhook", SecretString=r.payment_webhook_secret)["ARN"]
        self.create_email_resources()

    def create_table(self, table: topology.Table, name: str) -> str:
        """A table shaped as config/topology.py defines it (keys, indexes, TTL), named ``name``; also used by
        tests that need a table of the same shape to themselves."""
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
        ddb = self.client("dynamodb")
        ddb.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=key_schema,
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in sorted(attrs)],
            GlobalSecondaryIndexes=gsis,
        )
        ddb.update_time_to_live(TableName=name,
                                TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
        return name

    def create_email_resources(self) -> None:
        """The SES identities and configuration sets of the assembly, in moto. moto sends only from a verified
        identity; it records every message it accepts (``sent_emails``) but neither enforces the configuration set
        nor publishes its events: tests publish SES-shaped bounces to the email-events topic themselves."""
        assert self.assembly is not None
        r, sesv2 = self.resources, self.client("sesv2")
        assembly = Assembly(self.assembly)
        for identity in assembly.resources("AWS::SES::EmailIdentity"):
            domain = str(identity.properties["EmailIdentity"])
            sesv2.create_email_identity(EmailIdentity=domain)
            r.email_identities.append(domain)
        for config_set in assembly.resources("AWS::SES::ConfigurationSet"):
            owner = config_set.path.split("/")[1]
            r.configuration_sets[owner] = name = f"{owner.lower()}-{secrets.token_hex(3)}"
            sesv2.create_configuration_set(ConfigurationSetName=name)

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
        with _cut(self.proxies[service]):
            yield

    @contextlib.contextmanager
    def ses_down(self, service: Service) -> Iterator[None]:
        """Make SES alone unreachable for one service (started with `ses_proxied=(service,)`)."""
        with _cut(self.ses_proxies[service]):
            yield

    def sent_emails(self, to: str | None = None) -> list[dict[str, Any]]:
        """Every email moto's SES accepted (moto's /moto-api/data.json: source, destinations, subject, body), or
        those addressed to ``to``."""
        data = httpx.get(f"{self.moto_url}/moto-api/data.json", timeout=30).json()
        sent = [m for m in data.get("ses", {}).get("Message", [])]
        if to is not None:
            sent = [m for m in sent if to.lower() in (a.lower() for a in m["destinations"].get("ToAddresses", []))]
        return sent

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
        lines += [f"{s.value:9} API: {self.url(s)}  (docs: {self.url(s)}/docs)" for s in self.services]
        lines += [f"mode: {self.mode}; Deployments of the Services stack in {self.assembly}:"]
        lines += [f"  {pod.describe()}" for pod in self.pods.values()]
        if self.web:
            lines += [f"storefront: {self.web_origin}/ (web/dist, headers of the synthesized Web stack)"]
        lines += [f"cognito pool {self.resources.user_pool_id}, client {self.resources.client_id}",
                  f"logs: {self.logdir}", f"traces: {self.traces_dir} (one JSON line per span)"]
        return "\n".join(lines)

    def spans(self) -> list[dict[str, Any]]:
        """Every span the services have finished so far (file exporter)."""
        return [json.loads(line) for path in sorted(self.traces_dir.glob("*.jsonl"))
                for line in path.read_text().splitlines() if line.strip()]


@contextlib.contextmanager
def _cut(proxy: TcpProxy) -> Iterator[None]:
    proxy.down()
    try:
        yield
    finally:
        proxy.up()


def add_mode_arguments(parser: argparse.ArgumentParser) -> None:
    """--mode and --assembly, for every tool that starts a LocalPlatform."""
    parser.add_argument("--mode", choices=MODES, default=os.environ.get("MODE") or PROCESSES,
                        help="run the Deployments as containers (images from `make images`) or as processes")
    parser.add_argument("--assembly", type=Path, default=None,
                        help="cloud assembly to read the manifests from (default: dev synthesized in process; "
                             "containers mode: the one `make images` built from, e.g. cdk.out)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.local.local_platform", description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-receive-count", type=int, default=None,
                        help=f"receives before a message goes to its DLQ (default {default_max_receive_count()})")
    parser.add_argument("--visibility-timeout", type=int, default=None,
                        help=f"queue visibility timeout in seconds (default {default_visibility_timeout()})")
    parser.add_argument("--moto-port", type=int, default=5000)
    parser.add_argument("--verbose", action="store_true", help="moto's and the token endpoint's logs to this terminal")
    add_mode_arguments(parser)
    args = parser.parse_args(argv)
    from tools.local.smoke import provision_local

    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with LocalPlatform(max_receive_count=args.max_receive_count, visibility_timeout=args.visibility_timeout,
                       moto_port=args.moto_port, verbose=args.verbose, mode=args.mode,
                       assembly=args.assembly, web=True) as platform:
        print(platform.describe(), flush=True)
        edge_env = f"EDGE_URL={platform.edge_url}\nAPI_KEY={platform.api_key}\nWEB_URL={platform.web_origin}/\n"
        EDGE_ENV_FILE.parent.mkdir(exist_ok=True)
        EDGE_ENV_FILE.write_text(edge_env)
        # What `make smoke` needs besides the edge: the smoke accounts' secret and the payment topic (in moto); and
        # what `make pay` signs the payment provider's webhook with (the local platform's own, generated secret).
        SMOKE_ENV_FILE.write_text("".join(f"{k}={v}\n" for k, v in provision_local(platform).items())
                                  + f"PAYMENT_WEBHOOK_SECRET={platform.resources.payment_webhook_secret}\n")
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
