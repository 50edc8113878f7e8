"""Orders' PostgreSQL: Aurora Serverless v2 in isolated subnets, reachable only from the orders pods."""

from __future__ import annotations

from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk_constructs.log_groups import LogSettings
from cdk_constructs.network_interface_cleanup import NetworkInterfaceCleanup
from cdk_constructs.replaceable_name import per_stack_creation_name, replaceable_name
from cdk_constructs.retention import removal_policy
from config.environment import DatabaseConfig, RemovalMode
from policies.nag import acknowledge

DATABASE_NAME = "orders"
PORT = 5432
ENGINE_VERSION = rds.AuroraPostgresEngineVersion.VER_17_5


class OrdersDatabase(Construct):
    """Aurora PostgreSQL Serverless v2 cluster for the orders service.

    Writer plus ``config.readers`` readers in other zones (a reader makes the cluster Multi-AZ: Aurora promotes it
    on writer failure). Storage, Performance Insights, the credentials secret and exported logs use the CMK. The
    master secret rotates on a schedule through the single-user rotation application, running in private subnets.
    ``workload_security_group`` is the security group of the orders pods (security groups for pods): the only
    source the database admits on its port, apart from the rotation function.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: DatabaseConfig, vpc: ec2.IVpc,
                 key: kms.IKey, removal: RemovalMode, log_settings: LogSettings) -> None:
        super().__init__(scope, construct_id)
        self.key = key
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="Orders PostgreSQL: 5432 from the orders workload and the secret rotation function only",
        )
        self.workload_security_group = ec2.SecurityGroup(
            self, "WorkloadSecurityGroup", vpc=vpc, allow_all_outbound=True,
            description="Attached to the orders pods (security groups for pods); the database admits only it",
        )
        self.security_group.add_ingress_rule(self.workload_security_group, ec2.Port.tcp(PORT),
                                             "PostgreSQL from the orders pods")
        parameters = rds.ParameterGroup(
            self, "Parameters",
            engine=rds.DatabaseClusterEngine.aurora_postgres(version=ENGINE_VERSION),
            parameters={"rds.force_ssl": "1", "log_min_duration_statement": "1000"},
        )
        # Named before it exists so the PostgreSQL log group can exist (with retention and the CMK) before RDS
        # starts exporting to it (otherwise RDS creates it unencrypted and kept forever); the name changes with any
        # replacing change and with each creation of the stack, so it never blocks a replacement or meets a
        # retained log group (cdk_constructs/replaceable_name.py).
        identifier = replaceable_name(f"{cdk.Stack.of(self).stack_name.lower()}-orders",
                                      lambda: cast(cdk.CfnResource, self.cluster.node.default_child))
        self.log_group = log_settings.log_group(
            self, "PostgresqlLogGroup", log_group_name=f"/aws/rds/cluster/{identifier}/postgresql")
        self.cluster = rds.DatabaseCluster(
            self, "Cluster",
            cluster_identifier=identifier,
            engine=rds.DatabaseClusterEngine.aurora_postgres(version=ENGINE_VERSION),
            default_database_name=DATABASE_NAME,
            credentials=rds.Credentials.from_generated_secret("orders_admin", encryption_key=key),
            writer=rds.ClusterInstance.serverless_v2("Writer", enable_performance_insights=True,
                                                     performance_insight_encryption_key=key),
            readers=[rds.ClusterInstance.serverless_v2(f"Reader{i + 1}", scale_with_writer=True,
                                                       enable_performance_insights=True,
                                                       performance_insight_encryption_key=key)
                     for i in range(config.readers)],
            serverless_v2_min_capacity=config.min_capacity_acu,
            serverless_v2_max_capacity=config.max_capacity_acu,
            # At 0 ACU minimum an instance pauses after this long without a user connection (config validates it).
            serverless_v2_auto_pause_duration=(cdk.Duration.seconds(config.auto_pause_seconds)
                                               if config.auto_pause_seconds is not None else None),
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[self.security_group],
            port=PORT,
            parameter_group=parameters,
            storage_encrypted=True,
            storage_encryption_key=key,
            iam_authentication=True,
            backup=rds.BackupProps(retention=cdk.Duration.days(config.backup_retention_days)),
            deletion_protection=config.deletion_protection,
            removal_policy=removal_policy(removal, snapshot_supported=True),
            cloudwatch_logs_exports=["postgresql"],
            copy_tags_to_snapshot=True,
            monitoring_interval=cdk.Duration.seconds(60),
        )
        self.cluster.node.add_dependency(self.log_group)
        self.secret: secretsmanager.ISecret = self.cluster.secret  # type: ignore[assignment]
        if removal == RemovalMode.RETAIN:
            # A retained cluster keeps what it needs, retained the same way (a failed first create still removes
            # them): its instances and subnet group (aws-cdk-lib gives them RETAIN only for exactly
            # RemovalPolicy.RETAIN: aws-rds helperRemovalPolicy), its parameter group (RDS refuses to delete one a
            # cluster uses), its security group (its network interfaces stay in it: EC2 refuses the deletion), and
            # its master secret with the attachment naming the cluster (the password nobody would have otherwise).
            # make preflight's teardown check fails a kept resource that uses one the teardown deletes.
            for child in (*self.cluster.node.find_all(), *self.security_group.node.find_all(),
                          *parameters.node.find_all(), *self.secret.node.find_all()):
                if isinstance(child, (rds.CfnDBInstance, rds.CfnDBSubnetGroup, rds.CfnDBClusterParameterGroup,
                                      ec2.CfnSecurityGroup, secretsmanager.CfnSecret,
                                      secretsmanager.CfnSecretTargetAttachment)):
                    child.apply_removal_policy(removal_policy(removal))
        self.rotation = self.cluster.add_rotation_single_user(
            automatically_after=cdk.Duration.days(config.secret_rotation_days),
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        )
        # The rotation function comes from the Serverless Application Repository (a nested stack), which would let
        # Lambda create its log group unencrypted and kept forever. Its name is a parameter of the application: named
        # per creation of the stack (a retained group of an earlier one must not be in the way), its log group is
        # created first with the logs CMK, the retention and the removal policy of the environment.
        function_name = per_stack_creation_name(f"{cdk.Stack.of(self).stack_name}-orders-rotation")
        application = cast(cdk.CfnResource, self.rotation.node.find_child("Resource"))
        application.add_property_override("Parameters.functionName", function_name)
        self.rotation_log_group = log_settings.log_group(
            self, "RotationLogGroup", log_group_name=f"/aws/lambda/{function_name}")
        application.node.add_dependency(self.rotation_log_group)
        # aws-cdk-lib's SecretRotation creates the function's security group but exposes it on no property (its
        # connections are internal to the jsii class); it is the child the library names "SecurityGroup".
        self.rotation_security_group = cast(ec2.ISecurityGroup, self.rotation.node.find_child("SecurityGroup"))
        # The rotation function runs in the VPC: Lambda keeps its network interfaces in the rotation security group
        # for up to 45 minutes after the application is deleted, and EC2 refuses to delete the group meanwhile. The
        # cleanup is deleted after the application and before the group (its properties reference it), and waits
        # until no interface uses it.
        self.rotation_interface_cleanup = NetworkInterfaceCleanup(
            self, "RotationInterfaceCleanup", vpc=vpc, cluster_name=None,
            security_group_ids=[self.rotation_security_group.security_group_id],
            log_settings=log_settings)
        application.node.add_dependency(self.rotation_interface_cleanup.resource)
        acknowledge(self.cluster, "AwsSolutions-RDS11",
                    "Port 5432 is the PostgreSQL default; the cluster is in isolated subnets and admits only the "
                    "orders pods' security group, so a non-default port would add no protection.")
        if not config.deletion_protection:
            why = {
                RemovalMode.DESTROY: "This environment's data is disposable (removal destroy): cdk destroy deletes "
                                     "the cluster, which deletion protection would refuse.",
                RemovalMode.SNAPSHOT: "Removal snapshot: the teardown takes a final snapshot and deletes the cluster, "
                                      "and a failed first create's rollback deletes it, both refused under deletion "
                                      "protection; the stack's termination protection and that snapshot guard it.",
            }[removal]
            for finding in ("AwsSolutions-RDS10", "NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled"):
                acknowledge(self.cluster, finding, why)
        acknowledge(self.cluster.node.find_child("MonitoringRole"),
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AmazonRDSEnhancedMonitoringRole]",
                    "Enhanced Monitoring's role is assumed only by monitoring.rds.amazonaws.com and needs this "
                    "AWS policy to publish OS metrics of the orders database instances to CloudWatch Logs.")
        for instance in ("Writer", *(f"Reader{i + 1}" for i in range(config.readers))):
            acknowledge(self.cluster.node.find_child(instance), "NIST.800.53.R5-RDSInBackupPlan",
                        f"The {instance} instance belongs to an Aurora cluster whose automated continuous backups "
                        f"keep {config.backup_retention_days} days of point-in-time recovery, set from config.")
        for rule in self.security_group.node.children:
            if "IndirectPort" in rule.node.id:
                for finding in ("EC2RestrictedCommonPorts", "EC2RestrictedSSH"):
                    for pack in ("NIST.800.53.R5", "PCI.DSS.321"):
                        acknowledge(rule, f"{pack}-{finding}",
                                    "This rule admits only the secret rotation function's security group on "
                                    "the database port; the port is a token the rule cannot evaluate, not SSH "
                                    "or 0.0.0.0/0.")
