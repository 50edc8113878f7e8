"""`make pay ORDER=<order id>`: stand in for the payment provider against `make local`, so that an order placed by
hand in the storefront can reach CONFIRMED: the provider's signed webhook (``POST /payments/webhook``, signed with the
local platform's webhook secret as services/orders/webhook.py checks it) for the order's total, through the local edge.

The platform has no payment provider integration (docs/security.md, "Payment data and the provider's webhook"): in
AWS the provider posts this after the customer paid on its hosted page. Give the total as the order page shows it
(``CENTS``, ``CURRENCY``): the webhook refuses a wrong amount (422 amount_mismatch), as it would the provider's.
"""

from __future__ import annotations

import argparse
import json
import sys

import httpx

from tools.local.local_platform import EDGE_ENV_FILE, SMOKE_ENV_FILE
from tools.local.smoke import read_env_file
from tools.local.workflows import payment_report, signed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.local.pay", description=__doc__.split("\n\n")[0])
    parser.add_argument("order_id")
    parser.add_argument("--cents", type=int, required=True, help="the order's total in cents, as its page shows it")
    parser.add_argument("--currency", default="EUR")
    parser.add_argument("--failed", action="store_true", help="report a failed payment instead")
    args = parser.parse_args(argv)
    edge, smoke = read_env_file(EDGE_ENV_FILE), read_env_file(SMOKE_ENV_FILE)
    order = {"order_id": args.order_id, "total_cents": args.cents, "currency": args.currency}
    body = json.dumps(payment_report(order, succeeded=not args.failed)).encode()
    r = httpx.post(f"{edge['EDGE_URL']}/payments/webhook", content=body, timeout=30,
                   headers={**signed(smoke["PAYMENT_WEBHOOK_SECRET"], body), "x-api-key": edge["API_KEY"]})
    print(r.status_code, r.text)
    return 0 if r.status_code == 202 else 1


if __name__ == "__main__":
    sys.exit(main())
