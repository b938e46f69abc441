"""Fixtures of the ecosystem checks: the stack scripts/with-stack.sh started, and fresh users.

Run through scripts/ecosystem.sh, which starts the stack and sets SWATTER_STACK_*.
"""

import os
import secrets
from dataclasses import dataclass

import pytest
import requests


@dataclass(frozen=True)
class Stack:
    """A running swatter stack: its gateway, gRPC servers, first admin and a signed-up user."""

    url: str
    identity_addr: str
    issues_addr: str
    reporting_addr: str
    webhooks_addr: str
    admin_username: str
    admin_password: str
    username: str
    password: str
    run_dir: str


@dataclass(frozen=True)
class User:
    """A signed-up user and the password that logs them in."""

    id: str
    username: str
    password: str


def log_in(stack: Stack, user: User) -> str:
    """An access token of the user, from the password grant (plain REST, no client library)."""
    response = requests.post(
        f"{stack.url}/v1/auth/token",
        data={"grant_type": "password", "username": user.username, "password": user.password},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"
    return response.json()["access_token"]


@pytest.fixture(scope="session")
def stack() -> Stack:
    env = os.environ
    if "SWATTER_STACK_URL" not in env:
        pytest.exit("run the ecosystem checks through scripts/ecosystem.sh", returncode=2)
    return Stack(
        url=env["SWATTER_STACK_URL"],
        identity_addr=env["SWATTER_STACK_IDENTITY_ADDR"],
        issues_addr=env["SWATTER_STACK_ISSUES_ADDR"],
        reporting_addr=env["SWATTER_STACK_REPORTING_ADDR"],
        webhooks_addr=env.get("SWATTER_STACK_WEBHOOKS_ADDR", ""),
        admin_username=env["SWATTER_STACK_ADMIN_USERNAME"],
        admin_password=env["SWATTER_STACK_ADMIN_PASSWORD"],
        username=env["SWATTER_STACK_USERNAME"],
        password=env["SWATTER_STACK_PASSWORD"],
        run_dir=env["SWATTER_STACK_RUN_DIR"],
    )


@pytest.fixture
def new_user(stack: Stack):
    """Signs up a user with a unique name and a random password (plain REST, no client library)."""

    def sign_up() -> User:
        username = "u" + secrets.token_hex(6)
        password = secrets.token_urlsafe(18)
        response = requests.post(
            f"{stack.url}/v1/users",
            json={"username": username, "email": f"{username}@example.com", "password": password},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        return User(id=response.json()["id"], username=username, password=password)

    return sign_up
