"""How long a Deployment's rollout takes, for the rollout waits the app puts after each Deployment.

A rollout wait (``Custom::AWSCDK-EKS-KubernetesObjectValue`` reading the Deployment's status) completes when every
new pod is Ready, and fails the stack when its ``TimeoutSeconds`` runs out first. A new pod is Ready after:

- its image is pulled (:data:`IMAGE_PULL_MINUTES` on a first deploy; a rolling update pulls only the layers that
  changed, :data:`IMAGE_UPDATE_PULL_MINUTES`);
- its readiness probe passes (``initialDelaySeconds`` + ``periodSeconds`` x ``successThreshold``, Kubernetes'
  defaults 0, 10 s and 1);
- when a TargetGroupBinding puts it behind a Network Load Balancer and its namespace injects pod readiness gates:
  the NLB registers the target (:data:`NLB_TARGET_REGISTRATION_MINUTES` to
  :data:`NLB_TARGET_REGISTRATION_MAX_MINUTES`, as AWS support states it) and its health checks pass
  (``HealthCheckIntervalSeconds`` x ``HealthyThresholdCount`` of the target group).

A Deployment created for the first time starts all its replicas at once: one such wait. A rolling update replaces
``maxSurge + maxUnavailable`` pods at a time (at least one), each step waiting for its new pods to be Ready: the
rollout takes ``ceil(replicas / step)`` waits, at the replica count the HorizontalPodAutoscaler holds at the time,
plus a node's provisioning when the surge does not fit the nodes there are (``scheduling.surge_waiting``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tools.assembly import Assembly, KubernetesObject, Resource
from tools.reports.preflight.create_times import (
    IMAGE_PULL_MINUTES,
    IMAGE_UPDATE_PULL_MINUTES,
    NLB_TARGET_REGISTRATION_MAX_MINUTES,
    NLB_TARGET_REGISTRATION_MINUTES,
)
from tools.reports.preflight.kube import selector_matches
from tools.reports.preflight.reachability import READINESS_GATE_LABEL

ROLLOUT_WAIT = "Custom::AWSCDK-EKS-KubernetesObjectValue"
# ELB target group health check defaults for an HTTP health check of a TCP (NLB) target group.
DEFAULT_HEALTH_CHECK_INTERVAL_SECONDS = 30
DEFAULT_HEALTHY_THRESHOLD = 5
# aws_eks_v2 KubernetesObjectValue: timeout defaults to 5 minutes.
DEFAULT_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class Rollout:
    wait: Resource
    deployment: KubernetesObject
    timeout_minutes: float
    probe_minutes: float
    minimum: int
    maximum: int
    target_group: Resource | None  # the NLB target group whose health the pods' readiness waits for
    health_check_minutes: float  # its health checks until healthy (0 without a target group)

    def pod_ready_minutes(self, *, first: bool = False, slow: bool = False) -> float:
        """From a new pod's start to Ready: on a first deploy or in a rolling update; with the NLB's fastest or
        slowest registration."""
        pull = IMAGE_PULL_MINUTES if first else IMAGE_UPDATE_PULL_MINUTES
        registration = (NLB_TARGET_REGISTRATION_MAX_MINUTES if slow else NLB_TARGET_REGISTRATION_MINUTES)
        return pull + self.probe_minutes + (registration + self.health_check_minutes if self.target_group else 0.0)

    def update_minutes(self, replicas: int, *, slow: bool = False, node_minutes: float = 0.0) -> float:
        """A rolling update of ``replicas`` pods; ``node_minutes``: the wait of surge pods for a node the autoscaler
        adds (once: the first step's pods wait for it, later steps reuse the room the old pods leave)."""
        steps = math.ceil(replicas / rolling_step(self.deployment.manifest, replicas))
        return steps * self.pod_ready_minutes(slow=slow) + node_minutes


def _int_or_percent(value: Any, replicas: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        share = replicas * int(value[:-1]) / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(value)


def _rolling(deployment: dict[str, Any]) -> dict[str, Any] | None:
    """The Deployment's rollingUpdate settings; None for a Recreate strategy (or another kind)."""
    if deployment.get("kind") != "Deployment":
        return None
    strategy = deployment.get("spec", {}).get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return None
    return dict(strategy.get("rollingUpdate") or {})


def max_surge(deployment: dict[str, Any], replicas: int) -> int:
    """Pods above ``replicas`` a rolling update runs at once (maxSurge: a count, or a percentage rounded up; 25% by
    default); none for a Recreate strategy."""
    rolling = _rolling(deployment)
    return 0 if rolling is None else _int_or_percent(rolling.get("maxSurge", "25%"), replicas, round_up=True)


def rolling_step(deployment: dict[str, Any], replicas: int) -> int:
    """Pods a rolling update replaces at a time: maxSurge (rounded up) + maxUnavailable (rounded down, 25% by
    default); a Recreate strategy replaces them all at once."""
    rolling = _rolling(deployment)
    if rolling is None:
        return max(replicas, 1)
    unavailable = _int_or_percent(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    return max(max_surge(deployment, replicas) + unavailable, 1)


def _probe_minutes(template: dict[str, Any]) -> float:
    seconds = 0.0
    for c in template.get("spec", {}).get("containers") or []:
        probe = c.get("readinessProbe") or {}
        if probe:
            seconds = max(seconds, float(probe.get("initialDelaySeconds", 0))
                          + float(probe.get("periodSeconds", 10)) * int(probe.get("successThreshold", 1)))
    return seconds / 60


def _target_group(assembly: Assembly, d: KubernetesObject) -> Resource | None:
    """The target group a TargetGroupBinding puts the Deployment's pods in, when their namespace injects readiness
    gates (else their readiness does not wait for it)."""
    labels = dict(d.manifest.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {}))
    namespace = next((n for n in assembly.objects("Namespace") if n.name == d.namespace), None)
    if namespace is None or (namespace.manifest.get("metadata", {}).get("labels") or {}).get(
            READINESS_GATE_LABEL) != "enabled":
        return None
    for tgb in assembly.objects("TargetGroupBinding"):
        spec = tgb.manifest.get("spec", {})
        if tgb.namespace != d.namespace:
            continue
        service = next((s for s in assembly.objects("Service") if s.namespace == d.namespace
                        and s.name == (spec.get("serviceRef") or {}).get("name")), None)
        selector = (service.manifest.get("spec") or {}).get("selector") if service else None
        if not selector or not selector_matches({"matchLabels": selector}, labels):
            continue
        t = assembly.target(tgb.resource.stack, spec.get("targetGroupARN"))
        tg = assembly.resource(t.stack, t.logical_id) if t else None
        if tg is not None and tg.type == "AWS::ElasticLoadBalancingV2::TargetGroup":
            return tg
    return None


def _health_check_minutes(assembly: Assembly, tg: Resource) -> float:
    p = tg.properties
    interval = int(assembly.literal(tg.stack, p.get("HealthCheckIntervalSeconds"))
                   or DEFAULT_HEALTH_CHECK_INTERVAL_SECONDS)
    healthy = int(assembly.literal(tg.stack, p.get("HealthyThresholdCount")) or DEFAULT_HEALTHY_THRESHOLD)
    return interval * healthy / 60


def rollouts(assembly: Assembly) -> list[Rollout]:
    """Every rollout wait the assembly can tie to one of its Deployments."""
    hpas = {(h.namespace, str((h.manifest.get("spec") or {}).get("scaleTargetRef", {}).get("name"))): h
            for h in assembly.objects("HorizontalPodAutoscaler")}
    out = []
    for wait in assembly.resources(ROLLOUT_WAIT):
        p = wait.properties
        if str(p.get("ObjectType", "")).lower() != "deployment":
            continue
        d = next((o for o in assembly.objects("Deployment") if o.name == p.get("ObjectName")
                  and o.namespace == p.get("ObjectNamespace", "default")), None)
        if d is None:
            continue
        spec = d.manifest.get("spec", {})
        hpa = hpas.get((d.namespace, d.name))
        hs = (hpa.manifest.get("spec") or {}) if hpa else {}
        minimum = int(hs.get("minReplicas", 1)) if hpa else int(spec.get("replicas", 1))
        maximum = int(hs.get("maxReplicas", minimum)) if hpa else minimum
        tg = _target_group(assembly, d)
        timeout = float(assembly.literal(wait.stack, p.get("TimeoutSeconds")) or DEFAULT_TIMEOUT_SECONDS) / 60
        out.append(Rollout(wait=wait, deployment=d, timeout_minutes=timeout,
                           probe_minutes=_probe_minutes(spec.get("template", {})), minimum=minimum, maximum=maximum,
                           target_group=tg,
                           health_check_minutes=_health_check_minutes(assembly, tg) if tg is not None else 0.0))
    return out
