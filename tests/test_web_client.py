"""One contract: the storefront's API client is generated at build from the services' OpenAPI documents (their
pydantic request models, the ones API Gateway's models come from), so a request model change the storefront does
not follow fails its build. Checked here by building a copy of the storefront against a copy of the users service
whose registration model gained a required field."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from contract import CONTRACT

from tests.synthesis import ROOT
from tools.web.openapi import SERVICES_DIR, edge_document, service_document

WEB = ROOT / "web"
NODE = ROOT / ".venv" / "bin" / "node"


def build_client(tmp: Path, services_path: tuple[Path, ...]) -> subprocess.CompletedProcess[str]:
    """The storefront's client generated and type-checked as `make web` does, in a copy of web/."""
    web = tmp / "web"
    shutil.copytree(WEB / "src", web / "src", ignore=shutil.ignore_patterns("openapi", "generated"))
    shutil.copytree(WEB / "scripts", web / "scripts")
    for name in ("package.json", "tsconfig.json", "vite.config.ts"):
        shutil.copy(WEB / name, web / name)
    (web / "node_modules").symlink_to(WEB / "node_modules")
    documents = web / "src" / "api" / "openapi"
    documents.mkdir()
    for service in CONTRACT.service_names:
        document = edge_document(service, service_document(service, services_path))
        (documents / f"{service.value}.json").write_text(json.dumps(document))
    generated = subprocess.run([str(NODE), "scripts/generate-client.mjs"], cwd=web, capture_output=True, text=True,
                               timeout=300, check=False)
    assert generated.returncode == 0, generated.stderr
    return subprocess.run([str(NODE), "node_modules/typescript/bin/tsc", "--noEmit"], cwd=web, capture_output=True,
                          text=True, timeout=600, check=False)


@pytest.mark.tool_run
def test_a_request_model_change_the_storefront_does_not_follow_fails_its_build(tmp_path: Path) -> None:
    followed = build_client(tmp_path / "as-is", (SERVICES_DIR,))
    assert followed.returncode == 0, followed.stdout
    overlay = tmp_path / "services"
    shutil.copytree(SERVICES_DIR / "users", overlay / "users", ignore=shutil.ignore_patterns("tests", "__pycache__"))
    models = overlay / "users" / "models.py"
    source = models.read_text()
    anchor = "class Registration(RequestModel):\n"
    assert anchor in source
    models.write_text(source.replace(anchor, anchor + "    phone: Annotated[str, line(min_length=5, max_length=20)]\n"))
    changed = build_client(tmp_path / "changed", (overlay, SERVICES_DIR))
    assert changed.returncode != 0
    assert "src/pages/account.tsx" in changed.stdout and "'phone'" in changed.stdout, changed.stdout
