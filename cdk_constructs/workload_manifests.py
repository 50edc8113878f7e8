"""Kubernetes manifests of one service, as plain dicts (rendered by Microservice, validated by tests against the
Kubernetes schemas). Pure functions: no CDK scope, so tests can render them with placeholder values."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from contract import Call

from config.environment import POD_ENI_LABEL, ServiceSizing
from config.telemetry import AGENT_NAMESPACE, EMF_PORT, ENV_EMF_ENDPOINT, OTLP_HTTP_PORT
from config.topology import CONTAINER_PORT, TARGET_DEREGISTRATION_DELAY_SECONDS

Manifest = dict[str, Any]
RUN_AS_USER = 10001  # the numeric USER of every service image
# A worker loop that has not beaten for this long is stuck (services/common/liveness.py). Longer than any legitimate
# silence: a 20 s long poll whose client retries (3 x 30 s read timeout), or a batch of slow handlers; a loop that is
# merely retrying (a dependency down) keeps beating.
WORKER_LIVENESS_MAX_AGE_SECONDS = 180
# The AWS Load Balancer Controller's pod mutator adds a readiness gate (target healthy in the NLB target group) to
# pods created in namespaces with this label: a rollout then waits for each new pod to be registered and healthy
# before it stops an old one.
READINESS_GATE_INJECT = "elbv2.k8s.aws/pod-readiness-gate-inject"
# A stopping API pod first keeps serving until the NLB has stopped sending it new connections, then uvicorn drains
# in-flight requests (`--timeout-graceful-shutdown 20` in every service's Dockerfile CMD); the kubelet's grace period
# covers both. The Load Balancer Controller deregisters the pod within seconds of it terminating, but an NLB goes on
# opening new connections to a deregistering target until the deregistration is processed, "3-5 minutes" by AWS
# support's statement (kubernetes-sigs/aws-load-balancer-controller#1834), and then drains it for the target group's
# deregistration delay. So the preStop outlasts the upper bound, the delay and the controller's reaction:
# `make preflight` (reachability) fails a shorter one. The cost is the old pods' lifetime and the room they hold for
# those minutes after a rollout (a rollout does not wait for them to stop: terminating pods do not count).
NLB_DEREGISTRATION_SECONDS = 300
CONTROLLER_DEREGISTRATION_SECONDS = 15  # the controller sees the pod terminating and calls DeregisterTargets
API_PRE_STOP_SECONDS = (NLB_DEREGISTRATION_SECONDS + TARGET_DEREGISTRATION_DELAY_SECONDS
                        + CONTROLLER_DEREGISTRATION_SECONDS)
API_DRAIN_SECONDS = 20
# New pods a rollout starts at once, never fewer than it keeps serving (maxUnavailable 0). An API pod is Ready only
# once the NLB has registered it and its health checks pass (pod readiness gates): 4 to 6 minutes each. One pod at a
# time, an API at prod's minimum (3) took 12 to 18 minutes, past its rollout wait (12 minutes, inside the kubectl
# handler's 15-minute Lambda limit), and the rollback ran the same wait. So an API's whole new ReplicaSet starts at
# once (100%): one registration wait at any replica count, and room for the surge is checked by make preflight
# (scheduling: on the baseline at the minimum, on the groups' maxima at the maximum). Workers have no NLB in their
# readiness: a quarter at a time.
ROLLOUT_MAX_SURGE = {"api": "100%", "worker": "25%"}
# A TargetGroupBinding's targetGroupARN is immutable (the Load Balancer Controller's webhook refuses a change) and a
# target group can be bound once: a replaced target group (a new logical id) needs a new binding, named after it. The
# binding records the group's logical id here, and tools/reports/preflight/immutable_fields.py holds it to both.
TARGET_GROUP_ANNOTATION = "ecommerce-platform/target-group"
# The target group each service's binding was first created for (Edge stack logical ids, the same in every
# environment): that binding keeps the name it was deployed with, the service's, since renaming a binding of the same
# group cannot roll (the new one is refused while the old one binds the group). Any other group's binding is
# ``<service>-<8 hex digits of its logical id>``.
FIRST_TARGET_GROUPS = {
    "products": "ServicesLoadBalancerProductsTargetGroupC573AD01",
    "orders": "ServicesLoadBalancerOrdersTargetGroupEE310AD2",
    "users": "ServicesLoadBalancerUsersTargetGroupD31348C8",
    "inventory": "ServicesLoadBalancerInventoryTargetGroup0B02F3BC",
}


def target_group_binding_name(service: str, target_group_logical_id: str) -> str:
    """The name of ``service``'s TargetGroupBinding to the target group with that logical id."""
    if FIRST_TARGET_GROUPS.get(service) == target_group_logical_id:
        return service
    return f"{service}-{hashlib.sha256(target_group_logical_id.encode()).hexdigest()[:8]}"


