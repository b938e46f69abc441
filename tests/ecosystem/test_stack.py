"""The harness itself: the stack answers and a signed-up user can log in."""

import requests


def test_a_new_user_logs_in_with_the_password_grant(stack, new_user):
    user = new_user()
    response = requests.post(
        f"{stack.url}/v1/auth/token",
        data={"grant_type": "password", "username": user.username, "password": user.password},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"
