"""Delivery stack: GitHub OIDC trust is exact, and a deploy role can do nothing but assume the CDK bootstrap roles."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdk_constructs.github_deploy import BOOTSTRAP_ROLE_KINDS, MAX_SESSION_HOURS
from policies.report import read_findings
from tests.synthesis import Synthesized
from tools.assembly import Assembly


def _roles(env: Synthesized) -> dict[str, dict[str, Any]]:
    return env.resources("Delivery", "AWS::IAM::Role")


def test_one_provider_and_one_role_per_environment(env: Synthesized) -> None:
    providers = env.resources("Delivery", "AWS::IAM::OIDCProvider")
    assert [p["Properties"] for p in providers.values()] == [{
        "ClientIdList": ["sts.amazonaws.com"],
        "Url": "https://token.actions.githubusercontent.com",
        "Tags": [{"Key": "application", "Value": "ecommerce-platform"},
                 {"Key": "environment", "Value": env.config.name}],
    }]
    assert len(_roles(env)) == 1
    # Native resources only: no custom resource (and so no Lambda) is needed for the provider.
    types = {r["Type"] for r in env.template_json("Delivery")["Resources"].values()}
    assert types - {"AWS::CDK::Metadata"} == {"AWS::IAM::OIDCProvider", "AWS::IAM::Role", "AWS::IAM::ManagedPolicy"}


def test_trust_policy_is_this_repository_and_environment_only(env: Synthesized) -> None:
    (role,) = _roles(env).values()
    (provider_id,) = env.resources("Delivery", "AWS::IAM::OIDCProvider")
    assert role["Properties"]["AssumeRolePolicyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [{
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Effect": "Allow",
            "Principal": {"Federated": {"Ref": provider_id}},
            "Condition": {"StringEquals": {
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub":
                    f"repo:{env.config.github_repository}:environment:{env.config.name}",
            }},
        }],
    }
    assert role["Properties"]["RoleName"] == f"github-deploy-{env.config.name}"
    # A whole first deploy outlasts an hour; deploy.yml asks for this very duration (tests/test_workflows.py).
    assert role["Properties"]["MaxSessionDuration"] == MAX_SESSION_HOURS * 3600 >= 3 * 3600


def test_deploy_role_can_only_assume_the_bootstrap_roles(env: Synthesized) -> None:
    ((role_id, role),) = _roles(env).items()
    props = role["Properties"]
    # Nothing inline, no permissions boundary, and the only policy anywhere is the one managed policy below.
    assert "Policies" not in props and "PermissionsBoundary" not in props and "ManagedPolicyArns" not in props
    resources = env.template_json("Delivery")["Resources"]
    assert not [r for r in resources.values() if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::RolePolicy")]
    (policy,) = env.resources("Delivery", "AWS::IAM::ManagedPolicy").values()
    assert policy["Properties"]["Roles"] == [{"Ref": role_id}]
    assert "Users" not in policy["Properties"] and "Groups" not in policy["Properties"]
    account = env.config.account
    # The environment's region and us-east-1 (the WebGlobal stack: what CloudFront reads there), each bootstrapped.
    regions = sorted({s.region for s in Assembly(env.outdir).stacks.values()})
    assert regions == sorted({env.config.region, "us-east-1"})
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert {**statement, "Resource": sorted(statement["Resource"])} == {
        "Action": "sts:AssumeRole",
        "Effect": "Allow",
        "Resource": sorted(f"arn:aws:iam::{account}:role/cdk-hnb659fds-{kind}-role-{account}-{region}"
                           for region in (env.config.region, "us-east-1") for kind in BOOTSTRAP_ROLE_KINDS),
    }


def test_stack_name_and_no_nag_finding(env: Synthesized) -> None:
    assert f"{env.config.stack_prefix}-Delivery" in env.stack_names()
    findings = [f for f in read_findings(env.outdir / "validation-report.json")
                if f.path.startswith(f"{env.config.stack_prefix}-Delivery/")]
    # Nothing to acknowledge: no wildcard, no managed policy, no Lambda.
    assert findings == []


@pytest.mark.parametrize("repository", ["example-org", "a/b/c", "https://github.com/a/b", "-bad/name", "a/b.git"])
def test_repository_must_be_owner_slash_name(repository: str) -> None:
    import dataclasses

    from config.environment import ConfigError
    from config.environments import DEV

    with pytest.raises(ConfigError, match="github_repository"):
        dataclasses.replace(DEV, github_repository=repository).validate()


def test_execution_policy_covers_the_app_without_wildcard_actions(env: Synthesized) -> None:
    from tools.reports.bootstrap_policy import build_policy, resource_types, split_policy

    types, region = resource_types(env.outdir)
    policy, summary = build_policy(types, region)
    actions = [a for st in policy["Statement"] for a in st["Action"]]
    assert actions and len(actions) == len(set(actions))
    assert not [a for a in actions if "*" in a or a == "*"]
    assert all(st["Effect"] == "Allow" for st in policy["Statement"])
    # Only the services whose resource types the app creates (plus the SAM transform's CloudFormation and the
    # Serverless Application Repository behind secret rotation).
    services = {a.split(":")[0] for a in actions}
    assert services == set(summary["services"])
    assert services <= {"apigateway", "cloudformation", "cognito-idp", "dynamodb", "ec2", "eks", "elasticloadbalancing",
                        "iam", "kms", "lambda", "logs", "rds", "s3", "secretsmanager", "serverlessrepo", "sns", "sqs",
                        "ssm", "wafv2", "ecr", "cloudwatch", "ses", "states", "scheduler",
                        # The synthetic customers' canary and, in staging, the fault experiments (#27); the
                        # storefront: its distribution, certificate and alias records (#23).
                        "synthetics", "fis", "cloudfront", "acm", "route53"}
    for needed in ("sqs:CreateQueue", "rds:CreateDBCluster", "eks:CreateCluster", "iam:PassRole",
                   "dynamodb:CreateTable", "ssm:GetParameters", "lambda:InvokeFunction"):
        assert needed in actions, needed
    # Split into parts that each fit an IAM managed policy, losing nothing.
    parts = split_policy(policy)
    assert sorted(a for doc in parts for st in doc["Statement"] for a in st["Action"]) == sorted(actions)
    assert all(len(json.dumps(doc, separators=(",", ":"))) <= 6144 for doc in parts)


def test_execution_policy_names_describe_stacks_whatever_the_schemas_list(env: Synthesized) -> None:
    """CloudFormation reads other stacks (nested stack outputs, Fn::GetStackOutput) with the execution role: the
    action is curated, so it stays even for an app whose resource types' schemas never mention it."""
    from tools.reports.bootstrap_policy import build_policy, resource_types

    types, region = resource_types(env.outdir)
    for subset in (types, {"AWS::SQS::Queue"}):
        policy, _ = build_policy(subset, region)
        actions = {a for st in policy["Statement"] for a in st["Action"]}
        assert "cloudformation:DescribeStacks" in actions, subset


