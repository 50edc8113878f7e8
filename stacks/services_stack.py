from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct
from contract import Contract, EnvironmentContractError, Ref, RefKind, Service, StoreKind
from contract import environment as contract_environment

from cdk_constructs.consumer_queue import ConsumerQueue
from cdk_constructs.email_identity import EmailIdentity
from cdk_constructs.event_topic import EventTopic
from cdk_constructs.fault_experiments import FaultExperiments, FaultTargets
from cdk_constructs.internal_load_balancer import InternalLoadBalancer
from cdk_constructs.load_generator import LoadGenerator, LoadTestRequest
from cdk_constructs.log_groups import LogSettings
from cdk_constructs.microservice import Microservice
from cdk_constructs.network_interface_cleanup import NetworkInterfaceCleanup
from cdk_constructs.notification_email import NotificationEmail
from cdk_constructs.orders_database import OrdersDatabase
from cdk_constructs.service_monitoring import PlatformTelemetry
from cdk_constructs.service_table import ServiceTable
from cdk_constructs.user_directory import UserDirectory
from cdk_constructs.workload_manifests import cluster_egress
from config.environment import FaultConfig, MessagingConfig, OrdersConfig, ServiceSizing
from config.topology import CONTAINER_PORT
from policies import service_access as access

__all__ = ["EnvironmentContractError", "ServicesStack", "check_environment"]


def check_environment(contract: Contract, service: Service, environment: Mapping[str, str], *,
                      telemetry: bool) -> None:
    """Fail synth, in one line naming the variable, when the rendered environment and the contract's differ."""
    problem = contract_environment.check(contract, service, frozenset(environment), telemetry=telemetry)
    if problem:
        raise EnvironmentContractError(problem)


