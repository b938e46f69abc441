//! Reports over HTTP: asking for one, following the job (polling and Server-Sent Events),
//! downloading the PDF through the gateway and by presigned URL, cancelling, retrying, and who
//! may see what (docs/api.md).

use std::time::Duration;

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{
    ReportingMode, TestApp, TestUser, assert_invalid, assert_problem, error_fields,
    wait_until_terminal,
};
use swatter_testkit::pdf_text;

/// `POST /v1/reports` as the holder of `token`, with an `Idempotency-Key` when given.
async fn post_report(
    app: &TestApp,
    token: &str,
    key: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = app.authed(Method::POST, "/v1/reports", token).json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.expect("send request")
}

/// Asks for a report and checks the 202; returns the job.
async fn accepted_report(app: &TestApp, token: &str, body: &Value) -> Value {
    let response = post_report(app, token, None, body).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let job: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/jobs/{}", job["id"].as_str().unwrap())
    );
    job
}

/// A stack without a worker where Alice has asked for a monthly report: its job stays queued.
async fn alice_with_a_queued_monthly_report() -> (TestApp, TestUser, Value) {
    let app = TestApp::spawn_with_reporting(ReportingMode::Api).await;
    let alice = app.user("alice").await;
    let job = accepted_report(
        &app,
        &alice.access_token,
        &json!({"kind": "user_monthly", "month": "2026-01"}),
    )
    .await;
    (app, alice, job)
}

/// The `job` events of a whole Server-Sent Events stream (it must end within the limit).
async fn job_events(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let response = app.get_as(token, &format!("/v1/jobs/{id}/events")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = tokio::time::timeout(Duration::from_secs(60), response.text())
        .await
        .expect("the event stream ends once the job is terminal")
        .unwrap();
    text.split("\n\n")
        .filter(|event| event.lines().any(|line| line == "event: job"))
        .map(|event| {
            let data = event
                .lines()
                .find_map(|line| line.strip_prefix("data: "))
                .expect("a data line");
            serde_json::from_str(data).expect("job JSON")
        })
        .collect()
}

#[tokio::test]
async fn a_project_report_is_accepted_rendered_and_downloadable_through_the_gateway_and_by_url() {
    let app = TestApp::spawn_with_reporting(ReportingMode::WithWorker).await;
    let alice = app.user("alice").await;
    app.create_project(&alice.access_token, "SWAT").await;
    for title in ["Login fails on Safari", "Export drops the last row"] {
        app.create_issue(&alice.access_token, "SWAT", &json!({ "title": title }))
            .await;
    }

    let job = accepted_report(
        &app,
        &alice.access_token,
        &json!({"kind": "project", "project_key": "SWAT"}),
    )
    .await;
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(job["kind"], "project");
    assert_eq!(job["params"]["kind"], "project");
    assert_eq!(job["params"]["project_key"], "SWAT");
    assert!(job["params"]["from"].is_string() && job["params"]["to"].is_string());
    assert!(matches!(
        job["state"].as_str(),
        Some("queued" | "running" | "succeeded")
    ));
    assert_eq!(job["owner_id"], alice.id);
    assert_eq!(job["error"], Value::Null);

    // Follow the job both ways at once: its event stream, and polling.
    let (events, done) = tokio::join!(
        job_events(&app, &alice.access_token, &id),
        wait_until_terminal(&app, &alice.access_token, &id),
    );
    assert_eq!(events.last().unwrap()["state"], "succeeded", "{events:?}");
    assert_eq!(events.last().unwrap()["progress"], 100);
    assert!(events.iter().all(|event| event["id"] == id.as_str()));
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["progress"], 100);
    assert!(done["finished_at"].is_string());
    let size = done["artifact"]["size_bytes"].as_u64().unwrap();
    assert_eq!(done["artifact"]["content_type"], "application/pdf");

    // Through the gateway.
    let content = app
        .get_as(
            &alice.access_token,
            &format!("/v1/jobs/{id}/artifact/content"),
        )
        .await;
    assert_eq!(content.status(), StatusCode::OK);
    assert_eq!(content.headers()[header::CONTENT_TYPE], "application/pdf");
    assert_eq!(
        content.headers()[header::CONTENT_LENGTH],
        size.to_string().as_str()
    );
    assert_eq!(
        content.headers()[header::CONTENT_DISPOSITION],
        format!("attachment; filename=\"report-{id}.pdf\"").as_str()
    );
    let pdf = content.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(pdf.len() as u64, size);
    let text = pdf_text(&pdf);
    for expected in [
        "SWAT-1",
        "SWAT-2",
        "Login fails on Safari",
        "Export drops the last row",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }

    // By presigned URL, without a token.
    let artifact = app
        .get_ok(&alice.access_token, &format!("/v1/jobs/{id}/artifact"))
        .await;
    assert_eq!(artifact["size_bytes"], size);
    assert_eq!(artifact["sha256"], done["artifact"]["sha256"]);
    assert!(artifact["expires_at"].is_string());
    let direct = reqwest::get(artifact["url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(direct.status(), StatusCode::OK);
    assert_eq!(direct.bytes().await.unwrap(), pdf);

    // The event stream of a finished job is its final state alone.
    let events = job_events(&app, &alice.access_token, &id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["state"], "succeeded");

    // Newest first, filtered by state.
    let monthly =
        accepted_report(&app, &alice.access_token, &json!({"kind": "user_monthly"})).await;
    let page = app
        .get_ok(
            &alice.access_token,
            "/v1/jobs?state=succeeded,queued,running",
        )
        .await;
    let ids: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.first().copied(), monthly["id"].as_str(), "{page}");
    assert!(ids.contains(&id.as_str()), "{page}");
    let monthly_done =
        wait_until_terminal(&app, &alice.access_token, monthly["id"].as_str().unwrap()).await;
    assert_eq!(monthly_done["state"], "succeeded", "{monthly_done}");
    assert_eq!(monthly_done["params"]["kind"], "user_monthly");

    app.cleanup_broker().await;
}

#[tokio::test]
async fn unfinished_jobs_have_no_artifact_cancel_once_and_retry_only_when_ended() {
    // No worker: jobs stay queued until cancelled.
    let (app, alice, job) = alice_with_a_queued_monthly_report().await;
    let token = &alice.access_token;
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(job["state"], "queued");
    assert_eq!(
        job["params"],
        json!({"kind": "user_monthly", "month": "2026-01"})
    );

    for path in ["artifact", "artifact/content"] {
        let response = app.get_as(token, &format!("/v1/jobs/{id}/{path}")).await;
        assert_problem(response, 409, "conflict").await;
    }
    let retry_queued = app
        .authed(Method::POST, &format!("/v1/jobs/{id}/retry"), token)
        .send()
        .await
        .unwrap();
    assert_problem(retry_queued, 409, "conflict").await;

    let cancel = app
        .authed(Method::POST, &format!("/v1/jobs/{id}/cancel"), token)
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), StatusCode::OK);
    let cancelled: Value = cancel.json().await.unwrap();
    assert_eq!(cancelled["state"], "cancelled");
    assert!(cancelled["finished_at"].is_string());

    let again = app
        .authed(Method::POST, &format!("/v1/jobs/{id}/cancel"), token)
        .send()
        .await
        .unwrap();
    assert_problem(again, 409, "conflict").await;
    let artifact = app.get_as(token, &format!("/v1/jobs/{id}/artifact")).await;
    assert_problem(artifact, 409, "conflict").await;
    let events = job_events(&app, token, &id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["state"], "cancelled");

    let retry = app
        .authed(Method::POST, &format!("/v1/jobs/{id}/retry"), token)
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), StatusCode::OK);
    let retried: Value = retry.json().await.unwrap();
    assert_eq!(retried["state"], "queued");
    assert_eq!(retried["id"], id.as_str());

    app.cleanup_broker().await;
}

