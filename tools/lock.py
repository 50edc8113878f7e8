"""Hashed dependency locks, compiled from the requirement files people edit (`make lock`), and their agreement.

    python -m tools.lock [--upgrade] [--upgrade-package NAME ...]   compile every lock (uv pip compile)
    python -m tools.lock --check                                    offline: does every lock agree with its sources?

People edit the requirement files (direct dependencies, pinned with ``==``): ``requirements.txt`` (the CDK app),
``services/requirements.txt`` (the four service images) and ``requirements-dev.txt`` (tools and tests; it includes
both). Machines install only the locks, with ``pip install --require-hashes``: ``services/requirements.lock`` in every
Dockerfile, ``requirements-dev.lock`` in the venv ``make setup`` builds. A lock pins every transitive dependency and
the hashes of each release's files, so two builds of one commit install the same files whenever they run.

Both locks are universal (``--universal``: environment markers, not the resolving machine, decide what applies) for
Python 3.11 and later, so the images' Python (the base's 3.13) and the development venv's (3.11 or later) install from
the same resolution; the development lock is compiled under the image lock as a constraint, so the services' tests
run on exactly the versions the images ship. Compiling keeps every pin the existing lock has unless a source asks
for another (uv reads the output file as its preferences): after merging a branch that added a dependency,
``make lock`` adds it and what it needs and moves nothing else. ``--upgrade`` (``make lock UPGRADE=1``) moves every
transitive pin to the newest release the sources allow.

The header of each lock is the exact command that compiled it, in the form Renovate's ``pip-compile`` manager reads
to recompile a lock after it updates a source (``renovate.json``).

``--check`` needs only the standard library (``make setup`` runs it with the machine's python3 before building the
venv, so a lock left behind by a merge stops setup with a line naming the file and the package instead of building a
venv that lacks it) and ``tests/test_locks.py`` runs the same function.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The oldest Python a lock must install on: the development venv's floor (README: python3 3.11+). Markers select what
# applies to the images' 3.13.
PYTHON_FLOOR = "3.11"


@dataclass(frozen=True)
class Lock:
    output: str  # relative to ROOT
    sources: tuple[str, ...]  # every requirement file, explicitly (Renovate reads only the header's positional files)
    constraints: tuple[str, ...] = ()  # other locks this one must agree with

    def command(self) -> list[str]:
        """The uv command, as the lock's header records it (options joined to their values with '=': Renovate's
        parser of the header requires that)."""
        return ["uv", "pip", "compile", "--universal", "--generate-hashes", f"--python-version={PYTHON_FLOOR}",
                *[f"--constraints={c}" for c in self.constraints], f"--output-file={self.output}", *self.sources]


SERVICES = Lock("services/requirements.lock", ("services/requirements.txt",))
DEVELOPMENT = Lock("requirements-dev.lock", ("requirements-dev.txt", "requirements.txt", "services/requirements.txt"),
                   constraints=(SERVICES.output,))
# The load generator's image (tools/load/Dockerfile) runs the smoke test's modules with Locust: the versions the
# development venv tests them with.
LOAD_GENERATOR = Lock("tools/load/requirements.lock", ("tools/load/requirements.txt",),
                      constraints=(DEVELOPMENT.output,))
# In dependency order: a lock comes after the locks it is constrained by.
LOCKS = (SERVICES, DEVELOPMENT, LOAD_GENERATOR)

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_REQUIREMENT = re.compile(
    rf"^(?P<name>{_NAME})\s*(?:\[(?P<extras>[^\]]*)\])?\s*(?P<spec>[^;]*?)\s*(?:;(?P<marker>.*))?$")
_LOCKED = re.compile(rf"^(?P<name>{_NAME})(?:\[[^\]]*\])?==(?P<version>[^\s;\\]+)\s*(?:;(?P<marker>[^\\]*))?\\?\s*$")
_HASH = re.compile(r"^\s+--hash=sha256:[0-9a-f]{64}")


def canonical(name: str) -> str:
    """PEP 503 normalisation: pip, uv and PyPI treat these names as one."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Requirement:
    file: str  # relative to ROOT
    line: int
    name: str  # canonical
    version: str | None  # the == pin, or None for a bare name


@dataclass
class LockedPackage:
    name: str  # canonical
    version: str
    marker: str
    hashes: int = 0
    via: list[str] = field(default_factory=list)


@dataclass
class LockFile:
    path: str
    command: list[str]
    packages: list[LockedPackage]

    def versions(self, name: str) -> set[str]:
        return {p.version for p in self.packages if p.name == name}


class LockError(ValueError):
    pass


def _strip_comment(line: str) -> str:
    return line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""