TERMINATION_GRACE_SECONDS = {
    "api": API_PRE_STOP_SECONDS + API_DRAIN_SECONDS + 10,
    # Consumers finish the message in hand on SIGTERM (well inside the queues' visibility timeout).
    "worker": 45,
}


@dataclass(frozen=True)
class WorkloadSpec:
    name: str  # service name: also its namespace and service account
    image: str
    environment: dict[str, str]
    sizing: ServiceSizing
    target_group_arn: str
    target_group_id: str  # the target group's logical id: the TargetGroupBinding is named after it
    worker_command: tuple[str, ...] | None
    security_group_ids: tuple[str, ...] = ()  # security groups for pods, where the service has its own
    allowed_callers: tuple[str, ...] = ()  # namespaces whose pods may call this service (e.g. orders -> products)
    vpc_cidr: str = "10.0.0.0/16"
    calls: tuple[Call, ...] = ()  # other services' APIs its pods call (the contract's ServiceSpec.calls)
    postgres: bool = False  # its store is a PostgreSQL database in the VPC


def _labels(spec: WorkloadSpec, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": spec.name, "app.kubernetes.io/component": component,
            "app.kubernetes.io/part-of": "ecommerce-platform"}


def _container(spec: WorkloadSpec, component: str) -> Manifest:
    s = spec.sizing.of(component)
    container: Manifest = {
        "name": component,
        "image": spec.image,
        "env": [{"name": k, "value": v} for k, v in sorted(spec.environment.items())],
        "resources": {
            "requests": {"cpu": f"{s.cpu_request_millicores}m", "memory": f"{s.memory_request_mib}Mi"},
            "limits": {"cpu": f"{s.cpu_limit_millicores}m", "memory": f"{s.memory_limit_mib}Mi"},
        },
        "securityContext": {
            "runAsNonRoot": True, "runAsUser": RUN_AS_USER, "runAsGroup": RUN_AS_USER,
            "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
        },
        # Python and the AWS SDK want a writable temp dir; the root filesystem stays read-only.
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
    }
    if component == "api":
        container["ports"] = [{"name": "http", "containerPort": CONTAINER_PORT, "protocol": "TCP"}]
        container["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10,
                                      "failureThreshold": 3}
        container["readinessProbe"] = {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5,
                                       "failureThreshold": 2}
        # The image has no shell: the kubelet's own sleep action (Kubernetes 1.30+).
        container["lifecycle"] = {"preStop": {"sleep": {"seconds": API_PRE_STOP_SECONDS}}}
    else:
        assert spec.worker_command is not None
        container["command"] = list(spec.worker_command)
        # Exec probe over the heartbeat file the worker writes in its /tmp: no port to open through the namespace's
        # default-deny NetworkPolicy. The startup probe covers migrations and a paused database resuming.
        probe = {"exec": {"command": ["python", "-m", "common.liveness", "--max-age",
                                     str(WORKER_LIVENESS_MAX_AGE_SECONDS)]}, "timeoutSeconds": 5}
        container["startupProbe"] = {**probe, "periodSeconds": 10, "failureThreshold": 30}
        container["livenessProbe"] = {**probe, "periodSeconds": 20, "failureThreshold": 3}
    return container


