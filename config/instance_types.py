"""EC2 instance types the node pools may use (every type a config names, plus its neighbours), with what EKS makes
of them: vCPUs, memory, pods per node and security-groups-for-pods support.

Sources, read 2026-08 (copied into this table so that synth and the preflight suite stay offline):
- vCPUs and memory: the EC2 instance type pages (https://aws.amazon.com/ec2/instance-types/ : T4g, M6g, M7g, M8g, C6g,
  C7g, C8g, R6g, R7g).
- ENIs and IPv4 addresses per ENI: awslabs/amazon-eks-ami ``nodeadm/internal/kubelet/instance-info.jsonl`` (commit
  81fec2e), the file nodeadm reads at boot; the same numbers as ``pkg/aws/vpc/limits.go`` of
  aws/amazon-vpc-resource-controller-k8s (commit b8d4251).
- Trunk ENI support and branch ENIs (how many pods with their own security group a node carries): ``limits.go``
  above, ``IsTrunkingCompatible`` and ``BranchInterface``. The T family has no trunk ENI.

Max pods is the ENI formula nodeadm applies when no custom expression is set (``CalcMaxPods``:
ENIs x (IPv4 per ENI - 1) + 2); every type here stays under the 110 pods kubelet allows by default.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory_mib: int
    enis: int
    ipv4_per_eni: int
    trunk_eni: bool  # security groups for pods (branch ENIs) supported
    branch_enis: int  # vpc.amazonaws.com/pod-eni the VPC resource controller advertises
    arch: str = "arm64"

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def max_pods(self) -> int:
        return self.enis * (self.ipv4_per_eni - 1) + 2


_GIB = 1024
# (size, vCPUs, memory GiB) per family shape.
_GENERAL = (("medium", 1, 4), ("large", 2, 8), ("xlarge", 4, 16), ("2xlarge", 8, 32))
_COMPUTE = (("medium", 1, 2), ("large", 2, 4), ("xlarge", 4, 8), ("2xlarge", 8, 16))
_MEMORY = (("medium", 1, 8), ("large", 2, 16), ("xlarge", 4, 32), ("2xlarge", 8, 64))
_BURSTABLE = (("medium", 2, 4), ("large", 2, 8), ("xlarge", 4, 16), ("2xlarge", 8, 32))
# Graviton Nitro networking per size: (ENIs, IPv4 per ENI, branch ENIs).
_NITRO = {"medium": (2, 4, 4), "large": (3, 10, 9), "xlarge": (4, 15, 18), "2xlarge": (4, 15, 38)}
_T4G = {"medium": (3, 6), "large": (3, 12), "xlarge": (4, 15), "2xlarge": (4, 15)}


def _family(family: str, shape: tuple[tuple[str, int, int], ...]) -> list[InstanceType]:
    out = []
    for size, vcpus, gib in shape:
        if family == "t4g":
            enis, ips = _T4G[size]
            out.append(InstanceType(f"{family}.{size}", vcpus, gib * _GIB, enis, ips, False, 0))
        else:
            enis, ips, branches = _NITRO[size]
            out.append(InstanceType(f"{family}.{size}", vcpus, gib * _GIB, enis, ips, True, branches))
    return out


INSTANCE_TYPES: dict[str, InstanceType] = {
    t.name: t
    for t in (
        *_family("t4g", _BURSTABLE),
        *_family("m6g", _GENERAL), *_family("m7g", _GENERAL), *_family("m8g", _GENERAL),
        *_family("c6g", _COMPUTE), *_family("c7g", _COMPUTE), *_family("c8g", _COMPUTE),
        *_family("r6g", _MEMORY), *_family("r7g", _MEMORY),
    )
}

# Families whose every size carries trunk ENIs (security groups for pods).
TRUNK_ENI_FAMILIES = frozenset(t.family for t in INSTANCE_TYPES.values() if t.trunk_eni)


def instance_type(name: str) -> InstanceType:
    """The committed figures for ``name``; KeyError names the type when the table lacks it."""
    try:
        return INSTANCE_TYPES[name]
    except KeyError:
        raise KeyError(f"instance type {name!r} is not in config/instance_types.py; add it with its sources") from None
