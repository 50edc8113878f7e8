"""The Services stack: per service, its image, identity, workloads and binding; manifests valid Kubernetes; the
configuration each service reads is exactly what the stack renders."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest

from cdk_constructs.workload_manifests import WorkloadSpec, manifests
from config.environments import DEV
from config.topology import SERVICES, Service
from stacks.services_stack import EnvironmentContractError, check_environment, env_contract
from tests.conftest import Synthesized

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
    assert env_contract().check(service.value, frozenset(rendered), telemetry=True) is None
    assert set(env_contract().REQUIRED[service.value]) < rendered


@pytest.mark.parametrize(("change", "message"), [
    (lambda e: e.pop("TABLE_NAME"), "users: environment variable TABLE_NAME is read by the service but not rendered"),
    (lambda e: e.update(SERVICE_NAME="users"), "users: environment variable SERVICE_NAME is rendered but not declared"),
])
def test_a_missing_or_extra_variable_fails_synth_naming_it(change: Any, message: str) -> None:
    environment = dict.fromkeys(env_contract().REQUIRED["users"], "x")
    change(environment)
    with pytest.raises(EnvironmentContractError, match=f"^{message}"):
        check_environment(Service.USERS, environment, telemetry=False)


@pytest.mark.parametrize("service", list(SERVICES))
def test_manifests_are_valid_kubernetes(service: Service) -> None:
    spec = WorkloadSpec(name=service.value, image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/x:tag",
                        environment={"AWS_REGION": "eu-west-1", "DB_SECRET_ARN": "arn", "PRODUCTS_URL": "http://p"},
                        sizing=DEV.services, target_group_arn="arn:aws:elasticloadbalancing:tg",
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
    for _, m in applied_manifests(env):
        if m["kind"] != "Deployment":
            continue
        selector = m["spec"]["template"]["spec"]["nodeSelector"]
        assert selector["kubernetes.io/arch"] == "arm64"
        trunk = selector.get("vpc.amazonaws.com/has-trunk-attached") == "true"
        assert trunk == (m["metadata"]["namespace"] == "orders"), m["metadata"]["name"]
