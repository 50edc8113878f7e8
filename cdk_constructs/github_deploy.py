"""GitHub Actions -> AWS through OIDC: the account's GitHub token provider and a deploy role per environment.

A deploy role can do one thing: ``sts:AssumeRole`` into the CDK bootstrap roles of its account and region (deploy,
file and image publishing, lookup). Everything ``cdk deploy`` changes is then done by CloudFormation with the
bootstrap's execution policy (``make bootstrap-policy``), so the role in GitHub's hands holds no service permissions.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
STS_AUDIENCE = "sts.amazonaws.com"
# The roles `cdk bootstrap` creates, named cdk-<qualifier>-<kind>-role-<account>-<region>.
BOOTSTRAP_ROLE_KINDS = ("deploy", "file-publishing", "image-publishing", "lookup")
# A first deploy of a whole environment (EKS, Aurora writer and reader, four arm64 image builds under QEMU) runs well
# past an hour. The CLI re-assumes the bootstrap roles from this role's session whenever their chained one-hour
# sessions expire, so it is this session that must outlast the deploy job (deploy.yml requests all of it).
MAX_SESSION_HOURS = 3


def github_subject(repository: str, environment: str) -> str:
    """The ``sub`` claim of a job that runs in GitHub environment ``environment`` of ``repository``."""
    return f"repo:{repository}:environment:{environment}"


def bootstrap_role_arns(stack: cdk.Stack, qualifier: str = cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER,
                        regions: tuple[str, ...] = ()) -> list[str]:
    """The bootstrap roles of the stack's account in ``regions`` (default: the stack's own region)."""
    account = stack.account
    return [f"arn:{stack.partition}:iam::{account}:role/cdk-{qualifier}-{kind}-role-{account}-{region}"
            for region in regions or (stack.region,) for kind in BOOTSTRAP_ROLE_KINDS]


class GitHubOidcProvider(Construct):
    """The account's IAM OIDC provider for GitHub Actions tokens (native AWS::IAM::OIDCProvider, no custom resource
    Lambda). IAM verifies GitHub's tokens against its own trusted root CAs, so no thumbprint is pinned."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.provider = iam.OidcProviderNative(self, "Provider", url=GITHUB_OIDC_URL, client_ids=[STS_AUDIENCE])
        self.arn = self.provider.oidc_provider_arn


class GitHubDeployRole(Construct):
    """The role a workflow job of ``repository`` running in GitHub environment ``environment`` assumes to deploy."""

    def __init__(self, scope: Construct, construct_id: str, *, provider_arn: str, repository: str, environment: str,
                 role_name: str, regions: tuple[str, ...] = ()) -> None:
        """``regions``: where the environment's stacks are deployed, each bootstrapped (default: this stack's)."""
        super().__init__(scope, construct_id)
        self.subject = github_subject(repository, environment)
        self.role = iam.Role(
            self, "Role",
            role_name=role_name,
            description=f"GitHub Actions of {repository} (environment {environment}): assumes the CDK bootstrap roles",
            max_session_duration=cdk.Duration.hours(MAX_SESSION_HOURS),
            assumed_by=iam.WebIdentityPrincipal(provider_arn, conditions={
                "StringEquals": {
                    f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                    f"{GITHUB_OIDC_HOST}:sub": self.subject,
                },
            }),
        )
        # A customer managed policy rather than an inline one (NIST 800-53 / PCI DSS: no inline IAM policies).
        self.policy = iam.ManagedPolicy(
            self, "AssumeCdkBootstrapRoles",
            description=f"Deploy role of {environment}: assume the CDK bootstrap roles of this account, in the "
                        "regions of its stacks only",
            statements=[iam.PolicyStatement(actions=["sts:AssumeRole"],
                                            resources=bootstrap_role_arns(cdk.Stack.of(self), regions=regions))],
            roles=[self.role],
        )
