"""Least privilege shown by the calls the services make: each observed AWS call evaluated against the role the
service ships with.

The roles come from the synthesized assembly, not from a list: each Deployment of the Services stack names its
service account, the EKS Pod Identity association of that account names the role, and every IAM policy of the
templates attached to that role (managed, inline or in the role itself) is read with its references resolved to the
local platform's resources (tools/local/manifest_resolver.py: the same resolver that gives the pods their environment).
Resources with no local counterpart (KMS keys, which moto's queues, topics and tables do not use) get an ARN
``.../<kind>/not-local-<construct path>``, which no local call can name.

The calls come from the services themselves (services/common/aws.py records each call's operation, the parameters
naming its resources and the code path, when the local platform sets AWS_CALL_LOG).

Evaluation follows IAM's rules for an identity policy within one account: a call is allowed when, for every resource
it names, an Allow statement matches its action and that resource (``*`` and ``?`` wildcards) and every condition of
that statement holds, and no Deny statement matches. Conditions are evaluated for the keys a call carries
(``ses:FromAddress`` from SendEmail's From address); a condition on any other key is not satisfied, so a new
condition fails the proof until the key is modelled here rather than passing unseen. Operations AWS serves without
IAM authorization (Cognito's SignUp and InitiateAuth with a public client, sts:GetCallerIdentity) are recorded and
reported, not evaluated.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from tools.assembly import Assembly, Resource
from tools.local.manifest_resolver import LocalCounterparts, Resolver, ResourceRef, UnresolvedToken

POLICY_TYPES = ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")
# The action IAM authorizes for each kind of item of a DynamoDB transaction.
TRANSACTION_ITEM_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                            "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
# Batch operations IAM authorizes as their single-entry action (SQS: "the same as for the corresponding non-batch
# action"; SNS: PublishBatch needs sns:Publish on the topic).
BATCH_ACTIONS = {"sns:PublishBatch": "sns:Publish", "sqs:SendMessageBatch": "sqs:SendMessage",
                 "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
                 "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility"}
# Operations AWS authorizes without an IAM policy (moto's list of Cognito's public operations, and STS's identity).
PUBLIC_OPERATIONS = frozenset({
    "cognito-idp:SignUp", "cognito-idp:InitiateAuth", "cognito-idp:ConfirmSignUp", "cognito-idp:ForgotPassword",
    "cognito-idp:GetUser", "cognito-idp:ConfirmForgotPassword", "cognito-idp:RespondToAuthChallenge",
    # Authorized by the access token it revokes ("Amazon Cognito doesn't evaluate IAM policies in requests for this
    # API operation": GlobalSignOut, Cognito API reference); moto's list lacks it.
    "cognito-idp:GlobalSignOut",
    "sts:GetCallerIdentity",
})
# Why an action granted but never observed stays: the path that needs it and the test that should reach it. An
# action granted and never observed that is not here is a candidate to remove (the report says so).
JUSTIFIED: Mapping[str, str] = {
    "kms:Decrypt": "called by SQS, SNS, DynamoDB and Secrets Manager on the service's behalf (the key encrypts the "
                   "queue, topic, table or secret; moto encrypts nothing, so no local call reaches it): "
                   "tests/test_iam.py::test_each_key_grant_names_the_key_of_a_resource_the_service_uses",
    "kms:GenerateDataKey": "called by SNS, SQS and DynamoDB on the service's behalf when it publishes, sends or "
                           "writes through a CMK-encrypted resource (not reachable locally, see kms:Decrypt)",
    "kms:DescribeKey": "called by DynamoDB and Secrets Manager on the service's behalf to validate the CMK (not "
                       "reachable locally, see kms:Decrypt)",
    "sqs:ChangeMessageVisibility": "a handler's transient failure sets the message's retry backoff, and a stopping "
                                   "worker releases what it received (common/consumer.py _set_visibility, "
                                   "_release): services/common/tests/test_resilience.py::"
                                   "test_database_outage_of_20s_backpressures_and_dead_letters_nothing reaches it",
}


class PolicyError(ValueError):
    """The assembly's roles cannot be read or resolved."""


