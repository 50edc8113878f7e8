"""Builds every stack of one environment into an app: the single place where stacks are wired together."""

from __future__ import annotations

import aws_cdk as cdk

from config.environment import EnvironmentConfig
from policies.nag import apply_packs
from stacks.cluster_stack import ClusterStack
from stacks.network_stack import NetworkStack


class Platform:
    """The stacks of one environment, exposed as typed attributes."""

    def __init__(self, app: cdk.App, config: EnvironmentConfig) -> None:
        env = cdk.Environment(account=config.account, region=config.region)
        prefix = config.stack_prefix

        def props(part: str, *, stateful: bool) -> dict[str, object]:
            return {
                "env": env,
                "stack_name": f"{prefix}-{part}",
                "termination_protection": stateful and config.termination_protection,
                "description": f"E-commerce platform {config.name}: {part}",
            }

        self.network = NetworkStack(app, f"{prefix}-Network", config=config.network, removal=config.removal,
                                    **props("Network", stateful=True))
        self.cluster = ClusterStack(app, f"{prefix}-Cluster", config=config.cluster, vpc=self.network.vpc,
                                    removal=config.removal, **props("Cluster", stateful=False))
        for key, value in {"environment": config.name, "application": "ecommerce-platform", **config.tags}.items():
            cdk.Tags.of(app).add(key, value)


def build_app(config: EnvironmentConfig, *, outdir: str | None = None, nag: bool = True) -> tuple[cdk.App, Platform]:
    app = cdk.App(outdir=outdir, context={"env": config.name})
    if nag:
        apply_packs(app, ("AwsSolutions",))
    return app, Platform(app, config)
