"""The role the deploy pipeline assumes to wake an environment's node groups before it deploys and smoke-tests
outside working hours, and to put them back to sleep afterwards (`make wake` / `make sleep`, tools/ops/wake.py).

A deploy waits for every Deployment's rollout, and the smoke test calls the services: both need nodes. The role is
trusted, through the account's GitHub OIDC provider, by the same repository and GitHub environment as the deploy role,
and may read the cluster stack's outputs, list the cluster's node groups and resize them, and hold (disable) and
release the scheduled sleep while a deploy or a teardown runs: nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_constructs.github_deploy import GITHUB_OIDC_HOST, STS_AUDIENCE, github_subject
from policies import node_group_schedule as statements


class NodeGroupWakeAccess(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, environment: str, github_repository: str,
                 cluster_arn: str, node_group_arns: Sequence[str], sleep_schedule_arns: Sequence[str],
                 scheduler_role_arn: str) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        provider = f"arn:{stack.partition}:iam::{stack.account}:oidc-provider/{GITHUB_OIDC_HOST}"
        self.role = iam.Role(
            self, "Role",
            description=f"Wakes the node groups of {environment} for a deploy from GitHub Actions of "
                        f"{github_repository}",
            max_session_duration=cdk.Duration.hours(1),
            assumed_by=iam.WebIdentityPrincipal(provider, conditions={"StringEquals": {
                f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                f"{GITHUB_OIDC_HOST}:sub": github_subject(github_repository, environment),
            }}))
        self.policy = iam.ManagedPolicy(
            self, "RolePolicy", roles=[self.role],
            description=f"Wake and sleep of {environment}: the cluster's node groups' sizes",
            statements=statements.wake_statements(stack_id=stack.stack_id, cluster_arn=cluster_arn,
                                                  node_group_arns=node_group_arns,
                                                  sleep_schedule_arns=sleep_schedule_arns,
                                                  scheduler_role_arn=scheduler_role_arn))
