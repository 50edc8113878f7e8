"""Custom resource handler (inline Lambda code): the smoke test's two accounts in the user pool, their secret.

Create/Update: each account (admin, customer) exists, confirmed, with a new random password; the admin is in the
admin group; the secret holds {"admin": {"email", "password"}, "customer": {...}}. A changed email removes the old
user. Delete: both users are removed. Every path answers CloudFormation, so a failure fails the deploy instead of
hanging it. AccessDenied is retried for a while: IAM applies the role's policy seconds after CloudFormation has it.
"""

from __future__ import annotations

import json
import secrets
import string
import time
from collections.abc import Callable
from typing import Any

import boto3

ROLES = ("admin", "customer")
DENIED = ("AccessDenied", "AccessDeniedException")


def retried(call: Callable[[], None], attempts: int = 5, delay: float = 3.0,
            sleep: Callable[[float], None] = time.sleep) -> None:
    """``call`` (idempotent), again after AccessDenied, ``attempts`` times at most (15 s of waits by default)."""
    for attempt in range(1, attempts + 1):
        try:
            call()
            return
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code not in DENIED or attempt == attempts:
                raise
            sleep(delay * attempt / 2)


def password() -> str:
    """24 characters with each class the pool's policy asks for (upper, lower, digit, symbol)."""
    body = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(20))
    return f"Sm0k-{body}"[:24] + "!"


def reconcile(idp: Any, sm: Any, props: dict[str, Any], old: dict[str, Any] | None, deleting: bool) -> None:
    pool = props["UserPoolId"]
    emails = {role: props[f"{role.capitalize()}Email"] for role in ROLES}
    stale = {old[f"{role.capitalize()}Email"] for role in ROLES} - set(emails.values()) if old else set()
    for email in (set(emails.values()) if deleting else stale):
        try:
            idp.admin_delete_user(UserPoolId=pool, Username=email)
        except idp.exceptions.UserNotFoundException:
            pass
    if deleting:
        return
    accounts = {}
    for role, email in emails.items():
        try:
            idp.admin_create_user(UserPoolId=pool, Username=email, MessageAction="SUPPRESS",
                                  UserAttributes=[{"Name": "email", "Value": email},
                                                  {"Name": "email_verified", "Value": "true"}])
        except idp.exceptions.UsernameExistsException:
            pass
        secret = password()
        idp.admin_set_user_password(UserPoolId=pool, Username=email, Password=secret, Permanent=True)
        accounts[role] = {"email": email, "password": secret}
    idp.admin_add_user_to_group(UserPoolId=pool, Username=emails["admin"], GroupName=props["AdminGroup"])
    sm.put_secret_value(SecretId=props["SecretId"], SecretString=json.dumps(accounts))


def handler(event: dict[str, Any], context: Any) -> None:
    import cfnresponse  # provided to inline (ZipFile) Python functions by CloudFormation

    physical = event.get("PhysicalResourceId") or f"smoke-accounts-{event['LogicalResourceId']}"
    try:
        idp, sm = boto3.client("cognito-idp"), boto3.client("secretsmanager")
        retried(lambda: reconcile(idp, sm, event["ResourceProperties"], event.get("OldResourceProperties"),
                                  deleting=event["RequestType"] == "Delete"))
    except Exception as exc:
        cfnresponse.send(event, context, cfnresponse.FAILED, {}, physical, reason=f"{type(exc).__name__}: {exc}"[:300])
        return
    cfnresponse.send(event, context, cfnresponse.SUCCESS, {}, physical)
