from __future__ import annotations

from aws_cdk.assertions import Match

from tests.synthesis import Synthesized


def test_vpc_spans_three_explicit_zones_with_three_tiers(env: Synthesized) -> None:
    subnets = env.resources("Network", "AWS::EC2::Subnet").values()
    zones = sorted({s["Properties"]["AvailabilityZone"] for s in subnets})
    assert zones == sorted(env.config.network.availability_zones)
    tiers = sorted({tag["Value"] for s in subnets for tag in s["Properties"]["Tags"]
                    if tag["Key"] == "aws-cdk:subnet-type"})
    assert tiers == ["Isolated", "Private", "Public"]
    assert len(subnets) == 9


def test_nat_gateways_follow_config(dev: Synthesized, prod: Synthesized) -> None:
    assert len(dev.resources("Network", "AWS::EC2::NatGateway")) == dev.config.network.nat_gateways == 1
    assert len(prod.resources("Network", "AWS::EC2::NatGateway")) == prod.config.network.nat_gateways == 3


def test_isolated_subnets_have_no_route_out(env: Synthesized) -> None:
    routes = env.resources("Network", "AWS::EC2::Route")
    isolated_tables = {k for k in env.resources("Network", "AWS::EC2::RouteTable") if "Isolated" in k}
    assert isolated_tables
    assert not [r for r in routes.values() if r["Properties"]["RouteTableId"]["Ref"] in isolated_tables]


def test_gateway_endpoints_for_s3_and_dynamodb(env: Synthesized) -> None:
    gateways = [e for e in env.resources("Network", "AWS::EC2::VPCEndpoint").values()
                if e["Properties"].get("VpcEndpointType") == "Gateway"]
    services = sorted(e["Properties"]["ServiceName"]["Fn::Join"][1][-1] for e in gateways)
    assert services == [".dynamodb", ".s3"]


def test_interface_endpoints_follow_config(env: Synthesized) -> None:
    interfaces = [e for e in env.resources("Network", "AWS::EC2::VPCEndpoint").values()
                  if e["Properties"].get("VpcEndpointType") == "Interface"]
    names = sorted(e["Properties"]["ServiceName"].split(".", 3)[-1] for e in interfaces)
    assert names == sorted(env.config.network.interface_endpoints)
    assert all(e["Properties"]["PrivateDnsEnabled"] for e in interfaces)


def test_endpoint_security_group_admits_https_from_the_vpc_only(env: Synthesized) -> None:
    groups = [g["Properties"] for g in env.resources("Network", "AWS::EC2::SecurityGroup").values()
              if g["Properties"]["GroupDescription"].startswith("Interface endpoints")]
    if not env.config.network.interface_endpoints:  # dev: the NAT carries the AWS API traffic, no group to admit it
        assert groups == []
        return
    env.template("Network").has_resource_properties("AWS::EC2::SecurityGroup", {
        "SecurityGroupIngress": [Match.object_like({"CidrIp": env.config.network.cidr, "FromPort": 443,
                                                    "ToPort": 443})]})
    assert len(groups) == 1


def test_flow_logs_capture_all_traffic_into_an_encrypted_log_group(env: Synthesized) -> None:
    t = env.template("Network")
    t.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"})
    t.has_resource_properties("AWS::Logs::LogGroup", {
        "RetentionInDays": env.config.network.flow_log_retention_days, "KmsKeyId": Match.any_value()})
