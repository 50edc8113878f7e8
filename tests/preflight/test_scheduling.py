"""Scheduling simulation: allocatable per EKS's formula, placement rules, and the two scenarios."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from config.instance_types import INSTANCE_TYPES, instance_type
from tests.preflight.workbench import Workbench
from tools.preflight import scheduling
from tools.preflight.assembly import Resource
from tools.preflight.kube import Requests, pod_requests
from tools.preflight.scheduling import NodeGroup, Pod, Workload, allocatable, build_nodes, reserved_cpu_millicores

POD_ENI_LABEL = "platform/pod-eni"


@pytest.mark.parametrize(("vcpus", "millicores"), [(1, 60), (2, 70), (4, 80), (8, 90), (16, 110), (64, 230)])
def test_kube_reserved_cpu_follows_nodeadm(vcpus: int, millicores: int) -> None:
    assert reserved_cpu_millicores(vcpus) == millicores


@pytest.mark.parametrize(("name", "max_pods"), [("t4g.medium", 17), ("t4g.large", 35), ("m7g.medium", 8),
                                                 ("m7g.large", 29), ("c7g.xlarge", 58), ("m6g.2xlarge", 58)])
def test_max_pods_are_the_eni_formula_eks_publishes(name: str, max_pods: int) -> None:
    assert instance_type(name).max_pods == max_pods


def test_allocatable_of_an_m7g_large() -> None:
    a = allocatable(instance_type("m7g.large"))
    assert (a.cpu_millicores, a.pods) == (1930, 29)
    assert a.memory_mib == pytest.approx(8192 * 0.925 - (255 + 11 * 29) - 100)


def test_every_configured_instance_type_is_in_the_table() -> None:
    from config.environments import ENVIRONMENTS

    used = {t for c in ENVIRONMENTS.values() for p in c.cluster.node_pools for t in p.instance_types}
    assert used <= set(INSTANCE_TYPES)
    assert not instance_type("t4g.medium").trunk_eni and instance_type("m7g.large").branch_enis == 9


def test_pod_requests_take_the_larger_of_containers_and_init_containers() -> None:
    spec = {"containers": [{"resources": {"requests": {"cpu": "250m", "memory": "128Mi"}}},
                           {"resources": {"limits": {"cpu": "0.5", "memory": "1Gi"}}}],
            "initContainers": [{"resources": {"requests": {"cpu": "2", "memory": "64Mi"}}},
                               {"restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}}]}
    r = pod_requests(spec)
    # the sidecar starts after the first init container; app containers + sidecar = 850m < 2 CPUs of init
    assert (r.cpu_millicores, r.memory_mib) == (2000, 1152)


# --- placement on synthetic nodes ----------------------------------------------------------------------------------

def group(name: str, types: tuple[str, ...], *, capacity: str = "ON_DEMAND", size: int = 1,
          labels: dict[str, str] | None = None, taints: tuple[dict[str, str], ...] = ()) -> NodeGroup:
    r = Resource("Test-Cluster", name, "AWS::EKS::Nodegroup", {}, {})
    return NodeGroup(r, name, types, capacity, size, size, size, labels or {}, taints, "arm64",
                     ("eu-west-1a", "eu-west-1b", "eu-west-1c"))


def pod(owner: str, cpu: int, **kw: Any) -> Pod:
    return Pod(owner=owner, kind="Deployment", namespace="ns", labels={"app": owner},
               requests=kw.pop("requests", Requests(cpu, 64)), node_selector=kw.pop("node_selector", {}),
               affinity=kw.pop("affinity", {}), tolerations=kw.pop("tolerations", ()), spread=kw.pop("spread", ()))


def nodes_of(*groups: NodeGroup, pod_eni: bool = True) -> list[scheduling.Node]:
    return build_nodes(list(groups), {g.key: g.min_size for g in groups},
                       {g.key: instance_type(g.instance_types[0]) for g in groups}, "eu-west-1", pod_eni)


def test_taints_keep_out_pods_that_do_not_tolerate_them() -> None:
    tainted = group("gpu", ("m7g.large",), taints=({"key": "dedicated", "value": "batch", "effect": "NoSchedule"},))
    out = scheduling.simulate("t", nodes_of(tainted), [Workload(pod("web", 100), 1, 1)], at_max=False)
    assert out.missing == {"web": 1} and "taint dedicated=batch:NoSchedule" in out.why["web"]
    tolerant = pod("batch", 100, tolerations=({"key": "dedicated", "operator": "Exists"},))
    assert not scheduling.simulate("t", nodes_of(tainted), [Workload(tolerant, 1, 1)], at_max=False).missing


def test_node_selectors_match_the_labels_nodes_carry() -> None:
    g = group("pool", ("m7g.large",), capacity="SPOT", labels={POD_ENI_LABEL: "true"})
    wanted = [Workload(pod("a", 100, node_selector={"eks.amazonaws.com/capacityType": "SPOT",
                                                    "kubernetes.io/arch": "arm64", POD_ENI_LABEL: "true"}), 1, 1),
              Workload(pod("b", 100, node_selector={"vpc.amazonaws.com/has-trunk-attached": "true"}), 1, 1)]
    out = scheduling.simulate("t", nodes_of(g), wanted, at_max=False)
    assert out.missing == {"b": 1}
    assert "nodeSelector vpc.amazonaws.com/has-trunk-attached=true" in out.why["b"]


def test_pods_with_security_groups_need_branch_enis() -> None:
    eni = Requests(100, 64, (("vpc.amazonaws.com/pod-eni", 1),))
    small = group("t", ("t4g.medium",))
    out = scheduling.simulate("t", nodes_of(small), [Workload(pod("orders", 100, requests=eni), 1, 1)], at_max=False)
    assert "no trunk ENI" in out.why["orders"]
    m7g = group("m", ("m7g.medium",))  # 4 branch ENIs
    out = scheduling.simulate("t", nodes_of(m7g), [Workload(pod("orders", 100, requests=eni), 5, 5)], at_max=False)
    assert out.missing == {"orders": 1}


def test_hard_zone_spread_and_first_fit_decreasing() -> None:
    g = group("pool", ("m7g.large",), size=3)
    spread = ({"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
               "labelSelector": {"matchLabels": {"app": "api"}}},)
    out = scheduling.simulate("t", nodes_of(g), [Workload(pod("api", 600, spread=spread), 6, 6),
                                                 Workload(pod("small", 50), 3, 3)], at_max=False)
    assert not out.missing
    assert [sum(p.owner == "api" for p in n.pods) for n in out.nodes] == [2, 2, 2]
    out = scheduling.simulate("t", nodes_of(g), [Workload(pod("api", 1000), 6, 6)], at_max=False)
    assert out.missing == {"api": 3} and "not enough cpu" in out.why["api"]


# --- the check on a real assembly -------------------------------------------------------------------------------------

def sized(wb: Workbench) -> Workbench:
    """Prod repaired: node groups with room and the pod-ENI label, Deployments without replicas beside their HPA,
    metrics-server and a node autoscaler installed, orders selecting the label the nodes carry."""
    for body in wb.resources("Cluster", "AWS::EKS::Nodegroup").values():
        p = body["Properties"]
        p["InstanceTypes"] = ["m7g.2xlarge", "m6g.2xlarge"]
        p["Labels"][POD_ENI_LABEL] = "true"
    cluster = next(iter(wb.resources("Cluster", "AWS::EKS::Cluster")))
    wb.add("Cluster", "MetricsServer", {"Type": "AWS::EKS::Addon", "Properties": {
        "AddonName": "metrics-server", "ClusterName": {"Ref": cluster}}})
    wb.add("Cluster", "Autoscaler", {"Type": "Custom::AWSCDK-EKS-HelmChart", "Properties": {
        "Chart": "cluster-autoscaler", "Release": "cluster-autoscaler", "Namespace": "kube-system",
        "Version": "9.59.0", "Values": '{"replicaCount": 1}'}})

    def fix(d: dict[str, Any]) -> None:
        d["spec"].pop("replicas", None)
        selector = d["spec"]["template"]["spec"].get("nodeSelector", {})
        if selector.pop("vpc.amazonaws.com/has-trunk-attached", None):
            selector[POD_ENI_LABEL] = "true"

    assert wb.edit_objects("Services", "Deployment", fix) == 8
    return wb


def test_sized_platform_passes_and_reports_utilisation(bench: Callable[[str], Workbench]) -> None:
    wb = sized(bench("prod"))
    result = scheduling.check(wb.assembly(), wb.config)
    assert result.ok, result.findings
    assert result.figure.startswith("baseline 3xm7g.2xlarge: cpu ") and "; ceiling 18xm6g.2xlarge: " in result.figure


def test_minimum_replicas_that_do_not_fit_the_on_demand_baseline_fail(bench: Callable[[str], Workbench]) -> None:
    wb = sized(bench("prod"))
    baseline = next(b for b in wb.resources("Cluster", "AWS::EKS::Nodegroup").values()
                    if b["Properties"]["CapacityType"] == "ON_DEMAND")
    baseline["Properties"]["ScalingConfig"]["MinSize"] = 1
    baseline["Properties"]["InstanceTypes"] = ["m7g.medium"]
    findings = scheduling.check(wb.assembly(), wb.config).findings
    assert findings
    assert all("minimum replicas do not fit the on-demand baseline (1xm7g.medium)" in f.message for f in findings)
    assert any(f.resource == "Prod-Services/UsersServiceWorkloadsD15A0316: Deployment users/users-worker"
               for f in findings)


def test_maximum_replicas_above_the_node_ceiling_fail(bench: Callable[[str], Workbench]) -> None:
    wb = sized(bench("prod"))
    wb.edit_objects("Services", "HorizontalPodAutoscaler", lambda h: h["spec"].update(maxReplicas=500))
    findings = scheduling.check(wb.assembly(), wb.config).findings
    assert findings and all("maximum replicas exceed the node ceiling" in f.message for f in findings)


def test_replicas_beside_an_hpa_and_missing_autoscalers_fail(bench: Callable[[str], Workbench]) -> None:
    wb = sized(bench("prod"))
    wb.edit_objects("Services", "Deployment", lambda d: d["spec"].update(replicas=3)
                    if d["metadata"]["name"] == "users-api" else None)
    del wb.template("Cluster")["Resources"]["MetricsServer"]
    del wb.template("Cluster")["Resources"]["Autoscaler"]
    findings = scheduling.check(wb.assembly(), wb.config).findings
    users_api = "Prod-Services/UsersServiceWorkloadsD15A0316: Deployment users/users-api"
    assert any(f.resource == users_api and "sets spec.replicas=3 beside its HorizontalPodAutoscaler" in f.message
               for f in findings)
    assert any(f.resource == "assembly" and "without metrics-server" in f.message for f in findings)
    assert any("no node autoscaler" in f.message and "NodeGroup" in f.resource for f in findings)


def test_unknown_instance_type_is_named(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    next(iter(wb.resources("Cluster", "AWS::EKS::Nodegroup").values()))["Properties"]["InstanceTypes"] = ["x9g.huge"]
    [finding] = scheduling.check(wb.assembly(), wb.config).findings
    assert "'x9g.huge' is not in config/instance_types.py" in finding.message
