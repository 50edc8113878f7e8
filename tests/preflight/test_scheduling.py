"""Scheduling simulation: allocatable per EKS's formula, placement rules, and the two scenarios."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from config.instance_types import INSTANCE_TYPES, instance_type
from tests.preflight.workbench import Workbench
from tools.assembly import Assembly, Resource, encode_json_with_tokens
from tools.reports.preflight import scheduling
from tools.reports.preflight.kube import Requests, pod_requests
from tools.reports.preflight.rollout import max_surge
from tools.reports.preflight.scheduling import (
    NodeGroup,
    Pod,
    Workload,
    allocatable,
    build_nodes,
    reserved_cpu_millicores,
)

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
    """Prod as the check wants it, repaired only where the app lacks it: node groups labelled for pod ENIs,
    Deployments without replicas beside their HPA, metrics-server and a node autoscaler installed, orders selecting
    the label the nodes carry."""
    for body in wb.resources("Cluster", "AWS::EKS::Nodegroup").values():
        body["Properties"].setdefault("Labels", {})[POD_ENI_LABEL] = "true"
    cluster = next(iter(wb.resources("Cluster", "AWS::EKS::Cluster")))
    addons = {b["Properties"]["AddonName"] for b in wb.resources("Cluster", "AWS::EKS::Addon").values()}
    if "metrics-server" not in addons:
        wb.add("Cluster", "MetricsServer", {"Type": "AWS::EKS::Addon", "Properties": {
            "AddonName": "metrics-server", "ClusterName": {"Ref": cluster}}})
    if not [p for p, _ in wb.helm_values("Cluster") if p["Chart"] == "cluster-autoscaler"]:
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


def groups_of(wb: Workbench, capacity: str) -> list[dict[str, Any]]:
    """The node groups of ``capacity`` open to the services (not a pool tainted for one workload, the load pool)."""
    return [b["Properties"] for b in wb.resources("Cluster", "AWS::EKS::Nodegroup").values()
            if b["Properties"]["CapacityType"] == capacity and not b["Properties"].get("Taints")]


def autoscaler_values(wb: Workbench, edit: Callable[[dict[str, Any]], None]) -> None:
    for props, values in wb.helm_values("Cluster"):
        if props["Chart"] == "cluster-autoscaler":
            edit(values)
            props["Values"] = encode_json_with_tokens(values)


def deployment_ref(assembly: Assembly, name: str) -> str:
    return next(o.ref for o in assembly.objects("Deployment") if o.name == name)


def test_sized_platform_passes_and_reports_utilisation(bench: Callable[[str], Workbench]) -> None:
    wb = sized(bench("prod"))
    [baseline] = groups_of(wb, "ON_DEMAND")
    result = scheduling.check(wb.assembly(), wb.config)
    assert result.ok, result.findings
    first = baseline["InstanceTypes"][0]
    assert result.figure.startswith(f"baseline {baseline['ScalingConfig']['MinSize']}x{first}: cpu ")
    ceiling = result.details[1]
    assert ceiling.startswith("ceiling ")
    every_max = sum(b["Properties"]["ScalingConfig"]["MaxSize"]
                    for b in wb.resources("Cluster", "AWS::EKS::Nodegroup").values())
    assert sum(int(n) for n in re.findall(r"(\d+)x", ceiling.split(":")[0])) == every_max
    assert result.details[2].startswith("rollout ") and "maxSurge" in result.details[2]


def test_minimum_replicas_that_do_not_fit_the_on_demand_baseline_fail(bench: Callable[[str], Workbench]) -> None:
    wb = sized(bench("prod"))
    [baseline] = groups_of(wb, "ON_DEMAND")
    baseline["ScalingConfig"]["MinSize"] = 1
    baseline["InstanceTypes"] = ["m7g.medium"]
    assembly = wb.assembly()
    findings = [f for f in scheduling.check(assembly, wb.config).findings if "minimum replicas" in f.message]
    assert findings
    assert all("minimum replicas do not fit the on-demand baseline (1xm7g.medium)" in f.message for f in findings)
    assert any(f.resource == deployment_ref(assembly, "users-worker") for f in findings)


def test_maximum_replicas_above_the_node_ceiling_fail(bench: Callable[[str], Workbench]) -> None:
    wb = sized(bench("prod"))
    wb.edit_objects("Services", "HorizontalPodAutoscaler", lambda h: h["spec"].update(maxReplicas=500))
    findings = scheduling.check(wb.assembly(), wb.config).findings
    assert findings and all("maximum replicas exceed the node ceiling" in f.message for f in findings)


def test_replicas_beside_an_hpa_and_missing_autoscalers_fail(bench: Callable[[str], Workbench]) -> None:
    wb = sized(bench("prod"))
    wb.edit_objects("Services", "Deployment", lambda d: d["spec"].update(replicas=3)
                    if d["metadata"]["name"] == "users-api" else None)
    for lid, body in list(wb.template("Cluster")["Resources"].items()):
        props = body.get("Properties", {})
        if props.get("AddonName") == "metrics-server" or props.get("Chart") == "cluster-autoscaler":
            wb.remove("Cluster", lid)
    assembly = wb.assembly()
    findings = scheduling.check(assembly, wb.config).findings
    assert any(f.resource == deployment_ref(assembly, "users-api")
               and "sets spec.replicas=3 beside its HorizontalPodAutoscaler" in f.message for f in findings)
    assert any(f.resource == "assembly" and "without metrics-server" in f.message for f in findings)
    assert any("no node autoscaler" in f.message and "NodeGroup" in f.resource for f in findings)


def test_chart_pods_go_where_their_values_pin_them(bench: Callable[[str], Workbench]) -> None:
    """The Cluster Autoscaler's chart values pin it to on-demand nodes: with no node carrying that label it has
    nowhere to run."""
    wb = sized(bench("prod"))
    pinned = {}
    autoscaler_values(wb, lambda v: pinned.update(v["nodeSelector"]))
    key, value = next((k, v) for k, v in pinned.items() if k != "kubernetes.io/arch")
    for group in groups_of(wb, "ON_DEMAND"):
        group["Labels"][key] = f"not-{value}"
    findings = scheduling.check(wb.assembly(), wb.config).findings
    autoscaler = [f for f in findings if f.resource == "Deployment kube-system/cluster-autoscaler (chart "
                                                       "cluster-autoscaler)"]
    assert autoscaler and f"nodeSelector {key}={value}" in autoscaler[0].message


def test_pods_with_branch_enis_do_not_scale_a_group_up_from_zero(bench: Callable[[str], Workbench]) -> None:
    """Without the resource tag, the autoscaler's template of a Spot group at zero nodes lacks
    vpc.amazonaws.com/pod-eni: the orders pods' maxima must fit the on-demand groups, unless the Spot group's tags
    advertise the resource (as the app's do)."""
    wb = sized(bench("prod"))
    tag = f"{scheduling.CA_TEMPLATE_RESOURCE_TAG}vpc.amazonaws.com/pod-eni"
    for group in groups_of(wb, "SPOT"):
        assert group["Tags"].pop(tag) == "9"  # what the app sets: m6g.large/m7g.large carry 9 branch ENIs
    for group in groups_of(wb, "ON_DEMAND"):
        group["ScalingConfig"]["MaxSize"] = group["ScalingConfig"]["MinSize"]
    wb.edit_objects("Services", "HorizontalPodAutoscaler", lambda h: h["spec"].update(maxReplicas=30)
                    if h["metadata"]["namespace"] == "orders" else None)
    assembly = wb.assembly()
    findings = scheduling.check(assembly, wb.config).findings
    assert findings and {f.resource for f in findings} <= {deployment_ref(assembly, "orders-api"),
                                                           deployment_ref(assembly, "orders-worker")}
    assert all("maximum replicas exceed the node ceiling" in f.message
               and "its template node has no vpc.amazonaws.com/pod-eni" in f.message for f in findings)
    for group in groups_of(wb, "SPOT"):
        assert group["ScalingConfig"]["MinSize"] == 0
        group["Tags"][tag] = "9"
    assert not [f for f in scheduling.check(wb.assembly(), wb.config).findings if "template node" in f.message]


def test_a_group_no_expander_priority_matches_never_grows(bench: Callable[[str], Workbench]) -> None:
    wb = sized(bench("prod"))
    autoscaler_values(wb, lambda v: v.update(expanderPriorities="50:\n  - ^eks-nothing-.*\n"))
    findings = scheduling.check(wb.assembly(), wb.config).findings
    growing = [lid for lid, b in wb.resources("Cluster", "AWS::EKS::Nodegroup").items()
               if b["Properties"]["ScalingConfig"]["MaxSize"] > b["Properties"]["ScalingConfig"]["MinSize"]]
    never = [f for f in findings if "the priority expander never scales it up" in f.message]
    assert sorted(f.resource.split(" ")[0] for f in never) == sorted(f"Prod-Cluster/{lid}" for lid in growing)
    # ...so those groups stay at their minimum, and the maxima no longer fit
    assert all("maximum replicas exceed the node ceiling" in f.message for f in findings if f not in never)


@pytest.mark.parametrize(("strategy", "replicas", "surge"), [
    (None, 3, 1), ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2}}, 3, 2),
    ({"rollingUpdate": {"maxSurge": "50%"}}, 3, 2), ({"type": "Recreate"}, 3, 0)])
