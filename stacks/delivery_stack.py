from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from cdk_constructs.github_deploy import GitHubDeployRole, GitHubOidcProvider


class DeliveryStack(cdk.Stack):
    """What GitHub Actions needs to deploy one environment: the account's GitHub OIDC provider and the
    environment's deploy role. Deployed once per account by an administrator (docs/deploying.md), not by the
    pipeline: the pipeline's own role must not be able to widen its trust.

    An account has at most one OIDC provider per URL, so this assumes one environment per account (as the configs
    have it). Environments sharing an account would keep the provider in one Delivery stack and have the others
    trust it by its ARN, ``arn:aws:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, repository: str, environment: str,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        provider_arn = GitHubOidcProvider(self, "GitHubOidc").arn
        self.deploy_role = GitHubDeployRole(
            self, "DeployRole",
            provider_arn=provider_arn,
            repository=repository,
            environment=environment,
            role_name=f"github-deploy-{environment}",
        ).role
        cdk.CfnOutput(self, "DeployRoleArn", value=self.deploy_role.role_arn,
                      description=f"Set as AWS_DEPLOY_ROLE_ARN of GitHub environment {environment}")
