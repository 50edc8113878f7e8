"""The account checks (see the package docstring): each returns lines, PASS or FAIL with what it found."""

from __future__ import annotations

import json
import re
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.exceptions import ClientError

from config.environment import EnvironmentConfig
from config.environments import ENVIRONMENTS
from config.instance_types import instance_type
from config.prerequisites import Prerequisite, PrerequisiteKind, prerequisites
from tools.assembly import Assembly, Resource
from tools.ops.account_check.delegation import DelegationError, Dns, delegation, normalized
from tools.ops.account_check.replay import Recorder, Replay

# The calls moto 5.2.5's server does not serve (answered from recordings offline; recorded with --record), each with
# why: moto implements EKS clusters and node groups but not the add-on catalogue, and Service Quotas for the VPC
# service only. Everything else runs against moto in the tests.
REPLAYED: dict[tuple[str, str], str] = {
    ("eks", "DescribeAddonVersions"): "moto implements no EKS add-on catalogue",
    ("service-quotas", "GetServiceQuota"): "moto serves the VPC service's quotas only, not EC2's",
    ("service-quotas", "GetAWSDefaultServiceQuota"): "moto implements no GetAWSDefaultServiceQuota",
    ("rds", "DescribeDBEngineVersions"): "moto implements no RDS engine version catalogue",
}
# Not an AWS call: the Helm repositories' index.yaml, fetched over HTTPS (or read from the recordings).
CHART_INDEX_RECORDING = "charts"
BOOTSTRAP_QUALIFIER = "hnb659fds"
# Service Quotas codes (Service Quotas console, "Amazon Virtual Private Cloud (Amazon VPC)" and "Amazon Elastic
# Compute Cloud (Amazon EC2)").
QUOTAS = {
    "vpcs": ("vpc", "L-F678F1CE", "VPCs per Region"),
    "nat": ("vpc", "L-FE5A380F", "NAT gateways per Availability Zone"),
    "endpoints": ("vpc", "L-29B6F2EB", "Interface VPC endpoints per VPC"),
    "eips": ("ec2", "L-0263D0A3", "EC2-VPC Elastic IPs"),
    "on_demand": ("ec2", "L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances (vCPUs)"),
    "spot": ("ec2", "L-34B43A08", "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests (vCPUs)"),
}
STANDARD_FAMILIES = re.compile(r"^[acdhimrtz]")


@dataclass(frozen=True)
class Line:
    ok: bool
    check: str
    text: str

    def __str__(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.check:<16} {self.text}"


class Account:
    """Clients of the account under check: a session (the caller's, or the lookup role's), an endpoint (moto), and
    the recordings that answer what that endpoint does not serve."""

    def __init__(self, session: boto3.session.Session, *, endpoint_url: str | None = None,
                 replay: Replay | None = None, recorder: Recorder | None = None,
                 fetch: Callable[[str], str] | None = None, caller: boto3.session.Session | None = None,
                 dns: Dns | None = None) -> None:
        self.session = session
        # How the delegation check reaches DNS (the system's resolver and port 53 unless given).
        self.dns = dns or Dns()
        # Who will deploy (the pipeline's deploy role, or an administrator): the bootstrap roles are assumed as it.
        # ``session`` may be a read-only role assumed from it (--assume-lookup-role), which could assume none.
        self.caller = caller or session
        self.endpoint_url = endpoint_url
        self.replay = replay
        self.recorder = recorder
        self._clients: dict[str, Any] = {}
        self.fetch = fetch or _https_get
        # Every call made, (service id, operation, answered by a recording): which calls the endpoint served.
        self.calls: list[tuple[str, str, bool]] = []

    def client(self, name: str, region: str | None = None) -> Any:
        """The client of service ``name`` in ``region`` (default: the session's)."""
        key = f"{name}@{region or ''}"
        if key not in self._clients:
            c = self.session.client(name, endpoint_url=self.endpoint_url, region_name=region)
            if self.replay is not None:
                self.replay.attach(c)
            if self.recorder is not None:
                self.recorder.attach(c)
            service = c.meta.service_model.service_id.hyphenize()

            def log(http_response: Any, model: Any, **_: Any) -> None:
                self.calls.append((service, model.name, str(getattr(http_response, "url", "")).startswith(
                    "replay://")))

            c.meta.events.register(f"after-call.{service}", log)
            self._clients[key] = c
        return self._clients[key]


def _https_get(url: str) -> str:
    if not url.startswith("https://"):
        raise ValueError(f"{url}: only https chart repositories are read")
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - https only, checked above
        return str(response.read().decode())


