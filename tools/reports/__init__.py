"""Reports and checks over what the repository synthesizes and ships, read offline from the cloud assembly (through
the one reader, tools/assembly.py), the event schemas or the CI workflows; none of them deploys or runs anything.

cost (`make cost`, `make cost-diff`), diagram, diff_report (`make diff`), compliance_report, access_report,
bootstrap_policy, preflight (deploy-readiness checks, `make preflight`), contract_check (event schema
compatibility, `make contract-check`) and actionlint.cjs (`make lint-workflows`).
"""
