"""Reusable L3 constructs (the design card's `constructs/`; a top-level package of that name would shadow the
`constructs` library every CDK module imports)."""
