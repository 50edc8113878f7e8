"""Prune: a Kubernetes object removed from the app is deleted from the cluster.

A manifest custom resource (``Custom::AWSCDK-EKS-KubernetesResource``) that holds one object deletes it when the
resource leaves the template (the kubectl handler's Delete). One that holds several relies on ``kubectl apply --prune
-l <its PruneLabel>`` when an update drops one of them, and the kubectl handler passes no ``--prune-allowlist``, so
kubectl prunes only its default kinds (kubectl ``apply/prune``: ConfigMap, Endpoints, PersistentVolumeClaim, Pod,
ReplicationController, Secret, Service, Job, CronJob, Ingress, DaemonSet, Deployment, ReplicaSet, StatefulSet,
Namespace, PersistentVolume). Any other kind dropped from such a manifest (a NetworkPolicy, an HPA, a PDB, a
TargetGroupBinding, a SecurityGroupPolicy) stays in the cluster, still in force.
"""

from __future__ import annotations

from collections import defaultdict

from config.environment import EnvironmentConfig
from tools.assembly import Assembly, KubernetesObject
from tools.reports.preflight.model import CheckResult, Finding

NAME = "prune"
KUBECTL_DEFAULT_PRUNE = frozenset({
    ("", "ConfigMap"), ("", "Endpoints"), ("", "PersistentVolumeClaim"), ("", "Pod"), ("", "ReplicationController"),
    ("", "Secret"), ("", "Service"), ("batch", "Job"), ("batch", "CronJob"), ("networking.k8s.io", "Ingress"),
    ("apps", "DaemonSet"), ("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet"),
    ("", "Namespace"), ("", "PersistentVolume")})


def _group(o: KubernetesObject) -> str:
    api = str(o.manifest.get("apiVersion", ""))
    return api.rpartition("/")[0] if "/" in api else ""


def check(assembly: Assembly, config: EnvironmentConfig) -> CheckResult:
    findings: list[Finding] = []
    by_resource: dict[tuple[str, str], list[KubernetesObject]] = defaultdict(list)
    for o in assembly.kubernetes_objects:
        by_resource[(o.resource.stack, o.resource.logical_id)].append(o)
    shared = 0
    for objects in by_resource.values():
        if len(objects) < 2:
            continue
        shared += 1
        resource = objects[0].resource
        prunes = "PruneLabel" in resource.properties
        for o in objects:
            if not prunes:
                findings.append(Finding(o.ref, f"shares {resource.logical_id} with {len(objects) - 1} other "
                                               "object(s) and the manifest has no prune label: dropped from it, "
                                               "the object stays in the cluster"))
            elif (_group(o), o.kind) not in KUBECTL_DEFAULT_PRUNE:
                findings.append(Finding(o.ref, f"shares {resource.logical_id} with {len(objects) - 1} other "
                                               f"object(s); kubectl's default prune allowlist has no {o.kind}, so "
                                               "dropped from it, the object stays in the cluster, still in force"))
    figure = f"{len(by_resource)} manifests, {shared} with several objects"
    return CheckResult(NAME, config.name, figure, findings)
