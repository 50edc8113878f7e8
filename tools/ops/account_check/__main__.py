"""`python -m tools.ops.account_check ENV [--assembly DIR] [--assume-lookup-role | --assume-role ARN]
[--endpoint-url URL] [--replay DIR] [--record DIR]` (`make account-check ENV=...`)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import boto3
import yaml
from botocore.exceptions import BotoCoreError, ClientError

from config.environment import ConfigError, EnvironmentConfig
from config.environments import load
from tools.assembly import Assembly, AssemblyError, synthesize
from tools.ops.account_check.checks import (
    BOOTSTRAP_QUALIFIER,
    CHART_INDEX_RECORDING,
    REPLAYED,
    Account,
    _https_get,
    chart_index_name,
    recorded_fetch,
    run,
)
from tools.ops.account_check.delegation import Dns
from tools.ops.account_check.replay import Recorder, Replay

RECORDINGS = Path(__file__).resolve().parent / "recorded"


def lookup_role_arn(config: EnvironmentConfig) -> str:
    """The CDK bootstrap's lookup role of the environment's account and region (ReadOnlyAccess)."""
    return (f"arn:aws:iam::{config.account}:role/cdk-{BOOTSTRAP_QUALIFIER}-lookup-role-{config.account}-"
            f"{config.region}")


def session_for(config: EnvironmentConfig, *, role_arn: str | None, endpoint_url: str | None) -> boto3.Session:
    session = boto3.session.Session(region_name=config.region)
    if role_arn is None:
        return session
    creds = session.client("sts", endpoint_url=endpoint_url).assume_role(
        RoleArn=role_arn, RoleSessionName=f"account-check-{config.name}")["Credentials"]
    return boto3.session.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                                 aws_session_token=creds["SessionToken"], region_name=config.region)


def dns_server(value: str) -> Dns:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"--dns-server {value}: expected HOST:PORT, e.g. 127.0.0.1:5353")
    return Dns.server(host, int(port))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.ops.account_check",
                                     description="What the templates assume of the account, checked read-only.")
    parser.add_argument("env", help="dev, staging or prod")
    parser.add_argument("--assembly", type=Path, help="the environment's cloud assembly (default: synthesize it)")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--assume-lookup-role", action="store_true",
                     help="assume the CDK bootstrap's read-only lookup role of the account first (the pipeline)")
    who.add_argument("--assume-role", metavar="ARN", help="assume this role first")
    parser.add_argument("--endpoint-url", help="an AWS endpoint such as moto's server (offline)")
    parser.add_argument("--replay", type=Path, nargs="?", const=RECORDINGS,
                        help=f"answer {', '.join(f'{s} {o}' for s, o in REPLAYED)} and the chart indexes from "
                             "recordings (default: the committed ones)")
    parser.add_argument("--record", type=Path, help="write what the account answered for those calls here")
    parser.add_argument("--dns-server", metavar="HOST:PORT",
                        help="ask this DNS server everything the delegation check asks (default: the system's "
                             "resolver, and the parent zones' servers on port 53)")
    args = parser.parse_args(argv)
    try:
        config = load(args.env)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    role = lookup_role_arn(config) if args.assume_lookup_role else args.assume_role
    replay = Replay(args.replay, set(REPLAYED)) if args.replay else None
    recorder = Recorder(set(REPLAYED)) if args.record else None
    indexes: dict[str, str] = {}

    def fetch(url: str) -> str:
        text = _https_get(url)
        indexes[url] = text
        return text

    with tempfile.TemporaryDirectory(prefix="account-check.") as workdir:
        try:
            assembly = Assembly(args.assembly or synthesize(config, Path(workdir)))
            session = session_for(config, role_arn=role, endpoint_url=args.endpoint_url)
            account = Account(session, endpoint_url=args.endpoint_url, replay=replay, recorder=recorder,
                              fetch=recorded_fetch(args.replay) if args.replay else fetch,
                              caller=session_for(config, role_arn=None, endpoint_url=args.endpoint_url),
                              dns=dns_server(args.dns_server) if args.dns_server else None)
            lines = run(account, config, assembly)
            charts = {h.chart for h in assembly.helm_releases}
        except (AssemblyError, ClientError, BotoCoreError) as err:
            print(f"account-check: {err}", file=sys.stderr)
            return 2
    for line in lines:
        print(line)
    failed = [x for x in lines if not x.ok]
    print(f"\naccount-check {config.name}: {len(lines) - len(failed)} passed, {len(failed)} failed")
    if recorder is not None:
        source = f"recorded by `make account-check ENV={config.name} RECORD=...` on {datetime.now(UTC):%Y-%m-%d}"
        written = recorder.write(args.record, source)
        for url, text in indexes.items():
            path = args.record / CHART_INDEX_RECORDING / chart_index_name(url.removesuffix("/index.yaml"))
            path.parent.mkdir(parents=True, exist_ok=True)
            index = yaml.safe_load(text) or {}
            kept = {"apiVersion": index.get("apiVersion", "v1"), "source": source,
                    "entries": {c: [{"version": e.get("version"), "appVersion": e.get("appVersion")}
                                    for e in entries] for c, entries in (index.get("entries") or {}).items()
                                if c in charts}}
            path.write_text(yaml.safe_dump(kept, sort_keys=False))
            written.append(path)
        print("recorded: " + ", ".join(str(p) for p in written))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
