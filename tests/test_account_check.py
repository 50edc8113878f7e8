"""`make account-check`: the account checks against moto's server over HTTP (every call moto serves) and the
committed recordings (the calls it does not: tools.ops.account_check.REPLAYED)."""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
import yaml
from moto import settings as moto_settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.route53.models import HostedZoneIdentifier
from moto.utilities.id_generator import moto_id_manager

from cdk_constructs.orders_database import ENGINE_VERSION
from config.environment import CapacityKind, EnvironmentConfig
from config.environments import load
from config.instance_types import instance_type
from config.prerequisites import github_oidc_provider_arn
from tests.dns_server import ParentZoneServer, serving
from tests.synthesis import Synthesized
from tools.assembly import Assembly
from tools.ops.account_check import REPLAYED, run
from tools.ops.account_check.__main__ import RECORDINGS, lookup_role_arn, main, session_for
from tools.ops.account_check.checks import Account, check_bootstrap_roles, needs, recorded_fetch
from tools.ops.account_check.delegation import Dns
from tools.ops.account_check.replay import Recorder, Replay

MOTO_NAME_SERVERS = ("ns-2048.awsdns-64.com", "ns-2049.awsdns-65.net", "ns-2050.awsdns-66.org",
                     "ns-2051.awsdns-67.co.uk")  # moto's Route 53 gives every zone these
ParentDns = Callable[..., tuple[Dns, ParentZoneServer]]
APIGW_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                       "Principal": {"Service": "apigateway.amazonaws.com"}}]}
ADMIN = "arn:aws:iam::111111111111:role/PlatformAdmin"
# The CDK bootstrap template of the CLI the project installs (package.json): it defines the lookup role.
BOOTSTRAP_TEMPLATE = (Path(__file__).resolve().parent.parent / "node_modules" / "aws-cdk" / "lib" / "api" / "bootstrap"
                      / "bootstrap-template.yaml")
ORDERS_CLUSTER = "OrdersDatabaseClusterAE2D01D0"  # pinned by tests/test_logical_ids.py
PINNED = ENGINE_VERSION.aurora_postgres_full_version  # the orders cluster's engine version, 17.5


# `make account-check` run end to end against moto's server, one account per test: seconds of CPU each, about 90 s
# in all; `make test` runs them (the tool_run group), `make check` does not.
pytestmark = pytest.mark.tool_run


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)


def account_session(moto: str, config: EnvironmentConfig) -> boto3.Session:
    """The environment's account in moto: moto answers an assumed role's calls in the role's account."""
    return session_for(config, role_arn=lookup_role_arn(config), endpoint_url=moto)


def create_prerequisites(moto: str, config: EnvironmentConfig, *, skip: str = "") -> None:
    """What docs/deploying.md's first-deploy runbook creates, less ``skip``."""
    s = account_session(moto, config)
    iam, apigw = s.client("iam", endpoint_url=moto), s.client("apigateway", endpoint_url=moto)
    if skip != "api-gateway-logging":
        role = iam.create_role(RoleName="APIGatewayCloudWatchLogs", AssumeRolePolicyDocument=json.dumps(APIGW_TRUST))
        apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn",
                                               "value": role["Role"]["Arn"]}])
    if skip != "oidc-provider":
        iam.create_open_id_connect_provider(Url="https://token.actions.githubusercontent.com",
                                            ClientIDList=["sts.amazonaws.com"], ThumbprintList=["f" * 40])
    if skip != "bootstrap":
        # The environment's region and us-east-1, where the storefront's WebGlobal stack deploys.
        for region in {config.region, "us-east-1"}:
            s.client("ssm", endpoint_url=moto, region_name=region).put_parameter(
                Name="/cdk-bootstrap/hnb659fds/version", Value="30", Type="String")
    if skip != "hosted-zone":
        # The domain owner's zone, with the id the config names (moto's documented custom ids: its own are random).
        for name in (config.web.hosted_zone_name, f"{config.web.hosted_zone_name}."):
            moto_id_manager.set_custom_id(HostedZoneIdentifier(config.account, name, None), config.web.hosted_zone_id)
        s.client("route53", endpoint_url=moto).create_hosted_zone(Name=config.web.hosted_zone_name,
                                                                  CallerReference=config.name)
    if skip != "iam-role" and config.cluster.admin_role_arns:
        iam.create_role(RoleName="PlatformAdmin", AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"AWS": f"arn:aws:iam::{config.account}:root"}}]}))
    if skip != "ses-identity" and config.email.ses_identity_verified:
        ses = s.client("ses", endpoint_url=moto)
        ses.verify_domain_identity(Domain=config.email.domain)
        ses.verify_domain_dkim(Domain=config.email.domain)