class ServicesStack(cdk.Stack):
    """Stateless: the services on the cluster, each granted only its own store, secret, queues and topics, all
    derived from the service contract (``contract``): environment, IAM statements, network rules."""

    def __init__(self, scope: Construct, construct_id: str, *, contract: Contract, cluster: eks.Cluster,
                 load_balancer_controller_role: iam.IRole, sizing: ServiceSizing, vpc: ec2.IVpc, vpc_cidr: str,
                 log_settings: LogSettings, topics: Mapping[str, EventTopic], topics_key: kms.IKey,
                 queues: Mapping[str, ConsumerQueue], queues_key: kms.IKey,
                 notification_email: NotificationEmail, tables: Mapping[Service, ServiceTable],
                 databases: Mapping[Service, OrdersDatabase], users: UserDirectory,
                 load_balancer: InternalLoadBalancer, email_identity: EmailIdentity,
                 secrets: Mapping[str, secretsmanager.ISecret], messaging_config: MessagingConfig,
                 orders_config: OrdersConfig, web_origin: str, telemetry: PlatformTelemetry | None = None,
                 load_test: LoadTestRequest | None = None,
                 faults: tuple[FaultConfig, FaultTargets] | None = None, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.contract = contract
        self._topics, self._topics_key, self._queues, self._queues_key = topics, topics_key, queues, queues_key
        self._notification_email, self._tables, self._databases = notification_email, tables, databases
        self._users, self._email_identity, self._secrets = users, email_identity, secrets
        self._web_origin = web_origin  # the storefront's: the one origin whose pages may read the APIs' answers
        # Values of the settings the contract names (ServiceSpec.settings, the consumers' retry policy).
        self._settings = {**messaging_config.consumer_environment(), **orders_config.environment()}
        self.services: dict[Service, Microservice] = {}
        for spec in contract.services:
            service = spec.service
            env = contract_environment.render(contract, service, self._resolve)
            pod_groups = ((databases[service].workload_security_group.security_group_id,)
                          if spec.own_security_group else ())
            ms = Microservice(
                self, f"{service.value.capitalize()}Service",
                service=service, cluster=cast(eks.ICluster, cluster), sizing=sizing, environment=env,
                target_group=load_balancer.target_groups[service],
                load_balancer_controller_role=load_balancer_controller_role, vpc_cidr=vpc_cidr,
                security_group_ids=pod_groups,
                allowed_callers=tuple(c.value for c in contract.callers_of(service)),
                calls=spec.calls, postgres=spec.store is StoreKind.POSTGRES,
                telemetry=telemetry.for_service(
                    cluster_name=cluster.cluster_name,
                    queues=tuple(queues[q.name] for q in contract.queues_consumed_by(service)),
                    notifications=spec.sends_email, metrics=spec.metrics,
                ) if telemetry else None,
            )
            check_environment(contract, service, ms.spec.environment, telemetry=telemetry is not None)
            self.services[service] = ms
            self._grant(ms)

        # Pods with their own security group hold branch ENIs, which the VPC resource controller deletes only after
        # the pods are gone: deleted after their Deployments, this waits for that (and deletes any the controller
        # left behind) so that the security group in the Data stack can be deleted.
        self.interface_cleanup = NetworkInterfaceCleanup(
            self, "PodInterfaceCleanup", vpc=vpc, cluster_name=cluster.cluster_name,
            security_group_ids=[g for ms in self.services.values() for g in ms.spec.security_group_ids],
            log_settings=log_settings)
        for ms in self.services.values():
            if ms.spec.security_group_ids:
                # Deleted after the pods and after the SecurityGroupPolicy that gave them the group.
                for manifest in (ms.workloads, *ms.objects.values()):
                    manifest.node.add_dependency(self.interface_cleanup.resource)

        # Pods not bound to a security group of their own use the cluster security group.
        nlb_sg = load_balancer.security_group.security_group_id
        cluster_sg = cluster.cluster_security_group_id
        rules = [("ApiPodsFromNlb", cluster_sg, nlb_sg, "API pods from the services NLB")]
        for ms in self.services.values():
            name = ms.service.value
            for pod_sg in ms.spec.security_group_ids:
                rules += [(f"{name.capitalize()}PodsFromNlb", pod_sg, nlb_sg,
                           f"{name.capitalize()} API pods from the services NLB"),
                          (f"{name.capitalize()}PodsFromKubelet", pod_sg, cluster_sg,
                           f"Kubelet probes of the {name} pods")]
        for rule_id, group, source, why in rules:
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

        # `make fault ENV=... EXPERIMENT=...`: the FIS experiment templates, stopping on the objectives' fast burn.
        self.fault_experiments: FaultExperiments | None = None
        if faults is not None:
            self.fault_experiments = FaultExperiments(
                self, "FaultExperiments", environment=telemetry.environment if telemetry else self.stack_name,
                config=faults[0], cluster=cast(eks.ICluster, cluster),
                namespaces={s: ms.namespace for s, ms in self.services.items()},
                service_roles={s: ms.role for s, ms in self.services.items()}, targets=faults[1],
                log_settings=log_settings)
        # `make load ENV=...`: the load generator's Job, only in the deploy that asks for it (config/load_test.py).
        self.load_generator: LoadGenerator | None = None
        if load_test is not None:
            self.load_generator = LoadGenerator(self, "LoadGenerator", cluster=cast(eks.ICluster, cluster),
                                                request=load_test)

    def _resolve(self, ref: Ref) -> str:
        """The token of the construct that owns what an environment variable names (contract.environment)."""
        users = self._users
        match ref.kind:
            case RefKind.REGION:
                return cdk.Aws.REGION
            case RefKind.ISSUER:
                return users.issuer
            case RefKind.JWKS_URL:
                return f"{users.issuer}/.well-known/jwks.json"
            case RefKind.WEB_CLIENT_ID:
                return users.web_client.user_pool_client_id
            case RefKind.WEB_ORIGIN:
                return self._web_origin
            case RefKind.TABLE:
                return self._tables[Service(ref.key)].table.table_name
            case RefKind.DB_SECRET:
                return self._databases[Service(ref.key)].secret.secret_arn
            case RefKind.TOPIC:
                return self._topics[ref.key].topic.topic_arn
            case RefKind.QUEUE:
                return self._queues[ref.key].queue.queue_url
            case RefKind.DLQ:
                return self._queues[ref.key].dead_letter_queue.queue_url
            case RefKind.SERVICE_URL:
                return contract_environment.service_url(Service(ref.key))
            case RefKind.TOKEN_URL:
                return users.token_url()
            case RefKind.CLIENT_SECRET:
                return users.service_client_secrets[Service(ref.key)].secret_arn
            case RefKind.CALLER_CLIENT_IDS:
                return ",".join(users.service_clients[c].user_pool_client_id
                                for c in self.contract.callers_of(Service(ref.key)))
            case RefKind.SECRET:
                return self._secrets[ref.key].secret_arn
            case RefKind.SETTING:
                if ref.key not in self._settings:
                    raise EnvironmentContractError(f"setting {ref.key} has no value in the environment's config")
                return self._settings[ref.key]
            case RefKind.EMAIL:
                return {"EMAIL_SENDER": self._email_identity.sender,
                        "EMAIL_SENDER_NAME": self._email_identity.sender_name,
                        "EMAIL_CONFIGURATION_SET": self._notification_email.configuration_set_name}[ref.key]
        raise EnvironmentContractError(f"no source for {ref}")

    def _grant(self, ms: Microservice) -> None:
        """The service's role: its own store, topics, queues and secrets, and SES if it sends email; nothing else."""
        service, users, topics_by_name, queues_by_name = ms.service, self._users, self._topics, self._queues
        spec = self.contract.service(service)
        statements: list[iam.PolicyStatement] = []
        if spec.store is StoreKind.DYNAMODB:
            table = self._tables[service]
            indexes = tuple(i.name for i in table.definition.indexes)
            statements += [access.table_read_write(table.table.table_arn, indexes),
                           access.key_encrypt(table.key.key_arn)]
        topics = self.contract.topics_published_by(service)
        for topic in topics:
            statements.append(access.topic_publish(topics_by_name[topic.name].topic.topic_arn))
        if topics:
            statements.append(access.key_encrypt(self._topics_key.key_arn))
        consumed, produced = self.contract.queues_consumed_by(service), self.contract.queues_produced_by(service)
        for queue in consumed:
            statements.append(access.queue_consume(queues_by_name[queue.name].queue.queue_arn))
            # The consumer moves what it can never apply to the queue's DLQ itself, with the reason.
            statements.append(access.dead_letter_send(queues_by_name[queue.name].dead_letter_queue.queue_arn))
        for queue in produced:
            statements.append(access.queue_send(queues_by_name[queue.name].queue.queue_arn))
        if consumed or produced:
            statements.append(access.key_encrypt(self._queues_key.key_arn))
        if spec.store is StoreKind.POSTGRES:
            database = self._databases[service]
            statements += [access.secret_value_read(database.secret.secret_arn),
                           access.key_decrypt(database.key.key_arn)]
        if spec.calls:
            statements.append(access.secret_value_read(users.service_client_secrets[service].secret_arn))
        # Encrypted with the key of the service's store (decrypt granted above).
        statements += [access.secret_value_read(self._secrets[s.name].secret_arn) for s in spec.secrets]
        if spec.sends_email:
            statements.append(access.email_send(self._email_identity.identity_arn,
                                                self._notification_email.configuration_set_arn,
                                                self._email_identity.sender))
        iam.ManagedPolicy(ms, "AccessPolicy", roles=[ms.role], statements=statements)
