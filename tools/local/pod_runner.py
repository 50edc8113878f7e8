"""Run the containers of resolved Deployment manifests as the kubelet would, in Docker or as local processes.

``containers`` mode runs each Deployment's container with ``docker run`` as its pod spec says: command and args
(``--entrypoint`` + arguments), environment, ``runAsUser``/``runAsGroup`` (``--user``), ``readOnlyRootFilesystem``
(``--read-only``), emptyDir ``medium: Memory`` volumes (``--tmpfs`` with the size limit), CPU and memory limits
(``--cpus``/``--memory``), dropped capabilities (``--cap-drop``), ``allowPrivilegeEscalation: false``
(``no-new-privileges``), the Service's cluster DNS name as a network alias, one replica. ``processes`` mode runs the
same command with the same environment as a process from ``services/`` (the image's CMD, read from the service's
Dockerfile, where the manifest gives no command), for speed; user, read-only root and limits then do not apply.
A container that exits on its own is reported (:meth:`Pod.exited`, the local platform's ``check_processes``), not
restarted as ``restartPolicy: Always`` would: locally a crash should fail loudly rather than loop.

In both modes the probes run as the kubelet runs them: an HTTP GET every ``periodSeconds`` (with
``PROBE_ALLOWANCE_SECONDS`` beyond ``timeoutSeconds``, see there); readiness gates traffic (the pod's address,
:meth:`Pod.url`, accepts new connections only while ready: a TcpProxy in front of it), liveness restarts the
container after ``failureThreshold`` failures in a row (counted in :attr:`Pod.restarts`).
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from tools.local.tcp_proxy import TcpProxy

Manifest = dict[str, Any]
CONTAINERS, PROCESSES = "containers", "processes"
# The kubelet probes from its own process on a node with CPU reserved for it; here the probe runs in a thread of the
# runner's process (often a test run with dozens of busy threads) on a shared 2-core machine. Each probe gets this
# much on top of its timeoutSeconds, so that a probe delayed by that contention does not count as a failure; an
# endpoint that answers with an error or not at all still fails as the manifest says.
PROBE_ALLOWANCE_SECONDS = 2.0
MODES = (CONTAINERS, PROCESSES)


@dataclass(frozen=True)
class Probe:
    path: str
    port: int
    period: float
    failure_threshold: int
    initial_delay: float
    timeout: float
    command: tuple[str, ...] | None = None  # an exec probe (the workers' liveness): run in the pod, 0 = success

    @classmethod
    def read(cls, probe: dict[str, Any] | None, ports: dict[str, int]) -> Probe | None:
        if not probe:
            return None
        timing = {"period": float(probe.get("periodSeconds", 10)),
                  "failure_threshold": int(probe.get("failureThreshold", 3)),
                  "initial_delay": float(probe.get("initialDelaySeconds", 0)),
                  "timeout": float(probe.get("timeoutSeconds", 1))}
        if "exec" in probe:
            command = tuple(probe["exec"]["command"])
            return cls(path=" ".join(command), port=0, command=command, **timing)  # type: ignore[arg-type]
        get = probe["httpGet"]
        port = get["port"]
        return cls(path=get.get("path", "/"), port=ports[port] if isinstance(port, str) else int(port),
                   **timing)  # type: ignore[arg-type]


def _quantity_cpu(q: str) -> float:
    return int(q[:-1]) / 1000 if q.endswith("m") else float(q)


def _quantity_bytes(q: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}
    m = re.fullmatch(r"(\d+)([KMG]i?)?", q)
    if not m:
        raise ValueError(f"quantity {q!r} not understood")
    return int(m.group(1)) * units.get(m.group(2) or "", 1)


@dataclass(frozen=True)
class PodSpec:
    """One Deployment's container, as the runner needs it (read from the manifest by :func:`pod_spec`)."""

    name: str  # the Deployment's name, e.g. orders-api
    image: str
    command: tuple[str, ...] | None  # Kubernetes `command`: replaces the image's ENTRYPOINT
    args: tuple[str, ...] | None  # Kubernetes `args`: replaces the image's CMD
    env: dict[str, str]
    user: str | None  # uid:gid
    read_only: bool
    tmpfs: tuple[tuple[str, int], ...]  # (mount path, size limit in bytes)
    cpus: float | None
    memory: int | None
    cap_drop: tuple[str, ...]
    no_new_privileges: bool
    port: int | None  # the first containerPort
    readiness: Probe | None
    liveness: Probe | None
    aliases: tuple[str, ...] = ()
    grace_seconds: int = 30
    mounts: tuple[tuple[str, str], ...] = ()  # (host directory, container path): harness bind mounts only


