"""The service images' base image, named once.

Every service Dockerfile starts ``ARG BASE_IMAGE`` / ``FROM ${BASE_IMAGE}`` with no default; the value reaches the
build only as the image asset's build argument (``Microservice``), so it lands in ``cdk.out/*.assets.json`` and
cdk-assets passes it to ``docker build --build-arg`` at deploy, and ``make images`` passes the same argument locally.

The reference carries the tag (what people read, and what the local stand-in is built as) and the digest of the
tag's multi-arch image index (what a deploy pulls: amd64 and arm64 manifests under one digest, so the arm64 build of
a deploy and an amd64 build elsewhere start from the same release whatever the tag points to later). Renovate's
custom manager moves both together (``renovate.json``), in a pull request that runs the whole CI.

Current pin: the official image's Python 3.13.16 on Debian 13 "trixie", index digest as recorded in a public
security review of that tag's amd64 and arm64 manifests (openssl 3.5.7-1~deb13u3, October 2026); this machine
reaches no registry, so the digest was read, not pulled. Its Python minor is Debian trixie's own (3.13), which is
what the local stand-in runs (``tools/local/base_image.py``; ``tests/test_images.py`` compares them).
"""

from __future__ import annotations

import re

BASE_IMAGE_ARG = "BASE_IMAGE"
BASE_IMAGE = ("python:3.13.16-slim-trixie"
              "@sha256:5434c2206183169a6c2b11d6156b775a02cce9a2fd00f9482bb8b9bb785e9b3f")

# The official python image's tags: <major.minor.patch>-slim-<Debian codename>.
_TAG = re.compile(r"^python:(?P<minor>\d+\.\d+)\.\d+-slim-(?P<suite>[a-z]+)(?:@sha256:[0-9a-f]{64})?$")


def local_reference(reference: str) -> str:
    """The reference a locally built stand-in carries: a tag only, since Docker resolves ``name@sha256:...`` by the
    registry digest, which an image built on this machine never has."""
    return reference.split("@", 1)[0]


def _tag(reference: str) -> re.Match[str]:
    m = _TAG.match(reference)
    if not m:
        raise ValueError(f"base image {reference!r} is not python:<x.y.z>-slim-<debian suite>[@sha256:<digest>]")
    return m


def python_minor(reference: str = BASE_IMAGE) -> str:
    """The Python minor the base image ships, from its tag (``3.13``)."""
    return _tag(reference).group("minor")


def debian_suite(reference: str = BASE_IMAGE) -> str:
    """The Debian release the base image is built on, from its tag (``trixie``)."""
    return _tag(reference).group("suite")