def _node_selector(spec: WorkloadSpec) -> dict[str, str]:
    """arm64 nodes (the images are built for it); pods with their own security group only on nodes whose instance
    type takes a trunk ENI, since branch ENIs exist only there: the CDK app labels such node groups itself
    (config.environment.TRUNK_ENI_FAMILIES; no t-family type qualifies)."""
    selector = {"kubernetes.io/arch": "arm64"}
    if spec.security_group_ids:
        selector[POD_ENI_LABEL] = "true"
    return selector


def deployment(spec: WorkloadSpec, component: str) -> Manifest:
    """No ``replicas``: the HorizontalPodAutoscaler owns the count (a value here would reset it on every deploy);
    a new Deployment starts at one pod and the HPA raises it to its minimum at once."""
    labels = _labels(spec, component)
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": f"{spec.name}-{component}", "namespace": spec.name, "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxUnavailable": 0, "maxSurge": ROLLOUT_MAX_SURGE[component]}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": spec.name,
                    "automountServiceAccountToken": True,
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS[component],
                    "securityContext": {"runAsNonRoot": True, "fsGroup": RUN_AS_USER,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "nodeSelector": _node_selector(spec),
                    "topologySpreadConstraints": [{
                        "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                        "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": labels}}],
                    "containers": [_container(spec, component)],
                    "volumes": [{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}],
                },
            },
        },
    }


def components(spec: WorkloadSpec) -> tuple[str, ...]:
    return ("api", "worker") if spec.worker_command else ("api",)


def namespace(spec: WorkloadSpec) -> Manifest:
    """The service's namespace: restricted pod security, and readiness gates for its pods (its API is behind an NLB
    target group)."""
    return {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": spec.name, "labels": {"app.kubernetes.io/part-of": "ecommerce-platform",
                                                   "pod-security.kubernetes.io/enforce": "restricted",
                                                   READINESS_GATE_INJECT: "enabled"}},
    }


# Kinds `kubectl apply --prune` removes when they leave a manifest with its default allowlist (kubectl apply/prune):
# the only kinds that may share a manifest custom resource. Every other object is a manifest of its own, deleted by
# CloudFormation when it leaves the app (tools/reports/preflight/prune.py).
SHARED_MANIFEST_KINDS = frozenset({"Service", "Deployment"})


def manifests(spec: WorkloadSpec) -> list[Manifest]:
    """Namespace, Service, TargetGroupBinding, the SecurityGroupPolicy (where the service has its own security group),
    NetworkPolicies, then the Deployments (API and worker), HPAs and PDBs. In that order: kubectl applies the list in
    order, and a pod only gets its readiness gate and its security group if the TargetGroupBinding and the
    SecurityGroupPolicy exist when it is created."""
    ns = spec.name
    api_labels = _labels(spec, "api")
    out: list[Manifest] = [namespace(spec)]
    out.append({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": spec.name, "namespace": ns, "labels": api_labels},
        "spec": {"type": "ClusterIP", "selector": api_labels,
                 "ports": [{"name": "http", "port": CONTAINER_PORT, "targetPort": "http", "protocol": "TCP"}]},
    })
    out.append({
        "apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
        "metadata": {"name": target_group_binding_name(spec.name, spec.target_group_id), "namespace": ns,
                     "annotations": {TARGET_GROUP_ANNOTATION: spec.target_group_id}},
        # No `networking` block: the controller must not edit security groups; the CDK app owns those rules.
        "spec": {"serviceRef": {"name": spec.name, "port": CONTAINER_PORT}, "targetGroupARN": spec.target_group_arn,
                 "targetType": "ip"},
    })
    if spec.security_group_ids:
        out.append({
            "apiVersion": "vpcresources.k8s.aws/v1beta1", "kind": "SecurityGroupPolicy",
            "metadata": {"name": spec.name, "namespace": ns},
            "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": spec.name}},
                     "securityGroups": {"groupIds": list(spec.security_group_ids)}},
        })
    out += network_policies(spec)
    out += [deployment(spec, c) for c in components(spec)]
    for c in components(spec):
        sizing = spec.sizing.of(c)
        out.append({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": f"{spec.name}-{c}", "namespace": ns},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{spec.name}-{c}"},
                "minReplicas": sizing.min_replicas, "maxReplicas": sizing.max_replicas,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                    "type": "Utilization", "averageUtilization": sizing.target_cpu_utilization_percent}}}],
            },
        })
        out.append({
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": f"{spec.name}-{c}", "namespace": ns},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": _labels(spec, c)}},
        })
    return out


