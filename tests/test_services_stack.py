"""The Services stack: per service, its image, identity, workloads and binding; manifests valid Kubernetes; the
configuration each service reads is exactly what the stack renders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from contract import CONTRACT, Call
from contract.environment import check, required

from cdk_constructs.platform_cluster import POD_ENI_TEMPLATE_TAG
from cdk_constructs.workload_manifests import (
    API_DRAIN_SECONDS,
    NLB_DEREGISTRATION_SECONDS,
    READINESS_GATE_INJECT,
    WorkloadSpec,
    manifests,
)
from config.environment import POD_ENI_LABEL, TRUNK_ENI_FAMILIES
from config.environments import DEV
from config.instance_types import instance_type
from config.topology import SERVICES, Service
from stacks.services_stack import EnvironmentContractError, check_environment
from tests.synthesis import ROOT, Synthesized

KUBERNETES_VERSION = "1.34.0"
CRDS = {"TargetGroupBinding", "SecurityGroupPolicy"}


def applied_manifests(env: Synthesized) -> list[tuple[str, dict[str, Any]]]:
    """(construct path, manifest) of every KubernetesManifest in the Services stack, tokens left unresolved."""
    out = []
    for logical_id, r in env.resources("Services", "Custom::AWSCDK-EKS-KubernetesResource").items():
        raw = r["Properties"]["Manifest"]
        text = raw if isinstance(raw, str) else "".join(p if isinstance(p, str) else "TOKEN"
                                                         for p in raw["Fn::Join"][1])
        out += [(logical_id, m) for m in json.loads(text)]
    return out


def kinds_in(env: Synthesized, namespace: str) -> list[str]:
    return sorted(m["kind"] for _, m in applied_manifests(env)
                  if m["metadata"].get("namespace") == namespace or (m["metadata"].get("name") == namespace
                  and m["kind"] == "Namespace"))


@pytest.mark.parametrize("service", [s.value for s in SERVICES])
def test_each_service_has_its_workload_objects(env: Synthesized, service: str) -> None:
    kinds = kinds_in(env, service)
    for kind in ("Namespace", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
                 "TargetGroupBinding", "NetworkPolicy"):
        assert kind in kinds, (service, kind)
    assert kinds.count("Deployment") == 2  # the API and its worker (consumers and outbox relay)


def test_each_service_account_is_bound_by_pod_identity_to_its_own_role(env: Synthesized) -> None:
    assoc = [a["Properties"] for a in env.resources("Services", "AWS::EKS::PodIdentityAssociation").values()]
    assert sorted((a["Namespace"], a["ServiceAccount"]) for a in assoc) == sorted(
        (s.value, s.value) for s in SERVICES)
    assert len({json.dumps(a["RoleArn"]) for a in assoc}) == len(SERVICES)


def test_four_image_assets_are_staged_for_arm64(env: Synthesized) -> None:
    assets = json.loads((env.outdir / f"{env.config.stack_prefix}-Services.assets.json").read_text())
    images = assets["dockerImages"].values()
    assert sorted(i["source"]["dockerFile"] for i in images) == sorted(f"{s.value}/Dockerfile" for s in SERVICES)
    assert {i["source"]["platform"] for i in images} == {"linux/arm64"}


def test_target_group_binding_points_each_service_at_its_own_target_group(env: Synthesized) -> None:
    bindings = [m for _, m in applied_manifests(env) if m["kind"] == "TargetGroupBinding"]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == sorted(s.value for s in SERVICES)
    assert all(b["spec"]["targetType"] == "ip" and "networking" not in b["spec"] for b in bindings)


def test_pods_run_non_root_read_only_without_privilege_escalation(env: Synthesized) -> None:
    deployments = [m for _, m in applied_manifests(env) if m["kind"] == "Deployment"]
    assert len(deployments) == 2 * len(SERVICES)
    for d in deployments:
        pod = d["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]} and sc["runAsUser"] != 0
            assert c["resources"]["requests"] and c["resources"]["limits"]
        assert pod["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"


def test_every_namespace_is_default_deny(env: Synthesized) -> None:
    policies = [m for _, m in applied_manifests(env) if m["kind"] == "NetworkPolicy"]
    deny = {p["metadata"]["namespace"] for p in policies if p["metadata"]["name"] == "default-deny"
            and p["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}
    assert deny == {s.value for s in SERVICES}


def test_only_orders_may_call_products_besides_the_load_balancer(env: Synthesized) -> None:
    ingress = {p["metadata"]["namespace"]: p["spec"]["ingress"][0]["from"] for _, p in applied_manifests(env)
               if p["kind"] == "NetworkPolicy" and p["metadata"]["name"] == "api-ingress"}
    callers = {ns: [f["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for f in peers
                    if "namespaceSelector" in f] for ns, peers in ingress.items()}
    assert callers == {"products": ["orders"], "orders": [], "users": [], "inventory": []}


def test_orders_pods_get_the_security_group_the_database_admits(env: Synthesized) -> None:
    (policy,) = [m for _, m in applied_manifests(env) if m["kind"] == "SecurityGroupPolicy"]
    assert policy["metadata"]["namespace"] == "orders"


@pytest.mark.parametrize("service", list(SERVICES))
def test_rendered_environment_is_the_contract_the_service_reads(env: Synthesized, service: Service) -> None:
    rendered = {e["name"] for _, m in applied_manifests(env) if m["kind"] == "Deployment"
                and m["metadata"]["namespace"] == service.value
                for e in m["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert check(CONTRACT, service, frozenset(rendered), telemetry=True) is None
    assert set(required(CONTRACT, service)) < rendered


def test_every_pod_samples_traces_at_its_environments_ratio(env: Synthesized) -> None:
    """The ratio comes from config (dev 1.0, so the services' tests see one whole trace per order; prod fewer)."""
    ratio = env.config.trace_sampling_ratio
    values = {e["value"] for _, m in applied_manifests(env) if m["kind"] == "Deployment"
              for e in m["spec"]["template"]["spec"]["containers"][0]["env"] if e["name"] == "OTEL_TRACES_SAMPLER_ARG"}
    assert values == {f"{ratio:g}"}
    assert (env.config.name == "dev") == (ratio == 1.0)


@pytest.mark.parametrize(("change", "message"), [
    (lambda e: e.pop("TABLE_NAME"), "users: environment variable TABLE_NAME is read by the service but not rendered"),
    (lambda e: e.update(SERVICE_NAME="users"),
     "users: environment variable SERVICE_NAME is rendered but not derived from the contract"),
])
def test_a_missing_or_extra_variable_fails_synth_naming_it(change: Any, message: str) -> None:
    environment = dict.fromkeys(required(CONTRACT, Service.USERS), "x")
    change(environment)
    with pytest.raises(EnvironmentContractError, match=f"^{message}"):
        check_environment(CONTRACT, Service.USERS, environment, telemetry=False)


@pytest.mark.parametrize("service", list(SERVICES))
def test_manifests_are_valid_kubernetes(service: Service) -> None:
    spec = WorkloadSpec(name=service.value, image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/x:tag",
                        environment={"AWS_REGION": "eu-west-1", "DB_SECRET_ARN": "arn", "PRODUCTS_URL": "http://p"},
                        calls=(Call(Service.PRODUCTS, ("read",), "checking"),), postgres=True,
                        sizing=DEV.services, target_group_arn="arn:aws:elasticloadbalancing:tg",
                        target_group_id="ServicesLoadBalancerOrdersTargetGroupEE310AD2",
                        worker_command=("python", "-m", f"{service.value}.worker"),
                        security_group_ids=("sg-123",), allowed_callers=("orders",))
    for manifest in manifests(spec):
        if manifest["kind"] in CRDS:
            continue  # custom resources: checked by the assertions above
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_manifests_in_the_template_are_valid_kubernetes(env: Synthesized) -> None:
    """The manifests as synthesized (CloudFormation tokens stand in as strings), not only as rendered in tests."""
    checked = 0
    for _, manifest in applied_manifests(env):
        if manifest["kind"] in CRDS:
            continue
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked >= 4 * 8


def test_pods_with_their_own_security_group_run_only_on_trunk_enabled_nodes(env: Synthesized) -> None:
    """Orders pods select the label the CDK app sets on trunk-ENI node groups (not the VPC CNI's retired
    has-trunk-attached), and an on-demand node group with that label exists to take them."""
    groups = [g["Properties"] for g in env.resources("Cluster", "AWS::EKS::Nodegroup").values()]
    for _, m in applied_manifests(env):
        if m["kind"] != "Deployment":
            continue
        selector = m["spec"]["template"]["spec"]["nodeSelector"]
        assert selector["kubernetes.io/arch"] == "arm64"
        assert "vpc.amazonaws.com/has-trunk-attached" not in selector
        own_group = m["metadata"]["namespace"] == "orders"
        assert (selector.get(POD_ENI_LABEL) == "true") == own_group, m["metadata"]["name"]
        fitting = [g for g in groups if all(g["Labels"].get(k) == v for k, v in selector.items()
                                            if k != "kubernetes.io/arch")]
        assert any(g["CapacityType"] == "ON_DEMAND" for g in fitting), m["metadata"]["name"]


def test_only_node_groups_of_trunk_eni_types_carry_the_pod_eni_label(env: Synthesized) -> None:
    """Of the groups open to the services: a pool kept for one workload (tainted, the load pool) carries no pod-ENI
    label, since pods with their own security group could not tolerate its taint anyway."""
    for group in env.resources("Cluster", "AWS::EKS::Nodegroup").values():
        props = group["Properties"]
        trunk = all(t.split(".")[0] in TRUNK_ENI_FAMILIES for t in props["InstanceTypes"])
        open_to_services = not props.get("Taints")
        assert (props["Labels"].get(POD_ENI_LABEL) == "true") == (trunk and open_to_services), \
            props["Labels"]["platform/pool"]


def test_pod_eni_groups_tell_the_autoscaler_their_branch_enis_for_scaling_from_zero(env: Synthesized) -> None:
    """At zero nodes (Spot burst, or asleep outside working hours) the Cluster Autoscaler knows a group only by its
    template; without the resource tag, an orders pod (it requests vpc.amazonaws.com/pod-eni) never scales it up."""
    groups = [g["Properties"] for g in env.resources("Cluster", "AWS::EKS::Nodegroup").values()]
    assert any(g["ScalingConfig"]["MinSize"] == 0 and g["Labels"].get(POD_ENI_LABEL) for g in groups)
    for props in groups:
        tag = (props.get("Tags") or {}).get(POD_ENI_TEMPLATE_TAG)
        if props["Labels"].get(POD_ENI_LABEL) != "true":
            assert tag is None
            continue
        assert tag == str(min(instance_type(t).branch_enis for t in props["InstanceTypes"])) and int(tag) > 0


def test_hpa_managed_deployments_leave_the_replica_count_to_their_hpa(env: Synthesized) -> None:
    manifests_ = [m for _, m in applied_manifests(env)]
    deployments = {(m["metadata"]["namespace"], m["metadata"]["name"]): m for m in manifests_
                   if m["kind"] == "Deployment"}
    hpas = {(m["metadata"]["namespace"], m["spec"]["scaleTargetRef"]["name"]): m for m in manifests_
            if m["kind"] == "HorizontalPodAutoscaler"}
    assert set(hpas) == set(deployments)
    for key, d in deployments.items():
        assert "replicas" not in d["spec"], key
        component = d["metadata"]["labels"]["app.kubernetes.io/component"]
        sizing = env.config.services.of(component)
        assert (hpas[key]["spec"]["minReplicas"], hpas[key]["spec"]["maxReplicas"]) == (sizing.min_replicas,
                                                                                     sizing.max_replicas)
        requests = d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
        assert requests == {"cpu": f"{sizing.cpu_request_millicores}m", "memory": f"{sizing.memory_request_mib}Mi"}


def test_target_group_namespaces_inject_readiness_gates_before_any_pod_exists(env: Synthesized) -> None:
    """A pod gets its readiness gate and its security group only if the binding and the security group policy exist
    when it is created: the manifest holding the Deployments depends on theirs."""
    resources = env.template_json("Services")["Resources"]
    by_kind: dict[tuple[str, str], str] = {}
    for construct, m in applied_manifests(env):
        by_kind[(m["metadata"].get("namespace", m["metadata"]["name"]), m["kind"])] = construct
    namespaces = {m["metadata"]["name"]: m for _, m in applied_manifests(env) if m["kind"] == "Namespace"}
    bound = [ns for ns, kind in by_kind if kind == "TargetGroupBinding"]
    assert sorted(bound) == sorted(s.value for s in SERVICES)
    for ns in bound:
        assert namespaces[ns]["metadata"]["labels"][READINESS_GATE_INJECT] == "enabled"
        deployments = resources[by_kind[(ns, "Deployment")]]
        needs = {by_kind[(ns, "TargetGroupBinding")]} | (
            {by_kind[(ns, "SecurityGroupPolicy")]} if (ns, "SecurityGroupPolicy") in by_kind else set())
        assert needs <= set(deployments["DependsOn"]), ns


def test_objects_outside_kubectls_prune_allowlist_are_manifests_of_their_own(env: Synthesized) -> None:
    """Issue 22, finding 9: only Services and Deployments share a manifest (kubectl --prune removes them when they
    leave it); every other object is its own custom resource, deleted by CloudFormation when it leaves the app."""
    count: dict[str, int] = {}
    for construct, _ in applied_manifests(env):
        count[construct] = count.get(construct, 0) + 1
    for construct, m in applied_manifests(env):
        assert (count[construct] > 1) == (m["kind"] in ("Service", "Deployment")), (construct, m["kind"])


def test_the_binding_outlives_its_registration_policy(env: Synthesized) -> None:
    """Issue 22, finding 6: CloudFormation deletes the Load Balancer Controller's permission on a target group only
    after the binding whose finalizer needs it."""
    resources = env.template_json("Services")["Resources"]
    for construct, m in applied_manifests(env):
        if m["kind"] != "TargetGroupBinding":
            continue
        policies = [d for d in resources[construct]["DependsOn"] if "TargetRegistrationPolicy" in d]
        assert len(policies) == 1, construct
        assert resources[policies[0]]["Type"] == "AWS::IAM::ManagedPolicy"


def test_api_pods_outlast_the_target_groups_deregistration_delay(env: Synthesized) -> None:
    delays = set()
    for tg in env.resources("Edge", "AWS::ElasticLoadBalancingV2::TargetGroup").values():
        attrs = {a["Key"]: a["Value"] for a in tg["Properties"]["TargetGroupAttributes"]}
        delays.add(int(attrs["deregistration_delay.timeout_seconds"]))
    (delay,) = delays
    for _, m in applied_manifests(env):
        if m["kind"] != "Deployment":
            continue
        pod = m["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        if container["name"] != "api":
            assert "lifecycle" not in container
            continue
        pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert pre_stop > delay
        # Issue 22, finding 4: an NLB keeps opening connections to a deregistering target until the deregistration is
        # processed (up to 5 minutes), then drains it for the delay; main's pods stopped after 90 s.
        assert pre_stop >= NLB_DEREGISTRATION_SECONDS + delay
        assert pod["terminationGracePeriodSeconds"] > pre_stop + API_DRAIN_SECONDS


def test_an_api_rolls_its_whole_replicaset_at_once_and_a_worker_a_quarter(env: Synthesized) -> None:
    """Issue 22, finding 3: one API pod at a time behind an NLB registration outran the rollout wait at prod's
    minimum; the API's new ReplicaSet starts whole, never below the serving count."""
    for _, m in applied_manifests(env):
        if m["kind"] != "Deployment":
            continue
        rolling = m["spec"]["strategy"]["rollingUpdate"]
        component = m["metadata"]["labels"]["app.kubernetes.io/component"]
        assert rolling == {"maxUnavailable": 0, "maxSurge": "100%" if component == "api" else "25%"}


@pytest.mark.parametrize("service", [s.value for s in SERVICES])
def test_api_drain_time_is_what_the_image_runs(service: str) -> None:
    cmd = (ROOT / "services" / service / "Dockerfile").read_text()
    assert f'"--timeout-graceful-shutdown", "{API_DRAIN_SECONDS}"' in cmd


def test_every_deployment_must_roll_out_before_the_stack_completes(env: Synthesized) -> None:
    from cdk_constructs.microservice import ROLLED_OUT_JSON_PATH

    waits = {(w["Properties"]["ObjectNamespace"], w["Properties"]["ObjectName"]): w
             for w in env.resources("Services", "Custom::AWSCDK-EKS-KubernetesObjectValue").values()}
    deployments = {(m["metadata"]["namespace"], m["metadata"]["name"]) for _, m in applied_manifests(env)
                   if m["kind"] == "Deployment"}
    assert set(waits) == deployments
    workloads = {lid for lid, _ in applied_manifests(env)}
    for key, wait in waits.items():
        props = wait["Properties"]
        assert props["ObjectType"] == "deployment" and props["JsonPath"] == ROLLED_OUT_JSON_PATH
        assert 600 < int(props["TimeoutSeconds"]) < 900
        assert set(wait["DependsOn"]) & workloads, key
        # A property that changes with the Deployment, so the wait runs again on every rollout.
        parts = props["Deployment"]["Fn::Join"][1]
        rendered = json.loads("".join(p if isinstance(p, str) else "TOKEN" for p in parts))
        assert rendered["metadata"]["name"] == key[1] and rendered["kind"] == "Deployment", key
        assert "dkr.ecr" in json.dumps(parts), key  # the image (its tag is the asset hash)


def _security_group_policy_groups(env: Synthesized) -> dict[str, Any]:
    """namespace -> the security group token of its SecurityGroupPolicy, as the template spells it."""
    out: dict[str, Any] = {}
    for r in env.resources("Services", "Custom::AWSCDK-EKS-KubernetesResource").values():
        raw = r["Properties"]["Manifest"]
        if isinstance(raw, str) or "SecurityGroupPolicy" not in json.dumps(raw):
            continue
        parts = raw["Fn::Join"][1]
        text = "".join(p if isinstance(p, str) else "TOKEN" for p in parts)
        namespace = next(m["metadata"]["namespace"] for m in json.loads(text) if m["kind"] == "SecurityGroupPolicy")
        (index,) = [i for i, p in enumerate(parts) if isinstance(p, str) and p.endswith('"groupIds":["')]
        out[namespace] = parts[index + 1]
    return out


def test_pods_with_their_own_security_group_reach_every_pod_their_network_policy_lets_them_call(
        env: Synthesized) -> None:
    """Branch-ENI pods carry only their own security group; CoreDNS, the CloudWatch agent and the other services'
    pods run in the cluster security group, which must admit that group on every in-cluster port the NetworkPolicy
    opens (DNS over UDP and TCP, OTLP, EMF, the products API)."""
    groups = _security_group_policy_groups(env)
    assert set(groups) == {"orders"}
    rules = [r["Properties"] for r in env.resources("Services", "AWS::EC2::SecurityGroupIngress").values()]
    for namespace, pod_group in groups.items():
        (egress,) = [m for _, m in applied_manifests(env) if m["kind"] == "NetworkPolicy"
                     and (m["metadata"]["name"], m["metadata"]["namespace"]) == ("egress", namespace)]
        wanted = {(p["protocol"].lower(), p["port"]) for e in egress["spec"]["egress"]
                  if any("namespaceSelector" in peer for peer in e.get("to", [])) for p in e["ports"]}
        assert {("udp", 53), ("tcp", 53), ("tcp", 4318), ("udp", 25888), ("tcp", 8080)} <= wanted
        admitted = {(r["IpProtocol"], r["FromPort"]) for r in rules if r["SourceSecurityGroupId"] == pod_group
                    and "ClusterSecurityGroupId" in json.dumps(r["GroupId"]) and r["FromPort"] == r["ToPort"]}
        assert wanted <= admitted, wanted - admitted


def test_worker_containers_have_an_exec_liveness_probe_the_image_can_run(env: Synthesized, tmp_path: Any) -> None:
    """The probe runs services/common/liveness.py (shipped in every image) over the worker's heartbeat file: it
    passes while every loop beats and fails once one has not for the configured age."""
    import subprocess
    import sys
    import time

    from common import liveness

    from cdk_constructs.workload_manifests import WORKER_LIVENESS_MAX_AGE_SECONDS

    workers = [m for _, m in applied_manifests(env) if m["kind"] == "Deployment"
               and m["metadata"]["name"].endswith("-worker")]
    assert len(workers) == len(SERVICES)
    commands = set()
    for w in workers:
        (container,) = w["spec"]["template"]["spec"]["containers"]
        for kind in ("livenessProbe", "startupProbe"):
            commands.add(tuple(container[kind]["exec"]["command"]))
        assert container["livenessProbe"]["periodSeconds"] * container["livenessProbe"]["failureThreshold"] >= 60
    (command,) = commands
    assert command == ("python", "-m", "common.liveness", "--max-age", str(WORKER_LIVENESS_MAX_AGE_SECONDS))
    services_dir = Path(__file__).resolve().parent.parent / "services"
    heartbeat = tmp_path / "heartbeat.json"
    env_vars = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(services_dir), liveness.HEARTBEAT_FILE_ENV: str(heartbeat)}

    def probe() -> int:
        return subprocess.run([sys.executable, *command[1:]], cwd=services_dir, env=env_vars,
                              capture_output=True, timeout=30).returncode

    assert probe() == 1  # no heartbeat file yet
    now = time.time()
    liveness.write(heartbeat, {"consumer": now, "relay": now})
    assert probe() == 0
    liveness.write(heartbeat, {"consumer": now, "relay": now - WORKER_LIVENESS_MAX_AGE_SECONDS - 5})
    assert probe() == 1  # one loop stuck: the pod is restarted
