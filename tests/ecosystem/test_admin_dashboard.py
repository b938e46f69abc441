"""The operator dashboard (/admin/) as an operator uses it, in a real headless Chromium driven
through WebDriver (selenium with Debian's chromium and chromium-driver; nothing is downloaded).

Logs in as the stack's admin, watches a report appear in the active jobs and finish without a
reload, makes a job fail, finds it under the failed jobs and retries it with the keyboard, and
checks that a non-admin is refused. Screenshots go to $SWATTER_ARTIFACTS_DIR/admin (default
target/artifacts/admin), printed at the end.
"""

import os
import time
from pathlib import Path

import pytest
import requests
from conftest import log_in
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("SWATTER_ARTIFACTS_DIR", REPO / "target" / "artifacts")) / "admin"
WAIT = 60

# Records, at every change of the page, which jobs each table lists and in which state, so a job
# that is shown for one snapshot only is still seen (WebDriver's own script, not the page's).
RECORDER = """
window.__seen = [];
window.__loaded = performance.getEntriesByType('navigation').length;
const record = () => {
  for (const row of document.querySelectorAll('tbody tr[data-job-id]')) {
    window.__seen.push([row.closest('table').id, row.dataset.jobId, row.dataset.state || '']);
  }
};
new MutationObserver(record).observe(document.getElementById('main'),
  {subtree: true, childList: true, attributes: true, characterData: true});
record();
"""


@pytest.fixture
def browser():
    # Selenium Manager must never fetch a driver or a browser: both paths are given, and offline.
    os.environ["SE_OFFLINE"] = "true"
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1500"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(10)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()
    print(f"\n[admin dashboard] screenshots in {ARTIFACTS}")


def shot(driver, name):
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def until(driver, what, check, timeout=WAIT):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: check(d))
    except Exception as error:  # the screenshot says more than the timeout
        shot(driver, "failure")
        raise AssertionError(f"timed out waiting for {what}") from error


def log_in_page(driver, username, password):
    until(driver, "the login form", lambda d: d.find_element(By.ID, "login").is_displayed())
    user = driver.find_element(By.ID, "username")
    user.clear()
    user.send_keys(username)
    secret = driver.find_element(By.ID, "password")
    secret.clear()
    secret.send_keys(password)
    secret.send_keys(Keys.ENTER)


def seen(driver, table, job_id):
    return [state for (t, j, state) in driver.execute_script("return window.__seen") if t == table and j == job_id]


def succeeded_count(driver):
    for item in driver.find_elements(By.CSS_SELECTOR, "#summary div"):
        if item.find_element(By.TAG_NAME, "dt").text == "Succeeded":
            return int(item.find_element(By.TAG_NAME, "dd").text)
    raise AssertionError("no Succeeded figure in the summary")