def _error(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", err))


# --- prerequisites ----------------------------------------------------------------------------------------------------

def _role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _stack_owned(role_name: str) -> str | None:
    """The environment whose stacks would have created a role of that name (CloudFormation names a role it creates
    ``<stack name>-<logical id>-<suffix>``), or None."""
    return next((c.name for c in ENVIRONMENTS.values() if role_name.startswith(f"{c.stack_prefix}-")), None)


def check_prerequisite(account: Account, config: EnvironmentConfig, p: Prerequisite) -> Line:
    what = str(p)
    try:
        if p.kind is PrerequisiteKind.IAM_ROLE:
            role = account.client("iam").get_role(RoleName=_role_name(p.identifier))["Role"]
            return Line(True, "prerequisite", f"{what}: exists ({role['Arn']})")
        if p.kind is PrerequisiteKind.OIDC_PROVIDER:
            account.client("iam").get_open_id_connect_provider(OpenIDConnectProviderArn=p.identifier)
            return Line(True, "prerequisite", f"{what}: exists")
        if p.kind is PrerequisiteKind.SES_IDENTITY:
            return _ses_identity(account, p.identifier, what)
        if p.kind is PrerequisiteKind.API_GATEWAY_LOGGING:
            return _api_gateway_logging(account, what)
        if p.kind is PrerequisiteKind.HOSTED_ZONE:
            account.client("route53").get_hosted_zone(Id=p.identifier)
            return Line(True, "prerequisite", f"{what}: exists")
        if p.kind is PrerequisiteKind.CERTIFICATE:
            cert = account.client("acm").describe_certificate(CertificateArn=p.identifier)["Certificate"]
            status = cert.get("Status")
            return Line(status == "ISSUED", "prerequisite", f"{what}: {status}")
    except ClientError as err:
        return Line(False, "prerequisite", f"{what}: {_error(err)} ({p.why})")
    raise AssertionError(p.kind)


def check_delegation(account: Account, p: Prerequisite) -> Line:
    """A declared hosted zone is delegated: its parent zone's servers refer its name to exactly the name servers
    Route 53 assigned to it (tools/ops/account_check/delegation.py says why and how)."""
    try:
        zone = account.client("route53").get_hosted_zone(Id=p.identifier)
    except ClientError as err:
        return Line(False, "delegation", f"{p.identifier}: {_error(err)} (the zone must exist first)")
    name = str(zone["HostedZone"]["Name"]).rstrip(".")
    assigned = normalized(zone.get("DelegationSet", {}).get("NameServers", []))
    what = f"{name} ({p.identifier})"
    try:
        found = delegation(name, account.dns)
    except DelegationError as err:
        return Line(False, "delegation", f"{what}: {err}")
    where = f"{found.parent} ({found.asked})"
    fix = (f"publish NS records for {name} in {found.parent} naming {', '.join(sorted(assigned))}: ACM's DNS "
           "validation and the alias records resolve only then, and the WebGlobal deploy waits on its certificate "
           "until they do (docs/deploying.md, step 4)")
    if not found.delegated_to:
        return Line(False, "delegation", f"{what}: {where} does not delegate it; {fix}")
    if found.delegated_to != assigned:
        return Line(False, "delegation", f"{what}: {where} delegates it to {', '.join(sorted(found.delegated_to))}, "
                                         f"not to the zone's name servers; {fix}")
    return Line(True, "delegation", f"{what}: {where} delegates it to the zone's name servers "
                                    f"{', '.join(sorted(assigned))}")


def _ses_identity(account: Account, identity: str, what: str) -> Line:
    ses = account.client("ses")
    verification = ses.get_identity_verification_attributes(Identities=[identity])["VerificationAttributes"]
    status = verification.get(identity, {}).get("VerificationStatus", "absent")
    dkim = ses.get_identity_dkim_attributes(Identities=[identity])["DkimAttributes"].get(identity, {})
    dkim_status = dkim.get("DkimVerificationStatus", "absent") if dkim.get("DkimEnabled") else "DKIM not enabled"
    ok = status == "Success" and dkim_status == "Success"
    return Line(ok, "prerequisite", f"{what}: verification {status}, DKIM {dkim_status}"
                + ("" if ok else " (publish the Data stack's EmailIdentityDkimRecord outputs in DNS; Cognito refuses "
                                 "an identity that is not verified)"))


def _api_gateway_logging(account: Account, what: str) -> Line:
    arn = account.client("apigateway").get_account().get("cloudwatchRoleArn")
    if not arn:
        return Line(False, "prerequisite", f"{what}: the account has no CloudWatch role set (API Gateway refuses a "
                                           "stage that logs executions)")
    name = _role_name(arn)
    owner = _stack_owned(name)
    if owner:
        return Line(False, "prerequisite", f"{what}: {arn} is a role of {owner}'s stacks, which a teardown or "
                                           "redeploy deletes: set a role of the account's own (docs/deploying.md)")
    role = account.client("iam").get_role(RoleName=name)["Role"]
    trust = role.get("AssumeRolePolicyDocument")
    text = trust if isinstance(trust, str) else json.dumps(trust)
    if "apigateway.amazonaws.com" not in text:
        return Line(False, "prerequisite", f"{what}: {arn} does not trust apigateway.amazonaws.com")
    return Line(True, "prerequisite", f"{what}: {arn}, assumable by API Gateway")


# --- what the assembly pins ---------------------------------------------------------------------------------------

def check_addon_versions(account: Account, assembly: Assembly) -> Iterator[Line]:
    eks = account.client("eks")
    versions = {assembly.literal(c.stack, c.properties.get("Version")) for c in assembly.resources("AWS::EKS::Cluster")}
    kubernetes = next(iter(versions), None)
    for a in assembly.resources("AWS::EKS::Addon"):
        name = str(a.properties.get("AddonName"))
        wanted = assembly.literal(a.stack, a.properties.get("AddonVersion"))
        offered: set[str] = set()
        try:
            pages = eks.get_paginator("describe_addon_versions").paginate(addonName=name,
                                                                          kubernetesVersion=kubernetes)
            for page in pages:
                for addon in page.get("addons", []):
                    offered |= {v["addonVersion"] for v in addon.get("addonVersions", [])}
        except ClientError as err:
            yield Line(False, "addon-version", f"{name} {wanted}: {_error(err)}")
            continue
        ok = wanted in offered
        yield Line(ok, "addon-version", f"{name} {wanted} for Kubernetes {kubernetes}"
                   + (" is offered" if ok else f" is not offered in the region (offered: "
                                              f"{', '.join(sorted(offered)[-3:]) or 'none'})"))


def chart_index_name(repository: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", repository.removeprefix("https://").rstrip("/")) + ".index.yaml"


def check_chart_versions(account: Account, assembly: Assembly) -> Iterator[Line]:
    for h in assembly.helm_releases:
        url = f"{h.repository.rstrip('/')}/index.yaml"
        try:
            index = yaml.safe_load(account.fetch(url)) or {}
        except (OSError, ValueError) as err:
            yield Line(False, "chart-version", f"{h.chart} {h.version}: cannot read {url}: {err}")
            continue
        versions = {str(e.get("version")) for e in (index.get("entries") or {}).get(h.chart, [])}
        ok = h.version in versions
        yield Line(ok, "chart-version", f"{h.chart} {h.version} " + ("is in" if ok else "is not in") + f" {url}")


def _version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Orders RDS engine versions: numeric parts as numbers ("17.10" after "17.9"), others as text (Aurora MySQL's
    "8.0.mysql_aurora.3.05.2")."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.-]", version))