def test_an_account_that_already_has_the_provider_trusts_it_instead_of_creating_one() -> None:
    import dataclasses

    import aws_cdk as cdk

    from config.environment import DeliveryConfig
    from config.environments import DEV
    from stacks.platform import CDK_JSON, CONTEXT_FILE, Platform

    existing = f"arn:aws:iam::{DEV.account}:oidc-provider/token.actions.githubusercontent.com"
    config = dataclasses.replace(DEV, delivery=DeliveryConfig(existing_oidc_provider_arn=existing)).validate()
    context = {**json.loads(CDK_JSON.read_text())["context"], **json.loads(CONTEXT_FILE.read_text())}
    app = cdk.App(context={**context, "env": "dev"})
    platform = Platform(app, config)
    assert platform.delivery is not None
    resources = app.synth().get_stack_by_name("Dev-Delivery").template["Resources"]
    assert not [r for r in resources.values() if r["Type"] == "AWS::IAM::OIDCProvider"]
    (role,) = [r for r in resources.values() if r["Type"] == "AWS::IAM::Role"]
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Federated": existing}


@pytest.mark.parametrize("arn", ["arn:aws:iam::999999999999:oidc-provider/token.actions.githubusercontent.com",
                                 "arn:aws:iam::111111111111:oidc-provider/example.com", "provider"])
def test_existing_provider_must_be_githubs_in_this_account(arn: str) -> None:
    import dataclasses

    from config.environment import ConfigError, DeliveryConfig
    from config.environments import DEV

    with pytest.raises(ConfigError, match=r"dev\.delivery\.existing_oidc_provider_arn"):
        dataclasses.replace(DEV, delivery=DeliveryConfig(existing_oidc_provider_arn=arn)).validate()
