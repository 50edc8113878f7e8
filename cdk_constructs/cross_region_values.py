"""Values a stack hands to a stack of another region, through SSM parameters in the consumer's region.

CloudFormation exports and imports stay within a region. The producer (e.g. the WebGlobal stack, which must be in
us-east-1) writes each value into an SSM parameter of the consumer's region with an SDK call at deploy
(:class:`CrossRegionValues`); the consumer reads it as a CloudFormation parameter of type
``AWS::SSM::Parameter::Value<String>`` (:func:`read_value`), which CloudFormation resolves at every deploy of the
consumer, so a changed value reaches it with its next change set. Everything is fixed at synth: the parameter names
derive from the producer's stack name, and nothing is looked up.

Why not aws-cdk-lib's ``crossRegionReferences``: it does the same with two more Lambda functions (a writer and a
reader) that aws-cdk-lib adds only while it resolves references, after our constructs ran, so their log groups
could not be given the environment's key and retention; here the one function is the stack's AwsCustomResource
singleton, whose log group is ours.
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from aws_cdk import custom_resources as cr
from constructs import Construct

from cdk_constructs.log_groups import LogSettings
from cdk_constructs.user_directory import AWS_CUSTOM_RESOURCE_ID
from policies.nag import acknowledge, acknowledge_child


def parameter_name(producer_stack_name: str, key: str) -> str:
    return f"/{producer_stack_name}/{key}"


def read_value(scope: Construct, producer_stack_name: str, key: str) -> str:
    """The value the producer stack wrote under ``key`` in this stack's region (resolved at deploy)."""
    return ssm.StringParameter.value_for_string_parameter(scope, parameter_name(producer_stack_name, key))


class CrossRegionValues(Construct):
    """Writes ``values`` (key -> token of this stack) into SSM parameters of ``region`` at each deploy where they
    change, and deletes them with the stack."""

    def __init__(self, scope: Construct, construct_id: str, *, values: Mapping[str, str], region: str,
                 log_settings: LogSettings) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.log_group = log_settings.log_group(self, "LogGroup")
        self.writers: dict[str, cr.AwsCustomResource] = {}
        for key, value in values.items():
            name = parameter_name(stack.stack_name, key)
            arn = stack.format_arn(service="ssm", region=region, resource="parameter", resource_name=name[1:])
            policy = cr.AwsCustomResourcePolicy.from_statements([iam.PolicyStatement(
                actions=["ssm:PutParameter", "ssm:DeleteParameter"], resources=[arn])])
            self.writers[key] = writer = cr.AwsCustomResource(
                self, key.title().replace("-", ""),
                on_update=cr.AwsSdkCall(service="SSM", action="putParameter", region=region,
                                        parameters={"Name": name, "Value": value, "Type": "String",
                                                    "Overwrite": True},
                                        physical_resource_id=cr.PhysicalResourceId.of(name)),
                on_delete=cr.AwsSdkCall(service="SSM", action="deleteParameter", region=region,
                                        parameters={"Name": name}),
                policy=policy, log_group=self.log_group, install_latest_aws_sdk=False)
            for pack in ("NIST.800.53.R5", "PCI.DSS.321"):
                acknowledge_child(writer, "CustomResourcePolicy", f"{pack}-IAMNoInlinePolicy",
                                  f"aws-cdk-lib writes this policy for the SDK calls that put and delete the "
                                  f"one parameter {name} in {region}, used only during deployments.")
        fn = stack.node.find_child(AWS_CUSTOM_RESOURCE_ID)
        why = (f"It runs only inside CloudFormation deployments of {stack.stack_name}, to write its values into SSM "
               f"parameters of {region}; a failure fails the deployment, and it needs no network beyond AWS APIs.")
        for finding in ("NIST.800.53.R5-LambdaConcurrency", "NIST.800.53.R5-LambdaDLQ",
                        "NIST.800.53.R5-LambdaInsideVPC", "PCI.DSS.321-LambdaInsideVPC"):
            acknowledge(fn, finding, why)
        acknowledge_child(fn, "ServiceRole",
                          "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                          "AWSLambdaBasicExecutionRole]",
                          "This deploy-time function of aws-cdk-lib writes only its own logs with this policy; the "
                          "parameters it may write are its separate, name-scoped policy.")