@pytest.fixture
def fresh_moto(moto: str) -> str:
    """The module's moto server with every account emptied (its backends live in this process): each test creates
    the prerequisites it needs."""
    urllib.request.urlopen(urllib.request.Request(f"{moto}/moto-api/reset", method="POST"), timeout=30).close()
    return moto


def parent_zone(config: EnvironmentConfig) -> str:
    """The zone above the storefront's hosted zone (shop.example.com for dev's dev.shop.example.com)."""
    return config.web.hosted_zone_name.split(".", 1)[1]


@pytest.fixture
def parent_dns() -> Iterator[ParentDns]:
    """``parent_dns(config)``: a DNS server on 127.0.0.1 authoritative for the parent of the config's hosted zone,
    delegating the zone to the name servers moto's Route 53 assigns (or to ``name_servers``), and the ``Dns`` that
    asks it everything."""
    with ExitStack() as stack:
        def start(config: EnvironmentConfig, name_servers: tuple[str, ...] = MOTO_NAME_SERVERS,
                  ) -> tuple[Dns, ParentZoneServer]:
            server = ParentZoneServer(parent_zone(config))
            server.delegate(config.web.hosted_zone_name, name_servers)
            return stack.enter_context(serving(server)), server

        yield start


def check(moto: str, config: EnvironmentConfig, assembly: Assembly, dns: Dns) -> tuple[list[Any], Account]:
    account = Account(account_session(moto, config), endpoint_url=moto,
                      replay=Replay(RECORDINGS, set(REPLAYED)), fetch=recorded_fetch(RECORDINGS), dns=dns)
    return run(account, config, assembly), account


def with_every_prerequisite(config: EnvironmentConfig) -> EnvironmentConfig:
    """The config with an existing admin role and the SES identity declared verified: every prerequisite kind."""
    return replace(config, cluster=replace(config.cluster, admin_role_arns=(ADMIN,)),
                   email=replace(config.email, ses_identity_verified=True))


def test_dev_passes_against_the_local_account_once_its_prerequisites_exist(
        fresh_moto: str, parent_dns: ParentDns, dev: Synthesized, capsys: pytest.CaptureFixture[str]) -> None:
    """`make account-check ENV=dev` against moto: the runbook's prerequisites created, every check passes."""
    create_prerequisites(fresh_moto, dev.config)
    dns, _ = parent_dns(dev.config)
    code = main(["dev", "--assembly", str(dev.outdir), "--endpoint-url", fresh_moto, "--replay",
                 "--assume-lookup-role", "--dns-server", f"{dns.resolver.nameservers[0]}:{dns.port}"])
    out = capsys.readouterr().out
    assert code == 0, out
    checks = {line.split()[1] for line in out.splitlines() if line.startswith(("PASS", "FAIL"))}
    assert checks == {"caller", "prerequisite", "delegation", "addon-version", "chart-version", "engine-version",
                      "bootstrap", "bootstrap-role", "quota"}
    assert f"{github_oidc_provider_arn(dev.config)}: exists" in out
    assert out.count("PASS  addon-version") == 6 and out.count("PASS  chart-version") == 2
    # The orders cluster's pinned version, offered; its stack not deployed yet, so no running cluster to compare.
    assert (f"PASS  engine-version   Dev-Data/{ORDERS_CLUSTER} aurora-postgresql {PINNED} is offered in eu-west-1; "
            "Dev-Data is not deployed: the first deploy creates it") in out


