"""Smoke test of a stage: the seed's workflows (tools/local/workflows.py) against an API URL with its API key.

    make smoke BASE_URL=https://<api>.execute-api.<region>.amazonaws.com/v1 API_KEY=... \\
        SMOKE_SECRET=<secret ARN> [PAYMENT_TOPIC=<payment-events topic ARN>] [STOREFRONT_URL=https://<shop>]
    make smoke                      # against `make local` (reads .local/edge.env and .local/smoke.env)

A deployed stage gives the smoke test no AWS admin rights (docs/smoke.md): it signs in, through the API like any
client, with two accounts the Edge stack provisions (cdk_constructs/smoke_test_access.py) whose credentials are in one
Secrets Manager secret: a member of the `admin` group (catalog and stock writes) and a confirmed customer (orders).
Read with the smoke role the pipeline assumes, which may read that secret, read the API key's value, and, outside
prod, publish PaymentConfirmed on the payment-events topic as the payment provider does.

- registration: a new sign-up (SES mailbox simulator address, so no real mail bounces) must come back unconfirmed
  and be refused sign-in until confirmed; the stage offers no way around the confirmation email;
- orders: the customer orders a product the admin created and stocked; it is reserved, then paid and confirmed
  where the stage may publish payments (dev, staging), else cancelled and its stock released (prod);
- product update: a reserved order is repriced when the admin reprices, and rejected when the product is
  discontinued, its stock released.
Every product the smoke test creates is discontinued at the end, whatever happens.

With the storefront's URL (the Web stack's ``StorefrontUrl``; `make local`'s WEB_URL) it then loads the storefront in
Debian's Chromium as a customer would, the canary's page-load step (tools/local/page_load.py): the catalog rendered
from the API, no failed request, script error or CSP violation; its screenshot in cdk.out/smoke/.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from config.topology import EVENT_TYPE_ATTRIBUTE
from tools.local import page_load
from tools.local.workflows import WORKFLOWS, Account, Client, Stage, new_password, run_all

if TYPE_CHECKING:
    from tools.local.local_platform import LocalPlatform

ROOT = Path(__file__).resolve().parents[2]
LOCAL_DIR = ROOT / ".local"
SCREENSHOTS = ROOT / "cdk.out" / "smoke"
SES_SIMULATOR = "simulator.amazonses.com"  # "success@" accepts every message and never bounces


@dataclass(frozen=True)
class SmokeAccounts:
    admin: Account
    customer: Account

    @classmethod
    def from_secret(cls, secret: str) -> SmokeAccounts:
        """The secret's JSON: {"admin": {"email", "password"}, "customer": {"email", "password"}}."""
        data = json.loads(secret)
        return cls(admin=Account(data["admin"]["email"], data["admin"]["password"]),
                   customer=Account(data["customer"]["email"], data["customer"]["password"]))

    def to_secret(self) -> str:
        return json.dumps({"admin": {"email": self.admin.email, "password": self.admin.password},
                           "customer": {"email": self.customer.email, "password": self.customer.password}})


class DeployedStage(Stage):
    """A stage reached only through its API, plus the smoke role's secret and (outside prod) payment topic."""

    def __init__(self, base_url: str, api_key: str, *, accounts: SmokeAccounts, payment_topic_arn: str | None,
                 sns: Any = None) -> None:
        super().__init__(base_url, api_key)
        self.accounts = accounts
        self.payment_topic_arn = payment_topic_arn
        self.sns = sns

    def admin(self) -> Account:
        return self.accounts.admin

    def customer(self) -> Account:
        return self.accounts.customer

    def new_email(self, label: str) -> str:
        return f"success+smoke-{label}-{uuid.uuid4().hex[:8]}@{SES_SIMULATOR}"

    def pay(self, event: Mapping[str, Any]) -> bool:
        if not self.payment_topic_arn:
            return False
        self.sns.publish(TopicArn=self.payment_topic_arn, Message=json.dumps(event),
                         MessageAttributes={EVENT_TYPE_ATTRIBUTE: {"DataType": "String",
                                                                   "StringValue": str(event["type"])}})
        return True