def test_max_surge_follows_the_deployment_strategy(strategy: dict[str, Any] | None, replicas: int,
                                                   surge: int) -> None:
    spec: dict[str, Any] = {"strategy": strategy} if strategy else {}
    assert max_surge({"kind": "Deployment", "spec": spec}, replicas) == surge


def test_unknown_instance_type_is_named(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    next(iter(wb.resources("Cluster", "AWS::EKS::Nodegroup").values()))["Properties"]["InstanceTypes"] = ["x9g.huge"]
    [finding] = scheduling.check(wb.assembly(), wb.config).findings
    assert "'x9g.huge' is not in config/instance_types.py" in finding.message


def test_a_surge_at_maximum_replicas_that_finds_no_node_fails(bench: Callable[[str], Workbench]) -> None:
    """A rollout while the HPAs hold their maxima starts each Deployment's maxSurge on top (the APIs' whole
    ReplicaSet): with fewer burst nodes the maxima still fit but the surge does not, and the rollout never
    completes. The app's sizes fit it."""
    wb = sized(bench("prod"))
    assert scheduling.check(wb.assembly(), wb.config).ok
    assert scheduling.peak_surge_waiting(wb.assembly()) == 0
    [baseline] = groups_of(wb, "ON_DEMAND")
    baseline["ScalingConfig"]["MaxSize"] = baseline["ScalingConfig"]["MinSize"]  # no on-demand growth
    findings = scheduling.check(wb.assembly(), wb.config).findings
    assert findings and all("maximum + maxSurge" in f.message and "never completes its rollout" in f.message
                            for f in findings), findings
    assert scheduling.peak_surge_waiting(wb.assembly()) > 0