@pytest.mark.parametrize("missing", ["api-gateway-logging", "oidc-provider", "iam-role", "ses-identity",
                                     "hosted-zone"])
def test_each_missing_prerequisite_fails_naming_it(fresh_moto: str, parent_dns: ParentDns, dev: Synthesized,
                                                   missing: str) -> None:
    config = with_every_prerequisite(dev.config)
    create_prerequisites(fresh_moto, config, skip=missing)
    lines, _ = check(fresh_moto, config, Assembly(dev.outdir), parent_dns(config)[0])
    failed = [line for line in lines if not line.ok]
    assert [(line.check, line.text.split(":")[0].split()[0]) for line in failed] == [("prerequisite", missing)]


def test_every_prerequisite_present_passes(fresh_moto: str, parent_dns: ParentDns, dev: Synthesized) -> None:
    config = with_every_prerequisite(dev.config)
    create_prerequisites(fresh_moto, config)
    lines, _ = check(fresh_moto, config, Assembly(dev.outdir), parent_dns(config)[0])
    assert all(line.ok for line in lines), [str(line) for line in lines if not line.ok]
    texts = [line.text for line in lines if line.check == "prerequisite"]
    assert any(t.startswith(f"ses-identity {config.email.domain}: verification Success, DKIM Success") for t in texts)
    assert any(t.startswith(f"iam-role {ADMIN}: exists") for t in texts)


def test_a_missing_bootstrap_fails(fresh_moto: str, parent_dns: ParentDns, dev: Synthesized) -> None:
    create_prerequisites(fresh_moto, dev.config, skip="bootstrap")
    lines, _ = check(fresh_moto, dev.config, Assembly(dev.outdir), parent_dns(dev.config)[0])
    failed = [line for line in lines if not line.ok]
    # One line per region the assembly deploys to: the environment's and us-east-1 (the storefront's WebGlobal).
    assert [(f.check, f.text.split()[0]) for f in failed] == [("bootstrap", "eu-west-1"), ("bootstrap", "us-east-1")]
    assert all("ParameterNotFound" in f.text for f in failed)


def test_an_unbootstrapped_us_east_1_fails(fresh_moto: str, parent_dns: ParentDns, dev: Synthesized) -> None:
    """The environment's region bootstrapped, us-east-1 not: the WebGlobal stack could not deploy."""
    create_prerequisites(fresh_moto, dev.config, skip="bootstrap")
    account_session(fresh_moto, dev.config).client("ssm", endpoint_url=fresh_moto, region_name=dev.config.region
                                                   ).put_parameter(Name="/cdk-bootstrap/hnb659fds/version",
                                                                   Value="30", Type="String")
    lines, _ = check(fresh_moto, dev.config, Assembly(dev.outdir), parent_dns(dev.config)[0])
    [failed] = [line for line in lines if not line.ok]
    assert failed.check == "bootstrap" and failed.text.startswith("us-east-1 ")


def test_the_zone_delegated_to_its_name_servers_passes(
        fresh_moto: str, parent_dns: ParentDns, dev: Synthesized) -> None:
    """The parent zone's server, asked without recursion, refers dev.shop.example.com to the four servers Route 53
    (moto) assigned to the zone."""
    create_prerequisites(fresh_moto, dev.config)
    dns, server = parent_dns(dev.config)
    lines, _ = check(fresh_moto, dev.config, Assembly(dev.outdir), dns)
    (line,) = [line for line in lines if line.check == "delegation"]
    assert line.ok and line.text.startswith(
        f"{dev.config.web.hosted_zone_name} ({dev.config.web.hosted_zone_id}): shop.example.com "
        "(ns1.shop.example.com) delegates it to the zone's name servers ns-2048.awsdns-64.com")
    assert (f"{dev.config.web.hosted_zone_name}.", "NS", False) in server.queries and not server.errors


