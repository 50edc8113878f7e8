from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk_constructs.email_identity import EmailIdentity
from cdk_constructs.internal_load_balancer import InternalLoadBalancer
from cdk_constructs.log_groups import LogSettings
from cdk_constructs.microservice import Microservice
from cdk_constructs.network_interface_cleanup import NetworkInterfaceCleanup
from cdk_constructs.orders_database import OrdersDatabase
from cdk_constructs.service_monitoring import PlatformTelemetry
from cdk_constructs.service_table import ServiceTable
from cdk_constructs.user_directory import UserDirectory
from cdk_constructs.workload_manifests import cluster_egress
from config.environment import MessagingConfig, OrdersConfig, ServiceSizing
from config.topology import (
    CONTAINER_PORT,
    RESOURCE_SERVER_SCOPES,
    SERVICE_CALLS,
    SERVICES,
    Service,
    env_var,
    queues_consumed_by,
    queues_produced_by,
    table_of,
    topics_published_by,
)
from policies import service_access as access
from stacks.messaging_stack import MessagingStack

PRODUCTS_URL = f"http://products.products.svc.cluster.local:{CONTAINER_PORT}"
# The service whose worker emails customers (services/users/notifications.py: it owns addresses and preferences).
NOTIFIER = Service.USERS
ENV_CONTRACT = Path(__file__).resolve().parent.parent / "services" / "common" / "env_contract.py"


