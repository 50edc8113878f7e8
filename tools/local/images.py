"""Build every container image asset of a cloud assembly as cdk-assets does at deploy (`make images`).

    python -m tools.local.images [ASSEMBLY_DIR]   (default cdk.out)

For each ``dockerImages`` entry of ``ASSEMBLY_DIR/*.assets.json`` it runs, in the staged folder
(``ASSEMBLY_DIR/asset.<hash>``), the argument list of the pinned CDK CLI's cdk-assets (``Docker.build`` in
node_modules/aws-cdk/lib/index.js): ``docker build --build-arg K=V... --tag cdkasset-<id> [--target T]
[--file F] [--network N] [--cache-from ...] [--no-cache] .`` with ``BUILDX_NO_DEFAULT_ATTESTATIONS=1``. Left out:
``--platform`` (the native platform here; deploys build arm64) and what only applies to a registry push. The
image keeps cdk-assets' local tag, ``cdkasset-<asset id>``; :func:`image_for_uri` maps an image URI of a
manifest (``<registry>/<repository>:<imageTag>``) to it.

A base image named by digest in the build arguments is replaced by its tag here (config/images.py
``local_reference``), since the local stand-in (tools/local/base_image.py) has no registry digest.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.images import BASE_IMAGE_ARG, local_reference
from tools.assembly import Assembly, AssemblyError

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ImageAsset:
    asset_id: str
    display_name: str
    directory: Path  # the staged folder, absolute
    source: dict[str, Any]
    image_tags: tuple[str, ...]  # the tags the asset gets in its ECR destinations (the image URI's tag)

    @property
    def local_tag(self) -> str:
        """cdk-assets' name for the image it builds before tagging it for the registry."""
        return f"cdkasset-{self.asset_id.lower()}"


def image_assets(assembly: Path) -> list[ImageAsset]:
    out: list[ImageAsset] = []
    stacks = Assembly(assembly).stacks.values()
    for path in sorted({s.assets_file for s in stacks if s.assets_file}):
        for asset_id, entry in json.loads(path.read_text()).get("dockerImages", {}).items():
            source = entry["source"]
            if "directory" not in source:
                raise ValueError(f"{path.name}: image asset {asset_id} has no source directory (external build)")
            tags = tuple(sorted({d["imageTag"] for d in entry.get("destinations", {}).values()}))
            out.append(ImageAsset(asset_id=asset_id, display_name=entry.get("displayName", asset_id),
                                  directory=(assembly / source["directory"]).resolve(), source=source,
                                  image_tags=tags))
    return out


def _cache_option(option: dict[str, Any]) -> str:
    """cdk-assets' cacheOptionToFlag: type=<type>[,key=value...]."""
    return ",".join([f"type={option['type']}", *[f"{k}={v}" for k, v in option.get("params", {}).items()]])


def build_command(asset: ImageAsset) -> list[str]:
    """cdk-assets' `docker build` argument list for this asset, less --platform."""
    s = asset.source
    build_args = {k: (local_reference(v) if k == BASE_IMAGE_ARG else v)
                  for k, v in s.get("dockerBuildArgs", {}).items()}
    cmd = ["docker", "build"]
    cmd += [a for k, v in build_args.items() for a in ("--build-arg", f"{k}={v}")]
    cmd += [a for k, v in s.get("dockerBuildContexts", {}).items() for a in ("--build-context", f"{k}={v}")]
    cmd += [a for k, v in s.get("dockerBuildSecrets", {}).items() for a in ("--secret", f"id={k},{v}")]
    cmd += ["--ssh", s["dockerBuildSsh"]] if s.get("dockerBuildSsh") else []
    cmd += ["--tag", asset.local_tag]
    cmd += ["--target", s["dockerBuildTarget"]] if s.get("dockerBuildTarget") else []
    cmd += ["--file", s["dockerFile"]] if s.get("dockerFile") else []
    cmd += ["--network", s["networkMode"]] if s.get("networkMode") else []
    cmd += [f"--output={o}" for o in s.get("dockerOutputs", [])]
    cmd += [a for c in s.get("cacheFrom", []) for a in ("--cache-from", _cache_option(c))]
    cmd += ["--cache-to", _cache_option(s["cacheTo"])] if s.get("cacheTo") else []
    cmd += ["--no-cache"] if s.get("cacheDisabled") else []
    return [*cmd, "."]


class ImageBuildError(RuntimeError):
    pass


def build(asset: ImageAsset, *, quiet: bool = True) -> float:
    """Build one asset from its staged folder; returns seconds taken. Raises ImageBuildError with docker's
    output tail when the build fails."""
    cmd = build_command(asset)
    where = asset.directory.relative_to(ROOT) if asset.directory.is_relative_to(ROOT) else asset.directory
    print(f"image {asset.display_name}: cd {where} && {shlex.join(cmd)}", flush=True)
    started = time.monotonic()
    env = {**os.environ, "BUILDX_NO_DEFAULT_ATTESTATIONS": "1"}
    # argv from the assembly's own manifest, run without a shell, as cdk-assets does
    r = subprocess.run(cmd, cwd=asset.directory, env=env, capture_output=quiet, text=True)  # noqa: S603
    if r.returncode != 0:
        tail = "\n".join(((r.stdout or "") + (r.stderr or "")).splitlines()[-15:])
        raise ImageBuildError(f"image {asset.display_name} ({asset.asset_id[:12]}) failed to build:\n{tail}")
    return time.monotonic() - started


def build_all(assembly: Path, *, quiet: bool = True) -> list[ImageAsset]:
    try:
        assets = image_assets(assembly)
    except AssemblyError as err:
        raise ImageBuildError(f"{err} (run make synth first)") from err
    if not assets:
        raise ImageBuildError(f"no dockerImages in {assembly}/*.assets.json (run make synth first)")
    for asset in assets:
        seconds = build(asset, quiet=quiet)
        print(f"image {asset.display_name}: {asset.local_tag} built in {seconds:.1f} s", flush=True)
    return assets


def image_exists(reference: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", reference], stdout=subprocess.DEVNULL,  # noqa: S603, S607
                          stderr=subprocess.DEVNULL).returncode == 0


def image_for_uri(uri: str, assets: list[ImageAsset]) -> str:
    """The local image standing in for an image URI of a manifest (registry/repository:<asset image tag>)."""
    tag = uri.rsplit(":", 1)[-1]
    for asset in assets:
        if tag in asset.image_tags:
            return asset.local_tag
    raise KeyError(f"no image asset of the assembly has the tag of {uri}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.local.images", description=__doc__.split("\n\n")[0])
    parser.add_argument("assembly", nargs="?", default="cdk.out", type=Path)
    parser.add_argument("--verbose", action="store_true", help="docker's build output on this terminal")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        assets = build_all(args.assembly, quiet=not args.verbose)
    except ImageBuildError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{len(assets)} images built from {args.assembly}/asset.* in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
