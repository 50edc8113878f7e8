"""`make upgrade-check K8S=<next>`: is the app ready for the next Kubernetes version?

- Every Kubernetes object the app applies (the manifests inside the EKS custom resources, tokens standing in as
  text) is validated strictly against the next version's OpenAPI schemas (kubernetes-validate, which ships schemas
  for 1.25 to 1.37). Custom resources (TargetGroupBinding, SecurityGroupPolicy) have no schema there and are listed,
  not validated; Helm charts render in the cluster and are listed with their pinned versions to review.
- Every add-on the app installs must have a pin for the next version in ``config/eks_addons.py``; the table diff
  (current pin -> next pin) says which add-on versions move. So must every chart that file pins per Kubernetes
  version (the Cluster Autoscaler: chart and image tag); other charts are listed to review.
- The kubectl the EKS custom resources run must be within one minor of the next version (Kubernetes' version skew
  policy for kubectl), or applying manifests may fail: the kubectl layer of the next version's row in
  ``config/eks_addons.py`` (it moves with the cluster), or, for a version without one, the layer in the assembly
  (its version in its description).
- EKS moves a cluster one minor per update: a next version more than one minor ahead is reached through every
  version between, each of which needs its row of pins too.
- The order of the move: while the control plane moves to the next minor, the add-ons keep running the versions
  deployed before it, so each of those must be valid on both minors (kube-proxy, built for one minor, moves right
  after it by design). A version bump deploys the control plane and the new row's add-on versions at once; where an
  add-on's current version is not valid on the next minor, that one deploy is unsafe and the upgrade is two: first
  the next row's add-on versions on the current minor (config ``cluster.addons_from``; each must be valid on the
  current minor too, or there is no safe order until the table records one that is), then the version bump.
  Validity comes from the table: the rows that pin a version and the minors its pin records (``also_valid_on``).
Exit status 1 when a manifest fails, the next version has no schemas, an add-on or pinned chart has no pin for it, an
intermediate version has no row, kubectl is out of skew, or an add-on would run a version invalid on a minor the
control plane is on.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import kubernetes_validate
from kubernetes_validate import utils as kv_utils

from config import eks_addons
from config.eks_addons import SAME_MINOR, KubectlLayerPin, addon_row, valid_on
from config.environments import ENVIRONMENTS
from tools.assembly import Assembly, render_tokens
from tools.reports.preflight.addons import ChartTable, PinTable, image_tag, load_chart_pins, load_pins
from tools.reports.preflight.model import CheckResult, Finding

NAME = "upgrade-check"


def supported_versions() -> list[str]:
    return sorted({kv_utils.major_minor(v) for v in kv_utils.all_versions()},
                  key=lambda v: tuple(int(x) for x in v.split(".")))


def built_in(api_version: str) -> bool:
    """Whether an apiVersion belongs to Kubernetes itself (core, `apps`, `*.k8s.io`), not to a CRD."""
    group = api_version.rpartition("/")[0]
    return not group or "." not in group or group.endswith(".k8s.io")


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def _skew(kubectl: str, target: str) -> int:
    return abs(_minor(kubectl)[1] - _minor(target)[1]) if _minor(kubectl)[0] == _minor(target)[0] else 99


def check(assembly: Assembly, environment: str, current: str, target: str, pins: PinTable,
          chart_pins: ChartTable | None = None,
          kubectl_layers: Mapping[str, KubectlLayerPin] | None = None,
          addons_from: str | None = None) -> CheckResult:
    """``addons_from``: the config's ``cluster.addons_from`` (step 1 of the upgrade deployed, or about to be)."""
    findings: list[Finding] = []
    details: list[str] = []
    if target not in supported_versions():
        findings.append(Finding("kubernetes-validate", f"has no schemas for Kubernetes {target} (it covers "
                                                       f"{supported_versions()[0]} to {supported_versions()[-1]})"))
        return CheckResult(NAME, environment, f"{current} -> {target}: no schemas", findings, details)
    validated = skipped = 0
    for o in assembly.kubernetes_objects:
        manifest = render_tokens(o.manifest)
        try:
            kubernetes_validate.validate(manifest, f"{target}.0", strict=True)
            validated += 1
        except kubernetes_validate.SchemaNotFoundError:
            api_version = str(o.manifest.get("apiVersion", ""))
            if built_in(api_version):
                findings.append(Finding(o.ref, f"{api_version} {o.kind} is not served by Kubernetes {target}"))
                continue
            skipped += 1
            details.append(f"not validated (custom resource, no schema): {o.ref}")
        except kubernetes_validate.ValidationError as err:
            path = ".".join(str(p) for p in err.path)
            findings.append(Finding(o.ref, f"invalid for Kubernetes {target}: {path}: {err.message}"))
    next_pins = pins.get(target)
    if next_pins is None:
        findings.append(Finding("config/eks_addons.py", f"no pins for Kubernetes {target}"))
        next_pins = {}
    hops = [f"{_minor(current)[0]}.{m}" for m in range(_minor(current)[1] + 1, _minor(target)[1])]
    step = hops[0] if hops and _minor(current)[0] == _minor(target)[0] else target  # where the control plane goes next
    move_first: list[str] = []
    for r in assembly.resources("AWS::EKS::Addon"):
        name = str(r.properties.get("AddonName"))
        now = pins.get(addon_row(current, name, addons_from), {}).get(name)
        then = next_pins.get(name)
        if then is None:
            findings.append(Finding(r.name, f"add-on {name} has no pin for Kubernetes {target}"))
            continue
        was = now.version if now else "unpinned"
        details.append(f"add-on {name}: {was} -> {then.version}" + ("" if was != then.version else " (unchanged)"))
        if name in SAME_MINOR:
            if not then.version.startswith(f"v{target}."):
                findings.append(Finding(r.name, f"add-on {name} {then.version} (the pin for {target}) is not a "
                                                f"{target} build: {name}'s minor must equal the cluster's"))
            continue  # built for one minor: it follows the control plane in the same deploy
        if now is None or step not in pins:  # a missing row for the next minor is a finding of its own (below)
            continue
        running_on = valid_on(pins, name, now.version)
        if addons_from is not None and current not in running_on:
            findings.append(Finding(r.name, f"add-on {name} {now.version} (the pin for {addons_from}, installed "
                                            f"ahead of the control plane) is not valid on {current}, the cluster's "
                                            "minor: EKS refuses it"))
        elif step not in running_on:
            bridge = pins.get(step, {}).get(name)
            known = ", ".join(sorted(running_on)) or "none"
            if bridge is not None and current in valid_on(pins, name, bridge.version):
                move_first.append(f"{name} {now.version} -> {bridge.version}")
                findings.append(Finding(r.name, f"add-on {name} {now.version} would still run while the control "
                                                f"plane moves to {step}, and is not valid on {step} (valid on: "
                                                f"{known}): moving the version and the add-ons in one deploy is "
                                                f"unsafe; first deploy {bridge.version} on {current} "
                                                f"(config cluster.addons_from = \"{step}\"), then the version"))
            else:
                findings.append(Finding(r.name, f"add-on {name} {now.version} is not valid on {step} (valid on: "
                                                f"{known}) and "
                                                + (f"{bridge.version}, {step}'s pin, is not valid on {current}"
                                                   if bridge else f"{step} has no pin for it")
                                                + f": no version in config/eks_addons.py is valid on both {current} "
                                                  f"and {step}, so no deploy order is safe; record one (its pin's "
                                                  "also_valid_on, from describe-addon-versions' compatibilities)"))
    if move_first:
        details.append(f"order: 1) on {current}, cluster.addons_from = \"{step}\": {'; '.join(move_first)}; "
                       f"2) kubernetes_version = \"{step}\", addons_from unset: control plane, node groups, "
                       "kube-proxy, charts, kubectl layer")
    for g in assembly.resources("AWS::EKS::Nodegroup"):
        details.append(f"node group {g.logical_id}: Version {g.properties.get('Version', 'unset')} -> {target}")
    charts = load_chart_pins() if chart_pins is None else chart_pins
    for h in assembly.helm_releases:
        now_chart, then_chart = charts.get(current, {}).get(h.chart), charts.get(target, {}).get(h.chart)
        if now_chart is None and then_chart is None:
            details.append(f"chart {h.chart} {h.version or '(unpinned)'}: not pinned per Kubernetes version; check "
                           f"its support for Kubernetes {target}")
        elif then_chart is None:
            findings.append(Finding(h.resource.name, f"chart {h.chart} has no pin for Kubernetes {target} in "
                                                     "config/eks_addons.py"))
        else:
            chart_was = f"{h.version or '(unpinned)'} (image {image_tag(h.values) or 'default'})"
            chart_then = f"{then_chart.version} (image {then_chart.image_tag})"
            details.append(f"chart {h.chart}: {chart_was} -> {chart_then}"
                           + (" (unchanged)" if chart_was == chart_then else ""))
    layers = eks_addons.KUBECTL_LAYERS if kubectl_layers is None else kubectl_layers
    for layer in assembly.resources("AWS::Lambda::LayerVersion"):
        m = re.search(r"kubectl (\d+\.\d+)", str(layer.properties.get("Description", "")))
        if not m:
            continue
        pinned = layers.get(target)
        kubectl = pinned.kubectl if pinned else m.group(1)
        where = (f"the kubectl layer of {target}'s row, {pinned.package}" if pinned
                 else f"kubectl layer {layer.logical_id} (no kubectl layer pinned for {target})")
        if _skew(kubectl, target) > 1:
            findings.append(Finding("config/eks_addons.py" if pinned else layer.name,
                                    f"kubectl {kubectl} ({where}) is more than one minor away from Kubernetes "
                                    f"{target}: pin the kubectl layer of {target} (aws-cdk-lib's "
                                    "lambda-layer-kubectl-vNN) in its row"))
        else:
            details.append(f"{where}: kubectl {kubectl} (now {m.group(1)}), within one minor of {target}")
    if hops and _minor(current)[0] == _minor(target)[0]:
        details.append(f"EKS moves one minor per update: {' -> '.join([current, *hops, target])}, a deploy each")
        for hop in hops:
            if hop not in pins:
                findings.append(Finding("config/eks_addons.py", f"no pins for Kubernetes {hop}, which a cluster "
                                                                f"on {current} passes through to reach {target}"))
    figure = f"{current} -> {target}: {validated} objects valid, {skipped} custom resources not validated"
    return CheckResult(NAME, environment, figure, findings, details)


def main(argv: list[str] | None = None) -> int:
    from tools.reports.preflight.runner import load_assembly

    parser = argparse.ArgumentParser(prog="python -m tools.reports.preflight.upgrade",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--k8s", required=True, help="the next Kubernetes version, e.g. 1.35")
    parser.add_argument("--env", action="append", choices=list(ENVIRONMENTS), help="default: all")
    parser.add_argument("--assembly", type=Path)
    args = parser.parse_args(argv)
    pins = load_pins()
    envs: list[str | None] = list(args.env or ([None] if args.assembly else list(ENVIRONMENTS)))
    failed = False
    for env in envs:
        with tempfile.TemporaryDirectory(prefix="preflight.") as workdir:
            assembly, config = load_assembly(env, args.assembly, Path(workdir))
            result = check(assembly, config.name, config.cluster.kubernetes_version, args.k8s, pins,
                           addons_from=config.cluster.addons_from)
        print(result.line())
        for d in result.details:
            print(f"    {d}")
        for f in result.findings:
            print(f"  - {f}")
        failed = failed or not result.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
