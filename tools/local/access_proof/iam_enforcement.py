"""moto enforcing the services' synthesized roles (LocalPlatform(enforce_iam=True)).

moto checks the signature and the caller's IAM policies of every request once its count of unauthenticated
requests is used up (``INITIAL_NO_AUTH_ACTION_COUNT``; set to 0 at run time through ``/moto-api/reset-auth``, after
the harness has created what it needs). The harness then signs with an administrator user of its own, and each
service with an assumed-role session of its own role, created in moto with the policy the Services stack
synthesizes (resolved to the local resources).

Where moto's evaluator is coarser than IAM, and what covers the gap:
- moto passes the request's resource only for SQS (the queue's ARN); for DynamoDB, SNS, Secrets Manager and SES it
  evaluates against ``*``, which no least-privilege statement names. tools/local/moto_server.py therefore supplies the
  ARNs each request names (tools/local/access_proof.call_of, the same mapping the proof uses) and has moto check each.
- moto evaluates conditions only for trust policies: the roles are created without their ``Condition`` blocks, and
  the conditions (SES's ``ses:FromAddress``) are evaluated by tools/local/access_proof (tests/test_access_proof.py sends
  from another address and sees it denied).
- KMS: moto's queues, topics and tables encrypt nothing, so the kms: grants are never exercised locally; the proof
  lists them as granted-but-never-observed with that justification.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from config.topology import Service
from tools.local.access_proof import ServiceRole

ADMINISTRATOR = "local-platform-harness"
POD_IDENTITY_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
    "Action": ["sts:AssumeRole", "sts:TagSession"]}]}
ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def administrator(iam: Any) -> dict[str, str]:
    """The harness's own user (creates resources, reads queues in tests, serves tokens): allowed everything."""
    iam.create_user(UserName=ADMINISTRATOR)
    iam.put_user_policy(UserName=ADMINISTRATOR, PolicyName="harness", PolicyDocument=json.dumps(ALL))
    key = iam.create_access_key(UserName=ADMINISTRATOR)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def service_roles(iam: Any, sts: Any, roles: Mapping[str, ServiceRole]) -> dict[Service, dict[str, str]]:
    """Each service's role in moto with its synthesized statements (conditions left to the proof), and a session
    of it, as EKS Pod Identity hands a pod: the environment variables of its credentials."""
    out: dict[Service, dict[str, str]] = {}
    for name, role in roles.items():
        arn = iam.create_role(RoleName=f"{name}-service", AssumeRolePolicyDocument=json.dumps(POD_IDENTITY_TRUST),
                              Description=f"local stand-in for {role.role}")["Role"]["Arn"]
        iam.put_role_policy(RoleName=f"{name}-service", PolicyName="synthesized",
                            PolicyDocument=json.dumps(role.policy_document(without_conditions=True)))
        creds = sts.assume_role(RoleArn=arn, RoleSessionName=f"{name}-pod", DurationSeconds=43200)["Credentials"]
        out[Service(name)] = {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
                              "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
                              "AWS_SESSION_TOKEN": creds["SessionToken"]}
    return out


def enforce(moto_url: str) -> None:
    """From now on moto authenticates and authorizes every request."""
    r = httpx.post(f"{moto_url}/moto-api/reset-auth", content=b"0", timeout=10)
    r.raise_for_status()