def test_an_undelegated_zone_fails(fresh_moto: str, parent_dns: ParentDns, dev: Synthesized) -> None:
    """The zone exists in Route 53 but the parent holds no NS records for it: ACM's validation record is never seen,
    and the WebGlobal deploy would wait on the certificate."""
    create_prerequisites(fresh_moto, dev.config)
    dns, server = parent_dns(dev.config, name_servers=())
    lines, _ = check(fresh_moto, dev.config, Assembly(dev.outdir), dns)
    [failed] = [line for line in lines if not line.ok]
    assert failed.check == "delegation"
    assert "shop.example.com (ns1.shop.example.com) does not delegate it" in failed.text
    assert "publish NS records for dev.shop.example.com in shop.example.com naming ns-2048.awsdns-64.com" in failed.text
    assert not server.errors


def test_a_zone_delegated_to_other_servers_fails(fresh_moto: str, parent_dns: ParentDns, prod: Synthesized) -> None:
    """The parent still names the servers of a zone since deleted and created again (new servers): as broken as no
    delegation. Prod's zone, shop.example.com, is delegated from example.com."""
    config = load("prod")
    create_prerequisites(fresh_moto, config)
    dns, _ = parent_dns(config, name_servers=("ns-1.awsdns-01.com", "ns-2.awsdns-02.net"))
    lines, _ = check(fresh_moto, config, Assembly(prod.outdir), dns)
    [failed] = [line for line in lines if not line.ok]
    assert failed.check == "delegation" and failed.text.startswith(
        "shop.example.com (Z03333333333333333333): example.com (ns1.example.com) delegates it to ns-1.awsdns-01.com, "
        "ns-2.awsdns-02.net, not to the zone's name servers")


def test_no_answer_from_the_parent_fails(fresh_moto: str, dev: Synthesized) -> None:
    """Nothing answers DNS (a closed port): the check cannot tell, so it fails, saying so."""
    create_prerequisites(fresh_moto, dev.config)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    silent = Dns.server("127.0.0.1", port)
    silent.resolver.lifetime = 1.0
    lines, _ = check(fresh_moto, dev.config, Assembly(dev.outdir), silent)
    [failed] = [line for line in lines if not line.ok]
    assert failed.check == "delegation" and "cannot find the parent zone of dev.shop.example.com" in failed.text


@pytest.fixture
def enforced_iam(fresh_moto: str) -> Iterator[str]:
    """moto's server (in this process) evaluating IAM from now on: a caller's identity policies, and the trust
    policy of a role that exists (moto matches trust principals literally and knows no account root, so the
    bootstrap roles, which trust the account, are not created there: the caller's policy decides)."""
    previous = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    yield fresh_moto
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = previous


def deploy_role_session(moto: str, config: EnvironmentConfig, delivery: dict[str, Any],
                        *, regions: set[str] | None = None) -> boto3.Session:
    """The pipeline's deploy role in moto, holding the Delivery stack's synthesized policy (its statements reduced
    to the bootstrap roles of ``regions``, when given), assumed as the pipeline does; then IAM is enforced."""
    (policy,) = [r["Properties"] for r in delivery["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    document = policy["PolicyDocument"]
    if regions is not None:
        document = {**document, "Statement": [
            {**st, "Resource": [r for r in st["Resource"] if any(r.endswith(f"-{region}") for region in regions)]}
            for st in document["Statement"]]}
    (role,) = [r["Properties"] for r in delivery["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    iam = account_session(moto, config).client("iam", endpoint_url=moto)
    iam.create_role(RoleName=role["RoleName"], AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"AWS": "*"}}]}))
    arn = iam.create_policy(PolicyName="AssumeCdkBootstrapRoles", PolicyDocument=json.dumps(document))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=arn)
    session = session_for(config, role_arn=f"arn:aws:iam::{config.account}:role/{role['RoleName']}",
                          endpoint_url=moto)
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    return session


