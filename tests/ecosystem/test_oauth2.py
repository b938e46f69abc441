"""The token endpoints as a published OAuth2 client sees them (authlib), and access tokens as a
published JWT library verifies them from the JWK set alone (PyJWT).

Without RFC 6749 §5.2's `error` member, authlib returns an error body as if it were a token: each
refusal below must be raised as an OAuthError with the right code instead.
"""

import os
import time
from dataclasses import dataclass

import jwt
import pytest
from authlib.integrations.requests_client import OAuth2Session, OAuthError

# A public client (RFC 6749 §2.1): authlib sends the client_id and no client authentication.
CLIENT_ID = "swatter-ecosystem-tests"


@dataclass(frozen=True)
class Client:
    """An authlib session and the stack's endpoints it talks to."""

    session: OAuth2Session
    token_url: str
    revoke_url: str


@pytest.fixture
def client(stack):
    session = OAuth2Session(client_id=CLIENT_ID)
    yield Client(session, f"{stack.url}/v1/auth/token", f"{stack.url}/v1/auth/revoke")
    session.close()


def log_in(client, user):
    return client.session.fetch_token(
        client.token_url, grant_type="password", username=user.username, password=user.password
    )


def test_the_password_grant_gives_bearer_tokens(client, new_user):
    user = new_user()

    token = log_in(client, user)

    assert token["token_type"] == "Bearer"
    assert token["access_token"].count(".") == 2
    assert token["refresh_token"]
    assert token["expires_at"] > time.time()


def test_a_wrong_password_is_raised_as_invalid_grant(client, new_user):
    user = new_user()

    with pytest.raises(OAuthError) as raised:
        client.session.fetch_token(
            client.token_url,
            grant_type="password",
            username=user.username,
            password=user.password + "-wrong",
        )

    assert raised.value.error == "invalid_grant"
    assert raised.value.description == "invalid username or password"
    assert client.session.token is None


def test_an_unknown_grant_is_raised_as_unsupported_grant_type(client):
    with pytest.raises(OAuthError) as raised:
        client.session.fetch_token(client.token_url, grant_type="client_credentials")

    assert raised.value.error == "unsupported_grant_type"


def test_a_missing_parameter_is_raised_as_invalid_request(client):
    with pytest.raises(OAuthError) as raised:
        client.session.fetch_token(client.token_url, grant_type="password", username="someone")

    assert raised.value.error == "invalid_request"
    assert "password" in raised.value.description


def test_client_authentication_is_raised_as_invalid_client(stack, new_user):
    user = new_user()
    confidential = OAuth2Session(client_id=CLIENT_ID, client_secret="not-a-swatter-client")

    with pytest.raises(OAuthError) as raised:
        confidential.fetch_token(
            f"{stack.url}/v1/auth/token",
            grant_type="password",
            username=user.username,
            password=user.password,
        )

    assert raised.value.error == "invalid_client"


def test_a_refresh_rotates_the_token_and_a_reused_one_is_raised_as_invalid_grant(client, new_user):
    user = new_user()
    first = dict(log_in(client, user))

    refreshed = client.session.refresh_token(client.token_url, refresh_token=first["refresh_token"])
    second_refresh_token = refreshed["refresh_token"]
    assert second_refresh_token != first["refresh_token"]
    assert refreshed["access_token"] != first["access_token"]

    # The first refresh token was used: presenting it again ends the whole login.
    with pytest.raises(OAuthError) as reused:
        client.session.refresh_token(client.token_url, refresh_token=first["refresh_token"])
    with pytest.raises(OAuthError) as after_reuse:
        client.session.refresh_token(client.token_url, refresh_token=second_refresh_token)

    assert reused.value.error == "invalid_grant"
    assert after_reuse.value.error == "invalid_grant"


def test_a_revoked_refresh_token_is_raised_as_invalid_grant(client, new_user):
    user = new_user()
    token = log_in(client, user)

    revoked = client.session.revoke_token(
        client.revoke_url, token=token["refresh_token"], token_type_hint="refresh_token"
    )
    unknown = client.session.revoke_token(client.revoke_url, token="never-issued")

    assert revoked.status_code == 204, revoked.text
    assert unknown.status_code == 204, unknown.text
    with pytest.raises(OAuthError) as raised:
        client.session.refresh_token(client.token_url, refresh_token=token["refresh_token"])
    assert raised.value.error == "invalid_grant"


def test_revoking_an_access_token_is_refused_as_unsupported_token_type(client, new_user):
    user = new_user()
    token = log_in(client, user)

    response = client.session.revoke_token(
        client.revoke_url, token=token["access_token"], token_type_hint="access_token"
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "unsupported_token_type"


def test_the_access_token_verifies_with_the_published_keys_alone(stack, client, new_user):
    user = new_user()
    token = log_in(client, user)
    issuer = os.environ.get("SWATTER_JWT_ISSUER", "swatter")
    audience = os.environ.get("SWATTER_JWT_AUDIENCE", "swatter")

    keys = jwt.PyJWKClient(f"{stack.url}/.well-known/jwks.json", cache_keys=False)
    signing_key = keys.get_signing_key_from_jwt(token["access_token"])
    claims = jwt.decode(
        token["access_token"],
        signing_key,
        algorithms=["EdDSA"],
        issuer=issuer,
        audience=audience,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )

    assert signing_key.key_id == jwt.get_unverified_header(token["access_token"])["kid"]
    assert claims["sub"] == user.id
    assert claims["username"] == user.username
    assert claims["typ"] == "access"
    assert time.time() < claims["exp"] <= time.time() + token["expires_in"] + 5