# What the canary runs around the clock (tools/local/canary.py): every workflow but user registration, each of whose
# sign-ups would leave an unconfirmed user in the pool (no way around the confirmation email) and count as a monthly
# active user, 8,640 a month at a 5-minute schedule. `make smoke` runs that one after every deploy.
CANARY_WORKFLOWS = tuple(name for name in WORKFLOWS if name != "user registration")


def stage_from_environment(environ: Mapping[str, str], session: Any = None) -> DeployedStage:
    """The stage as the pipeline's smoke job and the canary see it: ``BASE_URL``, the API key as ``API_KEY`` (the
    pipeline reads its value) or ``API_KEY_ID`` (read here with apigateway:GET on that key, as the canary does),
    ``SMOKE_SECRET`` and, where the stage lets the smoke test pay, ``PAYMENT_TOPIC``."""
    session = session or boto3.session.Session(region_name=environ.get("AWS_REGION") or None)
    api_key = environ.get("API_KEY", "")
    if not api_key and environ.get("API_KEY_ID"):
        api_key = session.client("apigateway").get_api_key(apiKey=environ["API_KEY_ID"], includeValue=True)["value"]
    missing = [k for k, v in (("BASE_URL", environ.get("BASE_URL")), ("API_KEY or API_KEY_ID", api_key),
                              ("SMOKE_SECRET", environ.get("SMOKE_SECRET"))) if not v]
    if missing:
        raise ValueError(f"the stage needs {', '.join(missing)}")
    topic = environ.get("PAYMENT_TOPIC") or None
    # Absent where the stage may not pay (the Edge stack has no PaymentTopicArn output there); anything but a topic
    # ARN (a "null" read from a missing output, say) is a caller's mistake, not a reason to skip payments.
    if topic is not None and not (topic.startswith("arn:") and topic.split(":")[2:3] == ["sns"]):
        raise ValueError(f"PAYMENT_TOPIC must be an SNS topic ARN or empty, not {topic!r}")
    accounts = SmokeAccounts.from_secret(
        session.client("secretsmanager").get_secret_value(SecretId=environ["SMOKE_SECRET"])["SecretString"])
    return DeployedStage(environ["BASE_URL"], api_key, accounts=accounts, payment_topic_arn=topic,
                         sns=session.client("sns") if topic else None)


def load_storefront(client: Client, url: str, screenshots: Path = SCREENSHOTS) -> bool:
    """The canary's page-load step in this machine's Chromium; prints PASS or FAIL as the workflows do."""
    # Imported here: the canary's asset carries this module but not the machine's browser (the runtime has its own).
    from tools.local.chromium import LocalChrome

    started = time.monotonic()
    try:
        result = page_load.load_storefront(lambda options: LocalChrome(options, screenshots=screenshots), url,
                                           page_load.api_catalog(client))
    except Exception:
        print(f"FAIL {page_load.STEP} ({time.monotonic() - started:.1f}s)\n{traceback.format_exc()}", flush=True)
        return False
    print(f"PASS {page_load.STEP} ({time.monotonic() - started:.1f}s) {json.dumps(result)}; screenshot in "
          f"{screenshots}", flush=True)
    return True


def run(stage: Stage, storefront_url: str = "") -> int:
    client = Client(stage)
    failures = run_all(client)
    print(f"smoke: {len(WORKFLOWS) - failures}/{len(WORKFLOWS)} workflows passed against {stage.base_url}", flush=True)
    if storefront_url:
        loaded = load_storefront(client, storefront_url)
        print(f"smoke: the storefront at {storefront_url} {'loaded' if loaded else 'did NOT load'} as a customer "
              "needs it", flush=True)
        failures += 0 if loaded else 1
    return 1 if failures else 0


