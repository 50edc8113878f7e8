"""The canaries' CloudWatch Synthetics runtime, named once.

syn-python-selenium-14.0: the newest Python runtime in the CloudWatch user guide's "Runtime versions using Python
and Selenium Webdriver" (read 2026-11-28; Python 3.12, Selenium 4.32.0, Chromium 153). Python, so the canary runs
the smoke test's own modules; Selenium's Chromium is there for the storefront's page-load step. aws-cdk-lib 2.275
names runtimes up to 7.0 only, so the CDK app passes the name itself (cdk_constructs/synthetic_customers.py).
"""

from __future__ import annotations

RUNTIME_VERSION = "syn-python-selenium-14.0"
RUNTIME_PYTHON = "3.12"
# The runtime's Selenium, which drives its Chromium for the storefront's page-load step (tools/local/page_load.py):
# not in the canary's asset; the development venv pins the same release (requirements-dev.txt), so the tests drive
# Debian's Chromium with the Selenium the canary gets.
RUNTIME_SELENIUM = "4.32.0"
# Distributions the runtime brings (the AWS SDK for Python, which the Lambda Python runtime includes, and its
# dependencies): the canary's asset does not carry them (cdk_constructs/canary_bundle.py).
RUNTIME_PROVIDES = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"})
