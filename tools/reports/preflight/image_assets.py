"""Image assets: every staged image folder builds as cdk-assets builds it.

cdk-assets runs ``docker build --file <dockerFile> .`` inside the staged folder ``cdk.out/asset.<hash>``. aws-cdk-lib
copies the source directory there with the `.dockerignore` applied and re-includes only a root-level ``Dockerfile``
(``!Dockerfile``), so a Dockerfile in a subfolder that the `.dockerignore` excludes never reaches the staged folder
(aws-cdk#6004). At build time Docker applies the staged `.dockerignore` again, to what COPY and ADD may read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from config.environment import EnvironmentConfig
from tools.assembly import Assembly
from tools.reports.preflight.dockerfile import parse
from tools.reports.preflight.dockerignore import DockerIgnore, go_clean, included_files
from tools.reports.preflight.model import CheckResult, Finding

NAME = "image-assets"


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Go's `filepath.Match` syntax (what COPY/ADD wildcards use): `*` and `?` never cross `/`."""
    out, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out += re.escape(ch)
                continue
            body = pattern[i:end]
            out += "[" + ("^" + body[1:] if body.startswith("^") else body) + "]"
            i = end + 1
        elif ch == "\\" and i < len(pattern):
            out += re.escape(pattern[i])
            i += 1
        else:
            out += re.escape(ch)
    return re.compile(out + r"\Z")


def check_image(owner: str, key: str, image: dict[str, Any], root: Path) -> tuple[list[Finding], int]:
    """Findings for one ``dockerImages`` entry of an asset manifest, and how many context sources were checked."""
    source = image.get("source", {})
    label = f"{owner}: image {image.get('displayName', key)} ({source.get('directory', '?')})"
    if "executable" in source:
        return [], 0  # built by a command of the app's choosing, not by docker build
    folder = Path(source.get("directory", ""))
    folder = folder if folder.is_absolute() else root / folder
    dockerfile = str(source.get("dockerFile", "Dockerfile"))
    if not folder.is_dir():
        return [Finding(label, f"staged folder {folder.name} does not exist")], 0
    path = folder / dockerfile
    if not path.is_file():
        return [Finding(label, f"the staged folder has no {dockerfile}: cdk-assets runs `docker build --file "
                               f"{dockerfile} .` there and Docker stops with 'no such file or directory' (aws-cdk-lib "
                               "stages the folder with the .dockerignore applied and re-includes only a root "
                               "Dockerfile)")], 0
    # BuildKit reads <Dockerfile>.dockerignore next to the Dockerfile before the context's .dockerignore.
    specific = folder / f"{dockerfile}.dockerignore"
    ignore_file = specific if specific.is_file() else folder / ".dockerignore"
    try:
        ignore = DockerIgnore.from_file(ignore_file)
    except ValueError as err:
        return [Finding(label, f"{ignore_file.name}: {err}")], 0
    sent = included_files(folder, ignore)
    parsed = parse(path.read_text())
    findings = [Finding(label, f"{dockerfile}: {e}") for e in parsed.errors]
    target = source.get("dockerBuildTarget")
    if target and str(target).lower() not in parsed.stages:
        findings.append(Finding(label, f"build target {target!r} is not a stage of {dockerfile}"))
    for src in parsed.sources:
        where = f"{dockerfile} line {src.line}: {src.instruction} {src.source}"
        if src.unresolved:
            findings.append(Finding(label, f"{where}: no value for {', '.join('$' + v for v in src.unresolved)}"))
            continue
        rel = go_clean(src.source.lstrip("/") or ".")
        if rel == ".":
            continue
        if rel == ".." or rel.startswith("../"):
            findings.append(Finding(label, f"{where}: outside the build context"))
            continue
        if any(c in rel for c in "*?["):
            rx = _glob_regex(rel)
            if not any(rx.match(p) for p in sent):
                findings.append(Finding(label, f"{where}: the pattern matches nothing Docker sends from the staged "
                                               "folder"))
            continue
        if rel in sent:
            continue
        on_disk = (folder / rel).exists()
        excluded_by = ignore.deciding_pattern(rel)
        if on_disk and excluded_by:
            why = f"excluded by the pattern {excluded_by!r} of {ignore_file.name}"
        elif on_disk:
            why = f"every file under it is excluded by {ignore_file.name}"
        else:
            why = f"not in the staged folder {folder.name}"
        findings.append(Finding(label, f"{where}: {why}"))
    return findings, len(parsed.sources)


def check(assembly: Assembly, config: EnvironmentConfig) -> CheckResult:
    findings: list[Finding] = []
    images = sources = 0
    for stack in assembly.stack_order():
        manifest = assembly.asset_manifest(stack)
        for key, image in manifest.get("dockerImages", {}).items():
            f, n = check_image(f"{stack}.assets.json", key, image, assembly.directory)
            findings += f
            images += 1
            sources += n
    return CheckResult(NAME, config.name, f"{images} images, {sources} context sources", findings)