def _deployed_stack_id(account: Account, stack: str, region: str) -> str | None:
    """The id of the deployed stack ``stack`` (CloudFormation DescribeStacks), or None when it is not deployed."""
    try:
        return str(account.client("cloudformation", region).describe_stacks(StackName=stack)["Stacks"][0]["StackId"])
    except ClientError as err:
        if _error(err) == "ValidationError":  # "Stack with id ... does not exist"
            return None
        raise


def _running_engine_version(account: Account, assembly: Assembly, r: Resource, region: str,
                            stack_ids: dict[str, str | None]) -> tuple[str | None, str]:
    """The engine version the existing cluster (or instance) of ``r`` runs, or None; and what was found, as the
    line says it. The identifier is the template's, resolved with the deployed stack's id when it names one per
    creation of the stack (cdk_constructs/replaceable_name.py)."""
    cluster = r.type == "AWS::RDS::DBCluster"
    prop = "DBClusterIdentifier" if cluster else "DBInstanceIdentifier"
    raw = r.properties.get(prop)
    if raw is None:
        return None, (f"the running version is not checked: the template names no {prop} (CloudFormation "
                      "generates it)")
    identifier = assembly.literal(r.stack, raw)
    if identifier is None and "AWS::StackId" in json.dumps(raw):
        if r.stack not in stack_ids:
            stack_ids[r.stack] = _deployed_stack_id(account, r.stack, region)
        if stack_ids[r.stack] is None:
            return None, f"{r.stack} is not deployed: the first deploy creates it"
        identifier = assembly.literal(r.stack, raw, stack_id=stack_ids[r.stack])
    if identifier is None:
        return None, f"the running version is not checked: its {prop} is known only at deploy"
    rds = account.client("rds", region)
    try:
        if cluster:
            found = rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"]
        else:
            found = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
    except ClientError as err:
        if _error(err) in ("DBClusterNotFoundFault", "DBInstanceNotFound"):
            return None, f"{identifier} does not exist yet: the deploy creates it"
        raise
    return str(found[0]["EngineVersion"]), identifier


