"""`python -m tools.reports.bootstrap_policy ASSEMBLY` (`make bootstrap-policy ENV=...`): the CloudFormation execution
policy for ``cdk bootstrap --cloudformation-execution-policies``, limited to what this app's templates create.

Instead of the bootstrap's default ``AdministratorAccess``, the policy allows exactly the actions that CloudFormation
itself needs to create, read, update and delete the resource types found in the synthesized templates. Those come
from the CloudFormation resource provider schemas (their ``handlers.*.permissions``), as shipped with cfn-lint (a pinned
development dependency), so nothing is guessed or fetched. Then:

* only actions of the services the templates create are kept: a provider's handler may list actions for features or
  integrations this app does not use (a WAF association handler can associate with Amplify or AppSync, a bucket
  handler with S3 Tables); those are dropped and listed in the summary;
* an action wildcard in a schema (``dynamodb:Describe*``) is replaced by the actions it stands for (:data:`EXPANSIONS`);
  the policy has no wildcard action at all, which a test checks;
* types without a provider schema get curated actions (:data:`EXTRA`): custom resources (CloudFormation invokes their
  Lambda), the SAM transform behind ``AWS::Serverless::Application`` (secret rotation from the Serverless
  Application Repository) and the SSM parameter read behind every template's ``BootstrapVersion`` parameter.

Resources stay ``*``: the app names few of its resources, so the actions are the boundary. Written to
``cdk.out/bootstrap-policy.json`` (the whole policy, for review) and ``bootstrap-policy.part-N.json`` (the same
statements split so that each fits the 6,144-character limit of an IAM managed policy).
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

import cfnlint

from tools.assembly import Assembly, AssemblyError

SCHEMAS = Path(cfnlint.__file__).resolve().parent / "data" / "schemas"
HANDLERS = ("create", "read", "update", "delete")
MANAGED_POLICY_MAX_CHARS = 6144

# CloudFormation namespace -> IAM service prefix, where they differ from the lowercase namespace.
PREFIXES = {
    "Cognito": "cognito-idp",
    "ElasticLoadBalancingV2": "elasticloadbalancing",
    "ApplicationAutoScaling": "application-autoscaling",
    "Serverless": "serverlessrepo",
    "CertificateManager": "acm",
    "Elasticsearch": "es",
    "StepFunctions": "states",
}

# Action wildcards found in provider schemas, spelt out.
EXPANSIONS: dict[str, tuple[str, ...]] = {
    "dynamodb:Describe*": ("dynamodb:DescribeTable", "dynamodb:DescribeContinuousBackups",
                           "dynamodb:DescribeContributorInsights", "dynamodb:DescribeKinesisStreamingDestination",
                           "dynamodb:DescribeTimeToLive", "dynamodb:DescribeTableReplicaAutoScaling"),
    "application-autoscaling:Describe*": ("application-autoscaling:DescribeScalableTargets",
                                          "application-autoscaling:DescribeScalingPolicies",
                                          "application-autoscaling:DescribeScheduledActions"),
}

# Types without a provider schema (or needing more than it says): (actions, other types whose handlers apply).
EXTRA: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "AWS::CDK::Metadata": ((), ()),
    "Custom::*": (("lambda:InvokeFunction",), ()),
    "AWS::CloudFormation::CustomResource": (("lambda:InvokeFunction",), ()),
    # The SAM transform expands the application into a nested stack of the application's template.
    "AWS::Serverless::Application": (
        ("cloudformation:CreateChangeSet", "serverlessrepo:GetApplication", "serverlessrepo:GetCloudFormationTemplate",
         "serverlessrepo:CreateCloudFormationTemplate", "s3:GetObject"),
        ("AWS::CloudFormation::Stack", "AWS::Lambda::Function", "AWS::Lambda::Permission", "AWS::IAM::Role",
         "AWS::EC2::SecurityGroup"),
    ),
    # Every CDK template's BootstrapVersion parameter is an SSM parameter CloudFormation resolves. DescribeStacks is
    # named here rather than left to whichever provider schema happens to list it (today the nested stack's):
    # CloudFormation reads other stacks with this role when it resolves a nested stack's outputs (the secret
    # rotation application) and Fn::GetStackOutput, and a deploy missing it fails late, half-way through a stack.
    "<template>": (("ssm:GetParameters", "cloudformation:DescribeStacks"), ()),
}


def prefix_of(resource_type: str) -> str:
    namespace = resource_type.split("::")[1]
    return PREFIXES.get(namespace, namespace.lower())


@cache
def _provider_index(region: str) -> dict[str, str]:
    path = SCHEMAS / "providers" / f"{region}.json"
    if not path.exists():
        path = SCHEMAS / "providers" / "us-east-1.json"
    index: dict[str, str] = json.loads(path.read_text())
    return index


def handler_permissions(resource_type: str, region: str) -> set[str]:
    """The create/read/update/delete handler permissions of a registry resource type (empty if it has none)."""
    schema_id = _provider_index(region).get(resource_type)
    if schema_id is None:
        return set()
    schema = json.loads((SCHEMAS / "resources" / f"{schema_id}.json").read_text())
    return {a for h in HANDLERS for a in schema.get("handlers", {}).get(h, {}).get("permissions", [])}


def _extra_key(resource_type: str) -> str | None:
    if resource_type in EXTRA:
        return resource_type
    if resource_type.startswith("Custom::"):
        return "Custom::*"
    return None


def resource_types(assembly: Path) -> tuple[set[str], str]:
    """Resource types of every stack in the assembly, and the region they deploy to."""
    try:
        stacks = Assembly(assembly).stacks.values()
    except AssemblyError as err:
        raise SystemExit(f"bootstrap-policy: {err}") from err
    types = {r.type for s in stacks for r in s.resources.values()}
    if not types:
        raise SystemExit(f"bootstrap-policy: no stack templates in {assembly}")
    return types, sorted(s.region or "us-east-1" for s in stacks)[0]


def build_policy(types: set[str], region: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(policy document, summary of how it was derived)."""
    all_types = set(types)
    for t in types:
        key = _extra_key(t)
        if key:
            all_types |= set(EXTRA[key][1])
    services = {prefix_of(t) for t in all_types if not t.startswith("Custom::") and t != "AWS::CDK::Metadata"}
    actions: set[str] = set(EXTRA["<template>"][0])
    unknown: list[str] = []
    for t in sorted(all_types):
        found = handler_permissions(t, region)
        key = _extra_key(t)
        if key:
            found |= set(EXTRA[key][0])
        elif not found:
            unknown.append(t)
        actions |= found
    if unknown:
        raise SystemExit("bootstrap-policy: no provider schema or curated actions for "
                         + ", ".join(unknown) + " (add them to EXTRA in tools/reports/bootstrap_policy.py)")
    expanded: set[str] = set()
    for a in actions:
        expanded |= set(EXPANSIONS.get(a, (a,)))
    wildcards = sorted(a for a in expanded if "*" in a and a.split(":")[0] in services)
    if wildcards:
        raise SystemExit("bootstrap-policy: spell out these wildcards in EXPANSIONS: " + ", ".join(wildcards))
    # IAM action names are case-insensitive; schemas sometimes differ in case: keep one spelling.
    by_lower: dict[str, str] = {}
    for a in sorted(expanded):
        by_lower.setdefault(a.lower(), a)
    kept = sorted(a for a in by_lower.values() if a.split(":")[0] in services or a in EXTRA["<template>"][0])
    dropped = sorted(a for a in by_lower.values() if a not in kept)
    per_service: dict[str, list[str]] = {}
    for a in kept:
        per_service.setdefault(a.split(":")[0], []).append(a)
    statements = [{"Sid": _sid(svc), "Effect": "Allow", "Action": acts, "Resource": "*"}
                  for svc, acts in sorted(per_service.items())]
    policy = {"Version": "2012-10-17", "Statement": statements}
    summary = {"resource_types": sorted(types), "services": sorted(per_service), "actions": len(kept),
               "dropped_actions_of_other_services": dropped}
    return policy, summary


