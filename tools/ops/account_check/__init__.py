"""`make account-check ENV=...`: what the templates assume of the target account and synth cannot see, verified with
read-only calls before a deploy. One line per check, PASS or FAIL; exit status 1 on any failure.

    python -m tools.ops.account_check dev --assembly assemblies/dev --assume-lookup-role   # the pipeline
    python -m tools.ops.account_check dev --endpoint-url http://127.0.0.1:5000 --replay tools/ops/account_check/recorded

Checks:
- ``caller``: the credentials are the environment's account (STS GetCallerIdentity).
- ``prerequisite``: every declared prerequisite (``config/prerequisites.py``) exists as the templates need it: IAM
  roles (GetRole), the GitHub OIDC provider (GetOpenIDConnectProvider), the SES identity verified with DKIM verified
  (SES GetIdentityVerificationAttributes, GetIdentityDkimAttributes), the account's API Gateway CloudWatch role (API
  Gateway GetAccount; the role exists, API Gateway may assume it, and no environment's stack owns it), hosted zones
  (Route 53 GetHostedZone) and certificates (ACM DescribeCertificate: ISSUED).
- ``delegation``: every declared hosted zone that exists is delegated: its parent zone's servers, asked without
  recursion, refer its name to exactly the name servers Route 53 assigned to it (dnspython;
  ``tools/ops/account_check/delegation.py``). ``--dns-server HOST:PORT`` sends every DNS question to one server.
- ``addon-version``: every EKS add-on version the assembly pins is offered for its Kubernetes version in the region
  (EKS DescribeAddonVersions).
- ``chart-version``: every Helm chart version the assembly pins is in its repository's index.
- ``engine-version``: every RDS engine version the assembly pins (each DBCluster's, a DBInstance's that names one)
  is offered in the stack's region (RDS DescribeDBEngineVersions), and the existing cluster, if any, does not run a
  newer one (RDS cannot downgrade; auto minor version upgrades move a cluster past the pin): its identifier is the
  template's, resolved with the deployed stack's id (CloudFormation DescribeStacks) where it names one per creation
  of the stack, then looked up (RDS DescribeDBClusters; DescribeDBInstances for an instance).
- ``bootstrap``: the CDK bootstrap stack's version (SSM parameter) is the one the assembly requires or later, in
  every region the assembly deploys to (the environment's and us-east-1, where the WebGlobal stack lives).
- ``bootstrap-role``: the caller (before ``--assume-lookup-role``: in the pipeline, the deploy role) can assume every
  bootstrap role the assembly's stacks and asset manifests name (deploy, lookup, file and image publishing), in each
  of those regions (STS AssumeRole).
- ``quota``: the service quotas the environment needs, over what the account uses already: VPCs per Region, NAT
  gateways per Availability Zone, interface endpoints per VPC, Elastic IPs, and the vCPUs of On-Demand and Spot
  standard instances at the node groups' maximum sizes (Service Quotas GetServiceQuota, falling back to
  GetAWSDefaultServiceQuota; EC2 DescribeVpcs, DescribeNatGateways, DescribeAddresses, DescribeInstances).

The pipeline runs it with the deploy role's session, from which it assumes the CDK bootstrap's lookup role
(``--assume-lookup-role``: read-only, the ReadOnlyAccess managed policy). Tested offline against moto's server over
HTTP for every call moto serves, and against recorded responses (:data:`REPLAYED`) for the rest.
"""

from __future__ import annotations

from tools.ops.account_check.checks import REPLAYED, Line, run

__all__ = ["REPLAYED", "Line", "run"]