@dataclass(frozen=True)
class Statement:
    policy: str  # the construct path of the policy that holds it
    index: int
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, hash=False)

    @property
    def label(self) -> str:
        return f"{self.policy}#{self.index}"

    def matches_action(self, action: str) -> bool:
        return any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in self.actions)

    def matches_resource(self, arn: str) -> bool:
        return any(fnmatch.fnmatchcase(arn, r) for r in self.resources)

    def conditions_hold(self, context: Mapping[str, str]) -> bool:
        for operator, keys in self.conditions.items():
            for key, expected in keys.items():
                values = expected if isinstance(expected, list) else [expected]
                actual = context.get(key.lower())
                if actual is None:
                    return False
                if operator == "StringEquals":
                    ok = actual in values
                elif operator == "StringEqualsIgnoreCase":
                    ok = actual.lower() in (str(v).lower() for v in values)
                elif operator == "StringLike":
                    ok = any(fnmatch.fnmatchcase(actual, str(v)) for v in values)
                else:
                    return False  # an operator this evaluator does not model never allows
                if not ok:
                    return False
        return True

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "index": self.index, "effect": self.effect, "actions": list(self.actions),
                "resources": list(self.resources), "conditions": dict(self.conditions)}


@dataclass(frozen=True)
class ServiceRole:
    service: str  # the service account (and namespace) the Deployments run as
    role: str  # the role's construct path
    deployments: tuple[str, ...]
    statements: tuple[Statement, ...]

    def policy_document(self, *, without_conditions: bool = False) -> dict[str, Any]:
        """The role's statements as one IAM policy document (for moto's role)."""
        out = []
        for s in self.statements:
            doc: dict[str, Any] = {"Effect": s.effect, "Action": list(s.actions), "Resource": list(s.resources)}
            if s.conditions and not without_conditions:
                doc["Condition"] = dict(s.conditions)
            out.append(doc)
        return {"Version": "2012-10-17", "Statement": out}


@dataclass(frozen=True)
class Call:
    """One observed call: who made it, the IAM action, the resource ARNs it names, its condition keys."""

    pod: str
    action: str  # the operation, as service:Operation
    resources: tuple[str, ...]
    context: Mapping[str, str]
    # What IAM authorizes: (action, resource) pairs. Usually the operation on each resource it names; a DynamoDB
    # transaction is authorized item by item as the item's own action (there is no dynamodb:TransactWriteItems).
    requirements: tuple[tuple[str, str], ...]
    code_path: tuple[str, ...]
    status: int
    error: str | None

    @property
    def where(self) -> str:
        """The innermost two frames of the service's own code: the call and what it served."""
        return " > ".join(self.code_path[-2:]) if self.code_path else "(no frame under services/)"

    def describe(self) -> str:
        return f"{self.pod}: {self.action} on {', '.join(self.resources) or '*'} from {' > '.join(self.code_path)}"


@dataclass
class Decision:
    call: Call
    allowed: bool
    public: bool = False
    used: tuple[tuple[Statement, str], ...] = ()  # (statement, the action it allowed)
    reason: str = ""

    @property
    def statements(self) -> tuple[Statement, ...]:
        return tuple(dict.fromkeys(s for s, _ in self.used))


class PolicyCounterparts(LocalCounterparts):
    """The local platform's counterparts, plus a stable name for resources a role names that have no local
    counterpart (KMS keys)."""

    def resource(self, r: ResourceRef) -> str:
        try:
            return super().resource(r)
        except UnresolvedToken:
            # An ARN (IAM validates the policy) in the resource's own service, naming the construct: nothing local.
            service = r.type.split("::")[1].lower()
            kind = "key" if r.type == "AWS::KMS::Key" else r.type.split("::")[-1].lower()
            return f"arn:aws:{service}:{self.region}:{self.account}:{kind}/not-local-{'-'.join(r.path)}"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _path(resource: Resource) -> str:
    return str(resource.attributes.get("Metadata", {}).get("aws:cdk:path", f"{resource.stack}/{resource.logical_id}"))


