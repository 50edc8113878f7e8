"""Is the cluster's Kubernetes version still in EKS standard support on the day of the deploy?

After the end of standard support (``standard_support_ends`` of the version's row in ``config/eks_addons.py``, from
the EKS user guide) EKS moves the cluster to extended support: the control plane bills at six times the standard rate
($0.60 instead of $0.10 an hour), which no cost estimate or budget of this project assumes, and at the end of extended
support EKS upgrades the control plane by itself, outside any deploy or review. So a version past its date fails,
unless the environment's config acknowledges it with its reason (a planned upgrade that needs time, with the cost
accepted). A version whose standard support ends within :data:`NOTICE` is a finding too: one minor per deploy, each
with its review and soak time, does not fit in less.

The day is the day the check runs (the deploy job runs the preflight on the assembly it deploys); tests pass their own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from config.eks_addons import ROWS, KubernetesRow
from config.environment import EnvironmentConfig
from tools.assembly import Assembly
from tools.reports.preflight.model import CheckResult, Finding

NAME = "k8s-support"
NOTICE = timedelta(days=30)


def _today() -> date:
    return datetime.now(UTC).date()


def check(assembly: Assembly, config: EnvironmentConfig, rows: dict[str, KubernetesRow] | None = None,
          today: Callable[[], date] = _today) -> CheckResult:
    table = ROWS if rows is None else rows
    day = today()
    findings: list[Finding] = []
    details: list[str] = []
    versions = []
    for cluster in assembly.resources("AWS::EKS::Cluster"):
        version = assembly.literal(cluster.stack, cluster.properties.get("Version"))
        if version is None:
            findings.append(Finding(cluster.name, "has no literal Version: its support window cannot be known"))
            continue
        versions.append(version)
        row = table.get(version)
        if row is None:
            findings.append(Finding(cluster.name, f"Kubernetes {version} has no row in config/eks_addons.py, so no "
                                                  "known end of standard support"))
            continue
        ends = row.standard_support_ends
        newer = [v for v in table if tuple(map(int, v.split("."))) > tuple(map(int, version.split(".")))]
        step = (f"move cluster.kubernetes_version to {newer[0]}" if newer
                else "add the next version's row and move to it")
        if day > ends:
            findings.append(Finding(cluster.name, f"Kubernetes {version} left EKS standard support on {ends} "
                                                  f"({(day - ends).days} days ago): the control plane bills at the "
                                                  f"extended-support rate and EKS upgrades it on its own at the end "
                                                  f"of extended support; {step}"))
        elif ends - day < NOTICE:
            findings.append(Finding(cluster.name, f"Kubernetes {version} leaves EKS standard support on {ends}, in "
                                                  f"{(ends - day).days} days (less than {NOTICE.days}): {step} now"))
        else:
            details.append(f"{cluster.name}: Kubernetes {version} in standard support until {ends} "
                           f"({(ends - day).days} days)")
    figure = ", ".join(f"{v} until {table[v].standard_support_ends}" for v in versions if v in table) or "no cluster"
    return CheckResult(NAME, config.name, f"{figure} (on {day})", findings, details)
