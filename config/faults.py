"""Names the fault experiments share with the tools that start and draw them (no CDK import: `make fault` runs
without it)."""

from __future__ import annotations

# Tag of every FIS experiment template naming its experiment (tools/ops/fault.py finds templates by it).
EXPERIMENT_TAG = "experiment"
# Every experiment is named <kind>-<target> (or the kind alone).
EXPERIMENT_KINDS = ("pods-deleted", "node-group-terminated", "zone-cut", "aurora-failover", "messaging-cut")