def service_roles(assembly: Assembly, local: LocalCounterparts, part: str = "Services",
                  environment_account: str = "") -> dict[str, ServiceRole]:
    """Each service account of the stack ``<Env>-<part>``'s Deployments -> its role and the role's statements,
    resolved. ``environment_account``: the account CDK renders literally into some ARNs (``Stack.format_arn`` of
    an environment-bound stack), which the local platform's account stands for."""
    accounts: dict[tuple[str, str], list[str]] = {}
    for obj in assembly.objects():
        if obj.resource.stack.split("-", 1)[-1] != part or obj.manifest.get("kind") != "Deployment":
            continue
        account = obj.manifest["spec"]["template"]["spec"].get("serviceAccountName", "default")
        accounts.setdefault((obj.manifest["metadata"].get("namespace", "default"), account), []).append(
            obj.manifest["metadata"]["name"])
    resolver = Resolver(assembly, local)
    roles: dict[str, ServiceRole] = {}
    for (namespace, account), names in sorted(accounts.items()):
        association = next((a for a in assembly.resources("AWS::EKS::PodIdentityAssociation")
                            if a.properties.get("Namespace") == namespace
                            and a.properties.get("ServiceAccount") == account), None)
        if association is None:
            raise PolicyError(f"service account {namespace}/{account} ({', '.join(names)}): no Pod Identity "
                              "association in the assembly")
        target = assembly.target(association.stack, association.properties["RoleArn"])
        if target is None:
            raise PolicyError(f"{_path(association)}: its RoleArn leads to no role of the assembly")
        role = assembly.resource(target.stack, target.logical_id)
        assert role is not None
        roles[account] = ServiceRole(service=account, role=_path(role), deployments=tuple(sorted(names)),
                                     statements=tuple(_localized(s, environment_account, local.account)
                                                      for s in _statements(assembly, resolver, role)))
    return roles


def _localized(statement: Statement, account: str, local_account: str) -> Statement:
    if not account:
        return statement
    return replace(statement, resources=tuple(r.replace(f":{account}:", f":{local_account}:")
                                              for r in statement.resources))


def _statements(assembly: Assembly, resolver: Resolver, role: Resource) -> Iterator[Statement]:
    documents: list[tuple[str, Resource, Any]] = [
        (f"{_path(role)}:{p.get('PolicyName', i)}", role, p["PolicyDocument"])
        for i, p in enumerate(role.properties.get("Policies", []))]
    for policy in assembly.resources(*POLICY_TYPES):
        for ref in policy.properties.get("Roles", []):
            target = assembly.target(policy.stack, ref)
            if target is not None and (target.stack, target.logical_id) == (role.stack, role.logical_id):
                documents.append((_path(policy).removesuffix("/Resource"), policy, policy.properties["PolicyDocument"]))
    if role.properties.get("ManagedPolicyArns"):
        raise PolicyError(f"{_path(role)}: carries managed policies by ARN, which this proof cannot read")
    for label, holder, document in documents:
        for i, s in enumerate(resolver.resolve(document, holder.stack).get("Statement", [])):
            if "NotAction" in s or "NotResource" in s:
                raise PolicyError(f"{label}#{i}: NotAction/NotResource are not evaluated by this proof")
            yield Statement(policy=label, index=i, effect=str(s["Effect"]),
                            actions=tuple(str(a) for a in _as_list(s["Action"])),
                            resources=tuple(str(r) for r in _as_list(s.get("Resource", "*"))),
                            conditions=s.get("Condition", {}))


# --- observed calls ------------------------------------------------------------------------------------------------
def read_calls(directory: Path) -> list[dict[str, Any]]:
    """Every record of the AWS_CALL_LOG files in ``directory`` (``<pod>.<pid>.jsonl``), with its pod."""
    out = []
    for path in sorted(directory.glob("*.jsonl")):
        pod = path.name.split(".", 1)[0]
        for line in path.read_text().splitlines():
            if line.strip():
                out.append({"pod": pod, **json.loads(line)})
    return out


