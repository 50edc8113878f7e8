"""`make access-report`: from the synthesized templates, which actions each role may perform on which resources.

Every IAM role of every stack (each service, each add-on, each CDK helper), with the statements of its inline
policies and of every AWS::IAM::Policy / AWS::IAM::ManagedPolicy attached to it in the templates, and the AWS
managed policies it carries. Written to cdk.out/access/<env>.md and .json so a reviewer sees what a change grants.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from config.environments import load
from stacks.platform import build_app
from tools.assembly import Assembly

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "cdk.out" / "access"


def render(value: Any) -> str:
    """A compact, readable form of a template value (Ref/GetAtt/imports shown by logical name)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            return f"<{'.'.join(value['Fn::GetAtt'])}>"
        if "Fn::GetStackOutput" in value:
            return f"<{value['Fn::GetStackOutput']['StackName']}:{value['Fn::GetStackOutput']['OutputName']}>"
        if "Fn::ImportValue" in value:
            return f"<import {render(value['Fn::ImportValue'])}>"
        if "Fn::Join" in value:
            return "".join(render(v) for v in value["Fn::Join"][1])
    if isinstance(value, list):
        return ", ".join(render(v) for v in value)
    return json.dumps(value)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_refs(policy_props: dict[str, Any]) -> list[str]:
    return [r["Ref"] for r in policy_props.get("Roles", []) if isinstance(r, dict) and "Ref" in r]


def access_matrix(templates: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    roles: list[dict[str, Any]] = []
    for stack, template in sorted(templates.items()):
        resources = template.get("Resources", {})
        attached: dict[str, list[dict[str, Any]]] = {}
        for logical_id, r in resources.items():
            if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                for role in role_refs(r["Properties"]):
                    attached.setdefault(role, []).append({"policy": logical_id, **r["Properties"]["PolicyDocument"]})
        for logical_id, r in sorted(resources.items()):
            if r["Type"] != "AWS::IAM::Role":
                continue
            props = r["Properties"]
            documents = [{"policy": p["PolicyName"], **p["PolicyDocument"]} for p in props.get("Policies", [])]
            documents += attached.get(logical_id, [])
            statements = [
                {"policy": doc["policy"], "effect": s["Effect"], "actions": sorted(as_list(s.get("Action", []))),
                 "resources": [render(x) for x in as_list(s.get("Resource", []))],
                 "condition": s.get("Condition")}
                for doc in documents for s in doc.get("Statement", [])
            ]
            trust = [render(s.get("Principal")) for s in props["AssumeRolePolicyDocument"]["Statement"]]
            roles.append({
                "stack": stack, "role": logical_id,
                "path": r.get("Metadata", {}).get("aws:cdk:path", logical_id),
                "trusted": trust,
                "managed_policies": [render(m) for m in props.get("ManagedPolicyArns", [])],
                "statements": statements,
            })
    return roles


def markdown(env: str, roles: list[dict[str, Any]]) -> str:
    lines = [f"# Access matrix: {env}", "", f"{len(roles)} roles. Actions per role and resource, from the "
             "synthesized templates.", ""]
    for role in roles:
        lines += [f"## {role['path']}", "", f"- stack: `{role['stack']}`; assumed by: {', '.join(role['trusted'])}"]
        if role["managed_policies"]:
            lines.append(f"- AWS managed policies: {', '.join(f'`{m}`' for m in role['managed_policies'])}")
        if role["statements"]:
            lines += ["", "| effect | actions | resources | condition |", "|---|---|---|---|"]
            for s in role["statements"]:
                cond = json.dumps(s["condition"]) if s["condition"] else ""
                lines.append(f"| {s['effect']} | {'<br>'.join(s['actions'])} | {'<br>'.join(s['resources'])} | "
                             f"{cond} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    env = argv[0] if argv else "dev"
    with tempfile.TemporaryDirectory() as tmp:
        app, _ = build_app(load(env), outdir=tmp)
        app.synth()
        templates = {name: stack.template for name, stack in Assembly(Path(tmp)).stacks.items()}
    roles = access_matrix(templates)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{env}.json").write_text(json.dumps(roles, indent=2) + "\n")
    (OUT / f"{env}.md").write_text(markdown(env, roles))
    print(f"access matrix of {env}: {len(roles)} roles -> {(OUT / f'{env}.md').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