def test_the_deploy_role_assumes_the_bootstrap_roles_of_every_region(enforced_iam: str, dev: Synthesized) -> None:
    """The Delivery stack's deploy role, as synthesized, may assume every bootstrap role the assembly's stacks and
    assets name, in the environment's region and in us-east-1 (WebGlobal)."""
    caller = deploy_role_session(enforced_iam, dev.config, dev.template_json("Delivery"))
    account = Account(caller, endpoint_url=enforced_iam)
    lines = list(check_bootstrap_roles(account, Assembly(dev.outdir)))
    assert all(line.ok for line in lines), [str(line) for line in lines if not line.ok]
    assert {line.text.split()[0] for line in lines} == {dev.config.region, "us-east-1"}
    assert any("cdk-hnb659fds-deploy-role-111111111111-us-east-1: assumed" in line.text for line in lines)


def test_a_deploy_role_limited_to_its_home_region_fails_for_us_east_1(enforced_iam: str, dev: Synthesized) -> None:
    """A deploy role that may assume only the home region's bootstrap roles (what the Delivery stack granted before
    WebGlobal existed): the WebGlobal stack's deploy, lookup and file-publishing roles fail, each named."""
    caller = deploy_role_session(enforced_iam, dev.config, dev.template_json("Delivery"), regions={dev.config.region})
    lines = list(check_bootstrap_roles(Account(caller, endpoint_url=enforced_iam), Assembly(dev.outdir)))
    failed = sorted(line.text.split(":")[5].split()[0].removeprefix("role/") for line in lines if not line.ok)
    assert failed == [f"cdk-hnb659fds-{kind}-role-111111111111-us-east-1"
                      for kind in ("deploy", "file-publishing", "lookup")]
    assert all("AccessDenied" in line.text for line in lines if not line.ok)
    assert all(line.ok for line in lines if line.text.startswith(dev.config.region))


def test_an_api_gateway_role_an_environment_owns_fails(fresh_moto: str, parent_dns: ParentDns,
                                                       dev: Synthesized) -> None:
    """The account's setting pointing at a role of an environment's stack (what Dev-Edge once created): a teardown
    of that stack would delete it."""
    create_prerequisites(fresh_moto, dev.config)
    s = account_session(fresh_moto, dev.config)
    role = s.client("iam", endpoint_url=fresh_moto).create_role(
        RoleName="Dev-Edge-ApiRestApiCloudWatchRoleB7879BFC-x1", AssumeRolePolicyDocument=json.dumps(APIGW_TRUST))
    s.client("apigateway", endpoint_url=fresh_moto).update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role["Role"]["Arn"]}])
    lines, _ = check(fresh_moto, dev.config, Assembly(dev.outdir), parent_dns(dev.config)[0])
    [failed] = [line for line in lines if not line.ok]
    assert "is a role of dev's stacks" in failed.text


def recordings_with(tmp_path: Path, edit: Callable[[str, dict[str, Any]], None]) -> Path:
    """A copy of the committed recordings, each document passed through ``edit(file name, document)``."""
    recordings = tmp_path / "recorded"
    recordings.mkdir()
    for f in RECORDINGS.glob("*.json"):
        doc = json.loads(f.read_text())
        edit(f.name, doc)
        (recordings / f.name).write_text(json.dumps(doc))
    return recordings


def test_a_pin_the_region_does_not_offer_fails(fresh_moto: str, parent_dns: ParentDns, dev: Synthesized,
                                               tmp_path: Path) -> None:
    """A recorded DescribeAddonVersions without the pinned vpc-cni build: the add-on check names it."""
    create_prerequisites(fresh_moto, dev.config)

    def withdraw(name: str, doc: dict[str, Any]) -> None:
        if name.startswith("eks."):
            for c in doc["calls"]:
                for addon in c["response"]["addons"]:
                    if addon["addonName"] == "vpc-cni":
                        addon["addonVersions"][0]["addonVersion"] = "v1.20.0-eksbuild.1"

    account = Account(account_session(fresh_moto, dev.config), endpoint_url=fresh_moto,
                      replay=Replay(recordings_with(tmp_path, withdraw), set(REPLAYED)),
                      fetch=recorded_fetch(RECORDINGS),
                      dns=parent_dns(dev.config)[0])
    [failed] = [line for line in run(account, dev.config, Assembly(dev.outdir)) if not line.ok]
    assert failed.check == "addon-version" and failed.text.startswith("vpc-cni v1.21.1-eksbuild.7")


