"""Image assets build from the staged cloud assembly exactly as cdk-assets builds them (`make images`), and a
staging mistake (a .dockerignore that drops the Dockerfiles) fails that build."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecr_assets as ecr_assets

from config.images import BASE_IMAGE, BASE_IMAGE_ARG, debian_suite, local_reference, python_minor
from tests.synthesis import ROOT, Synthesized
from tools.local.base_image import SUITE, stand_in_python_minor
from tools.local.images import (
    ImageAsset,
    ImageBuildError,
    build,
    build_command,
    image_assets,
    image_exists,
    image_for_uri,
)

SERVICES_DIR = ROOT / "services"
CDK_ASSETS_JS = ROOT / "node_modules" / "aws-cdk" / "lib" / "index.js"


def stage(services_dir: Path, outdir: Path) -> list[ImageAsset]:
    """The orders image asset staged the way Microservice stages it, into a fresh assembly."""
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Staging")
    ecr_assets.DockerImageAsset(stack, "Image", directory=str(services_dir), file="orders/Dockerfile",
                                build_args={BASE_IMAGE_ARG: BASE_IMAGE},
                                exclude=["**/tests", "**/__pycache__", "conftest.py", "products", "users",
                                         "inventory"])
    app.synth()
    return image_assets(outdir)


def test_every_staged_asset_holds_its_dockerfile_and_base_argument(dev: Synthesized) -> None:
    assets = image_assets(dev.outdir)
    assert {a.source["dockerFile"] for a in assets} == {f"{s}/Dockerfile" for s in
                                                       ("products", "orders", "users", "inventory")}
    for asset in assets:
        assert (asset.directory / asset.source["dockerFile"]).is_file(), asset.display_name
        assert asset.source["dockerBuildArgs"] == {BASE_IMAGE_ARG: BASE_IMAGE}
        assert asset.source["platform"] == "linux/arm64"  # deploys build arm64; make images builds native


def test_build_command_is_cdk_assets_argument_list_without_platform(dev: Synthesized) -> None:
    """The flags, in the order the pinned CLI's Docker.build passes them (read from its source), less --platform."""
    source = CDK_ASSETS_JS.read_text()
    body = source[source.index("async build(options) {"):]
    body = body[:body.index('"."\n')]
    cli_flags = [f for f in re.findall(r'"(--[a-z-]+)"', body) if f != "--platform"]
    asset = image_assets(dev.outdir)[0]
    cmd = build_command(asset)
    assert cmd[:2] == ["docker", "build"] and cmd[-1] == "."
    used = [a for a in cmd if a.startswith("--")]
    assert used == ["--build-arg", "--tag", "--file"]
    assert [f for f in cli_flags if f in used] == used  # same relative order as cdk-assets
    assert cmd[cmd.index("--tag") + 1] == f"cdkasset-{asset.asset_id}"
    assert cmd[cmd.index("--build-arg") + 1] == f"{BASE_IMAGE_ARG}={local_reference(BASE_IMAGE)}"


def test_image_uri_of_a_manifest_maps_to_the_built_image(dev: Synthesized) -> None:
    assets = image_assets(dev.outdir)
    uri = f"111111111111.dkr.ecr.eu-west-1.amazonaws.com/cdk-hnb659fds-container-assets:{assets[0].image_tags[0]}"
    assert image_for_uri(uri, assets) == assets[0].local_tag
    with pytest.raises(KeyError):
        image_for_uri(uri.rsplit(":", 1)[0] + ":unknown", assets)


def test_base_reference_is_named_once() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    naming = [p for p in tracked.split() if p.endswith((".py", "Dockerfile", ".yml", ".toml"))
              and local_reference(BASE_IMAGE) in (ROOT / p).read_text()]
    assert naming == ["config/images.py"]


def test_base_is_pinned_by_tag_and_index_digest() -> None:
    tag, _, digest = BASE_IMAGE.partition("@")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), "pin the base by its multi-arch index digest"
    assert (python_minor(), debian_suite()) == (python_minor(tag), debian_suite(tag))
    with pytest.raises(ValueError, match="is not python:"):
        python_minor("python:3.13-slim")  # a floating tag: no patch release named


@pytest.mark.docker  # runs the stand-in base image, which the docker stage builds first (make base-image)
def test_stand_in_is_built_from_the_base_tags_debian_and_runs_its_python_minor() -> None:
    """The services are tested on the Python minor they ship on: the stand-in (Debian's own python3 of the base's
    suite) against the minor in the base image's tag."""
    assert SUITE == debian_suite(BASE_IMAGE)
    reference = local_reference(BASE_IMAGE)
    assert image_exists(reference), "make base-image first (make test does)"
    assert stand_in_python_minor(reference) == python_minor(BASE_IMAGE)


def test_digest_pinned_base_builds_from_the_local_tag() -> None:
    tag = local_reference(BASE_IMAGE)
    assert local_reference(f"{tag}@sha256:{'a' * 64}") == tag


@pytest.mark.docker
def test_staged_asset_builds_and_reverting_the_dockerignore_fix_breaks_it(tmp_path: Path) -> None:
    """The real staging (aws-cdk-lib) and the real build (Docker) of the orders asset: it builds with the
    project's .dockerignore; with `**/Dockerfile` excluded again, the staged folder lacks orders/Dockerfile and the
    build cdk-assets would run fails."""
    assert image_exists(local_reference(BASE_IMAGE)), "make base-image first (make test does)"
    (good,) = stage(SERVICES_DIR, tmp_path / "good")
    build(good)
    assert image_exists(good.local_tag)

    broken_services = tmp_path / "services"
    shutil.copytree(SERVICES_DIR, broken_services, ignore=shutil.ignore_patterns("__pycache__", "tests"))
    with (broken_services / ".dockerignore").open("a") as f:
        f.write("**/Dockerfile\n")
    (broken,) = stage(broken_services, tmp_path / "broken")
    assert not (broken.directory / "orders" / "Dockerfile").exists()
    with pytest.raises(ImageBuildError, match="Dockerfile"):
        build(broken)
