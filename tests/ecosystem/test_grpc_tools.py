"""gRPC with a client we did not write: `buf curl` (reflection v1, the standard JSON mapping).

The grpcurl guide (docs/grpc.md) is run by the reporting crate's tests with grpcurl 1.8.6, which
speaks reflection v1alpha and wants a field mask as `{"paths": [...]}`. buf follows the current
protobuf JSON mapping: a mask is one comma-separated string; the error details of a failed call
come back as their type name and bytes, which googleapis-common-protos decodes.
"""

import base64
import json
import os
import secrets
import subprocess

import pytest
import requests
from conftest import log_in
from google.rpc import error_details_pb2

BUF = os.path.join(os.environ.get("SWATTER_TOOLS_DIR", ".run/tools"), "buf/node_modules/.bin/buf")
ISSUES = "swatter.issues.v1.IssuesService"


def buf_curl(stack, token, method, body):
    """Calls ISSUES/method on the stack's issues server; returns (exit status, stdout, stderr)."""
    if not os.path.exists(BUF):
        pytest.fail(f"{BUF} is missing: run the checks through scripts/ecosystem.sh")
    result = subprocess.run(
        [
            BUF,
            "curl",
            "--protocol",
            "grpc",
            "--http2-prior-knowledge",
            "-H",
            f"authorization: Bearer {token}",
            "-d",
            json.dumps(body),
            f"http://{stack.issues_addr}/{ISSUES}/{method}",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, result.stdout, result.stderr


@pytest.fixture
def issue(stack, new_user):
    """A fresh user's token and an issue of theirs with a description and labels (over REST)."""
    token = log_in(stack, new_user())
    auth = {"Authorization": f"Bearer {token}"}
    key = "B" + secrets.token_hex(3).upper()
    response = requests.post(
        f"{stack.url}/v1/projects", json={"key": key, "name": "buf"}, headers=auth, timeout=10
    )
    assert response.status_code == 201, response.text
    response = requests.post(
        f"{stack.url}/v1/projects/{key}/issues",
        json={"title": "Crash on save", "description": "stack trace", "labels": ["crash"]},
        headers=auth,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return token, response.json()


def test_buf_curl_updates_only_the_fields_its_string_mask_names(stack, issue):
    token, before = issue
    status, out, err = buf_curl(
        stack,
        token,
        "UpdateIssue",
        {
            "issue_key": before["key"],
            "title": "not named, so not changed",
            "status": "ISSUE_STATUS_RESOLVED",
            "update_mask": "status,labels",
        },
    )
    assert status == 0, err
    after = json.loads(out)
    assert after["status"] == "ISSUE_STATUS_RESOLVED"
    assert after["title"] == before["title"]
    assert after["description"] == before["description"]
    # Named but not set: the labels take their empty value.
    assert not after.get("labels")


def test_buf_curl_decodes_the_bad_request_of_a_refused_mask(stack, issue):
    token, before = issue
    status, out, err = buf_curl(
        stack,
        token,
        "UpdateIssue",
        {"issue_key": before["key"], "update_mask": "key,bogus"},
    )
    assert status != 0, out
    error = json.loads(err)
    assert error["code"] == "invalid_argument", err
    [detail] = error["details"]
    assert detail["type"] == "google.rpc.BadRequest", err
    # buf prints the detail's bytes; Google's published message classes decode them.
    bad_request = error_details_pb2.BadRequest.FromString(base64.b64decode(detail["value"] + "=="))
    violations = bad_request.field_violations
    assert [v.field for v in violations] == ["update_mask"], err
    assert "bogus" in violations[0].description
    unchanged = requests.get(
        f"{stack.url}/v1/issues/{before['key']}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    assert unchanged["version"] == before["version"]
