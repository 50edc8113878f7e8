"""The only IAM actions this app grants on ``Resource: "*"``.

Each is listed once, with the reason: AWS documents these actions as supporting no resource-level permissions (the
Service Authorization Reference shows an empty resource type for them), so ``*`` is the only valid resource.
`tests/test_iam_wildcards.py` fails on any other action with ``Resource: "*"`` in any synthesized template.
"""

from __future__ import annotations

NO_RESOURCE_LEVEL = "AWS supports no resource-level permission for this action (Service Authorization Reference)"

NO_RESOURCE_ACTIONS: dict[str, str] = {
    # Read-only discovery used by the AWS Load Balancer Controller to resolve targets of a TargetGroupBinding.
    "elasticloadbalancing:DescribeLoadBalancers": NO_RESOURCE_LEVEL,
    "elasticloadbalancing:DescribeTargetGroups": NO_RESOURCE_LEVEL,
    "elasticloadbalancing:DescribeTargetHealth": NO_RESOURCE_LEVEL,
    "elasticloadbalancing:DescribeListeners": NO_RESOURCE_LEVEL,
    "elasticloadbalancing:DescribeTags": NO_RESOURCE_LEVEL,
    "elasticloadbalancing:DescribeTargetGroupAttributes": NO_RESOURCE_LEVEL,
    "elasticloadbalancing:DescribeLoadBalancerAttributes": NO_RESOURCE_LEVEL,
    "ec2:DescribeInstances": NO_RESOURCE_LEVEL,
    "ec2:DescribeNetworkInterfaces": NO_RESOURCE_LEVEL,
    "ec2:DescribeSubnets": NO_RESOURCE_LEVEL,
    "ec2:DescribeSecurityGroups": NO_RESOURCE_LEVEL,
    "ec2:DescribeVpcs": NO_RESOURCE_LEVEL,
    "ec2:DescribeAvailabilityZones": NO_RESOURCE_LEVEL,
    # The Cluster Autoscaler's discovery of Auto Scaling groups, launch templates and instance types.
    "autoscaling:DescribeAutoScalingGroups": NO_RESOURCE_LEVEL,
    "autoscaling:DescribeAutoScalingInstances": NO_RESOURCE_LEVEL,
    "autoscaling:DescribeLaunchConfigurations": NO_RESOURCE_LEVEL,
    "autoscaling:DescribeScalingActivities": NO_RESOURCE_LEVEL,
    "autoscaling:DescribeTags": NO_RESOURCE_LEVEL,
    "ec2:DescribeImages": NO_RESOURCE_LEVEL,
    "ec2:DescribeInstanceTypes": NO_RESOURCE_LEVEL,
    "ec2:DescribeLaunchTemplateVersions": NO_RESOURCE_LEVEL,
    "ec2:GetInstanceTypesFromInstanceRequirements": NO_RESOURCE_LEVEL,
    # Trace and metric upload from pods and the observability add-on.
    "xray:PutTraceSegments": NO_RESOURCE_LEVEL,
    "xray:PutTelemetryRecords": NO_RESOURCE_LEVEL,
    "xray:GetSamplingRules": NO_RESOURCE_LEVEL,
    "xray:GetSamplingTargets": NO_RESOURCE_LEVEL,
    "cloudwatch:PutMetricData": NO_RESOURCE_LEVEL + "; limited by a cloudwatch:namespace condition where granted",
    # The Synthetics runtime lists the account's buckets before uploading a run's artifacts (the canary's role).
    "s3:ListAllMyBuckets": NO_RESOURCE_LEVEL,
    # FIS resolving a zone's subnets and their network ACLs (the zone-cut experiment's role).
    "ec2:DescribeNetworkAcls": NO_RESOURCE_LEVEL,
    "ec2:DescribeManagedPrefixLists": NO_RESOURCE_LEVEL,
    # FIS delivering an experiment's log to CloudWatch Logs (a vended log delivery; the fault experiments' roles).
    "logs:CreateLogDelivery": NO_RESOURCE_LEVEL,
    "logs:PutResourcePolicy": NO_RESOURCE_LEVEL,
    "logs:DescribeResourcePolicies": NO_RESOURCE_LEVEL,
    "logs:DescribeLogGroups": NO_RESOURCE_LEVEL,
}