def pod_spec(deployment: Manifest, aliases: tuple[str, ...] = ()) -> PodSpec:
    pod = deployment["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    sc = c.get("securityContext", {})
    ports = {p["name"]: int(p["containerPort"]) for p in c.get("ports", []) if "name" in p}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    tmpfs = []
    for mount in c.get("volumeMounts", []):
        empty_dir = volumes[mount["name"]].get("emptyDir")
        if empty_dir is None or empty_dir.get("medium") != "Memory":
            raise ValueError(f"{deployment['metadata']['name']}: volume {mount['name']} is not a memory emptyDir")
        tmpfs.append((mount["mountPath"], _quantity_bytes(empty_dir.get("sizeLimit", "64Mi"))))
    user = None
    if "runAsUser" in sc:
        user = f"{sc['runAsUser']}:{sc.get('runAsGroup', sc['runAsUser'])}"
    limits = c.get("resources", {}).get("limits", {})
    return PodSpec(
        name=deployment["metadata"]["name"], image=c["image"],
        command=tuple(c["command"]) if "command" in c else None, args=tuple(c["args"]) if "args" in c else None,
        env={e["name"]: str(e["value"]) for e in c.get("env", [])}, user=user,
        read_only=bool(sc.get("readOnlyRootFilesystem")), tmpfs=tuple(tmpfs),
        cpus=_quantity_cpu(limits["cpu"]) if "cpu" in limits else None,
        memory=_quantity_bytes(limits["memory"]) if "memory" in limits else None,
        cap_drop=tuple(sc.get("capabilities", {}).get("drop", ())),
        no_new_privileges=sc.get("allowPrivilegeEscalation") is False,
        port=next(iter(int(p["containerPort"]) for p in c.get("ports", [])), None),
        readiness=Probe.read(c.get("readinessProbe"), ports), liveness=Probe.read(c.get("livenessProbe"), ports),
        aliases=aliases, grace_seconds=int(pod.get("terminationGracePeriodSeconds", 30)),
    )


def docker_run_args(spec: PodSpec, *, name: str, network: str, labels: dict[str, str]) -> list[str]:
    """`docker run` for the pod spec (detached output is followed separately; --rm: a restart is a new container,
    as the kubelet creates one)."""
    args = ["docker", "run", "--rm", "--name", name, "--network", network]
    args += [a for alias in spec.aliases for a in ("--network-alias", alias)]
    args += [a for k, v in labels.items() for a in ("--label", f"{k}={v}")]
    if spec.user:
        args += ["--user", spec.user]
    if spec.read_only:
        args.append("--read-only")
    args += [a for path, size in spec.tmpfs for a in ("--tmpfs", f"{path}:rw,nosuid,nodev,size={size}")]
    args += [a for host, path in spec.mounts for a in ("--volume", f"{host}:{path}")]
    if spec.cpus is not None:
        args += ["--cpus", f"{spec.cpus:g}"]
    if spec.memory is not None:
        args += ["--memory", str(spec.memory), "--memory-swap", str(spec.memory)]
    args += [a for cap in spec.cap_drop for a in ("--cap-drop", cap)]
    if spec.no_new_privileges:
        args += ["--security-opt", "no-new-privileges"]
    if spec.port is not None:
        args += ["--publish", f"127.0.0.1::{spec.port}"]
    args += [a for k, v in sorted(spec.env.items()) for a in ("--env", f"{k}={v}")]
    args += [f"--stop-timeout={spec.grace_seconds}"]
    if spec.command:
        args += ["--entrypoint", spec.command[0], spec.image, *spec.command[1:], *(spec.args or ())]
    else:
        args += [spec.image, *(spec.args or ())]
    return args


def image_cmd(dockerfile: Path) -> tuple[str, ...]:
    """The final stage's CMD (exec form) of a Dockerfile: what a pod without `command`/`args` runs."""
    cmds = re.findall(r"^CMD\s+(\[.*\])\s*$", dockerfile.read_text(), re.M)
    if not cmds:
        raise ValueError(f"{dockerfile}: no exec-form CMD")
    return tuple(json.loads(cmds[-1]))


@dataclass
class Pod:
    """One replica of a Deployment: started, probed, restarted and stopped by the runner."""

    spec: PodSpec
    mode: str
    logfile: Path
    cwd: Path  # processes mode: where the process runs (services/)
    process_env: dict[str, str]  # processes mode: added to the manifest's env (PATH, PYTHONPATH)
    default_cmd: tuple[str, ...]  # the image's CMD
    network: str = ""
    container_prefix: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    restarts: int = 0
    ready: bool = False
    proc: subprocess.Popen[bytes] | None = None
    internal_port: int | None = None  # where the container's or process's port is reachable from this host
    front: TcpProxy | None = None  # the pod's address: accepts connections only while ready
    _stopping: bool = False
    _restarting: bool = False
    _log: IO[bytes] | None = None
    _thread: threading.Thread | None = None

    @property
    def container_name(self) -> str:
        return f"{self.container_prefix}-{self.spec.name}"

    def describe(self) -> str:
        s = self.spec
        cmd = shlex.join((*(s.command or ()), *(s.args or ()))) or "image CMD"
        if self.mode == PROCESSES:
            return f"{s.name}: process ({cmd}), {len(s.env)} env vars"
        limits = f"cpus {s.cpus:g}, memory {s.memory // 2**20 if s.memory else '-'}Mi"
        return (f"{s.name}: container {self.container_name} from {s.image[:24]} ({cmd}), user {s.user}, "
                f"{'read-only root, ' if s.read_only else ''}tmpfs {','.join(p for p, _ in s.tmpfs) or '-'}, "
                f"{limits}, cap-drop {','.join(s.cap_drop) or '-'}, aliases {','.join(s.aliases) or '-'}")

    def url(self) -> str:
        assert self.front is not None, f"{self.spec.name} serves no port"
        return f"http://127.0.0.1:{self.front.port}"

    # --- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.spec.port is not None and self.front is None:
            self.front = TcpProxy(0)
            self.front.up()  # take an address, then refuse connections until ready
            self.front.pause()
        if self.front is not None:
            _RESERVED_PORTS.add(self.front.port)
        self._launch()
        if self._thread is None:
            self._thread = threading.Thread(target=self._probe_loop, daemon=True, name=f"probes-{self.spec.name}")
            self._thread.start()

    def _launch(self) -> None:
        self._log = self.logfile.open("ab")
        self.ready = False
        if self.mode == CONTAINERS:
            args = docker_run_args(self.spec, name=self.container_name, network=self.network, labels=self.labels)
            shown = (a if not a.startswith("AWS_SECRET") else "AWS_SECRET_ACCESS_KEY=..." for a in args)
            self._log.write(f"$ {shlex.join(shown)}\n".encode())
            self._log.flush()
            # argv built from the synthesized manifest, run without a shell
            self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,  # noqa: S603
                                         stdin=subprocess.DEVNULL, start_new_session=True)
            self.internal_port = self._published_port() if self.spec.port is not None else None
        else:
            cmd = list(self.spec.command or ()) + list(self.spec.args or ())
            if not self.spec.command:
                cmd = list(self.default_cmd) + list(self.spec.args or ())
            cmd, self.internal_port = self._local_command(cmd)
            self.proc = subprocess.Popen(cmd, cwd=self.cwd, env={**self.process_env, **self.spec.env},  # noqa: S603
                                         stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        if self.front is not None and self.internal_port is not None:
            self.front.target_port = self.internal_port

    def _local_command(self, cmd: list[str]) -> tuple[list[str], int | None]:
        """The container's command as a local process: this interpreter for `python`, the venv's tools for the
        rest, and a free loopback port where the container listens on its containerPort (as a pod gets its own
        IP, the process gets its own port)."""
        if cmd[0] in ("python", "python3"):
            cmd = [sys.executable, *cmd[1:]]
        elif (Path(sys.executable).parent / cmd[0]).exists():
            cmd = [sys.executable, "-m", cmd[0], *cmd[1:]]
        port = None
        if self.spec.port is not None:
            port = _free_port()
            cmd = [str(port) if prev == "--port" else ("127.0.0.1" if prev == "--host" else a)
                   for prev, a in zip(["", *cmd[:-1]], cmd, strict=True)]
        return cmd, port

    def _published_port(self) -> int:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"container {self.container_name} exited with {self.proc.returncode}:\n"
                                   + self.log_tail())
            r = subprocess.run(["docker", "port", self.container_name, f"{self.spec.port}/tcp"],  # noqa: S603, S607
                               capture_output=True, text=True)
            if r.returncode == 0 and r.stdout.strip():
                return int(r.stdout.split()[0].rsplit(":", 1)[1])
            time.sleep(0.2)
        raise RuntimeError(f"container {self.container_name}: port {self.spec.port} not published after 60 s")

    def _terminate(self) -> None:
        if self.front is not None:
            self.front.down()
        self.ready = False
        if self.proc is None:
            return
        if self.mode == CONTAINERS:
            subprocess.run(["docker", "stop", "--time", str(self.spec.grace_seconds),  # noqa: S603, S607
                            self.container_name], capture_output=True)
        elif self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(self.spec.grace_seconds + 5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self._log is not None:
            self._log.close()

    def restart(self, why: str) -> None:
        self._restarting = True
        try:
            self._note(f"restarting: {why}")
            self._terminate()
            self.restarts += 1
            self._launch()
        finally:
            self._restarting = False

    def stop(self) -> None:
        self._stopping = True
        self._terminate()

    def exited(self) -> int | None:
        """Exit status when the container or process ended on its own (not stopped or restarted by the runner)."""
        if self._stopping or self._restarting or self.proc is None:
            return None
        return self.proc.poll()

    def log_tail(self, lines: int = 30) -> str:
        if not self.logfile.exists():
            return ""
        return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])

    # --- probes ----------------------------------------------------------------------------------------------
    def _check(self, probe: Probe) -> bool:
        if probe.command is not None:
            return self._exec(probe)
        if self.internal_port is None:
            return False
        try:
            r = httpx.get(f"http://127.0.0.1:{self.internal_port}{probe.path}",
                          timeout=probe.timeout + PROBE_ALLOWANCE_SECONDS)
        except httpx.HTTPError:
            return False
        return 200 <= r.status_code < 400

    def _exec(self, probe: Probe) -> bool:
        """An exec probe, as the kubelet runs it: in the container, or as a process with the pod's environment."""
        assert probe.command is not None
        if self.mode == CONTAINERS:
            cmd = ["docker", "exec", self.container_name, *probe.command]
            env = None
        else:
            cmd, _ = self._local_command(list(probe.command))
            env = {**self.process_env, **self.spec.env}
        try:
            # argv from the synthesized manifest, run without a shell
            r = subprocess.run(cmd, cwd=self.cwd, env=env, capture_output=True,  # noqa: S603
                               timeout=probe.timeout + PROBE_ALLOWANCE_SECONDS)
        except subprocess.TimeoutExpired:
            return False
        return r.returncode == 0

    def _probe_loop(self) -> None:
        """Readiness and liveness on their own periods, from the container's start, as the kubelet runs them."""
        if self.spec.readiness is None:
            self.ready = True
        started = time.monotonic()
        due = {"readiness": 0.0, "liveness": 0.0}
        failures = {"readiness": 0, "liveness": 0}
        generation = self.restarts
        while not self._stopping:
            try:
                if self.restarts != generation:  # a new container: probes start over
                    started, generation = time.monotonic(), self.restarts
                    due, failures = {"readiness": 0.0, "liveness": 0.0}, {"readiness": 0, "liveness": 0}
                    self.ready = self.spec.readiness is None
                now = time.monotonic() - started
                for kind, probe in (("readiness", self.spec.readiness), ("liveness", self.spec.liveness)):
                    if probe is None or self._restarting or now < max(due[kind], probe.initial_delay):
                        continue
                    due[kind] = now + probe.period
                    ok = self._check(probe)
                    failures[kind] = 0 if ok else failures[kind] + 1
                    if kind == "readiness":
                        self._set_ready(ok or (self.ready and failures[kind] < probe.failure_threshold))
                    elif failures[kind] >= probe.failure_threshold and not self._stopping:
                        self.restart(f"liveness probe {probe.path} failed {failures[kind]} times")
            except Exception as exc:  # never let the probes die silently: the pod would stay unready forever
                self._note(f"probe loop error: {exc!r}")
            time.sleep(0.05 if not self.ready else 0.2)

    def _note(self, line: str) -> None:
        with self.logfile.open("ab") as f:
            f.write(f"--- {time.strftime('%H:%M:%S')} {self.spec.name}: {line} ---\n".encode())

    def _set_ready(self, ready: bool) -> None:
        if ready == self.ready:
            return
        if self.front is not None:
            if ready:
                self.front.up()  # raises if the address was taken meanwhile: retried on the next probe
            else:
                self.front.pause()  # new connections refused, open ones finish (endpoint removal)
        self.ready = ready
        if self.restarts or not ready:
            self._note("ready" if ready else "not ready: readiness probe failed")

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.exited()
            if code is not None:
                raise RuntimeError(f"{self.spec.name} exited with {code}; see {self.logfile}:\n{self.log_tail()}")
            if self.ready:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.spec.name} not ready after {timeout:.0f} s; see {self.logfile}:\n"
                           + self.log_tail())


# Pods' addresses (their fronts' ports): a paused front frees its port, which must not be handed to a process.
_RESERVED_PORTS: set[int] = set()


def _free_port() -> int:
    import socket

    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _RESERVED_PORTS:
            return port


class DockerNetwork:
    """A user-defined bridge network: containers find each other by alias (cluster DNS names), and reach the
    host's PostgreSQL, moto, token endpoint and collector at its gateway address."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.gateway = ""
        self.subnet = ""

    def create(self) -> None:
        subprocess.run(["docker", "network", "create", "--label", f"local-platform={self.name}",  # noqa: S603, S607
                        self.name], check=True, capture_output=True)
        out = subprocess.run(["docker", "network", "inspect", self.name],  # noqa: S603, S607
                             check=True, capture_output=True, text=True).stdout
        ipam = json.loads(out)[0]["IPAM"]["Config"][0]
        self.gateway, self.subnet = ipam["Gateway"], ipam["Subnet"]

    def remove(self) -> None:
        subprocess.run(["docker", "network", "rm", self.name], capture_output=True)  # noqa: S603, S607