def check_engine_versions(account: Account, assembly: Assembly) -> Iterator[Line]:
    """Every RDS engine version the assembly pins (each DBCluster's, and a DBInstance's that names one) is offered in
    its stack's region (RDS DescribeDBEngineVersions lists only the versions a database can be created at), and no
    existing cluster runs a newer one (DescribeDBClusters): auto minor version upgrades move a running database past
    the template's pin, and RDS refuses to downgrade it, so such a deploy fails."""
    stack_ids: dict[str, str | None] = {}
    for r in assembly.resources("AWS::RDS::DBCluster", "AWS::RDS::DBInstance"):
        if r.type == "AWS::RDS::DBInstance" and "EngineVersion" not in r.properties:
            continue  # an instance of a cluster (the cluster's version), or RDS's default
        engine = assembly.literal(r.stack, r.properties.get("Engine"))
        version = assembly.literal(r.stack, r.properties.get("EngineVersion"))
        what = f"{r.stack}/{r.logical_id} {engine} {version}"
        if engine is None or version is None:
            yield Line(False, "engine-version", f"{what}: the template names no literal engine and engine version "
                                                "to check")
            continue
        region = assembly.stacks[r.stack].region
        try:
            offered = account.client("rds", region).describe_db_engine_versions(
                Engine=engine, EngineVersion=version)["DBEngineVersions"]
            if not offered:
                yield Line(False, "engine-version", f"{what} is not offered in {region}: RDS creates no database at "
                                                    "it; pin a version `aws rds describe-db-engine-versions --engine "
                                                    f"{engine}` lists")
                continue
            running, found = _running_engine_version(account, assembly, r, region, stack_ids)
        except ClientError as err:
            yield Line(False, "engine-version", f"{what}: {_error(err)}")
            continue
        if running is not None and _version_key(running) > _version_key(version):
            yield Line(False, "engine-version", f"{what}: {found} already runs {running}, newer than the template's "
                                                f"{version}, and RDS cannot downgrade it: pin {running} or later")
            continue
        yield Line(True, "engine-version", f"{what} is offered in {region}; "
                   + (f"{found} runs {running}" if running is not None else found))


def check_bootstrap(account: Account, assembly: Assembly) -> Iterator[Line]:
    """Every region the assembly deploys to is bootstrapped at the version its stacks require (the storefront's
    WebGlobal stack lives in us-east-1, so that region needs `cdk bootstrap` too)."""
    required: dict[str, int] = {}
    parameter = f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version"
    for artifact in assembly.manifest.get("artifacts", {}).values():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        props = artifact.get("properties") or {}
        region = str(artifact.get("environment", "")).rsplit("/", 1)[-1]
        required[region] = max(required.get(region, 0), int(props.get("requiresBootstrapStackVersion") or 0))
        parameter = props.get("bootstrapStackVersionSsmParameter", parameter)
    for region, version in sorted(required.items()):
        try:
            have = int(account.client("ssm", region).get_parameter(Name=parameter)["Parameter"]["Value"])
        except ClientError as err:
            yield Line(False, "bootstrap", f"{region} {parameter}: {_error(err)} (run `cdk bootstrap "
                                           f"aws://ACCOUNT/{region}` with the execution policies of `make "
                                           "bootstrap-policy`: docs/deploying.md)")
            continue
        yield Line(have >= version, "bootstrap", f"{region} {parameter} is {have}; the assembly needs {version} or "
                                                 "later")