def read_env_file(path: Path) -> dict[str, str]:
    if not path.exists():
        raise SystemExit(f"{path} not found: start `make local` first, or give BASE_URL and API_KEY")
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.local.smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default=os.environ.get("BASE_URL", ""),
                        help="the stage's API URL, stage included (the Edge stack's ApiUrl output)")
    parser.add_argument("--secret", default=os.environ.get("SMOKE_SECRET", ""),
                        help="id or ARN of the smoke accounts' secret (the Edge stack's SmokeSecretArn output)")
    parser.add_argument("--payment-topic", default=os.environ.get("PAYMENT_TOPIC", ""),
                        help="payment-events topic ARN; without it orders are cancelled instead of paid")
    parser.add_argument("--storefront-url", default=os.environ.get("STOREFRONT_URL", ""),
                        help="the storefront's URL (the Web stack's StorefrontUrl output): also load it in Chromium")
    parser.add_argument("--local", action="store_true", help="target `make local` (.local/edge.env, .local/smoke.env)")
    args = parser.parse_args(argv)
    api_key = os.environ.get("API_KEY", "")
    if args.local:
        edge, local = read_env_file(LOCAL_DIR / "edge.env"), read_env_file(LOCAL_DIR / "smoke.env")
        os.environ.update({k: v for k, v in local.items() if k.startswith("AWS_")})
        args.base_url, api_key = edge["EDGE_URL"], edge["API_KEY"]
        args.secret, args.payment_topic = local["SMOKE_SECRET"], local["PAYMENT_TOPIC"]
        args.storefront_url = edge.get("WEB_URL", "")
        if not args.storefront_url:
            raise SystemExit(f"{LOCAL_DIR / 'edge.env'} names no WEB_URL: restart `make local`, which serves the "
                             "storefront")
    if not (args.base_url and api_key and args.secret):
        parser.error("BASE_URL, API_KEY (environment) and SMOKE_SECRET are required (or --local)")
    # configure-aws-credentials sets AWS_REGION; botocore itself reads only AWS_DEFAULT_REGION.
    return run(stage_from_environment({"BASE_URL": args.base_url, "API_KEY": api_key, "SMOKE_SECRET": args.secret,
                                       "PAYMENT_TOPIC": args.payment_topic,
                                       "AWS_REGION": os.environ.get("AWS_REGION", "")}),
               storefront_url=args.storefront_url)


def provision_local(platform: LocalPlatform) -> dict[str, str]:
    """What the Edge stack's SmokeTestAccess provides, in the local platform: the two accounts (created with moto's
    admin APIs, as the stack's custom resource does in AWS) and their secret. Returns .local/smoke.env's values."""
    idp, pool = platform.client("cognito-idp"), platform.resources.user_pool_id
    accounts = SmokeAccounts(admin=Account(f"smoke-admin-{uuid.uuid4().hex[:6]}@example.com", new_password()),
                             customer=Account(f"smoke-customer-{uuid.uuid4().hex[:6]}@example.com", new_password()))
    for account in (accounts.admin, accounts.customer):
        idp.admin_create_user(UserPoolId=pool, Username=account.email, MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": account.email},
                                              {"Name": "email_verified", "Value": "true"}])
        idp.admin_set_user_password(UserPoolId=pool, Username=account.email, Password=account.password,
                                    Permanent=True)
    idp.admin_add_user_to_group(UserPoolId=pool, Username=accounts.admin.email, GroupName="admin")
    secret = platform.client("secretsmanager").create_secret(
        Name=f"smoke/accounts-{uuid.uuid4().hex[:6]}", SecretString=accounts.to_secret())["ARN"]
    from tools.local.local_platform import FAKE_CREDENTIALS, REGION

    return {"AWS_ENDPOINT_URL": platform.moto_url, "AWS_REGION": REGION, **FAKE_CREDENTIALS,
            "SMOKE_SECRET": str(secret), "PAYMENT_TOPIC": platform.resources.topic_arns["payment-events"]}


if __name__ == "__main__":
    sys.exit(main())
