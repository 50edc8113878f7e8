"""A local stand-in for the service images' base (`make base-image`), for machines that reach no Docker registry.

    python -m tools.local.base_image [--force]

Builds a minimal Debian of the base's own release (the suite in its tag, ``slim-trixie`` -> trixie) with
``mmdebstrap`` (python3, venv, pip, ca-certificates; ``python`` on PATH as in the official image) and imports it under
the exact reference the Dockerfiles build from (config/images.py), so ``docker build`` uses it without pulling. Then
it runs the stand-in's Python and refuses it (removes the image, exits 1) when its minor is not the base tag's: the
services must be tested on the Python minor they ship on. Skipped when an image of that reference exists.

The build's ``pip install`` must reach the package index this machine reaches: the machine's CA bundle goes into the
image and pip's network settings (index URLs, find-links, timeout) are carried over from ``pip config list``;
``file://`` locations are left out, since nothing of this machine's disk is inside a build.

What the stand-in proves and what it cannot: README.md, "Images and containers".
"""

from __future__ import annotations

import argparse
import configparser
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from config.images import BASE_IMAGE, debian_suite, local_reference, python_minor
from tools.local.images import image_exists

# Debian trixie ships Python 3.13, the base tag's minor; a base of another minor needs the suite that ships it.
SUITE = debian_suite(BASE_IMAGE)
MIRRORS = (
    f"deb http://deb.debian.org/debian {SUITE} main",
    f"deb http://deb.debian.org/debian {SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {SUITE}-security main",
)
PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
IMAGE_CA_BUNDLE = "/usr/local/share/pip/host-ca-bundle.crt"  # outside /etc/ssl/certs: not a single-cert file
# What the official python image sets that builds and entrypoints rely on.
IMAGE_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)
# pip settings that still mean something inside a build (network locations, behaviour), by pip's config key.
PIP_KEYS = ("index-url", "extra-index-url", "find-links", "trusted-host", "timeout", "default-timeout", "retries")


def host_pip_settings() -> dict[str, str]:
    """pip's effective settings on this machine (`pip config list`: files and PIP_* variables), `global` and
    `install` sections folded, keyed without section."""
    out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                         check=True).stdout
    settings: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        section, _, name = key.rpartition(".")
        if section.lstrip(":").split(":")[0] in ("global", "install", "env", ""):
            settings[name] = value.strip().strip("'\"")
    return settings


def image_pip_conf(host: dict[str, str]) -> str:
    """The stand-in's /etc/pip.conf: the machine's network locations and behaviour, the image's CA bundle."""
    conf = configparser.ConfigParser()
    conf["global"] = {"cert": IMAGE_CA_BUNDLE}
    for key in PIP_KEYS:
        if key not in host:
            continue
        kept = [v for v in host[key].split() if not v.startswith(("file:", "/"))]
        if kept:
            conf["global"]["timeout" if key == "default-timeout" else key] = " ".join(kept)
    with tempfile.TemporaryFile("w+") as f:
        conf.write(f)
        f.seek(0)
        return f.read()


def build(reference: str) -> None:
    with tempfile.TemporaryDirectory(prefix="base-image-") as tmp:
        pip_conf = Path(tmp) / "pip.conf"
        pip_conf.write_text(image_pip_conf(host_pip_settings()))
        hooks = [
            f'mkdir -p "$1{Path(IMAGE_CA_BUNDLE).parent}"',
            f"upload {HOST_CA_BUNDLE} {IMAGE_CA_BUNDLE}",
            f"upload {pip_conf} /etc/pip.conf",
            'ln -sf /usr/bin/python3 "$1/usr/local/bin/python"',
            'rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*',
        ]
        debootstrap = [
            "mmdebstrap", "--quiet", "--variant=minbase", "--format=tar", f"--include={','.join(PACKAGES)}",
            "--aptopt=Acquire::Languages \"none\"",
            "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
            # no fsync per package: the tree is streamed into an image once, or thrown away
            "--dpkgopt=force-unsafe-io",
            *[f"--customize-hook={h}" for h in hooks],
            SUITE, "-", *MIRRORS,
        ]
        importer = ["docker", "import", *[a for c in IMAGE_CHANGES for a in ("--change", c)], "-", reference]
        # Both argv lists are built here from constants and config/images.py; no shell, no user input.
        producer = subprocess.Popen(debootstrap, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)  # noqa: S603
        assert producer.stdout is not None
        imported = subprocess.run(importer, stdin=producer.stdout, capture_output=True, text=True)  # noqa: S603
        producer.stdout.close()
        if producer.wait() != 0:
            raise SystemExit(f"mmdebstrap failed ({producer.returncode}): {shlex.join(debootstrap)}")
        if imported.returncode != 0:
            raise SystemExit(f"docker import failed: {imported.stderr.strip()}")


def stand_in_python_minor(reference: str) -> str:
    """The Python minor the stand-in runs (``python`` on its PATH, as the Dockerfiles call it), read by running it."""
    # fixed argv, the reference from config/images.py
    argv = ["docker", "run", "--rm", "--network", "none", reference, "python", "-c",
            "import sys; print('%d.%d' % sys.version_info[:2])"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True)  # noqa: S603
    return out.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.local.base_image", description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when the reference exists")
    args = parser.parse_args(argv)
    reference = local_reference(BASE_IMAGE)
    if image_exists(reference) and not args.force:
        print(f"base image {reference}: present, not rebuilt")
        return 0
    started = time.monotonic()
    build(reference)
    minor = stand_in_python_minor(reference)
    if minor != python_minor(BASE_IMAGE):
        subprocess.run(["docker", "image", "rm", reference], capture_output=True)  # noqa: S603, S607
        raise SystemExit(f"base image {reference}: the stand-in (Debian {SUITE}) runs Python {minor}, the base's tag "
                         f"says {python_minor(BASE_IMAGE)}: pick a base whose Debian suite ships its Python minor")
    print(f"base image {reference}: local stand-in (mmdebstrap {SUITE}: {', '.join(PACKAGES)}; Python {minor}) built "
          f"in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