def bootstrap_roles(assembly: Assembly) -> dict[str, list[str]]:
    """Region -> the CDK bootstrap roles the CLI assumes to deploy the assembly there: each stack's deploy and lookup
    roles, and the publishing roles of its asset manifest's destinations (the manifests write ``${AWS::Partition}``)."""
    roles: dict[str, set[str]] = {}

    def add(region: str, arn: Any) -> None:
        if arn:
            roles.setdefault(region, set()).add(str(arn).replace("${AWS::Partition}", "aws"))

    for artifact in assembly.manifest.get("artifacts", {}).values():
        props = artifact.get("properties") or {}
        region = str(artifact.get("environment", "")).rsplit("/", 1)[-1]
        if artifact.get("type") == "aws:cloudformation:stack":
            add(region, props.get("assumeRoleArn"))
            add(region, (props.get("lookupRole") or {}).get("arn"))
        elif artifact.get("type") == "cdk:asset-manifest":
            assets = json.loads((assembly.directory / props["file"]).read_text())
            for kind in ("files", "dockerImages"):
                for asset in (assets.get(kind) or {}).values():
                    for d in (asset.get("destinations") or {}).values():
                        add(str(d.get("region", region)), d.get("assumeRoleArn"))
    return {region: sorted(arns) for region, arns in sorted(roles.items())}


def check_bootstrap_roles(account: Account, assembly: Assembly) -> Iterator[Line]:
    """The caller (the pipeline's deploy role) can assume every bootstrap role the CLI will use, in every region the
    assembly deploys to: the environment's and us-east-1 (WebGlobal). A role missing (that region never bootstrapped)
    or a deploy role whose policy names only its home region fails here, not halfway through a deploy."""
    sts = account.caller.client("sts", endpoint_url=account.endpoint_url)
    for region, arns in bootstrap_roles(assembly).items():
        for arn in arns:
            try:
                sts.assume_role(RoleArn=arn, RoleSessionName="account-check", DurationSeconds=900)
            except ClientError as err:
                yield Line(False, "bootstrap-role", f"{region} {arn}: {_error(err)} (bootstrap {region} with `cdk "
                                                    f"bootstrap aws://ACCOUNT/{region}`, and let the deploy role "
                                                    "assume its roles: docs/deploying.md, step 4)")
                continue
            yield Line(True, "bootstrap-role", f"{region} {arn}: assumed")


# --- quotas -----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Needs:
    vpcs: int
    nat_per_zone: dict[str, int]
    endpoints_per_vpc: int
    eips: int
    on_demand_vcpus: int
    spot_vcpus: int


def needs(assembly: Assembly) -> Needs:
    """What the assembly creates that counts against a quota (node groups at their maximum sizes)."""
    nat: Counter[str] = Counter()
    for n in assembly.resources("AWS::EC2::NatGateway"):
        t = assembly.target(n.stack, n.properties.get("SubnetId"))
        subnet = assembly.resource(t.stack, t.logical_id) if t else None
        zone = assembly.literal(subnet.stack, subnet.properties.get("AvailabilityZone")) if subnet else None
        nat[zone or "?"] += 1
    endpoints: Counter[str] = Counter()
    for e in assembly.resources("AWS::EC2::VPCEndpoint"):
        if e.properties.get("VpcEndpointType") == "Interface":
            endpoints[json.dumps(e.properties.get("VpcId"), sort_keys=True)] += 1
    vcpus = {"ON_DEMAND": 0, "SPOT": 0}
    for g in assembly.resources("AWS::EKS::Nodegroup"):
        types = [str(t) for t in g.properties.get("InstanceTypes") or []]
        size = int((g.properties.get("ScalingConfig") or {}).get("MaxSize", 0))
        if types:
            largest = max(instance_type(t).vcpus for t in types if STANDARD_FAMILIES.match(t))
            vcpus[str(g.properties.get("CapacityType", "ON_DEMAND"))] += size * largest
    return Needs(vpcs=sum(1 for _ in assembly.resources("AWS::EC2::VPC")), nat_per_zone=dict(nat),
                 endpoints_per_vpc=max(endpoints.values(), default=0),
                 eips=sum(1 for _ in assembly.resources("AWS::EC2::EIP")),
                 on_demand_vcpus=vcpus["ON_DEMAND"], spot_vcpus=vcpus["SPOT"])


