"""Shared runtime of the four services: config, logging, event envelope, outbox, consumer loop, auth, API helpers."""
