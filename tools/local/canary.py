"""The CloudWatch Synthetics canary's entry point: the smoke test's workflows (tools/local/smoke.py,
tools/local/workflows.py), one Synthetics step each, around the clock against a deployed stage.

Packaged with that code by cdk_constructs/canary_bundle.py as ``python/canary.py`` of the canary's asset (handler
``canary.handler``, runtime config/synthetics.py). Its environment (cdk_constructs/synthetic_customers.py):
``BASE_URL``, ``API_KEY_ID`` (the key's value is read at run time with ``apigateway:GET`` on that key, never put in the
template), ``SMOKE_SECRET`` and, where the stage lets the smoke test pay, ``PAYMENT_TOPIC``.

Each step is the runtime's ``execute_step``: the run's report lists the workflows with their durations, and a failed
workflow fails the run (``SuccessPercent`` below 100, the canary's alarm). The steps run in order and the run stops at
the first failure, as Synthetics steps do. Its log lines go to the run's log file in the artifacts bucket.

With ``STOREFRONT_URL`` (the Web stack's ``StorefrontUrl``, which the canary's construct is given) a last step loads
the storefront in the runtime's browser (``synthetics_webdriver.Chrome()``) as a customer would and checks that its
catalog is rendered from the API with no failed request, script error or CSP violation
(tools/local/page_load.py), saving the runtime's screenshot of the page.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from tools.local import page_load, smoke
from tools.local.workflows import WORKFLOWS, Client

ExecuteStep = Callable[[str, Callable[[], Any]], Awaitable[Any]]


SIGN_IN_STEP = "sign in"


async def run(environ: Mapping[str, str], execute_step: ExecuteStep,
              launch_browser: page_load.LaunchBrowser | None = None) -> dict[str, Any]:
    """The run's steps in order: the admin signs in through the API (a stage whose accounts or sign-in are broken
    fails this step), then each canary workflow, then, with ``STOREFRONT_URL``, the storefront's page load in a
    browser from ``launch_browser``. Results by step."""
    storefront = environ.get("STOREFRONT_URL", "")
    if storefront and launch_browser is None:
        raise ValueError("STOREFRONT_URL is set but no browser was given to load it with")
    stage = smoke.stage_from_environment(environ)
    client: list[Client] = []
    await execute_step(SIGN_IN_STEP, lambda: client.append(Client(stage)))
    results: dict[str, Any] = {}
    for name in smoke.CANARY_WORKFLOWS:
        results[name] = await execute_step(name, functools.partial(WORKFLOWS[name], client[0]))
    if storefront and launch_browser is not None:
        results[page_load.STEP] = await execute_step(page_load.STEP, functools.partial(
            page_load.load_storefront, launch_browser, storefront, page_load.api_catalog(client[0])))
    return results


async def handler(event: Any, context: Any) -> dict[str, Any]:
    """Synthetics calls this on schedule; its library exists only in the runtime."""
    from aws_synthetics.selenium import synthetics_webdriver

    return await run(os.environ, synthetics_webdriver.execute_step,
                     lambda options: synthetics_webdriver.Chrome(chrome_options=options))
