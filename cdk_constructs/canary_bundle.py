"""The canary's code asset: the smoke test's own modules and the pure-Python packages they import that the
Synthetics runtime lacks, laid out as the runtime loads a Python canary (``python/`` on the path, the handler file at
its top).

Built at synth from this checkout and the installed, locked packages (requirements.txt via requirements-dev.txt), so
synth stays offline. The third-party packages are derived, not listed: every distribution ``httpx`` requires for
the runtime's Python (config/synthetics.py), minus what the runtime brings itself (boto3 and its dependencies).
The directory is keyed by a digest of what goes in, so repeated synths reuse it and the asset hash follows content.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

from config.synthetics import RUNTIME_PROVIDES, RUNTIME_PYTHON

ROOT = Path(__file__).resolve().parent.parent
HANDLER_MODULE = "canary"
HANDLER = f"{HANDLER_MODULE}.handler"
# The project's modules the canary imports (tools/local/canary.py -> smoke -> workflows -> config.topology -> the
# service contract; page_load, whose Selenium is the runtime's), at their import paths; tests/test_synthetics.py
# runs the bundle with nothing else on the path.
SOURCES: dict[str, Path] = {
    "tools/__init__.py": ROOT / "tools/__init__.py",
    "tools/local/__init__.py": ROOT / "tools/local/__init__.py",
    "tools/local/canary.py": ROOT / "tools/local/canary.py",
    "tools/local/smoke.py": ROOT / "tools/local/smoke.py",
    "tools/local/workflows.py": ROOT / "tools/local/workflows.py",
    "tools/local/page_load.py": ROOT / "tools/local/page_load.py",
    "config/__init__.py": ROOT / "config/__init__.py",
    "config/topology.py": ROOT / "config/topology.py",
    f"{HANDLER_MODULE}.py": ROOT / "tools/local/canary.py",
}
PACKAGE_DIRS = {"contract": ROOT / "services/contract"}
# The HTTP client of the workflows; its dependency tree is resolved below.
ROOT_DISTRIBUTIONS = ("httpx",)


def requirement_tree(*roots: str, without: frozenset[str] = frozenset()) -> list[str]:
    """``roots`` and what they require, recursively, under the runtime's Python (config/synthetics.py), with the extras
    each requirement names; without the distributions in ``without`` (and what only they require)."""
    env: dict[str, str] = {**{k: str(v) for k, v in default_environment().items()},
                           "python_version": RUNTIME_PYTHON, "python_full_version": f"{RUNTIME_PYTHON}.0",
                           "platform_python_implementation": "CPython", "sys_platform": "linux",
                           "platform_system": "Linux"}
    seen: dict[str, set[str]] = {}
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset()) for root in roots]
    while todo:
        name, extras = todo.pop(0)
        key = name.lower().replace("_", "-")
        if key in without or (key in seen and extras <= seen[key]):
            continue
        seen.setdefault(key, set()).update(extras)
        for text in metadata.requires(name) or []:
            req = Requirement(text)
            if req.marker is None or any(req.marker.evaluate({**env, "extra": extra}) for extra in {"", *extras}):
                todo.append((req.name, frozenset(req.extras)))
    return sorted(seen)


def runtime_distributions() -> list[str]:
    """``httpx`` and what it requires, without what the runtime already has."""
    return requirement_tree(*ROOT_DISTRIBUTIONS, without=RUNTIME_PROVIDES)


def distribution_files(distribution: str) -> list[tuple[str, Path]]:
    """(path relative to site-packages, file on this machine) of an installed distribution's importable files."""
    dist = metadata.distribution(distribution)
    out = []
    for f in dist.files or []:
        if "__pycache__" in f.parts or f.suffix == ".pyc" or f.parts[0].endswith((".dist-info", ".data")):
            continue
        if f.parts[0] == ".." or f.parts[0].startswith(("bin", "share")):
            continue
        out.append((str(f), Path(str(dist.locate_file(f)))))
    return out


def contents() -> list[tuple[str, Path]]:
    """(path in the bundle, file on this machine) of everything the asset holds, sorted."""
    items = [(f"python/{k}", v) for k, v in SOURCES.items()]
    for package, directory in PACKAGE_DIRS.items():
        items += [(f"python/{package}/{p.relative_to(directory)}", p) for p in sorted(directory.rglob("*.py"))
                  if "tests" not in p.relative_to(directory).parts]
    for dist in runtime_distributions():
        items += [(f"python/{rel}", path) for rel, path in distribution_files(dist)]
    return sorted(items)


def build(out: Path | None = None) -> Path:
    """The bundle directory (``out``, or a directory keyed by the digest of its contents)."""
    items = contents()
    digest = hashlib.sha256()
    for rel, path in items:
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    target = out or Path(tempfile.gettempdir()) / f"canary-bundle-{digest.hexdigest()[:16]}"
    if out is None and (target / ".complete").exists():
        return target
    staging = Path(tempfile.mkdtemp(prefix="canary-bundle-", dir=target.parent))
    for rel, path in items:
        dest = staging / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    (staging / ".complete").write_text(digest.hexdigest())
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target