@dataclass(frozen=True)
class ClusterEgress:
    """Traffic from a service's pods to other pods of the cluster. NetworkPolicies admit it; for pods with their own
    security group (branch ENIs), the security group of the pods they call must admit it too: those run in the
    cluster security group, which admits only itself (ServicesStack adds one rule per port)."""

    name: str  # PascalCase, for the security group rule's construct id
    peer: Manifest  # NetworkPolicy peer
    ports: tuple[tuple[str, int], ...]  # (protocol, port)
    why: str


def _namespace_peer(namespace_: str) -> Manifest:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace_}}}


def cluster_egress(spec: WorkloadSpec) -> list[ClusterEgress]:
    out = [ClusterEgress("Dns", {**_namespace_peer("kube-system"), "podSelector": {"matchLabels": {
        "k8s-app": "kube-dns"}}}, (("UDP", 53), ("TCP", 53)), "cluster DNS (CoreDNS)")]
    if ENV_EMF_ENDPOINT in spec.environment:
        out.append(ClusterEgress("Telemetry", _namespace_peer(AGENT_NAMESPACE),
                                 (("TCP", OTLP_HTTP_PORT), ("UDP", EMF_PORT)),
                                 "the CloudWatch agent: OTLP traces and EMF metrics"))
    for call in spec.calls:
        callee = call.service.value
        out.append(ClusterEgress(callee.capitalize(), _namespace_peer(callee), (("TCP", CONTAINER_PORT),),
                                 f"the {callee} API ({call.purpose})"))
    return out


def network_policies(spec: WorkloadSpec) -> list[Manifest]:
    """Default deny in the namespace, then: the NLB (VPC addresses) and allowed callers to the API port; every pod
    to cluster DNS and to HTTPS (AWS endpoints, other services' APIs through their Services); PostgreSQL where the
    service owns a database (the security group narrows it to the database itself); the telemetry agent and the
    other services it calls (:func:`cluster_egress`)."""
    ns = spec.name
    api = {"matchLabels": {"app.kubernetes.io/name": spec.name, "app.kubernetes.io/component": "api"}}
    callers = [_namespace_peer(c) for c in spec.allowed_callers]
    egress: list[Manifest] = [
        {"ports": [{"protocol": "TCP", "port": 443}]},
        # EKS Pod Identity agent on the node (link-local) hands out the service role's credentials.
        {"to": [{"ipBlock": {"cidr": "169.254.170.23/32"}}], "ports": [{"protocol": "TCP", "port": 80}]},
    ]
    if spec.postgres:
        egress.append({"to": [{"ipBlock": {"cidr": spec.vpc_cidr}}], "ports": [{"protocol": "TCP", "port": 5432}]})
    egress += [{"to": [e.peer], "ports": [{"protocol": proto, "port": port} for proto, port in e.ports]}
               for e in cluster_egress(spec)]
    return [
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "default-deny", "namespace": ns},
         "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "api-ingress", "namespace": ns},
         "spec": {"podSelector": api, "policyTypes": ["Ingress"], "ingress": [
             {"from": [{"ipBlock": {"cidr": spec.vpc_cidr}}, *callers],
              "ports": [{"protocol": "TCP", "port": CONTAINER_PORT}]}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "egress", "namespace": ns},
         "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": egress}},
    ]