def call_of(record: Mapping[str, Any], *, region: str, account: str) -> Call:
    """The IAM view of a recorded call: ``service:Operation`` and the ARNs of the resources its parameters name."""
    service, params = str(record["service"]), record.get("params", {})
    action = f"{service}:{record['operation']}"
    resources: list[str] = []
    context: dict[str, str] = {}
    requirements: list[tuple[str, str]] = []

    def arn(svc: str, rest: str) -> str:
        return f"arn:aws:{svc}:{region}:{account}:{rest}"

    tables = [params["TableName"]] if "TableName" in params else []
    tables += list(params.get("RequestItems", []))
    for item in params.get("TransactItems", []):
        for op, body in item.items():
            tables.append(body["TableName"])
            item_action = TRANSACTION_ITEM_ACTIONS.get(op, op)
            requirements.append((f"dynamodb:{item_action}", arn("dynamodb", f"table/{body['TableName']}")))
    for table in dict.fromkeys(tables):
        resources.append(arn("dynamodb", f"table/{table}" + (f"/index/{params['IndexName']}"
                                                               if "IndexName" in params else "")))
    if "QueueUrl" in params:
        queue_account, name = str(params["QueueUrl"]).rstrip("/").split("/")[-2:]
        resources.append(f"arn:aws:sqs:{region}:{queue_account}:{name}")
    for key in ("TopicArn", "TargetArn"):
        if key in params:
            resources.append(str(params[key]))
    if "SecretId" in params:
        secret = str(params["SecretId"])
        resources.append(secret if secret.startswith("arn:") else arn("secretsmanager", f"secret:{secret}"))
    if "KeyId" in params:
        key = str(params["KeyId"])
        resources.append(key if key.startswith("arn:") else arn("kms", f"key/{key}"))
    if "UserPoolId" in params:
        resources.append(arn("cognito-idp", f"userpool/{params['UserPoolId']}"))
    if "FromEmailAddress" in params:
        # SES authorizes SendEmail against the identity the From address belongs to and the configuration set.
        address = parseaddr(str(params["FromEmailAddress"]))[1]
        context["ses:fromaddress"] = address
        resources.append(arn("ses", f"identity/{address.rsplit('@', 1)[-1]}"))
    if "ConfigurationSetName" in params:
        resources.append(arn("ses", f"configuration-set/{params['ConfigurationSetName']}"))
    if not requirements:
        authorized_as = BATCH_ACTIONS.get(action, action)
        requirements = [(authorized_as, r) for r in resources] or [(authorized_as, "*")]
    return Call(pod=str(record["pod"]), action=action, resources=tuple(resources), context=context,
                requirements=tuple(dict.fromkeys(requirements)),
                code_path=tuple(record.get("code_path", ())), status=int(record.get("status", 0)),
                error=record.get("error"))


def decide(call: Call, role: ServiceRole) -> Decision:
    if call.action in PUBLIC_OPERATIONS:
        return Decision(call, allowed=True, public=True, reason="authorized by AWS without IAM")
    used: list[tuple[Statement, str]] = []
    for action, resource in call.requirements:
        for s in role.statements:
            if s.effect == "Deny" and s.matches_action(action) and s.matches_resource(resource):
                return Decision(call, allowed=False, reason=f"{action} on {resource}: denied by {s.label}")
        allowing = [s for s in role.statements if s.effect == "Allow" and s.matches_action(action)
                    and s.matches_resource(resource) and s.conditions_hold(call.context)]
        if not allowing:
            near = [s.label for s in role.statements if s.matches_action(action) and s.matches_resource(resource)]
            why = f" (conditions of {', '.join(near)} do not hold)" if near else ""
            return Decision(call, allowed=False,
                            reason=f"no statement of {role.role} allows {action} on {resource}{why}")
        used += [(s, action) for s in allowing]
    return Decision(call, allowed=True, used=tuple(dict.fromkeys(used)))


@dataclass
class Proof:
    roles: dict[str, ServiceRole]
    decisions: list[Decision]
    unattributed: list[Call] = field(default_factory=list)  # calls of a pod whose service has no role

    @property
    def denied(self) -> list[Decision]:
        return [d for d in self.decisions if not d.allowed]

    def unused(self, role: ServiceRole) -> list[tuple[Statement, str]]:
        """(statement, action) granted by the role that no allowed call used."""
        used = {(s.label, a.lower()) for d in self.decisions if service_of(d.call.pod) == role.service
                for s, a in d.used}
        out = []
        for s in role.statements:
            if s.effect != "Allow":
                continue
            for action in s.actions:
                if not any(label == s.label and fnmatch.fnmatchcase(a, action.lower()) for label, a in used):
                    out.append((s, action))
        return out

    def problems(self) -> list[str]:
        """One line per denied call (the call, its code path, and why), and one per service none of whose calls
        was recorded (the record is then missing, which must not pass as "nothing denied")."""
        silent = [name for name in self.roles if not any(service_of(d.call.pod) == name for d in self.decisions)]
        return ([f"access denied: {d.call.describe()}: {d.reason}" for d in self.denied]
                + [f"access: no AWS call of {name} was recorded (AWS_CALL_LOG)" for name in silent])

    def to_json(self) -> dict[str, Any]:
        services = {}
        for name, role in self.roles.items():
            mine = [d for d in self.decisions if service_of(d.call.pod) == name]
            services[name] = {
                "role": role.role, "deployments": list(role.deployments),
                "calls": len(mine), "denied": [_decision_json(d) for d in mine if not d.allowed],
                "public_calls": sorted({d.call.action for d in mine if d.public}),
                "statements": [{**s.to_json(), "used_by": _usage(s, mine)} for s in role.statements],
                "granted_never_observed": [
                    {"statement": s.label, "action": a, "justification": JUSTIFIED.get(a),
                     "verdict": "justified" if a in JUSTIFIED else "candidate to remove"}
                    for s, a in self.unused(role)],
            }
        return {"services": services, "denied": len(self.denied),
                "unattributed": [c.describe() for c in self.unattributed]}


