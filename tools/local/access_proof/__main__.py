"""`make access-proof`: the seed's workflows and a round of poison messages through the local platform with moto
enforcing each service's synthesized role, every AWS call recorded and evaluated; the report a reviewer reads.

    python -m tools.local.access_proof [--mode processes|containers] [--assembly DIR] [--out cdk.out/access]
                                 [--without SERVICE:ACTION]

writes ``<out>/proof.md`` and ``<out>/proof.json`` and exits 1 when any call was denied (by moto while the run
went, or by the proof's own evaluation, which also checks conditions), naming the call and its code path.
``--without users:sns:Publish`` removes one action from a service's synthesized policy first (the role moto
enforces and the one evaluated): the run must then fail naming the calls that needed it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

from tools.local import poison
from tools.local.access_proof import Proof, ServiceRole, failure_message, render_markdown
from tools.local.local_platform import LocalPlatform, add_mode_arguments
from tools.local.workflows import WORKFLOWS, Client, run_all

ROOT = Path(__file__).resolve().parents[3]
RAN = "the seed's workflows through the local edge (tools/local/workflows.py) and one poison message of each kind " \
      "for every topic and queue (tools/local/poison.py), moto enforcing the roles"


def without(roles: dict[str, ServiceRole], service: str, action: str) -> dict[str, ServiceRole]:
    """The roles with ``action`` taken out of every statement of ``service``'s role (a statement left with no
    action is dropped)."""
    if service not in roles:
        raise SystemExit(f"--without: no service {service!r} (services: {', '.join(roles)})")
    role = roles[service]
    statements = tuple(replace(s, actions=tuple(a for a in s.actions if a.lower() != action.lower()))
                       for s in role.statements)
    if statements == role.statements:
        raise SystemExit(f"--without: {service}'s role grants no {action}")
    return {**roles, service: replace(role, statements=tuple(s for s in statements if s.actions))}


class ProofPlatform(LocalPlatform):
    """The local platform whose roles can be narrowed before moto gets them (--without)."""

    def __init__(self, *, drop: tuple[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.drop = drop

    def roles(self) -> dict[str, ServiceRole]:
        roles = super().roles()
        return without(roles, *self.drop) if self.drop else roles


def run(*, mode: str, assembly: Path | None, drop: tuple[str, str] | None) -> tuple[Proof, int]:
    with ProofPlatform(free_ports=True, mode=mode, assembly=assembly, name_prefix="access-proof",
                       enforce_iam=True, drop=drop) as platform:
        try:
            failures = run_all(Client(platform), on_failure=lambda name: None)
            sns, sqs = platform.client("sns"), platform.client("sqs")
            for p in poison.poison_set(kinds=("schema-invalid", "wrong-type")):
                poison.send(p, sns, sqs, platform.resources.topic_arns, platform.resources.queue_urls)
            _wait_dead_letters(platform)
        except Exception:  # a denied call often surfaces as a failed workflow: the proof names it
            traceback.print_exc()
            failures = len(WORKFLOWS)
        return platform.access_proof(), failures


def _wait_dead_letters(platform: LocalPlatform, timeout: float = 60) -> None:
    """Until every consumer queue is empty (the poison dead-lettered), so its calls are in the record."""
    sqs = platform.client("sqs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = [sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            for url in platform.resources.queue_urls.values()]
        if all(int(c["ApproximateNumberOfMessages"]) + int(c["ApproximateNumberOfMessagesNotVisible"]) == 0
               for c in counts):
            return
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.local.access_proof", description=__doc__.split("\n\n")[0])
    add_mode_arguments(parser)
    parser.add_argument("--out", type=Path, default=ROOT / "cdk.out" / "access")
    parser.add_argument("--without", default=None, metavar="SERVICE:ACTION",
                        help="remove ACTION from SERVICE's synthesized policy first (the run must then fail)")
    args = parser.parse_args(argv)
    drop = None
    if args.without:
        service, _, action = args.without.partition(":")
        drop = (service, action)
    proof, failures = run(mode=args.mode, assembly=args.assembly, drop=drop)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "proof.json").write_text(json.dumps(proof.to_json(), indent=2) + "\n")
    (args.out / "proof.md").write_text(render_markdown(proof, ran=RAN))
    summary = ", ".join(f"{name} {s['calls']} calls {len(s['denied'])} denied"
                        for name, s in proof.to_json()["services"].items())
    print(f"access proof -> {args.out / 'proof.md'}: {summary}; {len(WORKFLOWS) - failures}/{len(WORKFLOWS)} "
          "workflows passed")
    if proof.denied:
        print(failure_message(proof), file=sys.stderr)
    return 1 if proof.denied or failures else 0


if __name__ == "__main__":
    sys.exit(main())
