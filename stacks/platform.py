"""Builds every stack of one environment into an app: the single place where stacks are wired together."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from contract import CONTRACT, Contract, ContractError, StoreKind

from cdk_constructs.fault_experiments import FaultTargets
from cdk_constructs.load_generator import LoadTestRequest
from cdk_constructs.log_groups import LogSettings
from cdk_constructs.synthetic_customers import CanaryTarget
from config.environment import ApiClient, EnvironmentConfig, RemovalMode
from config.load_test import LoadTestRun
from config.slo import check_route_groups
from config.telemetry import ORDERS_PAST_DEADLINE_METRIC
from policies.log_group_guard import LogGroupGuard
from policies.nag import apply_packs
from stacks.cluster_stack import ClusterStack
from stacks.data_stack import DataStack
from stacks.delivery_stack import DeliveryStack
from stacks.edge_stack import EdgeStack
from stacks.messaging_stack import MessagingStack
from stacks.network_stack import NetworkStack
from stacks.observability_stack import ObservabilityStack
from stacks.services_stack import ServicesStack
from stacks.web_global_stack import CLOUDFRONT_REGION, WebGlobalStack
from stacks.web_stack import WebStack

# Log groups take no snapshot: what each removal mode leaves of them (cdk_constructs/retention.py, removal_policy).
LOG_GROUP_DELETION = {RemovalMode.DESTROY: cdk.CfnDeletionPolicy.DELETE,
                      RemovalMode.RETAIN: cdk.CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE,
                      RemovalMode.SNAPSHOT: cdk.CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE}
CONTEXT_FILE = Path(__file__).resolve().parent.parent / "cdk.context.json"
# The built storefront (`make web`), which the Web stack deploys.
STOREFRONT_DIR = CONTEXT_FILE.parent / "web" / "dist"
CDK_JSON = CONTEXT_FILE.with_name("cdk.json")


class Platform:
    """The stacks of one environment, exposed as typed attributes."""

    def __init__(self, app: cdk.App, config: EnvironmentConfig, contract: Contract = CONTRACT,
                 load_test: LoadTestRun | None = None, storefront_dir: Path = STOREFRONT_DIR) -> None:
        # Every route in one route group of the objectives (config/slo.py): one line naming a route otherwise.
        check_route_groups((r.method, r.path) for r in contract.routes)
        env = cdk.Environment(account=config.account, region=config.region)
        prefix = config.stack_prefix

        def props(part: str, *, stateful: bool) -> dict[str, Any]:
            return {
                "env": env,
                "stack_name": f"{prefix}-{part}",
                "termination_protection": stateful and config.termination_protection,
                "description": f"E-commerce platform {config.name}: {part}",
            }

        self.network = NetworkStack(app, f"{prefix}-Network", config=config.network, removal=config.removal,
                                    **props("Network", stateful=True))
        # Every log group of the environment but the flow logs: the Network stack's CMK, the configured retention.
        log_settings = LogSettings(key=self.network.logs_key, retention_days=config.log_retention_days,
                                   removal=config.removal)
        self.cluster = ClusterStack(app, f"{prefix}-Cluster", config=config.cluster, vpc=self.network.vpc,
                                    log_settings=log_settings, removal=config.removal, environment=config.name,
                                    github_repository=config.github_repository, **props("Cluster", stateful=False))
        self.data = DataStack(app, f"{prefix}-Data", config=config.database, email=config.email, vpc=self.network.vpc,
                              log_settings=log_settings, removal=config.removal,
                              user_pool_tier=config.user_pool_tier, contract=contract,
                              **props("Data", stateful=True))
        self.messaging = MessagingStack(app, f"{prefix}-Messaging", contract=contract, config=config.messaging,
                                        removal=config.removal,
                                        **props("Messaging", stateful=True))
        self.edge = EdgeStack(app, f"{prefix}-Edge", config=config.api, vpc=self.network.vpc,
                              vpc_cidr=config.network.cidr,
                              user_pool=self.data.users.user_pool, log_settings=log_settings,
                              environment=config.name, github_repository=config.github_repository,
                              secrets_key=self.data.database_key,
                              payment_topic=self.messaging.topics["payment-events"].topic,
                              topics_key=self.messaging.topics_key, routes=contract.routes,
                              web_origin=config.web.origin, **props("Edge", stateful=False))
        # Deployed by an administrator (docs/deploying.md); the pipeline synthesizes with `-c delivery=exclude` so
        # that it never deploys the role it runs as.
        self.delivery: DeliveryStack | None = None
        if app.node.try_get_context("delivery") != "exclude":
            self.delivery = DeliveryStack(app, f"{prefix}-Delivery", repository=config.github_repository,
                                          environment=config.name,
                                          existing_oidc_provider_arn=config.delivery.existing_oidc_provider_arn,
                                          regions=(config.region, CLOUDFRONT_REGION),
                                          **props("Delivery", stateful=True))
        # The Data stack holds one PostgreSQL database (and the payment webhook's secret beside it).
        postgres = [s.service for s in contract.services if s.store is StoreKind.POSTGRES]
        if len(postgres) > 1:
            raise ContractError(f"services {', '.join(postgres)} each need a PostgreSQL database; the Data stack "
                                "holds one (OrdersDatabase)")
        # The storefront. Its certificate and web ACL must be in us-east-1 (CloudFront reads them there): a stack
        # of its own there, which writes their ARNs into SSM parameters of the environment's region at deploy; the
        # Web stack reads them as SSM-typed template parameters. Names and regions are fixed at synth.
        self.web_global = WebGlobalStack(
            app, f"{prefix}-WebGlobal", config=config.web, removal=config.removal,
            log_retention_days=config.log_retention_days, consumer_region=config.region,
            **{**props("WebGlobal", stateful=False),
               "env": cdk.Environment(account=config.account, region=CLOUDFRONT_REGION)})
        self.web = WebStack(
            app, f"{prefix}-Web", config=config.web, site_dir=storefront_dir,
            global_stack_name=self.web_global.stack_name,
            api_url=self.edge.platform_api.api.url, api_origin=self.edge.api_origin,
            api_key_id=self.edge.platform_api.api_keys[ApiClient.STOREFRONT].key_id,
            user_pool_id=self.data.users.user_pool.user_pool_id,
            user_pool_client_id=self.data.users.web_client.user_pool_client_id, log_settings=log_settings,
            **props("Web", stateful=False))
        self.web.add_stack_dependency(self.web_global, "reads the certificate and web ACL ARNs it writes")
        # Before Services: each Microservice's alarms notify this stack's topic (no dependency back).
        self.observability = ObservabilityStack(
            app, f"{prefix}-Observability", environment=config.name, alarms=config.alarms, database=config.database,
            removal=config.removal, vpc=self.network.vpc, cluster_name=self.cluster.cluster.cluster_name,
            api=self.edge.platform_api.api, web_acl=self.edge.web_acl.web_acl,
            orders_cluster=self.data.orders_database.cluster,
            tables={service: table.table for service, table in self.data.tables.items()},
            routes=contract.routes,
            consumed={s: tuple(self.messaging.queues[q.name] for q in contract.queues_consumed_by(s))
                      for s in contract.service_names},
            sweepers=[s.service for s in contract.services if ORDERS_PAST_DEADLINE_METRIC in s.metrics],
            objectives=config.objectives, synthetics=config.synthetics, working_hours=config.cluster.schedule,
            storefront_url=self.web.storefront.url,
            canary_target=(canary_target := CanaryTarget(
                api=self.edge.platform_api.api, api_key=self.edge.platform_api.api_keys[ApiClient.SYNTHETICS],
                accounts_secret=self.edge.smoke.secret, secrets_key=self.data.database_key,
                payment_topic=self.messaging.topics["payment-events"].topic if config.api.smoke_test_pays else None,
                topics_key=self.messaging.topics_key if config.api.smoke_test_pays else None)),
            log_settings=log_settings,
            dashboards=config.dashboards,
            trace_sampling_ratio=config.trace_sampling_ratio, **props("Observability", stateful=False))
        # The canary loads the storefront at the shop's domain from config (the Web stack's StorefrontUrl, a plain
        # value: no export joins the stacks), and no stack dependency orders them: one would put the storefront's
        # chain (WebGlobal's certificate and web ACL, then CloudFront) between Edge and Observability, so on the path
        # to Services. A fresh environment's canary fails its API workflows until Services is up anyway, and the
        # Web stack, waiting only on Edge and Data besides WebGlobal, is up before it.
        self.services = ServicesStack(
            app, f"{prefix}-Services", contract=contract, cluster=self.cluster.cluster,
            load_balancer_controller_role=self.cluster.platform_cluster.load_balancer_controller.role,
            sizing=config.services, vpc=self.network.vpc, vpc_cidr=config.network.cidr,
            log_settings=log_settings, topics=self.messaging.topics, topics_key=self.messaging.topics_key,
            queues=self.messaging.queues, queues_key=self.messaging.queues_key,
            notification_email=self.messaging.notification_email,
            tables=self.data.tables, databases=dict.fromkeys(postgres, self.data.orders_database),
            users=self.data.users, load_balancer=self.edge.load_balancer, email_identity=self.data.email_identity,
            secrets={"payment-webhook": self.data.payment_webhook.secret},
            telemetry=self.observability.telemetry, messaging_config=config.messaging, orders_config=config.orders,
            load_test=LoadTestRequest(run=load_test, environment=config.name,
                                      target=dataclasses.replace(
                                          canary_target, api_key=self.edge.platform_api.api_keys[ApiClient.LOAD]),
                                      results_bucket=self.observability.customers.bucket,
                                      results_key=self.observability.customers.key) if load_test else None,
            faults=(config.faults, FaultTargets(
                node_groups={name: group for name, group in self.cluster.platform_cluster.node_groups.items()
                             if not next(p for p in config.cluster.node_pools if p.name == name).dedicated_to},
                vpc=self.network.vpc, zones=config.network.availability_zones,
                database=self.data.orders_database.cluster,
                messaging_endpoints={k: v for k, v in self.network.platform_vpc.interface_endpoints.items()
                                     if k in ("sqs", "sns")},
                stop_condition=self.observability.objectives.stop_condition))
            if config.faults is not None and self.observability.objectives.stop_condition is not None else None,
            web_origin=config.web.origin, **props("Services", stateful=False))
        # Every log group: retention from config and the Network stack's logs CMK (in us-east-1, the WebGlobal
        # stack's own key), or synth fails.
        cdk.Validations.of(app).add_plugins(LogGroupGuard(
            key_stack=self.network, key=self.network.logs_key,
            regional_keys=((self.web_global, self.web_global.logs_key),),
            retention_days={config.log_retention_days, config.network.flow_log_retention_days},
            deletion_policy=LOG_GROUP_DELETION[config.removal]))
        for key, value in {"environment": config.name, "application": "ecommerce-platform", **config.tags}.items():
            cdk.Tags.of(app).add(key, value)


def build_app(config: EnvironmentConfig, *, outdir: str | None = None, nag: bool = True,
              contract: Contract = CONTRACT, load_test: LoadTestRun | None = None,
              storefront_dir: Path = STOREFRONT_DIR) -> tuple[cdk.App, Platform]:
    """The environment's app; ``contract``: the service contract its stacks derive from (the platform's own, or a
    changed copy a test synthesizes)."""
    # The same feature flags as the CLI (cdk.json), and the committed context holding the configs' zones so synth
    # never looks anything up (see `python -m config`); in-process synth in tests thus matches `cdk synth`.
    context: dict[str, object] = {**json.loads(CDK_JSON.read_text())["context"], **json.loads(CONTEXT_FILE.read_text())}
    app = cdk.App(outdir=outdir, context={**context, "env": config.name})
    if nag:
        apply_packs(app)
    return app, Platform(app, config, contract.validate(), load_test=load_test, storefront_dir=storefront_dir)