def service_of(pod: str) -> str:
    return pod.rsplit("-", 1)[0]


def _usage(statement: Statement, decisions: Iterable[Decision]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, str, str], int] = {}
    for d in decisions:
        for action in dict.fromkeys(a for s, a in d.used if s == statement):
            via = "" if action == d.call.action else f" (in {d.call.action})"
            key = (action + via, ", ".join(d.call.resources), d.call.where)
            seen[key] = seen.get(key, 0) + 1
    return [{"action": a, "resources": r, "code_path": w, "count": n} for (a, r, w), n in sorted(seen.items())]


def _decision_json(d: Decision) -> dict[str, Any]:
    return {"call": d.call.describe(), "action": d.call.action, "resources": list(d.call.resources),
            "code_path": list(d.call.code_path), "reason": d.reason}


def prove(roles: dict[str, ServiceRole], records: Iterable[Mapping[str, Any]], *, region: str,
          account: str) -> Proof:
    proof = Proof(roles=roles, decisions=[])
    for record in records:
        call = call_of(record, region=region, account=account)
        role = roles.get(service_of(call.pod))
        if role is None:
            proof.unattributed.append(call)
            continue
        proof.decisions.append(decide(call, role))
    return proof


def render_markdown(proof: Proof, *, ran: str) -> str:
    data = proof.to_json()
    lines = ["# Access proof: the services' calls against the roles they ship with", "",
             f"Calls observed during: {ran}.", "",
             "Each service's role is read from the synthesized Services stack (Deployment -> service account -> "
             "Pod Identity association -> role -> attached policies), its references resolved to the local "
             "resources. Every AWS call the services made was recorded (services/common/aws.py) and evaluated "
             "against that role; moto enforced the same policy on the requests signed with the role's credentials.",
             "", "| service | calls | denied | statements | granted, never observed (justified / to remove) |",
             "|---|---:|---:|---:|---|"]
    for name, s in data["services"].items():
        never = s["granted_never_observed"]
        justified = sum(1 for n in never if n["justification"])
        lines.append(f"| {name} | {s['calls']} | {len(s['denied'])} | {len(s['statements'])} | "
                     f"{justified} / {len(never) - justified} |")
    for name, s in data["services"].items():
        lines += ["", f"## {name}", "", f"Role `{s['role']}`, Deployments {', '.join(s['deployments'])}.", ""]
        if s["denied"]:
            lines += ["**Denied calls:**", ""] + [f"- `{d['call']}`: {d['reason']}" for d in s["denied"]] + [""]
        if s["public_calls"]:
            lines += [f"Operations authorized without IAM: {', '.join(s['public_calls'])}.", ""]
        for st in s["statements"]:
            cond = f", condition `{json.dumps(st['conditions'])}`" if st["conditions"] else ""
            lines += [f"### Statement `{st['policy']}#{st['index']}` ({st['effect']})", "",
                      f"Actions {', '.join(f'`{a}`' for a in st['actions'])} on "
                      f"{', '.join(f'`{r}`' for r in st['resources'])}{cond}.", ""]
            if st["used_by"]:
                lines += ["| action | resources | code path | calls |", "|---|---|---|---:|"]
                lines += [f"| {u['action']} | {u['resources']} | `{u['code_path']}` | {u['count']} |"
                          for u in st["used_by"]]
            else:
                lines.append("No observed call used this statement.")
            lines.append("")
        if s["granted_never_observed"]:
            lines += ["Granted but never observed:", ""]
            lines += [f"- `{n['action']}` ({n['statement']}): " + (n["justification"] or "**candidate to remove**: no "
                      "code path of the service makes this call") for n in s["granted_never_observed"]]
    if data["unattributed"]:
        lines += ["", "## Calls of pods without a role", ""] + [f"- {c}" for c in data["unattributed"]]
    return "\n".join(lines) + "\n"


def failure_message(proof: Proof) -> str:
    return "\n".join(["calls the shipped roles do not allow:"]
                     + [f"  {d.call.describe()}\n    {d.reason}" for d in proof.denied])

