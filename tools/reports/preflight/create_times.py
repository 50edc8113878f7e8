"""Typical time CloudFormation takes to create one resource of a type, for the deploy-duration estimate.

Figures are what a first deploy in eu-west-1 typically takes (minutes); each says where it comes from, and a
figure marked "assumption" is the project's own rounded experience, not a published number. Types not listed take
:data:`DEFAULT_MINUTES` (IAM, SQS, SNS, alarms: seconds each, and they run in parallel).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CreateTime:
    minutes: float
    source: str


CREATE_MINUTES: dict[str, CreateTime] = {
    "AWS::EKS::Cluster": CreateTime(15, "EKS user guide (Auto Mode, get started with the CLI): 'Cluster creation "
                                        "typically takes about 15 minutes'"),
    "AWS::EKS::Nodegroup": CreateTime(5, "EKS user guide: 'Node group creation takes several minutes' (instances "
                                         "launch, join and report Ready); assumption: 5"),
    "AWS::EKS::Addon": CreateTime(2, "assumption: an add-on becomes ACTIVE once its pods run on the nodes"),
    "AWS::EKS::AccessEntry": CreateTime(0.5, "assumption"),
    "AWS::EKS::PodIdentityAssociation": CreateTime(0.5, "assumption"),
    "Custom::AWSCDK-EKS-KubernetesResource": CreateTime(1, "assumption: the kubectl handler Lambda (in the VPC) "
                                                           "applies the manifest"),
    "Custom::AWSCDK-EKS-HelmChart": CreateTime(2, "assumption: helm install through the kubectl handler"),
    # A rollout wait the assembly cannot tie to a Deployment: one pod pulling its image and starting. Those it can are
    # estimated from the Deployment and its target group (tools/reports/preflight/rollout.py).
    "Custom::AWSCDK-EKS-KubernetesObjectValue": CreateTime(1.5, "assumption: image pull and start of one pod"),
    "AWS::RDS::DBCluster": CreateTime(5, "assumption: the Aurora cluster (storage, endpoints) before any instance"),
    "AWS::RDS::DBInstance": CreateTime(10, "assumption: an Aurora instance takes about 10 minutes to become "
                                           "available, each"),
    "AWS::Serverless::Application": CreateTime(3, "assumption: the rotation application's nested stack (a VPC "
                                                  "Lambda function)"),
    "AWS::SecretsManager::RotationSchedule": CreateTime(1, "assumption: the first rotation runs at creation"),
    "AWS::ApiGateway::VpcLink": CreateTime(8, "API Gateway developer guide: a REST API VPC link takes several "
                                              "minutes to become AVAILABLE; commonly 5-10, assumption: 8"),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": CreateTime(3, "assumption: an NLB is active in 2-5 minutes"),
    "AWS::EC2::NatGateway": CreateTime(2, "assumption: a NAT gateway is available in 1-3 minutes"),
    "AWS::EC2::VPCEndpoint": CreateTime(2, "assumption: interface endpoints are available in about 2 minutes"),
    # Lambda developer guide, "Lambda function states": a new function stays Pending while Lambda creates its VPC (or
    # EFS) resources, and CloudFormation waits for Active. A function outside a VPC: DEFAULT_MINUTES.
    "AWS::Lambda::Function": CreateTime(1, "assumption: a VPC function waits for its Hyperplane ENIs (Lambda "
                                           "developer guide, 'Lambda function states': Pending while Lambda creates "
                                           "VPC resources); one outside a VPC is Active in seconds"),
    "AWS::DynamoDB::GlobalTable": CreateTime(1.5, "assumption"),
    "AWS::DynamoDB::Table": CreateTime(1, "assumption"),
    "AWS::Cognito::UserPoolDomain": CreateTime(1, "assumption: a prefix domain (a custom domain takes far longer: "
                                                  "a CloudFront distribution)"),
    "AWS::WAFv2::WebACL": CreateTime(1, "assumption"),
    "AWS::WAFv2::WebACLAssociation": CreateTime(1, "assumption: waits for the stage to be associable"),
    # CloudFormation waits for the distribution's Deployed status: AWS reduced CloudFront's deployment time to
    # "under 5 minutes" for most changes (AWS What's New, 2020-11, "Amazon CloudFront announces faster deployments").
    "AWS::CloudFront::Distribution": CreateTime(5, "AWS What's New 2020-11: CloudFront deployments complete in under "
                                                   "5 minutes; the upper bound is taken"),
    # DNS validation with the records in a zone CloudFormation writes (DomainValidationOptions.HostedZoneId): ACM
    # issues once it sees them; "it can take up to 30 minutes" after the records are published (ACM user guide, DNS
    # validation), minutes in practice for a delegated zone. Assumption: 5.
    "AWS::CertificateManager::Certificate": CreateTime(5, "assumption: ACM user guide, DNS validation takes up to "
                                                          "30 minutes after the records exist; minutes in practice"),
    # Route 53 returns INSYNC once the change reaches every authoritative server ("generally within 60 seconds",
    # Route 53 API reference, GetChange); CloudFormation waits for it.
    "AWS::Route53::RecordSet": CreateTime(1, "Route 53 API reference (GetChange): INSYNC generally within 60 "
                                             "seconds"),
    # aws-cdk-lib's BucketDeployment: a Lambda copies the assets, then (with a distribution) creates an invalidation
    # and waits for it to complete. Assumption: 3.
    "Custom::CDKBucketDeployment": CreateTime(3, "assumption: asset copy by a Lambda, then a CloudFront invalidation "
                                                 "it waits for"),
    "AWS::KMS::Key": CreateTime(0.5, "assumption"),
    "AWS::IAM::Role": CreateTime(0.5, "assumption: IAM propagation"),
}
DEFAULT_MINUTES = 0.25
# Creating the change set, starting it and the CLI noticing completion, per stack (assumption).
STACK_OVERHEAD_MINUTES = 1.0
# A stack whose template did not change: the CLI compares it with the deployed one and skips it without a change
# set ("no changes", aws-cdk deploy-stack canSkipDeploy): a few API calls (assumption: 6 seconds).
STACK_UNCHANGED_MINUTES = 0.1
# A Kubernetes manifest applied again on an update (kubectl apply through the kubectl handler): assumption.
MANIFEST_UPDATE_MINUTES = 1.0
# One service image: pip installing wheels and copying code. Under QEMU (an arm64 image on an x86 runner) every RUN
# step is emulated, several times slower (assumption: 6 minutes, against 2 native); then the push to ECR.
IMAGE_BUILD_EMULATED_MINUTES = 6.0
IMAGE_BUILD_NATIVE_MINUTES = 2.0
IMAGE_PUSH_MINUTES = 1.0

# A rollout wait (`Custom::AWSCDK-EKS-KubernetesObjectValue` on a Deployment's status) lasts as long as the rollout:
# see tools/reports/preflight/rollout.py, which builds each pod's time to Ready from these and the manifests.
# A node pulls a service image from ECR in the same region the first time it runs it (assumption: 1 minute for the
# Python service images, a few hundred MB). A rolling update's new image shares its base layers with the old one
# already on the node and pulls only the rebuilt ones (virtualenv, code; assumption: half a minute).
IMAGE_PULL_MINUTES = 1.0
IMAGE_UPDATE_PULL_MINUTES = 0.5
# A new IP target of a Network Load Balancer: AWS support, quoted in kubernetes-sigs/aws-load-balancer-controller#1834
# (2023-09): "When you register a new target to your Network Load Balancer, it is expected to take between 3-5
# minutes (180 and 300 seconds) to complete the registration process. After registration is complete, the Network
# Load Balancer health check systems will begin to send health checks"; the same thread measures about 3 minutes
# for the pod readiness gate to pass. A check fails on the lower bound (a deploy that fails even then) and warns on
# the upper one.
NLB_TARGET_REGISTRATION_MINUTES = 3.0
NLB_TARGET_REGISTRATION_MAX_MINUTES = 5.0
# Pods that fit no node wait for the Cluster Autoscaler: its scan (every 10 s), the Auto Scaling group launching an
# instance, AL2023 booting, the kubelet joining and the VPC CNI marking the node Ready (assumption: 3 minutes; the
# node group's own creation, all nodes at once, is AWS::EKS::Nodegroup above).
NODE_PROVISION_MINUTES = 3.0
# An NLB keeps sending new connections to a deregistering target until the deregistration has been processed,
# "3-5 minutes" by AWS support's statement quoted in kubernetes-sigs/aws-load-balancer-controller#1834 (the same
# thread as the registration above; #3270 measures about 2 minutes): a pod must keep serving that long after the
# controller deregisters it. Checks use the upper bound.
NLB_DEREGISTRATION_MAX_MINUTES = 5.0


def create_minutes(resource_type: str, *, in_vpc: bool = True) -> float:
    """A resource of the type; ``in_vpc`` False for a Lambda function outside a VPC (Active in seconds)."""
    if resource_type == "AWS::Lambda::Function" and not in_vpc:
        return DEFAULT_MINUTES
    entry = CREATE_MINUTES.get(resource_type)
    return entry.minutes if entry else DEFAULT_MINUTES
