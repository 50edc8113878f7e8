"""A custom resource that, on stack deletion, releases network interfaces left behind in the VPC (handler:
``cdk_constructs/handlers/network_interface_cleanup``), so a teardown does not stop on a security group or subnet
"in use" (DependencyViolation)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import custom_resources as cr
from constructs import Construct

from cdk_constructs.log_groups import LogSettings, adopt_library_log_groups
from policies import network_interface_cleanup as statements
from policies.nag import acknowledge, acknowledge_child

HANDLER_DIR = Path(__file__).resolve().parent / "handlers" / "network_interface_cleanup"
RESOURCE_TYPE = "Custom::NetworkInterfaceCleanup"
# Lambda releases a deleted function's VPC ENIs up to 45 minutes later (tools/reports/preflight/teardown.py,
# LAMBDA_ENI_RELEASE_MINUTES); the pods' branch ENIs go within seconds. Below CloudFormation's own 60 minutes for a
# custom resource (ServiceTimeout's default and maximum), so a wait that runs out fails with the waiter's own message.
TOTAL_TIMEOUT = cdk.Duration.minutes(55)


class NetworkInterfaceCleanup(Construct):
    """Place it so that it is deleted *after* what leaves the interfaces behind (make that depend on
    :attr:`resource`): then its delete waits until no ENI in ``vpc`` uses ``security_group_ids`` (deleting the
    leaked, detached branch ENIs of the cluster ``cluster_name`` names) and, with ``delete_cluster_security_group``,
    deletes the security group EKS created for that cluster once nothing uses it. Without ``cluster_name`` it only
    waits (for the interfaces Lambda keeps after a VPC function outside any cluster is deleted), and may delete
    nothing."""

    def __init__(self, scope: Construct, construct_id: str, *, vpc: ec2.IVpc, cluster_name: str | None,
                 security_group_ids: Sequence[str] = (), delete_cluster_security_group: bool = False,
                 log_settings: LogSettings) -> None:
        super().__init__(scope, construct_id)
        if cluster_name is None and (delete_cluster_security_group or not security_group_ids):
            raise ValueError("a network interface cleanup without a cluster only waits for security_group_ids: "
                             "give it some, and no delete_cluster_security_group")
        stack = cdk.Stack.of(self)
        vpc_arn = stack.format_arn(service="ec2", resource="vpc", resource_name=vpc.vpc_id)
        self.log_group = log_settings.log_group(self, "HandlerLogGroup")
        role = iam.Role(self, "HandlerRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description=("Releases leftover ENIs of the cluster when its stack is deleted"
                                     if cluster_name is not None else
                                     "Waits until Lambda releases the ENIs of deleted VPC functions when the stack "
                                     "is deleted"))
        granted = [statements.describe_statement(security_groups=delete_cluster_security_group or
                                                 cluster_name is not None)]
        if cluster_name is not None:
            granted.append(statements.delete_branch_interfaces_statement(stack, vpc_arn))
        if delete_cluster_security_group and cluster_name is not None:
            granted.append(statements.delete_cluster_security_group_statement(stack, vpc_arn, cluster_name))
        policy = iam.ManagedPolicy(self, "HandlerPolicy", roles=[role], statements=[
            *granted,
            iam.PolicyStatement(sid="WriteOwnLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                                resources=[f"{self.log_group.log_group_arn}:*"]),
        ])
        acknowledge(policy, "AwsSolutions-IAM5[Resource::*]",
                    "DescribeNetworkInterfaces and DescribeSecurityGroups support no resource-level permissions; the "
                    "deletes in this policy are limited by resource tag and VPC." if cluster_name is not None else
                    "DescribeNetworkInterfaces supports no resource-level permissions; it is the only EC2 action of "
                    "this cleanup, which deletes nothing and only waits for Lambda to release its interfaces.")
        log_group_id = stack.get_logical_id(cast(cdk.CfnElement, self.log_group.node.default_child))
        acknowledge(policy, f"AwsSolutions-IAM5[Resource::<{log_group_id}.Arn>:*]",
                    "The cleanup handlers write log streams into their own log group only; the wildcard is the "
                    "stream name within that one group.")
        kinds = (() if cluster_name is None else ("network-interface", "security-group")
                 if delete_cluster_security_group else ("network-interface",))
        for kind in kinds:
            arn = stack.resolve(stack.format_arn(service="ec2", resource=kind, resource_name="*"))
            acknowledge(policy, f"AwsSolutions-IAM5[Resource::{arn}]",
                        f"The {kind} ids are unknown until teardown; the delete is conditioned on the VPC resource "
                        "controller's owner tag or the cluster's name tag, and on this VPC.")
        functions = {}
        for name, entry in (("OnEvent", "index.on_event"), ("IsComplete", "index.is_complete")):
            fn = lambda_.Function(
                self, f"{name}Handler", runtime=lambda_.Runtime.PYTHON_3_14, architecture=lambda_.Architecture.ARM_64,
                handler=entry, code=lambda_.Code.from_asset(str(HANDLER_DIR)), role=role, log_group=self.log_group,
                timeout=cdk.Duration.minutes(1),
                description="Custom resource handler: releases leftover ENIs when the stack is deleted")
            fn.node.add_dependency(policy)
            acknowledge(fn, "NIST.800.53.R5-LambdaConcurrency",
                        f"The ENI cleanup's {name} handler runs once per deletion of this stack, polled every 30 "
                        "seconds by the provider framework; a reserved concurrency would only idle.")
            acknowledge(fn, "NIST.800.53.R5-LambdaDLQ",
                        f"The ENI cleanup's {name} handler is invoked synchronously by the provider framework; an "
                        "error fails the stack deletion itself, so a dead-letter queue would hold nothing.")
            for pack in ("NIST.800.53.R5", "PCI.DSS.321"):
                acknowledge(fn, f"{pack}-LambdaInsideVPC",
                            f"The ENI cleanup's {name} handler calls only the EC2 API; placed in the VPC it would "
                            "itself hold an ENI in the very subnets and groups it has to release.")
            functions[name] = fn
        provider = cr.Provider(self, "Provider", on_event_handler=functions["OnEvent"],
                               is_complete_handler=functions["IsComplete"], query_interval=cdk.Duration.seconds(30),
                               total_timeout=TOTAL_TIMEOUT, disable_waiter_state_machine_logging=True)
        self._acknowledge_provider(provider, handlers=[stack.get_logical_id(cast(cdk.CfnElement, f.node.default_child))
                                                       for f in functions.values()])
        adopt_library_log_groups(provider, log_settings=log_settings)
        self.resource = cdk.CustomResource(
            self, "Resource", service_token=provider.service_token, resource_type=RESOURCE_TYPE,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            properties={"VpcId": vpc.vpc_id, **({"ClusterName": cluster_name} if cluster_name is not None else {}),
                        "SecurityGroupIds": list(security_group_ids),
                        "DeleteClusterSecurityGroup": str(delete_cluster_security_group).lower()})

    @staticmethod
    def _acknowledge_provider(provider: cr.Provider, *, handlers: list[str]) -> None:
        """Findings on what aws-cdk-lib's provider framework creates for this custom resource."""
        stack = cdk.Stack.of(provider)
        waiter = "waiter-state-machine"
        framework = ("framework-onEvent", "framework-isComplete", "framework-onTimeout")
        for fn in framework:
            for handler in handlers:
                acknowledge_child(provider, f"{fn}/ServiceRole/DefaultPolicy",
                                  f"AwsSolutions-IAM5[Resource::<{handler}.Arn>:*]",
                                  f"The provider framework's {fn} function may invoke any version of the ENI cleanup "
                                  "handler; the wildcard is the version qualifier of that one function's ARN.")
            acknowledge_child(provider, f"{fn}/ServiceRole",
                              "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                              "AWSLambdaBasicExecutionRole]",
                              f"The provider framework's {fn} function of the ENI cleanup is created by aws-cdk-lib "
                              "with this policy; it only logs and invokes the cleanup handlers.")
            for pack in ("NIST.800.53.R5", "PCI.DSS.321"):
                acknowledge_child(provider, f"{fn}/ServiceRole/DefaultPolicy", f"{pack}-IAMNoInlinePolicy",
                                  f"aws-cdk-lib writes this policy for the ENI cleanup's {fn} function alone "
                                  "(invoke the two cleanup handlers, drive the waiter state machine).")
            acknowledge_child(provider, fn, "NIST.800.53.R5-LambdaDLQ",
                              f"The ENI cleanup's {fn} function runs inside CloudFormation's deletion of this stack; "
                              "a failure fails the deletion, so a dead-letter queue would hold nothing.")
            acknowledge_child(provider, fn, "NIST.800.53.R5-LambdaConcurrency",
                              f"The ENI cleanup's {fn} function runs once per deletion of this stack; a reserved "
                              "concurrency would only idle.")
            for pack in ("NIST.800.53.R5", "PCI.DSS.321"):
                acknowledge_child(provider, fn, f"{pack}-LambdaInsideVPC",
                                  f"The ENI cleanup's {fn} function only calls the Lambda and Step Functions APIs; "
                                  "in the VPC it would itself leave an ENI behind at deletion.")
        for fn in framework[1:]:
            logical_id = stack.get_logical_id(cast(cdk.CfnElement, provider.node.find_child(fn).node.default_child))
            acknowledge_child(provider, f"{waiter}/Role/DefaultPolicy",
                              f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>:*]",
                              f"The ENI cleanup's waiter state machine may invoke any version of the provider's {fn} "
                              "function; the wildcard is that one function's version qualifier.")
        for pack in ("NIST.800.53.R5", "PCI.DSS.321"):
            acknowledge_child(provider, f"{waiter}/Role/DefaultPolicy", f"{pack}-IAMNoInlinePolicy",
                              "aws-cdk-lib writes this policy for the ENI cleanup's waiter state machine alone: "
                              "invoke the provider framework's isComplete and onTimeout functions.")
        acknowledge_child(provider, waiter, "AwsSolutions-SF1",
                          "The ENI cleanup's waiter state machine only polls the isComplete handler; every poll is "
                          "logged by the handlers into their encrypted log group.")
        acknowledge_child(provider, waiter, "AwsSolutions-SF2",
                          "The ENI cleanup's waiter polls one function during stack deletion; X-Ray tracing of "
                          "those polls would show nothing the handler logs do not.")