def _sid(service: str) -> str:
    return "".join(part.capitalize() for part in service.replace("_", "-").split("-")) + "ForCloudFormation"


def _size(doc: dict[str, Any]) -> int:
    return len(json.dumps(doc, separators=(",", ":")))


def split_policy(policy: dict[str, Any], limit: int = MANAGED_POLICY_MAX_CHARS) -> list[dict[str, Any]]:
    """The statements packed into as few documents as fit ``limit`` characters each (a service's statement is split
    into several if it alone is too large)."""
    pieces: list[dict[str, Any]] = []
    for st in policy["Statement"]:
        chunk: list[str] = []
        for action in st["Action"]:
            candidate = {**st, "Action": [*chunk, action]}
            if chunk and _size({"Version": "2012-10-17", "Statement": [candidate]}) > limit - 64:
                pieces.append({**st, "Sid": f"{st['Sid']}{len(pieces)}", "Action": chunk})
                chunk = []
            chunk.append(action)
        pieces.append({**st, "Sid": f"{st['Sid']}{len(pieces)}" if len(chunk) < len(st["Action"]) else st["Sid"],
                       "Action": chunk})
    docs: list[dict[str, Any]] = []
    for piece in pieces:
        if docs and _size({**docs[-1], "Statement": [*docs[-1]["Statement"], piece]}) <= limit:
            docs[-1]["Statement"].append(piece)
        else:
            docs.append({"Version": "2012-10-17", "Statement": [piece]})
    return docs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="CloudFormation execution policy for cdk bootstrap")
    parser.add_argument("assembly", type=Path, help="synthesized cloud assembly (e.g. cdk.out)")
    parser.add_argument("--out", type=Path, default=Path("cdk.out/bootstrap-policy.json"))
    args = parser.parse_args(argv)
    types, region = resource_types(args.assembly)
    policy, summary = build_policy(types, region)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(policy, indent=2) + "\n")
    for old in args.out.parent.glob(f"{args.out.stem}.part-*.json"):
        old.unlink()
    parts = split_policy(policy)
    for i, doc in enumerate(parts, 1):
        args.out.with_name(f"{args.out.stem}.part-{i}.json").write_text(json.dumps(doc, indent=2) + "\n")
    args.out.with_name(f"{args.out.stem}.summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"bootstrap-policy: {summary['actions']} actions of {len(summary['services'])} services "
          f"({', '.join(summary['services'])}) for {len(types)} resource types -> {args.out} "
          f"and {len(parts)} managed-policy part(s); {len(summary['dropped_actions_of_other_services'])} actions of "
          "services the app does not create left out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
