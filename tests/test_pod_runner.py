"""A container started by the runner honours its manifest: user, read-only root with a memory-backed /tmp, CPU
and memory limits, dropped capabilities, no privilege escalation; readiness gates its address; a failing
liveness probe restarts it after failureThreshold."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from config.images import BASE_IMAGE, local_reference
from tools.local.images import image_exists
from tools.local.pod_runner import CONTAINERS, DockerNetwork, Pod, docker_run_args, pod_spec
from tools.local.workflows import wait_for

# A tiny HTTP server in the base image: /readyz answers 200 while /tmp/ready exists, /healthz while /tmp/dead
# does not; it counts its starts in /tmp (memory-backed: a restarted container starts from an empty /tmp).
SERVER = """
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = {"/readyz": os.path.exists("/tmp/ready"), "/healthz": not os.path.exists("/tmp/dead")}.get(self.path)
        self.send_response(200 if ok else 500); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("0.0.0.0", 8080), H).serve_forever()
"""


def deployment(name: str) -> dict[str, Any]:
    probe = {"periodSeconds": 1, "failureThreshold": 2, "timeoutSeconds": 1}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "runner-test"},
        "spec": {"template": {"metadata": {"labels": {"app": name}}, "spec": {
            "terminationGracePeriodSeconds": 2,
            "containers": [{
                "name": "api", "image": local_reference(BASE_IMAGE), "command": ["python", "-c", SERVER],
                "env": [{"name": "GREETING", "value": "hello, world"}],
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "resources": {"limits": {"cpu": "250m", "memory": "96Mi"}},
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                    "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                                    "capabilities": {"drop": ["ALL"]}},
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, **probe},
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, **probe},
            }],
            "volumes": [{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}}],
        }}},
    }


@pytest.fixture(scope="module")
def pod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pod]:
    assert image_exists(local_reference(BASE_IMAGE)), "make base-image first (make test does)"
    name = f"deployed-shape-test-{secrets.token_hex(3)}"
    network = DockerNetwork(name)
    network.create()
    logdir = Path(tmp_path_factory.mktemp("pod"))
    p = Pod(spec=pod_spec(deployment("probe-app"), ("probe-app.runner-test.svc.cluster.local",)), mode=CONTAINERS,
            logfile=logdir / "probe-app.log", cwd=logdir, process_env={}, default_cmd=(), network=name,
            container_prefix=name, labels={"local-platform": name})
    try:
        p.start()
        yield p
    finally:
        p.stop()
        network.remove()


def docker_exec(pod: Pod, *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "exec", pod.container_name, *cmd], capture_output=True, text=True)


def inspect(pod: Pod) -> dict[str, Any]:
    out = subprocess.run(["docker", "inspect", pod.container_name], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout)[0])


def reachable(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_docker_run_carries_the_pod_spec() -> None:
    args = docker_run_args(pod_spec(deployment("x")), name="n", network="net", labels={})
    for flag in (["--user", "10001:10001"], ["--read-only"], ["--tmpfs", f"/tmp:rw,nosuid,nodev,size={8 * 2**20}"],
                 ["--cpus", "0.25"], ["--memory", str(96 * 2**20)], ["--cap-drop", "ALL"],
                 ["--security-opt", "no-new-privileges"], ["--env", "GREETING=hello, world"],
                 ["--entrypoint", "python"]):
        i = args.index(flag[0])
        assert args[i:i + len(flag)] == flag, flag


@pytest.mark.docker
def test_container_runs_as_the_manifest_says(pod: Pod) -> None:
    assert docker_exec(pod, "id", "-u").stdout.strip() == "10001"
    assert docker_exec(pod, "id", "-g").stdout.strip() == "10001"
    denied = docker_exec(pod, "touch", "/app-write-test")
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr
    assert docker_exec(pod, "touch", "/tmp/scratch").returncode == 0
    host = inspect(pod)["HostConfig"]
    assert host["NanoCpus"] == 250_000_000
    assert host["Memory"] == 96 * 2**20
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["ReadonlyRootfs"] is True
    assert docker_exec(pod, "printenv", "GREETING").stdout.strip() == "hello, world"


@pytest.mark.docker
def test_readiness_gates_the_address_and_liveness_restarts(pod: Pod) -> None:
    url = pod.url()
    time.sleep(2.5)  # several readiness periods: still not ready, so nothing answers at the pod's address
    assert not pod.ready and not reachable(url)
    docker_exec(pod, "touch", "/tmp/ready")
    wait_for(lambda: reachable(url), "the pod's address once ready", timeout=10)
    docker_exec(pod, "rm", "/tmp/ready")
    wait_for(lambda: not reachable(url), "the address closed after failureThreshold readiness failures", timeout=10)

    docker_exec(pod, "touch", "/tmp/ready")
    wait_for(lambda: reachable(url), "ready again", timeout=10)
    before = pod.restarts
    docker_exec(pod, "touch", "/tmp/dead")  # liveness fails from now on
    wait_for(lambda: pod.restarts > before, "a restart after failureThreshold liveness failures", timeout=30)
    assert "restarting: liveness probe /healthz failed 2 times" in pod.logfile.read_text()
    # A new container, alive. Unlike Kubernetes, where an emptyDir outlives a container restart within its pod,
    # the restarted container here has a fresh tmpfs: /tmp/dead is gone, so liveness passes again.
    wait_for(lambda: docker_exec(pod, "true").returncode == 0, "the restarted container", timeout=30)
    assert docker_exec(pod, "test", "-e", "/tmp/dead").returncode != 0
    assert pod.exited() is None