@cache
def env_contract() -> ModuleType:
    """services/common/env_contract.py, the services' declaration of the variables they read. Loaded from its file:
    pure data, it needs none of the services' dependencies (the image's context is services/ alone)."""
    spec = importlib.util.spec_from_file_location("services_env_contract", ENV_CONTRACT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class EnvironmentContractError(ValueError):
    """A service's rendered environment differs from what it declares it reads: one line naming the variable."""


def check_environment(service: Service, environment: dict[str, str], *, telemetry: bool) -> None:
    """Fail synth, in one line naming the variable, when the rendered environment and the service's declaration
    differ."""
    problem = env_contract().check(service.value, frozenset(environment), telemetry=telemetry)
    if problem:
        raise EnvironmentContractError(problem)


class ServicesStack(cdk.Stack):
    """Stateless: the four services on the cluster, each granted only its own store, secret, queues and topics."""

    def __init__(self, scope: Construct, construct_id: str, *, cluster: eks.Cluster,
                 load_balancer_controller_role: iam.IRole, sizing: ServiceSizing, vpc: ec2.IVpc, vpc_cidr: str,
                 log_settings: LogSettings,
                 messaging: MessagingStack, tables: dict[Service, ServiceTable], orders_database: OrdersDatabase,
                 users: UserDirectory, load_balancer: InternalLoadBalancer, email_identity: EmailIdentity,
                 payment_webhook_secret: secretsmanager.ISecret, messaging_config: MessagingConfig,
                 orders_config: OrdersConfig, telemetry: PlatformTelemetry | None = None, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.services: dict[Service, Microservice] = {}
        for service in SERVICES:
            env = self._environment(service, messaging, tables, orders_database, users, email_identity)
            if service == Service.ORDERS:  # the payment provider's webhook verifies signatures with it
                env["PAYMENT_WEBHOOK_SECRET_ARN"] = payment_webhook_secret.secret_arn
            if queues_consumed_by(service):  # how its consumers retry, and where they dead-letter
                env.update(messaging_config.consumer_environment())
            if service == Service.ORDERS:
                env.update(orders_config.environment())
            ms = Microservice(
                self, f"{service.value.capitalize()}Service",
                service=service, cluster=cast(eks.ICluster, cluster), sizing=sizing, environment=env,
                target_group=load_balancer.target_groups[service],
                load_balancer_controller_role=load_balancer_controller_role, vpc_cidr=vpc_cidr,
                security_group_ids=((orders_database.workload_security_group.security_group_id,)
                                    if service == Service.ORDERS else ()),
                allowed_callers=("orders",) if service == Service.PRODUCTS else (),
                telemetry=telemetry.for_service(
                    cluster_name=cluster.cluster_name,
                    queues=tuple(messaging.queues[q.name] for q in queues_consumed_by(service)),
                    notifications=service == NOTIFIER,
                ) if telemetry else None,
            )
            check_environment(service, ms.spec.environment, telemetry=telemetry is not None)
            self.services[service] = ms
            self._grant(ms, messaging, tables, orders_database, users, email_identity,
                        payment_webhook_secret if service == Service.ORDERS else None)

        # Pods with their own security group hold branch ENIs, which the VPC resource controller deletes only after
        # the pods are gone: deleted after their Deployments, this waits for that (and deletes any the controller
        # left behind) so that the security group in the Data stack can be deleted.
        pod_groups = [g for ms in self.services.values() for g in ms.spec.security_group_ids]
        self.interface_cleanup = NetworkInterfaceCleanup(
            self, "PodInterfaceCleanup", vpc=vpc, cluster_name=cluster.cluster_name, security_group_ids=pod_groups,
            log_settings=log_settings)
        for ms in self.services.values():
            if ms.spec.security_group_ids:
                ms.workloads.node.add_dependency(self.interface_cleanup.resource)

        # Pods not bound to a security group of their own use the cluster security group.
        nlb_sg = load_balancer.security_group.security_group_id
        cluster_sg = cluster.cluster_security_group_id
        orders_sg = orders_database.workload_security_group.security_group_id
        for rule_id, group, source, why in (
            ("ApiPodsFromNlb", cluster_sg, nlb_sg, "API pods from the services NLB"),
            ("OrdersPodsFromNlb", orders_sg, nlb_sg, "Orders API pods from the services NLB"),
            ("OrdersPodsFromKubelet", orders_sg, cluster_sg, "Kubelet probes of the orders pods"),
        ):
            ec2.CfnSecurityGroupIngress(self, rule_id, group_id=group, source_security_group_id=source,
                                        ip_protocol="tcp", from_port=CONTAINER_PORT, to_port=CONTAINER_PORT,
                                        description=why)
        # Pods with their own security group reach what they call inside the cluster (CoreDNS, the CloudWatch
        # agent, other services' pods) only if the cluster security group admits that group: the same list the
        # NetworkPolicies admit.
        for ms in self.services.values():
            for pod_sg in ms.spec.security_group_ids:
                name = ms.service.value.capitalize()
                for egress in cluster_egress(ms.spec):
                    for protocol, port in egress.ports:
                        ec2.CfnSecurityGroupIngress(
                            self, f"{egress.name}{protocol.capitalize()}{port}From{name}Pods", group_id=cluster_sg,
                            source_security_group_id=pod_sg, ip_protocol=protocol.lower(), from_port=port,
                            to_port=port, description=f"{name} pods (own security group) to {egress.why}")

    @staticmethod
    def _environment(service: Service, messaging: MessagingStack, tables: dict[Service, ServiceTable],
                     orders_database: OrdersDatabase, users: UserDirectory,
                     email_identity: EmailIdentity) -> dict[str, str]:
        env = {
            "AWS_REGION": cdk.Aws.REGION,
            "COGNITO_ISSUER": users.issuer,
            "COGNITO_JWKS_URL": f"{users.issuer}/.well-known/jwks.json",
            "COGNITO_CLIENT_ID": users.web_client.user_pool_client_id,
        }
        if table_of(service):
            env["TABLE_NAME"] = tables[service].table.table_name
        for topic in topics_published_by(service):
            env[env_var("topic", topic.name)] = messaging.topics[topic.name].topic.topic_arn
        for queue in (*queues_consumed_by(service), *queues_produced_by(service)):
            env[env_var("queue", queue.name)] = messaging.queues[queue.name].queue.queue_url
        for queue in queues_consumed_by(service):
            env[env_var("dlq", queue.name)] = messaging.queues[queue.name].dead_letter_queue.queue_url
        if service == Service.ORDERS:
            env["DB_SECRET_ARN"] = orders_database.secret.secret_arn
            env["PRODUCTS_URL"] = PRODUCTS_URL
        if service == NOTIFIER:
            env["EMAIL_SENDER"] = email_identity.sender
            env["EMAIL_SENDER_NAME"] = email_identity.sender_name
            env["EMAIL_CONFIGURATION_SET"] = messaging.notification_email.configuration_set_name
        if service in users.service_clients:
            env["PRODUCTS_TOKEN_URL"] = users.token_url()
            env["SERVICE_CLIENT_SECRET_ARN"] = users.service_client_secrets[service].secret_arn
        if service in RESOURCE_SERVER_SCOPES:
            callers = [c for c, scopes in SERVICE_CALLS.items()
                       if any(s.startswith(f"{service.value}/") for s in scopes)]
            env["SERVICE_CLIENT_IDS"] = ",".join(users.service_clients[c].user_pool_client_id for c in callers)
        return env

    @staticmethod
    def _grant(ms: Microservice, messaging: MessagingStack, tables: dict[Service, ServiceTable],
               orders_database: OrdersDatabase, users: UserDirectory, email_identity: EmailIdentity,
               payment_webhook_secret: secretsmanager.ISecret | None = None) -> None:
        service = ms.service
        statements: list[iam.PolicyStatement] = []
        if table_of(service):
            table = tables[service].table
            indexes = tuple(i.name for i in tables[service].definition.indexes)
            statements += [access.table_read_write(table.table_arn, indexes),
                           access.key_encrypt(tables[service].key.key_arn)]
        for topic in topics_published_by(service):
            statements.append(access.topic_publish(messaging.topics[topic.name].topic.topic_arn))
        if topics_published_by(service):
            statements.append(access.key_encrypt(messaging.topics_key.key_arn))
        for queue in queues_consumed_by(service):
            statements.append(access.queue_consume(messaging.queues[queue.name].queue.queue_arn))
            # The consumer moves what it can never apply to the queue's DLQ itself, with the reason.
            statements.append(access.dead_letter_send(messaging.queues[queue.name].dead_letter_queue.queue_arn))
        for queue in queues_produced_by(service):
            statements.append(access.queue_send(messaging.queues[queue.name].queue.queue_arn))
        if queues_consumed_by(service) or queues_produced_by(service):
            statements.append(access.key_encrypt(messaging.queues_key.key_arn))
        if service == Service.ORDERS:
            statements += [access.secret_value_read(orders_database.secret.secret_arn),
                           access.key_decrypt(orders_database.key.key_arn)]
        if service in users.service_clients:
            statements.append(access.secret_value_read(users.service_client_secrets[service].secret_arn))
        if payment_webhook_secret is not None:  # encrypted with the orders database key, decrypted above
            statements.append(access.secret_value_read(payment_webhook_secret.secret_arn))
        if service == NOTIFIER:
            statements.append(access.email_send(email_identity.identity_arn,
                                                messaging.notification_email.configuration_set_arn,
                                                email_identity.sender))
        iam.ManagedPolicy(ms, "AccessPolicy", roles=[ms.role], statements=statements)
