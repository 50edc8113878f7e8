"""Renovate (renovate.json) reaches every pinned dependency: pip through the hashed locks it recompiles, npm, GitHub
Actions and the base image named once in config/images.py; updates arrive grouped."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from config.images import BASE_IMAGE
from tests.synthesis import ROOT
from tools.lock import LOCKS, read_lock

CONFIG: dict[str, Any] = json.loads((ROOT / "renovate.json").read_text())

# What Renovate's pip-compile manager accepts in a `uv pip compile` header (renovatebot/renovate,
# lib/modules/manager/pip-compile/common.ts, allowedOptions.uv): anything else stops it from recompiling the lock.
RENOVATE_UV_OPTIONS = {"--no-strip-extras", "--universal", "-v", "--generate-hashes", "--emit-index-url"}
RENOVATE_UV_OPTIONS_WITH_VALUES = {"--index-url", "--constraints", "--python-version", "--no-emit-package",
                                   "--output-file", "--extra", "--extra-index-url"}


def js_regex(pattern: str) -> re.Pattern[str]:
    """A Renovate pattern (JavaScript: ``/.../`` delimiters, ``(?<name>...)`` groups) as a Python regex."""
    body = pattern[1:-1] if pattern.startswith("/") and pattern.endswith("/") else pattern
    return re.compile(body.replace("(?<", "(?P<"))


def test_every_lock_is_a_file_renovate_recompiles() -> None:
    patterns = [js_regex(p) for p in CONFIG["pip-compile"]["managerFilePatterns"]]
    for lock in LOCKS:
        assert any(p.search(lock.output) for p in patterns), lock.output
    # The sources are updated through the locks only: the plain requirements manager would skip recompiling.
    assert CONFIG["pip_requirements"]["enabled"] is False


@pytest.mark.parametrize("lock", LOCKS, ids=lambda lock: lock.output)
def test_each_lock_header_is_a_command_renovate_can_rerun(lock: Any) -> None:
    argv = read_lock(lock.output).command
    assert argv[:3] == ["uv", "pip", "compile"]
    for arg in argv[3:]:
        if not arg.startswith("-"):
            assert (ROOT / arg).is_file(), f"source {arg} of {lock.output}"
            continue
        option, eq, _ = arg.partition("=")
        assert (option in RENOVATE_UV_OPTIONS and not eq) or (option in RENOVATE_UV_OPTIONS_WITH_VALUES and eq), arg


def test_the_base_image_is_found_with_its_tag_and_digest() -> None:
    (manager,) = [m for m in CONFIG["customManagers"] if any(js_regex(p).search("config/images.py")
                                                             for p in m["managerFilePatterns"])]
    (pattern,) = manager["matchStrings"]
    m = js_regex(pattern).search((ROOT / "config" / "images.py").read_text())
    assert m, "renovate.json no longer matches BASE_IMAGE in config/images.py"
    assert f"{m['depName']}:{m['currentValue']}@{m['currentDigest']}" == BASE_IMAGE
    assert (manager["datasourceTemplate"], manager["versioningTemplate"]) == ("docker", "docker")
    # The stand-in's Debian decides the Python minor: Renovate may not propose another.
    (rule,) = [r for r in CONFIG["packageRules"] if r.get("matchDepNames") == ["python"]]
    assert rule["allowedVersions"] == "<3.14"


def test_updates_arrive_grouped_weekly_for_every_ecosystem() -> None:
    assert CONFIG["schedule"] == ["before 7am on monday"]
    groups = {r.get("groupName") for r in CONFIG["packageRules"]}
    assert {"Python dependencies", "AWS CDK", "npm dependencies", "GitHub Actions", "base image"} <= groups
    managers = {m for r in CONFIG["packageRules"] for m in r.get("matchManagers", [])}
    assert {"pip-compile", "npm", "github-actions", "custom.regex"} <= managers
    assert (ROOT / "package-lock.json").is_file()
    workflows = list(Path(ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows and all(re.search(r"uses: [\w/-]+@[0-9a-f]{40}", w.read_text()) for w in workflows)


def test_each_update_runs_the_whole_ci() -> None:
    """Renovate's pull requests are ordinary pull requests: ci.yml runs on every one, with the diffs."""
    ci = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert re.search(r"^on:\n  pull_request:\n", ci, re.M)
    assert "branches" not in ci.split("jobs:", 1)[0]  # no filter that would skip renovate/* branches
    for step in ("make test", "make diff BASE=", "make cost-diff BASE=", "make contract-check BASE="):
        assert step in ci, step
