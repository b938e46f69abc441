"""Swagger UI as a person uses it, in a real browser (Debian's chromium, driven by playwright-core).

tests/ecosystem/browser/swagger.mjs drives the page and reports what it saw; this judges it.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def observed(stack):
    tools = Path(os.environ.get("SWATTER_TOOLS_DIR", ".run/tools")) / "browser"
    if not (tools / "node_modules").is_dir():
        pytest.fail(f"{tools}/node_modules is missing: run the checks through scripts/ecosystem.sh")
    # Inside the tools folder, so that its import finds node_modules.
    shutil.copy(HERE / "browser" / "swagger.mjs", tools)
    result = subprocess.run(
        ["node", "swagger.mjs", stack.url, stack.username, stack.password],
        cwd=tools,
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def operation_count(stack):
    paths = requests.get(f"{stack.url}/openapi.json", timeout=10).json()["paths"]
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return sum(1 for item in paths.values() for method in item if method in methods)


def test_swagger_ui_renders_every_operation_without_errors(stack, observed):
    assert observed["operations"] == operation_count(stack)
    assert observed["console_errors"] == []


def test_swagger_ui_assets_arrive_compressed_with_cache_validators(observed):
    bundle = observed["assets"]["/docs/swagger-ui-bundle.js"]
    assert bundle["status"] == 200
    assert bundle["content_encoding"] in ("gzip", "br", "zstd")
    assert bundle["etag"]
    assert bundle["cache_control"]


def test_authorize_logs_in_with_a_password_and_try_it_out_sends_the_token(stack, observed):
    assert observed["token_status"] == 200
    assert observed["authorized_after_login"] == 1
    assert observed["me_status"] == 200
    assert observed["me_username"] == stack.username
    assert observed["me_authorization"].startswith("Bearer ")


def test_the_token_lives_in_the_page_only(observed):
    token = observed["me_authorization"].removeprefix("Bearer ")
    assert token not in observed["storage_after_login"]
    assert observed["authorized_after_reload"] == 0
    assert token not in observed["storage_after_reload"]
