"""Image assets: a staged folder without its Dockerfile, or a COPY source Docker will not send, fails."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable

from tests.preflight.workbench import Workbench
from tests.synthesis import ROOT
from tools.reports.preflight import image_assets
from tools.reports.preflight.dockerfile import parse


def images(wb: Workbench) -> dict[str, dict[str, str]]:
    manifest = json.loads((wb.dir / f"{wb.stack('Services')}.assets.json").read_text())
    return {i["displayName"]: i["source"] for i in manifest["dockerImages"].values()}


def restore_dockerfiles(wb: Workbench) -> None:
    """Stage each image as it should be: with the service's Dockerfile in its folder."""
    for source in images(wb).values():
        folder = wb.own_asset(source["directory"])
        shutil.copy(ROOT / "services" / source["dockerFile"], folder / source["dockerFile"])


def test_staged_folder_with_its_dockerfile_and_sources_passes(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    restore_dockerfiles(wb)
    result = image_assets.check(wb.assembly(), wb.config)
    assert result.ok, result.findings
    # Each image copies requirements.lock, common/, contract/ and its own package.
    assert result.figure.startswith("4 images, 16 context sources")


def test_staged_folder_without_its_dockerfile_fails(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    restore_dockerfiles(wb)
    orders = images(wb)["OrdersService/Image"]
    (wb.dir / orders["directory"] / "orders" / "Dockerfile").unlink()
    result = image_assets.check(wb.assembly(), wb.config)
    assert len(result.findings) == 1
    finding = result.findings[0]
    assert "OrdersService/Image" in finding.resource and orders["directory"] in finding.resource
    assert "no orders/Dockerfile" in finding.message


def test_copy_source_excluded_by_dockerignore_fails(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    restore_dockerfiles(wb)
    users = images(wb)["UsersService/Image"]
    folder = wb.own_asset(users["directory"])
    with (folder / ".dockerignore").open("a") as f:
        f.write("\n# keep shared code out\ncommon\n")
    result = image_assets.check(wb.assembly(), wb.config)
    assert [f.resource for f in result.findings] == [f"Dev-Services.assets.json: image UsersService/Image "
                                                     f"({users['directory']})"]
    assert "COPY common/" in result.findings[0].message
    assert "excluded by the pattern 'common'" in result.findings[0].message


def test_copy_source_missing_from_the_folder_fails(bench: Callable[[str], Workbench]) -> None:
    wb = bench("dev")
    restore_dockerfiles(wb)
    products = images(wb)["ProductsService/Image"]
    (wb.dir / products["directory"] / "requirements.lock").unlink()
    result = image_assets.check(wb.assembly(), wb.config)
    assert len(result.findings) == 1
    assert "COPY requirements.lock: not in the staged folder" in result.findings[0].message


def test_dockerfile_parser_knows_what_reads_the_context() -> None:
    parsed = parse(
        "# escape=`\n"
        "FROM python:3.12 AS build\n"
        "ARG REQS=requirements.txt\n"
        "COPY --chown=1:1 [\"a b\", \"c\", \"/dst/\"]\n"
        "COPY --from=build /opt /opt\n"
        "COPY <<EOF /etc/x\n"
        "COPY not-an-instruction /x\n"
        "EOF\n"
        "ADD https://example.com/x.tgz /x\n"
        "COPY ${REQS} ${NOPE} `\n"
        "     /tmp/\n"
        "RUN --mount=type=bind,source=setup.cfg,target=/s true\n"
        "FROM scratch AS final\n")
    assert parsed.stages == ["build", "final"]
    assert [(s.instruction, s.source, s.unresolved) for s in parsed.sources] == [
        ("COPY", "a b", ()), ("COPY", "c", ()), ("COPY", "requirements.txt", ()), ("COPY", "${NOPE}", ("NOPE",)),
        ("RUN", "setup.cfg", ())]


def test_the_parser_is_buildkits_own() -> None:
    """Lower-case keywords, quoted ENV values and a legacy ENV read as `docker build` reads them; what BuildKit's
    parser refuses is an error naming it, not a guess."""
    parsed = parse(
        "from python:3.13 as base\n"
        'env DIR="app dir" LEGACY_UNUSED=1\n'
        "ENV OLD legacy value\n"
        "copy ${DIR}/x /y\n")
    assert parsed.stages == ["base"]
    assert [(s.instruction, s.line, s.source) for s in parsed.sources] == [("COPY", 4, "app dir/x")]
    assert parse("FROM x\nCOPY <<EOF /y\nno end of heredoc\n").errors == [
        "BuildKit's parser refuses it: unterminated heredoc"]
    assert parse("# escape=x\nFROM x\n").errors == [
        "BuildKit's parser refuses it: invalid escape token 'x' does not match ` or \\"]
    assert parse("FROM x\nCOPY\n").errors == ["line 2: COPY needs a source and a destination"]
