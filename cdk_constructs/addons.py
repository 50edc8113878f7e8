"""EKS managed add-ons at the versions of the committed compatibility table (``config/eks_addons.py``)."""

from __future__ import annotations

from typing import Any, cast

from aws_cdk import aws_eks as eks_l1
from aws_cdk import aws_eks_v2 as eks
from constructs import Construct

from config.eks_addons import AddonPin, addon_pin

OVERWRITE = "OVERWRITE"


def pinned_addon(scope: Construct, construct_id: str, *, cluster: eks.ICluster, kubernetes_version: str, name: str,
                 configuration_values: dict[str, Any] | None = None, addons_from: str | None = None) -> eks.Addon:
    """``name`` at the table's version for ``kubernetes_version``. EKS installs vpc-cni, CoreDNS and kube-proxy itself
    (self-managed) when it creates the cluster; creating the managed add-on over such a copy with changed settings
    fails with ConfigurationConflict unless EKS may overwrite the fields it manages, so those get OVERWRITE (the
    aws_eks_v2 ``Addon`` has no such property: set on its ``AWS::EKS::Addon``). ``addons_from``: step 1 of an
    upgrade (config ``cluster.addons_from``)."""
    pin = addon_pin(kubernetes_version, name, addons_from)
    addon = eks.Addon(scope, construct_id, cluster=cluster, addon_name=pin.name, addon_version=pin.version,
                      configuration_values=configuration_values)
    resolve_conflicts(addon, pin)
    return addon


def pin_existing(addon: eks.IAddon, *, kubernetes_version: str, addons_from: str | None = None) -> None:
    """An add-on a library created without a version (aws_eks_v2's Pod Identity agent) gets the table's."""
    cfn = cast(eks_l1.CfnAddon, addon.node.default_child)
    pin = addon_pin(kubernetes_version, cfn.addon_name, addons_from)
    cfn.addon_version = pin.version
    resolve_conflicts(addon, pin)


def resolve_conflicts(addon: eks.IAddon, pin: AddonPin) -> None:
    """Every add-on, not only those created over a self-managed copy: on an update (each Kubernetes upgrade moves
    them) EKS resolves conflicts as NONE when the property is unset, and UpdateAddon fails on any field another
    manager changed. The settings live in the templates (``configuration_values``), so EKS may overwrite the rest."""
    del pin  # every pin is resolved the same way; kept in the signature for the callers' symmetry
    cast(eks_l1.CfnAddon, addon.node.default_child).resolve_conflicts = OVERWRITE