def test_an_engine_version_the_region_no_longer_offers_fails(fresh_moto: str, parent_dns: ParentDns,
                                                              dev: Synthesized, tmp_path: Path) -> None:
    """DescribeDBEngineVersions lists no 17.5 any more (RDS stopped offering it for creation): the first deploy of
    the Data stack would fail, so the check does, naming the cluster and its version."""
    create_prerequisites(fresh_moto, dev.config)

    def withdraw(name: str, doc: dict[str, Any]) -> None:
        if name == "rds.DescribeDBEngineVersions.json":
            for c in doc["calls"]:
                c["response"]["DBEngineVersions"] = []

    account = Account(account_session(fresh_moto, dev.config), endpoint_url=fresh_moto,
                      replay=Replay(recordings_with(tmp_path, withdraw), set(REPLAYED)),
                      fetch=recorded_fetch(RECORDINGS), dns=parent_dns(dev.config)[0])
    [failed] = [line for line in run(account, dev.config, Assembly(dev.outdir)) if not line.ok]
    assert failed.check == "engine-version"
    assert failed.text == (f"Dev-Data/{ORDERS_CLUSTER} aurora-postgresql {PINNED} is not offered in eu-west-1: RDS "
                           "creates no database at it; pin a version `aws rds describe-db-engine-versions --engine "
                           "aurora-postgresql` lists")


