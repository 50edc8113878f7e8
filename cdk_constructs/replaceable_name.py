"""Physical names that never block a replacement or a re-created stack.

Some resources must be named before they exist: EKS and RDS write their logs to log groups named after the cluster,
and those log groups are created first (with the logs CMK and a retention) so the services do not create them
unencrypted and kept forever. A fixed name has two failure modes:

* a change CloudFormation can only make by replacing the resource creates the new one first, under the same name,
  which fails ("already exists");
* a stack that is deleted and created again (a stateless stack torn down and redeployed, or any stack after a
  teardown) finds its RETAINed log groups still there, and its first create fails the same way.

So such names are ``<prefix>-<fingerprint>-<stack>``: ``fingerprint`` is a short hash of the resource's
replacement-forcing ("create-only") properties as this template resolves them, so any change that replaces the
resource also renames it, and the log group named after it follows (a new one is created; the old one is retained
or deleted by the environment's removal mode); ``stack`` is the first block of the stack's id, new for every
creation of the stack and stable for its life. The name is thus a CloudFormation expression, resolved at deploy.

A replacement caused by a referenced resource's new physical id under an unchanged logical id is not seen here (the
template's references are the same); the strong cross-stack references make those fail loudly at deploy instead.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import jsii

# Create-only properties of the resource types named this way (the CloudFormation resource provider schemas'
# createOnlyProperties, less the name itself); tests/test_replaceable_name.py checks them against the schemas.
CREATE_ONLY: dict[str, tuple[str, ...]] = {
    "AWS::EKS::Cluster": ("OutpostConfig", "EncryptionConfig", "KubernetesNetworkConfig/IpFamily",
                          "KubernetesNetworkConfig/ServiceIpv4Cidr",
                          "AccessConfig/BootstrapClusterCreatorAdminPermissions", "RoleArn",
                          "BootstrapSelfManagedAddons"),
    "AWS::EKS::Nodegroup": ("CapacityType", "RemoteAccess", "NodeRole", "ClusterName", "InstanceTypes", "DiskSize",
                            "AmiType", "Subnets"),
    "AWS::RDS::DBCluster": ("ClusterScalabilityType", "DBSubnetGroupName", "DBSystemId", "DatabaseName",
                            "EngineMode", "KmsKeyId", "PubliclyAccessible", "RestoreToTime", "RestoreType",
                            "SnapshotIdentifier", "SourceDBClusterIdentifier", "SourceDbClusterResourceId",
                            "SourceRegion", "StorageEncrypted", "UseLatestRestorableTime"),
}
FINGERPRINT_LENGTH = 8


def stack_creation_id() -> str:
    """The first block of ``AWS::StackId``'s UUID: 8 hex digits, new for every creation of the stack."""
    return cdk.Fn.select(0, cdk.Fn.split("-", cdk.Fn.select(2, cdk.Fn.split("/", cdk.Aws.STACK_ID))))


def create_only_values(resource: cdk.CfnResource) -> dict[str, Any]:
    """The resource's create-only properties, resolved as they will appear in its template."""
    props = resource._cfn_properties
    paths = CREATE_ONLY[resource.cfn_resource_type]
    tops = {_camel(path.split("/")[0]) for path in paths}
    # Only these: the name itself (this very value) must not be resolved here.
    resolved = cdk.Stack.of(resource).resolve({k: props[k] for k in props if k in tops})
    out: dict[str, Any] = {}
    for path in paths:
        node: Any = resolved
        for part in path.split("/"):
            node = node.get(_camel(part)) if isinstance(node, dict) else None
        if node is not None:
            out[path] = node
    return out


def _camel(cfn_property: str) -> str:
    return cfn_property[:1].lower() + cfn_property[1:]


def fingerprint(resource: cdk.CfnResource) -> str:
    text = json.dumps(create_only_values(resource), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:FINGERPRINT_LENGTH]


@jsii.implements(cdk.IStableStringProducer)
class _Fingerprint:
    def __init__(self, resource: Callable[[], cdk.CfnResource]) -> None:
        self._resource = resource

    def produce(self) -> str:
        return fingerprint(self._resource())


def replaceable_name(prefix: str, resource: Callable[[], cdk.CfnResource]) -> str:
    """``<prefix>-<fingerprint of resource's create-only properties>-<stack creation id>``. ``resource`` is called at
    synth time, so the name can be given to the construct that creates the resource."""
    return cdk.Fn.join("-", [prefix, cdk.Lazy.string(_Fingerprint(resource)), stack_creation_id()])


def per_stack_creation_name(prefix: str) -> str:
    """``<prefix>-<stack creation id>``, for a resource whose only create-only property is its name (a log group)."""
    return cdk.Fn.join("-", [prefix, stack_creation_id()])
