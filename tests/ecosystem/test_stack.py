"""The harness itself: the stack answers and a signed-up user can log in."""

from conftest import log_in


def test_a_new_user_logs_in_with_the_password_grant(stack, new_user):
    assert log_in(stack, new_user())
