"""Webhooks as a receiver sees them, checked with a Standard Webhooks implementation swatter did
not write (the `standardwebhooks` package from PyPI): a webhook registered through REST delivers a
change to an HTTP receiver started here on 127.0.0.1 (which the stack's webhooks may reach), the
signature verifies with the endpoint's secret, a tampered body does not, and during a secret
rotation both secrets sign, each signature verifying with its own secret only.
"""

import base64
import json
import queue
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from conftest import log_in

# How long a delivery may take to arrive: the first attempt is immediate, so this only covers a
# slow machine.
DELIVERY_TIMEOUT = 30


class Receiver:
    """An HTTP server on 127.0.0.1 that answers 204 and keeps every request it gets."""

    def __init__(self):
        self.requests = queue.Queue()
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                received.put(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, event_type):
        """The first request whose event has `event_type` (others are skipped): (headers, body)."""
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            try:
                headers, body = self.requests.get(timeout=left)
            except queue.Empty:
                break
            if json.loads(body).get("type") == event_type:
                return headers, body
        pytest.fail(f"no {event_type} delivery reached the receiver in {DELIVERY_TIMEOUT} s")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def owner(stack, new_user):
    """The token of a user who owns a fresh project, and the project's key."""
    token = log_in(stack, new_user())
    key = "W" + secrets.token_hex(3).upper()
    response = requests.post(
        f"{stack.url}/v1/projects",
        json={"key": key, "name": "Webhook checks"},
        headers={"authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return token, key


def call(stack, token, method, path, **kwargs):
    return requests.request(
        method,
        f"{stack.url}{path}",
        headers={"authorization": f"Bearer {token}"},
        timeout=10,
        **kwargs,
    )


def register(stack, token, key, url, **fields):
    response = call(stack, token, "POST", f"/v1/projects/{key}/webhooks", json={"url": url, **fields})
    assert response.status_code == 201, response.text
    webhook = response.json()
    assert webhook["secret"].startswith("whsec_")
    assert response.headers["location"] == f"/v1/webhooks/{webhook['id']}"
    return webhook


def test_a_change_arrives_signed_and_the_standard_webhooks_library_verifies_it(
    stack, owner, receiver
):
    token, key = owner
    webhook = register(stack, token, key, receiver.url, event_types=["issue.created"])

    response = call(stack, token, "POST", f"/v1/projects/{key}/issues", json={"title": "Hooked"})
    assert response.status_code == 201, response.text
    issue = response.json()
    headers, body = receiver.wait_for("issue.created")

    event = Webhook(webhook["secret"]).verify(body, headers)
    assert event["type"] == "issue.created"
    assert event["project_key"] == key
    assert event["data"]["key"] == issue["key"]
    assert event["id"] == headers["webhook-id"]
    assert headers["content-type"].startswith("application/json")
    # The same delivery in the endpoint's log, with the receiver's answer.
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while True:
        log = call(stack, token, "GET", f"/v1/webhooks/{webhook['id']}/deliveries").json()
        delivery = next(d for d in log["items"] if d["event_id"] == headers["webhook-id"])
        if delivery["state"] == "succeeded" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert delivery["state"] == "succeeded", delivery
    assert delivery["last_response_status"] == 204
    assert delivery["payload"] == event


def test_a_tampered_body_or_another_secret_fails_verification(stack, owner, receiver):
    token, key = owner
    webhook = register(stack, token, key, receiver.url)

    response = call(stack, token, "POST", f"/v1/webhooks/{webhook['id']}/ping")
    assert response.status_code == 202, response.text
    headers, body = receiver.wait_for("webhook.ping")

    verifier = Webhook(webhook["secret"])
    assert verifier.verify(body, headers)["type"] == "webhook.ping"
    tampered = body.replace(b"webhook.ping", b"webhook.pong")
    assert tampered != body
    with pytest.raises(WebhookVerificationError):
        verifier.verify(tampered, headers)
    with pytest.raises(WebhookVerificationError):
        verifier.verify(body, {**headers, "webhook-id": headers["webhook-id"] + "x"})
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()).verify(body, headers)


def test_during_a_rotation_both_secrets_sign_and_each_signature_verifies_with_its_own(
    stack, owner, receiver
):
    token, key = owner
    webhook = register(stack, token, key, receiver.url)
    old_secret = webhook["secret"]

    response = call(
        stack,
        token,
        "POST",
        f"/v1/webhooks/{webhook['id']}/rotate-secret",
        json={"overlap_seconds": 3600},
    )
    assert response.status_code == 200, response.text
    rotated = response.json()
    new_secret = rotated["secret"]
    assert new_secret != old_secret
    assert rotated["previous_secret_expires_at"] is not None
    assert call(stack, token, "POST", f"/v1/webhooks/{webhook['id']}/ping").status_code == 202
    headers, body = receiver.wait_for("webhook.ping")

    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2, signatures
    assert all(s.startswith("v1,") for s in signatures)
    for secret in (old_secret, new_secret):
        assert Webhook(secret).verify(body, headers)["type"] == "webhook.ping"
    # Each signature alone: exactly one of the two secrets verifies it, a different one each.
    verifies = []
    for signature in signatures:
        alone = {**headers, "webhook-signature": signature}
        holds = []
        for secret in (old_secret, new_secret):
            try:
                Webhook(secret).verify(body, alone)
                holds.append(secret)
            except WebhookVerificationError:
                pass
        assert len(holds) == 1, signature
        verifies.append(holds[0])
    assert sorted(verifies) == sorted([old_secret, new_secret])