#[tokio::test]
async fn jobs_are_private_admin_lists_are_for_admins_and_bad_requests_name_their_field() {
    let app = TestApp::spawn_with_reporting(ReportingMode::Api).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let admin = app.admin_token().await;
    let job = accepted_report(&app, &alice.access_token, &json!({"kind": "user_monthly"})).await;
    let id = job["id"].as_str().unwrap();

    // Another user's job does not exist for them.
    for (method, path) in [
        (Method::GET, format!("/v1/jobs/{id}")),
        (Method::POST, format!("/v1/jobs/{id}/cancel")),
        (Method::GET, format!("/v1/jobs/{id}/artifact")),
        (Method::GET, format!("/v1/jobs/{id}/events")),
    ] {
        let response = app
            .authed(method.clone(), &path, &bob.access_token)
            .send()
            .await
            .unwrap();
        assert_problem(response, 404, "not-found").await;
    }
    let bobs = app.get_ok(&bob.access_token, "/v1/jobs").await;
    assert_eq!(bobs, json!({"items": [], "next_page_token": null}));
    app.get_ok(&admin, &format!("/v1/jobs/{id}")).await;

    // Not a UUID: nothing lives there.
    for path in ["/v1/jobs/42", "/v1/jobs/not-a-job/artifact"] {
        assert_problem(
            app.get_as(&alice.access_token, path).await,
            404,
            "not-found",
        )
        .await;
    }

    // Everyone's jobs and the statistics are for admins.
    let all = app.get_as(&bob.access_token, "/v1/jobs?all=true").await;
    assert_problem(all, 403, "forbidden").await;
    let everyone = app.get_ok(&admin, "/v1/jobs?all=true").await;
    assert_eq!(everyone["items"][0]["id"], id);
    let stats = app.get_as(&bob.access_token, "/v1/admin/jobs/stats").await;
    assert_problem(stats, 403, "forbidden").await;
    let stats = app.get_ok(&admin, "/v1/admin/jobs/stats").await;
    assert_eq!(stats["jobs_by_state"]["queued"], 1, "{stats}");
    assert!(stats["queue_depth"].is_i64() && stats["dead_lettered"].is_i64());
    assert!(stats["oldest_queued_age_seconds"].is_i64());

    // Field validation.
    for (body, field) in [
        (json!({"kind": "user_monthly", "month": "2026-13"}), "month"),
        (
            json!({"kind": "user_monthly", "month": "November"}),
            "month",
        ),
        (json!({"kind": "weekly"}), "kind"),
        (json!({"project_key": "SWAT"}), "kind"),
        (json!({"kind": "project"}), "project_key"),
        (
            json!({"kind": "project", "project_key": "SWAT", "from": "last week"}),
            "from",
        ),
        (json!({"kind": "user_monthly", "colour": "red"}), "colour"),
    ] {
        let response = post_report(&app, &alice.access_token, None, &body).await;
        let problem = assert_problem(response, 422, "validation-failed").await;
        assert_eq!(error_fields(&problem), [field], "{body}: {problem}");
    }
    let state = app.get_as(&alice.access_token, "/v1/jobs?state=done").await;
    assert_invalid(state, &["state"]).await;

    // A project the caller cannot see.
    app.create_project(&bob.access_token, "BOB").await;
    let hidden = post_report(
        &app,
        &alice.access_token,
        None,
        &json!({"kind": "project", "project_key": "BOB"}),
    )
    .await;
    assert_problem(hidden, 404, "not-found").await;

    // Idempotency: the same key and body is the same job; another body is refused.
    let body = json!({"kind": "user_monthly", "month": "2026-02"});
    let first = post_report(&app, &alice.access_token, Some("report-1"), &body).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    let replay = post_report(&app, &alice.access_token, Some("report-1"), &body).await;
    assert_eq!(replay.status(), StatusCode::ACCEPTED);
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(replay["id"], first["id"]);
    let other = post_report(
        &app,
        &alice.access_token,
        Some("report-1"),
        &json!({"kind": "user_monthly", "month": "2026-03"}),
    )
    .await;
    assert_invalid(other, &["Idempotency-Key"]).await;

    app.cleanup_broker().await;
}

