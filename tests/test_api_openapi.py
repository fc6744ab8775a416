"""The OpenAPI document at its stable URL is valid OpenAPI 3.1, describes every path and the bearer scheme, and
holds every path the README's API section uses; its docs page needs nothing from a CDN and runs no inline script."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture
def document(client, db) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    return response.json()


def test_the_openapi_document_validates(document):
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert document["info"]["version"] == "1"


def test_every_operation_asks_for_a_bearer_token_and_says_how_it_answers(document):
    schemes = document["components"]["securitySchemes"]
    assert [s["scheme"] for s in schemes.values()] == ["bearer"]
    operations = [op for item in document["paths"].values() for op in item.values()]
    assert len(operations) == 19
    for op in operations:
        assert op["security"] and op["responses"]


def api_section() -> str:
    text = README.read_text()
    return text[text.index("\n## API\n"):text.index("\n## ", text.index("\n## API\n") + 5)]


def readme_paths() -> set[str]:
    """Every /api/v1/ path the README's API section names (its table and its script), placeholders as {x}."""
    found = set()
    for raw in re.findall(r"/api/v1/[A-Za-z0-9_{}$/.-]*", api_section()):
        path = re.sub(r"\$[A-Z_]+", "{x}", raw.rstrip("/.")).rstrip("/")
        if path == "/api/v1":  # the prefix, named in prose
            continue
        found.add(re.sub(r"\{[^}]*\}", "{x}", path))
    return found


def test_every_path_the_readme_uses_exists(document):
    documented = {re.sub(r"\{[^}]*\}", "{x}", path) for path in document["paths"]}
    served = documented | {"/api/v1/openapi.json", "/api/v1/docs"}
    assert "/api/v1/databases/{x}/backups" in readme_paths()  # the curl example's POST
    assert readme_paths() <= served, readme_paths() - served
    assert documented <= readme_paths(), documented - readme_paths()  # and the README lists every path


def test_the_readme_script_reads_fields_the_api_returns(document):
    schemas = document["components"]["schemas"]
    assert {"url", "status", "id"} <= set(schemas["Accepted"]["properties"])
    assert "run_url" in schemas["ProblemOut"]["properties"]
    assert "status" in schemas["RunDetail"]["properties"]
    script = api_section()
    assert "jq -r .url" in script and "jq -r .run_url" in script and "jq -r .status" in script


def test_the_docs_page_uses_only_its_own_static_files_and_no_inline_script(client, db):
    page = client.get("/api/v1/docs").content.decode()
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/static/") for s in sources), sources
    for script in re.findall(r"<script([^>]*)>", page):
        assert "src=" in script or 'type="application/json"' in script  # a data block is not executed
    assert "cdn" not in page.lower()
