from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from cdk_constructs.github_deploy import GitHubDeployRole, GitHubOidcProvider


class DeliveryStack(cdk.Stack):
    """What GitHub Actions needs to deploy one environment: the account's GitHub OIDC provider and the
    environment's deploy role. Deployed once per account by an administrator (docs/deploying.md), not by the
    pipeline: the pipeline's own role must not be able to widen its trust.

    An account has at most one OIDC provider per URL: where it already exists (another tool, or another environment
    sharing the account), ``config.delivery.existing_oidc_provider_arn`` names it and no provider is created.
    """

    def __init__(self, scope: Construct, construct_id: str, *, repository: str, environment: str,
                 existing_oidc_provider_arn: str = "", regions: tuple[str, ...] = (), **kwargs: Any) -> None:
        """``regions``: every region the environment's stacks deploy to (its own, and us-east-1 for what CloudFront
        reads there), each bootstrapped; the deploy role may assume the bootstrap roles of those alone."""
        super().__init__(scope, construct_id, **kwargs)
        # An account that already has GitHub's provider (another tool, another environment) cannot get a second
        # one: the deploy role then trusts the existing provider, named in config.
        provider_arn = existing_oidc_provider_arn or GitHubOidcProvider(self, "GitHubOidc").arn
        self.deploy_role = GitHubDeployRole(
            self, "DeployRole",
            provider_arn=provider_arn,
            repository=repository,
            environment=environment,
            role_name=f"github-deploy-{environment}",
            regions=regions,
        ).role
        cdk.CfnOutput(self, "DeployRoleArn", value=self.deploy_role.role_arn,
                      description=f"Set as AWS_DEPLOY_ROLE_ARN of GitHub environment {environment}")
