"""The canaries' CloudWatch Synthetics runtime, named once.

syn-python-selenium-14.0: the newest Python runtime in the CloudWatch user guide's "Runtime versions using Python
and Selenium Webdriver" (read 2026-11-28; Python 3.12, Selenium 4.32.0, Chromium 153). Python, so the canary runs
the smoke test's own modules; Selenium's Chromium is there for the storefront's page-load step. aws-cdk-lib 2.275
names runtimes up to 7.0 only, so the CDK app passes the name itself (cdk_constructs/synthetic_customers.py).
"""

from __future__ import annotations

RUNTIME_VERSION = "syn-python-selenium-14.0"
RUNTIME_PYTHON = "3.12"
# Distributions the runtime brings (the AWS SDK for Python, which the Lambda Python runtime includes, and its
# dependencies): the canary's asset does not carry them (cdk_constructs/canary_bundle.py).
RUNTIME_PROVIDES = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"})