def _quota(account: Account, key: str) -> float:
    service, code, _ = QUOTAS[key]
    quotas = account.client("service-quotas")
    try:
        return float(quotas.get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"])
    except ClientError as err:
        if _error(err) != "NoSuchResourceException":
            raise
        return float(quotas.get_aws_default_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"])


def _in_use(account: Account, config: EnvironmentConfig) -> dict[str, Any]:
    ec2 = account.client("ec2")
    vpcs = [v for page in ec2.get_paginator("describe_vpcs").paginate() for v in page["Vpcs"]]
    gateways = [g for page in ec2.get_paginator("describe_nat_gateways").paginate(
        Filters=[{"Name": "state", "Values": ["pending", "available"]}]) for g in page["NatGateways"]]
    subnet_ids = sorted({g["SubnetId"] for g in gateways})
    zones = {s["SubnetId"]: s["AvailabilityZone"]
             for s in (ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"] if subnet_ids else [])}
    addresses = ec2.describe_addresses()["Addresses"]
    running: dict[str, int] = {"ON_DEMAND": 0, "SPOT": 0}
    types: dict[str, int] = {}
    instances = [i for page in ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}])
        for r in page["Reservations"] for i in r["Instances"]]
    wanted_types = sorted({i["InstanceType"] for i in instances if STANDARD_FAMILIES.match(i["InstanceType"])})
    if wanted_types:
        for t in ec2.describe_instance_types(InstanceTypes=wanted_types)["InstanceTypes"]:
            types[t["InstanceType"]] = int(t["VCpuInfo"]["DefaultVCpus"])
    for i in instances:
        if i["InstanceType"] in types:
            running["SPOT" if i.get("InstanceLifecycle") == "spot" else "ON_DEMAND"] += types[i["InstanceType"]]
    return {"vpcs": len(vpcs), "nat": Counter(zones.get(g["SubnetId"], "?") for g in gateways),
            "eips": len(addresses), "vcpus": running}


def check_quotas(account: Account, config: EnvironmentConfig, assembly: Assembly) -> Iterator[Line]:
    need = needs(assembly)
    try:
        used = _in_use(account, config)
    except ClientError as err:
        yield Line(False, "quota", f"cannot read the account's usage: {_error(err)}")
        return

    def line(key: str, wanted: int, in_use: int, where: str = "") -> Line:
        try:
            limit = _quota(account, key)
        except ClientError as err:
            return Line(False, "quota", f"{QUOTAS[key][2]}: {_error(err)}")
        ok = wanted + in_use <= limit
        return Line(ok, "quota", f"{QUOTAS[key][2]}{where}: {wanted} needed + {in_use} in use "
                                 f"{'<=' if ok else '>'} {limit:g}")

    yield line("vpcs", need.vpcs, used["vpcs"])
    for zone, n in sorted(need.nat_per_zone.items()):
        yield line("nat", n, used["nat"].get(zone, 0), f" ({zone})")
    if need.endpoints_per_vpc:
        yield line("endpoints", need.endpoints_per_vpc, 0, " (the new VPC)")
    yield line("eips", need.eips, used["eips"])
    yield line("on_demand", need.on_demand_vcpus, used["vcpus"]["ON_DEMAND"], " at the node groups' maxima")
    if need.spot_vcpus:
        yield line("spot", need.spot_vcpus, used["vcpus"]["SPOT"], " at the node groups' maxima")


# --- all of it --------------------------------------------------------------------------------------------------------

def run(account: Account, config: EnvironmentConfig, assembly: Assembly) -> list[Line]:
    lines: list[Line] = []
    try:
        caller = account.client("sts").get_caller_identity()
        lines.append(Line(caller["Account"] == config.account, "caller",
                          f"account {caller['Account']} ({caller['Arn']}); {config.name} is {config.account}"))
    except ClientError as err:
        return [Line(False, "caller", f"no usable credentials: {_error(err)}")]
    if not lines[0].ok:
        return lines
    declared = [(p, check_prerequisite(account, config, p)) for p in prerequisites(config)]
    lines += [line for _, line in declared]
    # A zone that exists (a missing one has failed above) must also be delegated.
    lines += [check_delegation(account, p) for p, line in declared
              if p.kind is PrerequisiteKind.HOSTED_ZONE and line.ok]
    lines += check_addon_versions(account, assembly)
    lines += check_chart_versions(account, assembly)
    lines += check_engine_versions(account, assembly)
    lines.extend(check_bootstrap(account, assembly))
    lines.extend(check_bootstrap_roles(account, assembly))
    lines += check_quotas(account, config, assembly)
    return lines


def recorded_fetch(directory: Path) -> Callable[[str], str]:
    def fetch(url: str) -> str:
        repository = url.removesuffix("/index.yaml")
        path = directory / CHART_INDEX_RECORDING / chart_index_name(repository)
        if not path.is_file():
            raise OSError(f"no recorded index at {path}")
        return path.read_text()

    return fetch
