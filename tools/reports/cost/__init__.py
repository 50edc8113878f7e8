"""Offline monthly cost estimate of a synthesized environment (`make cost`, `make cost-seed`, `make cost-all`).

`rules.py` holds a pricing rule per billable CloudFormation type and the explicit free list; `prices.json` the
eu-west-1 price table (each price with its source URL and date); `seed_literal.py` the seed's architecture taken at
face value as a CDK app; `report.py` reads an assembly and writes `cost.md` / `cost.json`.
"""
