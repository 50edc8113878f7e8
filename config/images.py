"""The service images' base image, named once.

Every service Dockerfile starts ``ARG BASE_IMAGE`` / ``FROM ${BASE_IMAGE}`` with no default; the value reaches the
build only as the image asset's build argument (``Microservice``), so it lands in ``cdk.out/*.assets.json`` and
cdk-assets passes it to ``docker build --build-arg`` at deploy, and ``make images`` passes the same argument locally.
Pin it by digest for deploys by appending ``@sha256:<digest of the multi-arch index>`` to the tag: the deploy then
builds from exactly that image whatever the tag points to later.
"""

from __future__ import annotations

BASE_IMAGE_ARG = "BASE_IMAGE"
BASE_IMAGE = "python:3.12.8-slim-bookworm"


def local_reference(reference: str) -> str:
    """The reference a locally built stand-in carries: a tag only, since Docker resolves ``name@sha256:...`` by the
    registry digest, which an image built on this machine never has."""
    return reference.split("@", 1)[0]
