"""Prune: objects that share a manifest are kinds kubectl's default prune allowlist removes."""

from __future__ import annotations

from collections.abc import Callable

from tests.preflight.workbench import Workbench
from tools.assembly import encode_json_with_tokens, parse_json_with_tokens
from tools.reports.preflight import prune

KUBERNETES = "Custom::AWSCDK-EKS-KubernetesResource"


def test_only_allowlisted_kinds_share_a_manifest(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    assembly = wb.assembly()
    assert prune.check(assembly, wb.config).ok
    shared = [o for o in assembly.kubernetes_objects
              if sum(1 for x in assembly.kubernetes_objects if x.resource == o.resource) > 1]
    assert {o.kind for o in shared} == {"Service", "Deployment"}


def test_network_policies_in_a_shared_manifest_fail(bench: Callable[[str], Workbench]) -> None:
    """Issue 22, finding 9: main put NetworkPolicies, HPAs, PDBs, the TargetGroupBinding and the SecurityGroupPolicy
    in one manifest with the Deployments; dropped from it, kubectl's default allowlist leaves them in the cluster."""
    wb = bench("dev")
    resources = wb.template("Services")["Resources"]
    policies = [lid for lid, b in resources.items() if b["Type"] == KUBERNETES
                and lid.startswith("ProductsServiceNetworkPolicy")]
    [workloads] = [lid for lid, b in resources.items() if b["Type"] == KUBERNETES
                   and lid.startswith("ProductsServiceWorkloads")]
    docs = parse_json_with_tokens(resources[workloads]["Properties"]["Manifest"])
    for lid in policies:
        docs += parse_json_with_tokens(resources[lid]["Properties"]["Manifest"])
        wb.remove("Services", lid)
    resources[workloads]["Properties"]["Manifest"] = encode_json_with_tokens(docs)
    findings = prune.check(wb.assembly(), wb.config).findings
    assert len(findings) == len(policies) == 3
    assert all(f.resource.startswith(f"Dev-Services/{workloads}: NetworkPolicy products/")
               and "kubectl's default prune allowlist has no NetworkPolicy" in f.message for f in findings)
    del wb.template("Services")["Resources"][workloads]["Properties"]["PruneLabel"]
    findings = prune.check(wb.assembly(), wb.config).findings
    assert len(findings) == len(docs) and all("has no prune label" in f.message for f in findings)