def read_requirements(path: str, root: Path = ROOT,
                      _seen: frozenset[str] = frozenset()) -> dict[str, list[Requirement]]:
    """Direct requirements per file, following ``-r`` includes (paths relative to the including file, as pip
    resolves them), keyed by the file's path relative to ``root``."""
    if path in _seen:
        return {}
    out: dict[str, list[Requirement]] = {path: []}
    for number, raw in enumerate((root / path).read_text().splitlines(), start=1):
        line = _strip_comment(raw)
        if not line:
            continue
        if line.startswith(("-r ", "--requirement ", "--requirement=")):
            included = line.split("=", 1)[1] if line.startswith("--requirement=") else line.split(None, 1)[1]
            target = (root / path).parent.joinpath(included.strip()).resolve().relative_to(root.resolve())
            out.update(read_requirements(target.as_posix(), root, _seen | {path}))
            continue
        if line.startswith("-"):
            raise LockError(f"{path}:{number}: option {line.split()[0]} in a requirement file: the lock command sets "
                            "the index and resolution options (tools/lock.py)")
        m = _REQUIREMENT.match(line)
        if not m:
            raise LockError(f"{path}:{number}: cannot read requirement {line!r}")
        spec = m.group("spec").replace(" ", "")
        if spec and not (spec.startswith("==") and re.fullmatch(r"==[^=<>!~,*]+", spec)):
            raise LockError(f"{path}:{number}: {line!r}: pin a direct dependency with == (or name it bare): the lock "
                            "holds the resolution")
        out[path].append(Requirement(path, number, canonical(m.group("name")), spec[2:] or None))
    return out


def read_lock(path: str, root: Path = ROOT) -> LockFile:
    lines = (root / path).read_text().splitlines()
    command: list[str] = []
    packages: list[LockedPackage] = []
    in_via = False
    for raw in lines:
        if not command and raw.startswith("#    "):
            command = shlex.split(raw[5:])
            continue
        if raw.startswith("#"):
            continue
        if _HASH.match(raw):
            if not packages:
                raise LockError(f"{path}: a hash before any package")
            packages[-1].hashes += 1
            continue
        stripped = raw.strip()
        if stripped.startswith("# via"):
            rest = stripped[len("# via"):].strip()
            in_via = not rest
            if rest:
                packages[-1].via.append(rest)
            continue
        if in_via and stripped.startswith("#   "):
            packages[-1].via.append(stripped[1:].strip())
            continue
        in_via = False
        if not stripped:
            continue
        m = _LOCKED.match(stripped)
        if not m:
            raise LockError(f"{path}: cannot read locked line {stripped!r}")
        packages.append(LockedPackage(canonical(m.group("name")), m.group("version"),
                                      (m.group("marker") or "").strip()))
    return LockFile(path, command, packages)


def disagreements(lock: Lock, root: Path = ROOT) -> list[str]:
    """Every way ``lock`` disagrees with its sources (and with the locks it is constrained by), one line each."""
    if not (root / lock.output).is_file():
        return [f"{lock.output} is missing: run make lock"]
    try:
        locked = read_lock(lock.output, root)
        direct: dict[str, list[Requirement]] = {}
        for source in lock.sources:
            direct.update(read_requirements(source, root))
    except LockError as err:
        return [str(err)]
    problems: list[str] = []
    if locked.command != lock.command():
        problems.append(f"{lock.output} was compiled by `{shlex.join(locked.command)}`, make lock runs "
                        f"`{shlex.join(lock.command())}`")
    for package in locked.packages:
        if not package.hashes:
            problems.append(f"{lock.output}: {package.name}=={package.version} has no hash")
    for file, requirements in direct.items():
        for r in requirements:
            versions = locked.versions(r.name)
            if not versions:
                problems.append(f"{file}:{r.line}: {r.name} is not in {lock.output}")
            elif r.version is not None and versions != {r.version}:
                problems.append(f"{file}:{r.line}: {r.name}=={r.version}, {lock.output} has "
                                f"{', '.join(sorted(versions))}")
    named = {f"-r {file}": {r.name for r in requirements} for file, requirements in direct.items()}
    for package in locked.packages:
        for via in package.via:
            if via.startswith("-r ") and package.name not in named.get(via, set()):
                problems.append(f"{lock.output}: {package.name} is locked as a requirement of {via[3:]}, which no "
                                "longer names it")
    for constraint in lock.constraints:
        if not (root / constraint).is_file():
            continue
        for package in read_lock(constraint, root).packages:
            versions = locked.versions(package.name)
            if versions and package.version not in versions:
                problems.append(f"{lock.output}: {package.name} {', '.join(sorted(versions))}, {constraint} has "
                                f"{package.version}")
    return [f"{p} (run make lock)" for p in problems]


def compile_locks(locks: Iterable[Lock], *, upgrade: bool = False, upgrade_packages: Sequence[str] = (),
                  uv: str = "uv") -> None:
    for lock in locks:
        extra = ["--upgrade"] if upgrade else [f"--upgrade-package={p}" for p in upgrade_packages]
        # argv from the constants above and the caller's package names; no shell
        subprocess.run([uv, *lock.command()[1:], *extra, "--quiet"], cwd=ROOT, check=True)  # noqa: S603


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.lock", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="offline: report where a lock and its sources disagree")
    parser.add_argument("--upgrade", action="store_true", help="move every pin to the newest release allowed")
    parser.add_argument("--upgrade-package", action="append", default=[], metavar="NAME")
    parser.add_argument("--uv", default=str(Path(sys.executable).with_name("uv")), help="the uv executable")
    args = parser.parse_args(argv)
    if not args.check:
        compile_locks(LOCKS, upgrade=args.upgrade, upgrade_packages=args.upgrade_package, uv=args.uv)
    problems = [p for lock in LOCKS for p in disagreements(lock)]
    for p in problems:
        print(p, file=sys.stderr)
    if not args.check and not problems:
        print(f"locks agree with their sources: {', '.join(lock.output for lock in LOCKS)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