#[tokio::test]
async fn a_user_with_ten_jobs_in_flight_gets_429_with_retry_after_until_one_finishes() {
    // No worker: jobs stay queued until cancelled.
    let app = TestApp::spawn_with_reporting(ReportingMode::Api).await;
    let alice = app.user("alice").await;
    let token = &alice.access_token;
    let body = json!({"kind": "user_monthly", "month": "2026-01"});
    let mut jobs = Vec::new();
    for _ in 0..10 {
        jobs.push(accepted_report(&app, token, &body).await);
    }

    let refused = post_report(&app, token, None, &body).await;
    let retry_after: u64 = refused.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1, "{retry_after}");
    assert_problem(refused, 429, "rate-limited").await;

    let first = jobs[0]["id"].as_str().unwrap();
    let cancel = app
        .authed(Method::POST, &format!("/v1/jobs/{first}/cancel"), token)
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), StatusCode::OK);
    let eleventh = accepted_report(&app, token, &body).await;
    // Retrying the cancelled job would make eleven again.
    let retry = app
        .authed(Method::POST, &format!("/v1/jobs/{first}/retry"), token)
        .send()
        .await
        .unwrap();
    assert_problem(retry, 429, "rate-limited").await;
    assert_eq!(eleventh["state"], "queued");

    app.cleanup_broker().await;
}

#[tokio::test]
async fn a_user_with_ten_job_event_streams_open_gets_429_for_the_eleventh() {
    let (app, alice, job) = alice_with_a_queued_monthly_report().await;
    let token = &alice.access_token;
    let path = format!("/v1/jobs/{}/events", job["id"].as_str().unwrap());
    let mut open = Vec::new();
    for _ in 0..10 {
        let stream = app.get_as(token, &path).await;
        assert_eq!(stream.status(), StatusCode::OK);
        open.push(stream);
    }
    let refused = app.get_as(token, &path).await;
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    assert_problem(refused, 429, "rate-limited").await;

    open.clear();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let again = app.get_as(token, &path).await;
        if again.status() == StatusCode::OK {
            break;
        }
        assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(
            tokio::time::Instant::now() < deadline,
            "closed streams keep their slots"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    app.cleanup_broker().await;
}