def create_project(stack, token, key):
    response = requests.post(
        f"{stack.url}/v1/projects",
        json={"key": key, "name": f"Dashboard check {key}"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text


def ask_for_report(stack, token, key):
    response = requests.post(
        f"{stack.url}/v1/reports",
        json={"kind": "project", "project_key": key},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]


def job(stack, token, job_id):
    response = requests.get(
        f"{stack.url}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def failed_report(stack, token, key):
    """A report that fails for good: its project is deleted right after it is asked for (before
    a worker reads it). The race can go the other way; then it is tried again."""
    for _ in range(5):
        create_project(stack, token, key)
        job_id = ask_for_report(stack, token, key)
        deleted = requests.delete(
            f"{stack.url}/v1/projects/{key}", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert deleted.status_code == 204, deleted.text
        deadline = time.monotonic() + WAIT
        while (state := job(stack, token, job_id)["state"]) not in ("failed", "succeeded"):
            assert time.monotonic() < deadline, f"job {job_id} stays {state}"
            time.sleep(0.2)
        if state == "failed":
            return job_id
    raise AssertionError("five reports of deleted projects all succeeded")


def test_a_non_admin_is_refused_with_a_clear_message(stack, browser, new_user):
    user = new_user()
    browser.get(f"{stack.url}/admin/")
    log_in_page(browser, user.username, user.password)
    until(
        browser,
        "the refusal",
        lambda d: "not an admin" in d.find_element(By.ID, "login-error").text,
    )
    assert not browser.find_element(By.ID, "main").is_displayed()
    shot(browser, "refused-non-admin")


def test_an_admin_follows_jobs_live_and_retries_a_failed_one_with_the_keyboard(stack, browser, new_user):
    owner = new_user()
    token = log_in(stack, owner)
    browser.get(f"{stack.url}/admin/")
    assert "default-src 'self'" in requests.get(f"{stack.url}/admin/", timeout=10).headers[
        "Content-Security-Policy"
    ]
    log_in_page(browser, stack.admin_username, stack.admin_password)
    until(browser, "the dashboard", lambda d: d.find_element(By.ID, "main").is_displayed())
    until(browser, "the first snapshot", lambda d: "Live" in d.find_element(By.ID, "status").text)
    browser.execute_script(RECORDER)
    before = succeeded_count(browser)

    # A report appears among the active jobs and finishes, pushed by the server.
    key = "D" + owner.username[1:6].upper()
    create_project(stack, token, key)
    ids = [ask_for_report(stack, token, key) for _ in range(3)]
    until(browser, "a report in the active list", lambda d: seen(d, "active-jobs", ids[-1]))
    shot(browser, "active-job")
    until(
        browser,
        "the reports to finish",
        lambda d: succeeded_count(d) >= before + 3
        and not d.find_elements(By.CSS_SELECTOR, f'#active-jobs tr[data-job-id="{ids[-1]}"]'),
    )
    assert {job(stack, token, i)["state"] for i in ids} == {"succeeded"}

    # A failed job shows under the failed jobs with its error.
    failed_key = "F" + owner.username[1:6].upper()
    failed = failed_report(stack, token, failed_key)
    row = f'#failed-jobs tr[data-job-id="{failed}"]'
    until(browser, "the failed job", lambda d: d.find_elements(By.CSS_SELECTOR, row))
    error = browser.find_element(By.CSS_SELECTOR, f"{row} .job-error").text
    assert error.startswith("permanent"), error
    shot(browser, "failed-job")

    # Keyboard only: Tab reaches the job's Retry button, Enter presses it. The project exists
    # again, so the retry succeeds.
    create_project(stack, token, failed_key)
    body = browser.find_element(By.TAG_NAME, "body")
    body.click()
    target = browser.find_element(By.CSS_SELECTOR, f'{row} button[data-action="retry"]')
    for _ in range(200):
        webdriver.ActionChains(browser).send_keys(Keys.TAB).perform()
        if browser.switch_to.active_element == target:
            break
    else:
        raise AssertionError("Tab never reached the Retry button")
    assert target.get_attribute("aria-label").startswith("Retry ")
    webdriver.ActionChains(browser).send_keys(Keys.ENTER).perform()
    until(browser, "the retry's confirmation", lambda d: "queued again" in d.find_element(By.ID, "action-status").text)
    until(browser, "the job to leave the failed list", lambda d: not d.find_elements(By.CSS_SELECTOR, row))
    deadline = time.monotonic() + WAIT
    while (state := job(stack, token, failed)["state"]) != "succeeded":
        assert state in ("queued", "running", "retrying", "succeeded"), state
        assert time.monotonic() < deadline, f"the retried job stays {state}"
        time.sleep(0.2)
    until(browser, "the retried job to count as succeeded", lambda d: succeeded_count(d) >= before + 4)
    # Workers are listed, alive.
    assert "yes" in browser.find_element(By.ID, "workers").text
    # All of it live: the page was never loaded again.
    assert browser.execute_script("return window.__loaded === performance.getEntriesByType('navigation').length && Array.isArray(window.__seen)")
    shot(browser, "dashboard")


def test_an_expired_session_is_renewed_in_place_and_logging_out_ends_it(stack, browser):
    browser.get(f"{stack.url}/admin/")
    log_in_page(browser, stack.admin_username, stack.admin_password)
    until(browser, "the dashboard", lambda d: d.find_element(By.ID, "main").is_displayed())
    first = browser.get_cookie("swatter_admin")["value"]
    # The access token's cookie goes when the token expires; the page then gets 401s and renews
    # the session from the refresh cookie instead of asking for the password again.
    browser.delete_cookie("swatter_admin")
    browser.refresh()
    until(browser, "the renewed dashboard", lambda d: d.find_element(By.ID, "main").is_displayed())
    until(browser, "a live stream again", lambda d: "Live" in d.find_element(By.ID, "status").text)
    assert not browser.find_element(By.ID, "login").is_displayed()
    renewed = browser.get_cookie("swatter_admin")
    assert renewed is not None and renewed["value"] != first
    assert renewed["httpOnly"] and renewed["sameSite"] == "Strict"
    assert stack.admin_username in browser.find_element(By.ID, "who").text
    shot(browser, "renewed-session")
    # Logging out ends the login: no renewal brings it back.
    browser.find_element(By.ID, "logout").click()
    until(browser, "the login form", lambda d: d.find_element(By.ID, "login").is_displayed())
    assert browser.get_cookie("swatter_admin") is None
    browser.refresh()
    until(browser, "the login form after a reload", lambda d: d.find_element(By.ID, "login").is_displayed())
    assert not browser.find_element(By.ID, "main").is_displayed()
