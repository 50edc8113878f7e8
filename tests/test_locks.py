"""The hashed locks agree with the requirement files people edit, and machines install only the locks."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.synthesis import ROOT
from tools.lock import DEVELOPMENT, LOCKS, SERVICES, Lock, disagreements, read_lock

SERVICE_DOCKERFILES = sorted((ROOT / "services").glob("*/Dockerfile"))
# Every Dockerfile of the repository an image asset builds: the lock it installs, as its build context names it
# (the services' context is services/), and that lock's path in the repository.
LOCKED_DOCKERFILES = {**{p: ("requirements.lock", "services/requirements.lock") for p in SERVICE_DOCKERFILES},
                      ROOT / "tools" / "load" / "Dockerfile": ("tools/load/requirements.lock",) * 2}


@pytest.mark.parametrize("lock", LOCKS, ids=lambda lock: lock.output)
def test_every_lock_agrees_with_its_requirement_files(lock: Lock) -> None:
    assert disagreements(lock) == []


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The requirement files and locks, copied: each test breaks the copy, never the checkout."""
    for lock in LOCKS:
        for name in (lock.output, *lock.sources):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / name, tmp_path / name)
    return tmp_path


def test_a_dependency_added_without_locking_is_named(repo: Path) -> None:
    with (repo / "requirements-dev.txt").open("a") as f:
        f.write("cowsay==6.1\n")
    assert disagreements(DEVELOPMENT, repo) == [
        f"requirements-dev.txt:{len((repo / 'requirements-dev.txt').read_text().splitlines())}: cowsay is not in "
        "requirements-dev.lock (run make lock)"]


def test_a_moved_pin_is_named_in_every_lock_that_holds_it(repo: Path) -> None:
    text = (repo / "services/requirements.txt").read_text()
    (repo / "services/requirements.txt").write_text(re.sub(r"^fastapi==\S+", "fastapi==0.1.0", text, flags=re.M))
    for lock in (SERVICES, DEVELOPMENT):
        problems = disagreements(lock, repo)
        assert len(problems) == 1 and problems[0].startswith("services/requirements.txt:1: fastapi==0.1.0, "), problems


def test_a_removed_dependency_still_locked_is_named(repo: Path) -> None:
    text = (repo / "requirements-dev.txt").read_text()
    (repo / "requirements-dev.txt").write_text(re.sub(r"^syrupy==.*\n", "", text, flags=re.M))
    assert disagreements(DEVELOPMENT, repo) == [
        "requirements-dev.lock: syrupy is locked as a requirement of requirements-dev.txt, which no longer names it "
        "(run make lock)"]


def test_a_lock_compiled_by_another_command_or_without_hashes_fails(repo: Path) -> None:
    text = (repo / SERVICES.output).read_text()
    text = text.replace(" --generate-hashes", "", 1)
    text = re.sub(r"^(fastapi==\S+) \\\n(    --hash=.*\n)+", r"\1\n", text, flags=re.M)
    (repo / SERVICES.output).write_text(text)
    problems = disagreements(SERVICES, repo)
    assert any("was compiled by `uv pip compile --universal --python-version" in p for p in problems), problems
    assert any(p.startswith(f"{SERVICES.output}: fastapi==") and "has no hash" in p for p in problems), problems


def test_development_lock_ships_the_image_versions(repo: Path) -> None:
    """The services' tests run in the development venv on exactly what the images install."""
    text = (repo / SERVICES.output).read_text()
    version = next(p.version for p in read_lock(SERVICES.output, repo).packages if p.name == "starlette")
    (repo / SERVICES.output).write_text(text.replace(f"starlette=={version}", "starlette==0.0.1"))
    assert f"requirements-dev.lock: starlette {version}, services/requirements.lock has 0.0.1 (run make lock)" in \
        disagreements(DEVELOPMENT, repo)


def test_a_range_in_a_requirement_file_is_refused(repo: Path) -> None:
    with (repo / "requirements.txt").open("a") as f:
        f.write("requests>=2\n")
    (problem,) = disagreements(DEVELOPMENT, repo)
    assert "pin a direct dependency with ==" in problem


def test_every_dockerfile_of_the_repository_is_checked_here() -> None:
    found = {p for p in ROOT.glob("**/Dockerfile")
             if not {".venv", "node_modules", "cdk.out"} & set(p.relative_to(ROOT).parts)}
    assert found == set(LOCKED_DOCKERFILES)


@pytest.mark.parametrize("dockerfile", sorted(LOCKED_DOCKERFILES), ids=lambda p: p.parent.name)
def test_images_install_the_lock_with_hashes_only(dockerfile: Path) -> None:
    lock, compiled = LOCKED_DOCKERFILES[dockerfile]
    instructions = [line for line in dockerfile.read_text().splitlines() if not line.startswith("#")]
    assert not [line for line in instructions if "requirements.txt" in line]
    assert f"COPY {lock} /tmp/requirements.lock" in instructions
    (install,) = [line for line in instructions if line.startswith("RUN") and "pip install" in line]
    assert "--require-hashes" in install and "--only-binary=:all:" in install
    assert install.endswith("-r /tmp/requirements.lock")
    assert compiled in {lock.output for lock in LOCKS}


def test_the_venv_installs_the_development_lock_with_hashes() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("$(VENV)/.installed:"):].split("\n\n", 1)[0]
    assert "python3 -m tools.lock --check" in recipe
    assert "pip install --quiet --require-hashes -r requirements-dev.lock" in recipe
    assert "requirements-dev.txt" not in recipe.split("\n", 1)[1]  # a prerequisite, never installed from