def deploy_orders_cluster(moto: str, config: EnvironmentConfig, template: dict[str, Any], version: str) -> str:
    """The Data stack deployed (a stack of that name in moto's CloudFormation) and its orders cluster running at
    ``version``, under the identifier CloudFormation gives it: the template's prefix and the first block of the
    stack id's UUID (cdk_constructs/replaceable_name.py). Returns the identifier."""
    s = account_session(moto, config)
    stack_id = s.client("cloudformation", endpoint_url=moto).create_stack(
        StackName="Dev-Data", TemplateBody=json.dumps(
            {"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}))["StackId"]
    prefix = template["Resources"][ORDERS_CLUSTER]["Properties"]["DBClusterIdentifier"]["Fn::Join"][1][0]
    identifier = f"{prefix}-{stack_id.split('/')[2].split('-')[0]}"
    s.client("rds", endpoint_url=moto).create_db_cluster(
        DBClusterIdentifier=identifier, Engine="aurora-postgresql", EngineVersion=version,
        MasterUsername="orders_admin", MasterUserPassword="not-a-secret-1")
    return identifier


@pytest.mark.parametrize(("running", "ok"), [(PINNED, True), ("17.4", True), ("17.6", False), ("17.10", False),
                                             ("18.1", False)])
def test_an_existing_cluster_on_a_newer_version_fails(fresh_moto: str, parent_dns: ParentDns, dev: Synthesized,
                                                      running: str, ok: bool) -> None:
    """Auto minor version upgrade moved the deployed cluster past the template's version: the deploy would ask RDS
    to downgrade it, which RDS refuses. The same version, or an older one (an upgrade), passes."""
    create_prerequisites(fresh_moto, dev.config)
    identifier = deploy_orders_cluster(fresh_moto, dev.config, dev.template_json("Data"), running)
    lines, account = check(fresh_moto, dev.config, Assembly(dev.outdir), parent_dns(dev.config)[0])
    [line] = [line for line in lines if line.check == "engine-version"]
    what = f"Dev-Data/{ORDERS_CLUSTER} aurora-postgresql {PINNED}"
    assert line.ok is ok and all(x.ok for x in lines if x is not line)
    assert line.text == (f"{what} is offered in eu-west-1; {identifier} runs {running}" if ok else
                         f"{what}: {identifier} already runs {running}, newer than the template's {PINNED}, and RDS "
                         f"cannot downgrade it: pin {running} or later")
    assert ("rds", "DescribeDBClusters", False) in account.calls


def lookup_role_policies() -> list[IAMPolicy]:
    """The permissions of the CDK bootstrap's lookup role, as the bootstrap template of the CDK CLI this project
    installs defines them: its AWS managed policies (their documents as moto ships them) and its inline policies."""
    template = yaml.safe_load(BOOTSTRAP_TEMPLATE.read_text())
    role = template["Resources"]["LookupRole"]["Properties"]
    managed = json.loads(aws_managed_policies_data)
    arns = [a["Fn::Sub"] for a in role["ManagedPolicyArns"]]
    assert arns == ["arn:${AWS::Partition}:iam::aws:policy/ReadOnlyAccess"]
    documents = [managed[arn.rsplit("/", 1)[1]]["Document"] for arn in arns]
    documents += [p["PolicyDocument"] for p in role.get("Policies", [])]
    return [IAMPolicy(json.dumps(d)) for d in documents]


def iam_action(service: str, operation: str) -> str:
    """The IAM action of an API call (service id as Account.calls has it): ``<signing name>:<operation>``; API
    Gateway's are its HTTP methods."""
    session = botocore.session.get_session()
    [model] = [m for name in session.get_available_services() if name.replace("-", "") == service.replace("-", "")
               for m in [session.get_service_model(name)] if m.service_id.hyphenize() == service]
    if model.signing_name == "apigateway":
        return f"apigateway:{model.operation_model(operation).http['method']}"
    return f"{model.signing_name}:{operation}"


def test_the_lookup_role_may_make_every_call(fresh_moto: str, parent_dns: ParentDns, dev: Synthesized) -> None:
    """The pipeline runs the check as the bootstrap's lookup role (ReadOnlyAccess, kms:Decrypt denied): every call
    the check makes as it (replayed ones included; the orders cluster deployed, so DescribeDBClusters is made too) is
    one its policies allow. GetCallerIdentity needs no permission; AssumeRole is made as the deploy role."""
    create_prerequisites(fresh_moto, dev.config)
    deploy_orders_cluster(fresh_moto, dev.config, dev.template_json("Data"), PINNED)
    _, account = check(fresh_moto, dev.config, Assembly(dev.outdir), parent_dns(dev.config)[0])
    actions = {iam_action(s, o) for s, o, _ in account.calls} - {"sts:GetCallerIdentity"}
    assert {"rds:DescribeDBEngineVersions", "rds:DescribeDBClusters", "cloudformation:DescribeStacks"} <= actions
    policies = lookup_role_policies()
    results = {a: [p.is_action_permitted(a) for p in policies] for a in sorted(actions)}
    refused = [a for a, r in results.items()
               if PermissionResult.DENIED in r or PermissionResult.PERMITTED not in r]
    assert not refused


def test_quotas_count_what_the_account_uses_already(fresh_moto: str, parent_dns: ParentDns, prod: Synthesized) -> None:
    """Prod's three NAT gateways need three Elastic IPs: with three already allocated in the account, the recorded
    quota of 5 is exceeded."""
    config = load("prod")
    create_prerequisites(fresh_moto, config)
    ec2 = account_session(fresh_moto, config).client("ec2", endpoint_url=fresh_moto)
    for _ in range(3):
        ec2.allocate_address(Domain="vpc")
    lines, _ = check(fresh_moto, config, Assembly(prod.outdir), parent_dns(config)[0])
    [failed] = [line for line in lines if not line.ok]
    assert failed.check == "quota" and failed.text == "EC2-VPC Elastic IPs: 3 needed + 3 in use > 5"


def test_needs_follow_the_assembly(prod: Synthesized) -> None:
    n = needs(Assembly(prod.outdir))
    assert n.vpcs == 1 and n.eips == 3 and sorted(n.nat_per_zone.values()) == [1, 1, 1]
    assert n.endpoints_per_vpc == len(prod.config.network.interface_endpoints)
    # Every node group at its maximum, on its largest type: the on-demand baseline, the Spot bursts and the load pool.
    vcpus = {kind: sum(p.max_size * max(instance_type(t).vcpus for t in p.instance_types)
                       for p in prod.config.cluster.node_pools if p.capacity is kind) for kind in CapacityKind}
    assert len(prod.config.cluster.node_pools) >= 3 and vcpus[CapacityKind.SPOT] > 0
    assert n.on_demand_vcpus == vcpus[CapacityKind.ON_DEMAND] and n.spot_vcpus == vcpus[CapacityKind.SPOT]


def test_which_calls_moto_serves_and_which_are_recorded(fresh_moto: str, parent_dns: ParentDns,
                                                        dev: Synthesized) -> None:
    """Every call goes to moto over HTTP except the REPLAYED operations, which the recordings answer (and for
    GetServiceQuota only EC2's quotas: moto serves the VPC ones)."""
    create_prerequisites(fresh_moto, dev.config)
    _, account = check(fresh_moto, dev.config, Assembly(dev.outdir), parent_dns(dev.config)[0])
    replayed = {(s, o) for s, o, recorded in account.calls if recorded}
    served = {(s, o) for s, o, recorded in account.calls if not recorded}
    assert replayed == {("eks", "DescribeAddonVersions"), ("service-quotas", "GetServiceQuota"),
                        ("rds", "DescribeDBEngineVersions")}
    assert ("service-quotas", "GetServiceQuota") in served  # the VPC quotas
    assert {("sts", "GetCallerIdentity"), ("iam", "GetRole"), ("iam", "GetOpenIDConnectProvider"),
            ("api-gateway", "GetAccount"), ("ssm", "GetParameter"), ("cloudformation", "DescribeStacks"),
            ("ec2", "DescribeVpcs"),
            ("ec2", "DescribeNatGateways"), ("ec2", "DescribeAddresses"), ("ec2", "DescribeInstances")} <= served
    assert replayed <= set(REPLAYED)


def test_recordings_match_the_api(fresh_moto: str, dev: Synthesized) -> None:
    """Every committed recording validates against botocore's model of its operation (Replay loads them so)."""
    session = account_session(fresh_moto, dev.config)
    replay = Replay(RECORDINGS, set(REPLAYED))
    for service, operation in REPLAYED:
        client = session.client(service, endpoint_url=fresh_moto)
        assert isinstance(replay.calls(client, service, operation), list)
    assert (RECORDINGS / "eks.DescribeAddonVersions.json").is_file()


def test_record_writes_what_the_account_answered(fresh_moto: str, dev: Synthesized, tmp_path: Path) -> None:
    """--record keeps the answers of the replayed operations: here moto's VPC quotas through GetServiceQuota."""
    recorder = Recorder(set(REPLAYED))
    account = Account(account_session(fresh_moto, dev.config), endpoint_url=fresh_moto, recorder=recorder)
    quota = account.client("service-quotas").get_service_quota(ServiceCode="vpc", QuotaCode="L-F678F1CE")
    [path] = recorder.write(tmp_path, "test")
    doc = json.loads(path.read_text())
    assert path.name == "service-quotas.GetServiceQuota.json"
    assert doc["calls"][0]["params"] == {"ServiceCode": "vpc", "QuotaCode": "L-F678F1CE"}
    assert doc["calls"][0]["response"]["Quota"]["Value"] == quota["Quota"]["Value"]


def test_wrong_account_stops_at_once(fresh_moto: str, dev: Synthesized) -> None:
    session = session_for(load("prod"), role_arn=lookup_role_arn(load("prod")), endpoint_url=fresh_moto)
    account = Account(session, endpoint_url=fresh_moto)
    [line] = run(account, dev.config, Assembly(dev.outdir))
    assert not line.ok and line.check == "caller" and "dev is 111111111111" in line.text
