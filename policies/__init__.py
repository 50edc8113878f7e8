"""Least-privilege IAM statements, cdk-nag setup and acknowledgements, and guard Aspects."""
