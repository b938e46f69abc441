"""Clients generated from the stack's /openapi.json work as generated, with no hand edits.

Python: openapi-python-client (scripts/ecosystem-tools.txt) generates a package that must come
out without warnings (a warning means a skipped operation or response), import, and run the
flow sign up → log in → project → issue → list → report → PDF. TypeScript: openapi-typescript
generates types that a strict tsc must accept for the same flow, written with openapi-fetch
(tests/ecosystem/typescript); the compiled flow then runs too.
"""

import importlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).parent
PACKAGE = "swatter_client"


def run(command, cwd=None):
    """Runs a generator or compiler; its output is the failure message."""
    tools = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": tools + os.pathsep + os.environ["PATH"]}
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


@pytest.fixture(scope="module")
def client(stack, tmp_path_factory):
    """The package openapi-python-client generates from the stack's description, imported."""
    out = tmp_path_factory.mktemp("python-client")
    output = run(
        [
            Path(sys.executable).parent / "openapi-python-client",
            "generate",
            "--url",
            f"{stack.url}/openapi.json",
            "--meta",
            "none",
            "--config",
            HERE / "openapi-python-client.yaml",
            "--output-path",
            out / PACKAGE,
        ]
    )
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(out))
    try:
        yield lambda module: importlib.import_module(f"{PACKAGE}.{module}")
    finally:
        sys.path.remove(str(out))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def answer(response, status):
    """The parsed body of a generated operation's response, which must have `status`."""
    assert response.status_code == status, (response.status_code, response.content)
    return response.parsed


def test_a_generated_python_client_goes_from_sign_up_to_the_pdf(stack, client):
    models = client("models")
    anonymous = client("client").Client(base_url=stack.url, raise_on_unexpected_status=True)
    username = "py" + secrets.token_hex(5)
    password = secrets.token_urlsafe(18)
    email = f"{username}@example.com"

    sign_up = client("api.users.sign_up").sync_detailed(
        client=anonymous,
        body=models.SignUpRequest(username=username, email=email, password=password),
    )
    assert answer(sign_up, 201).username == username
    login = client("api.auth.create_token").sync_detailed(
        client=anonymous,
        body=models.TokenRequest(
            grant_type=models.TokenRequestGrantType.PASSWORD, username=username, password=password
        ),
    )
    tokens = answer(login, 200)
    assert isinstance(tokens, models.TokenResponse)
    api = client("client").AuthenticatedClient(
        base_url=stack.url, token=tokens.access_token, raise_on_unexpected_status=True
    )

    key = "PY" + secrets.token_hex(3).upper()
    project = client("api.projects.create_project").sync_detailed(
        client=api, body=models.CreateProjectRequest(key=key, name="Generated Python client")
    )
    assert answer(project, 201).key == key
    filed = client("api.issues.create_issue").sync_detailed(
        key,
        client=api,
        body=models.CreateIssueRequest(title="Filed by a generated client", labels=["python"]),
    )
    issue = answer(filed, 201)
    assert isinstance(issue, models.Issue)

    listed = client("api.issues.list_project_issues").sync_detailed(key, client=api, page_size=10)
    page = answer(listed, 200)
    assert all(type(item) is models.Issue for item in page.items), page.items
    assert [item.key for item in page.items] == [issue.key]
    assert page.items[0].id == issue.id

    requested = client("api.reports.create_report").sync_detailed(
        client=api, body=models.ProjectReportRequest(kind="project", project_key=key)
    )
    job = answer(requested, 202)
    get_job = client("api.jobs.get_job")
    deadline = time.monotonic() + 60
    while job.state != models.JobState.SUCCEEDED:
        assert job.state not in (models.JobState.FAILED, models.JobState.CANCELLED), job.error
        assert time.monotonic() < deadline, f"job {job.id} is still {job.state}"
        time.sleep(0.2)
        job = answer(get_job.sync_detailed(job.id, client=api), 200)
    assert isinstance(job.params, models.ProjectReportParams), job.params
    assert job.params.project_key == key

    downloaded = client("api.jobs.download_artifact").sync_detailed(job.id, client=api)
    pdf = answer(downloaded, 200).payload.read()
    assert pdf.startswith(b"%PDF-"), pdf[:16]
    assert len(pdf) == job.artifact.size_bytes


def test_generated_typescript_types_check_and_run_the_same_flow(stack):
    tools = Path(os.environ["SWATTER_TOOLS_DIR"]) / "typescript"
    assert (tools / "node_modules").is_dir(), "run through scripts/ecosystem.sh, which installs it"
    # Inside the tools folder, so that imports find its node_modules.
    work = Path(tempfile.mkdtemp(prefix="check-", dir=tools))
    try:
        for name in ("flow.ts", "main.mjs", "tsconfig.json"):
            shutil.copy(HERE / "typescript" / name, work)
        bin_dir = tools / "node_modules" / ".bin"
        run(
            [bin_dir / "openapi-typescript", f"{stack.url}/openapi.json", "-o", "schema.d.ts"], work
        )
        run([bin_dir / "tsc", "-p", "."], work)
        username = "ts" + secrets.token_hex(5)
        key = "TS" + secrets.token_hex(3).upper()
        pdf_path = work / "report.pdf"
        run(
            ["node", "main.mjs", stack.url, username, secrets.token_urlsafe(18), key, pdf_path],
            work,
        )
        assert pdf_path.read_bytes().startswith(b"%PDF-")
    finally:
        shutil.rmtree(work)
