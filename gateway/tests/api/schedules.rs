//! Scheduled reports over HTTP: creating, listing, reading, pausing, resuming and deleting a
//! schedule, the checks of its cron expression and time zone, and who may see it (docs/api.md,
//! "Scheduled reports").

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::{
    documentation::{allows, description, property},
    helpers::{ReportingMode, TestApp, assert_invalid, assert_problem},
    webhooks::Receiver,
};

/// `POST /v1/schedules` as the holder of `token`.
async fn post_schedule(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.send_json(Method::POST, token, "/v1/schedules", body)
        .await
}

async fn post_action(app: &TestApp, token: &str, id: &str, action: &str) -> reqwest::Response {
    app.authed(Method::POST, &format!("/v1/schedules/{id}/{action}"), token)
        .send()
        .await
        .expect("send request")
}

fn weekly(key: &str) -> Value {
    json!({
        "report": {"kind": "project", "project_key": key, "period_days": 7},
        "cron": "0 8 * * 1",
        "time_zone": "Europe/Berlin",
        "deliver_event": true,
        "name": "Weekly SWAT"
    })
}

#[tokio::test]
async fn a_schedule_is_created_listed_read_paused_resumed_and_deleted() {
    let app = TestApp::spawn_with_reporting(ReportingMode::Api).await;
    let alice = app.user("alice").await;
    let token = &alice.access_token;
    app.create_project(token, "SWAT").await;

    let response = post_schedule(&app, token, &weekly("SWAT")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/schedules/{id}"));
    assert_eq!(created["owner_id"], alice.id.as_str());
    assert_eq!(
        created["report"],
        json!({"kind": "project", "project_key": "SWAT", "period_days": 7})
    );
    assert_eq!(created["cron"], "0 8 * * 1");
    assert_eq!(created["time_zone"], "Europe/Berlin");
    assert_eq!(created["deliver_event"], true);
    assert_eq!(created["name"], "Weekly SWAT");
    assert_eq!(created["paused"], false);
    assert_eq!(created["last_run_at"], Value::Null);
    assert_eq!(created["last_job_id"], Value::Null);
    // Mondays at 08:00 in Berlin: 07:00 or 06:00 UTC.
    let next = created["next_run_at"].as_str().unwrap();
    let next = chrono::DateTime::parse_from_rfc3339(next).unwrap();
    assert!(matches!(chrono::Timelike::hour(&next), 6 | 7), "{next}");
    assert_eq!(
        chrono::Datelike::weekday(&next),
        chrono::Weekday::Mon,
        "{next}"
    );

    // A monthly one, with the defaults: UTC, no events, no name.
    let monthly = post_schedule(
        &app,
        token,
        &json!({"report": {"kind": "user_monthly"}, "cron": "0 6 1 * *"}),
    )
    .await;
    assert_eq!(monthly.status(), StatusCode::CREATED);
    let monthly: Value = monthly.json().await.unwrap();
    assert_eq!(monthly["time_zone"], "UTC");
    assert_eq!(monthly["deliver_event"], false);
    assert_eq!(monthly["report"], json!({"kind": "user_monthly"}));

    assert_eq!(app.get_ok(token, &location).await, created);
    let page = app.get_ok(token, "/v1/schedules").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);

    let paused = post_action(&app, token, &id, "pause").await;
    assert_eq!(paused.status(), StatusCode::OK);
    let paused: Value = paused.json().await.unwrap();
    assert_eq!(paused["paused"], true);
    assert_eq!(paused["next_run_at"], Value::Null);
    // Paused ones list last; one per page.
    let first = app.get_ok(token, "/v1/schedules?page_size=1").await;
    assert_eq!(first["items"][0]["id"], monthly["id"]);
    let token_param = first["next_page_token"].as_str().unwrap();
    let second = app
        .get_ok(
            token,
            &format!("/v1/schedules?page_size=1&page_token={token_param}"),
        )
        .await;
    assert_eq!(second["items"][0]["id"], id.as_str());
    assert_eq!(second["next_page_token"], Value::Null);

    let resumed = post_action(&app, token, &id, "resume").await;
    assert_eq!(resumed.status(), StatusCode::OK);
    let resumed: Value = resumed.json().await.unwrap();
    assert_eq!(resumed["paused"], false);
    assert_eq!(resumed["next_run_at"], created["next_run_at"]);

    let deleted = app.delete_as(token, &location).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get_as(token, &location).await, 404, "not-found").await;
    assert_problem(app.delete_as(token, &location).await, 404, "not-found").await;
    app.cleanup_broker().await;
}

#[tokio::test]
async fn bad_schedules_are_refused_naming_the_field() {
    let app = TestApp::spawn_with_reporting(ReportingMode::Api).await;
    let alice = app.user("alice").await;
    let token = &alice.access_token;
    app.create_project(token, "SWAT").await;
    let with = |field: &str, value: Value| {
        let mut body = weekly("SWAT");
        body[field] = value;
        body
    };
    for (body, field) in [
        (with("cron", json!("0 8 * *")), "cron"),
        (with("cron", json!("61 8 * * 1")), "cron"),
        (with("cron", json!("@weekly")), "cron"),
        (with("cron", json!("0 0 30 2 *")), "cron"),
        (
            with("cron", json!(format!("{} * * * *", "1,".repeat(60)))),
            "cron",
        ),
        (with("time_zone", json!("Mars/Olympus")), "time_zone"),
        (with("name", json!("n".repeat(101))), "name"),
        (
            with(
                "report",
                json!({"kind": "project", "project_key": "SWAT", "period_days": 0}),
            ),
            "period_days",
        ),
        (
            with(
                "report",
                json!({"kind": "project", "project_key": "SWAT", "period_days": 367}),
            ),
            "period_days",
        ),
        (
            with("report", json!({"kind": "project", "project_key": "s"})),
            "project_key",
        ),
    ] {
        let response = post_schedule(&app, token, &body).await;
        let problem = assert_problem(response, 422, "validation-failed").await;
        let fields = crate::helpers::error_fields(&problem);
        assert!(
            fields.iter().any(|f| f.ends_with(field)),
            "{body}: {problem}"
        );
    }
    assert_invalid(
        post_schedule(&app, token, &json!({"cron": "0 8 * * 1"})).await,
        &["report"],
    )
    .await;
    // Someone else's project is not found.
    let bob = app.user("bob").await;
    assert_problem(
        post_schedule(&app, &bob.access_token, &weekly("SWAT")).await,
        404,
        "not-found",
    )
    .await;
    app.cleanup_broker().await;
}

#[tokio::test]
async fn another_users_schedule_is_not_found_and_only_admins_list_everyones() {
    let app = TestApp::spawn_with_reporting(ReportingMode::Api).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let response = post_schedule(
        &app,
        &alice.access_token,
        &json!({"report": {"kind": "user_monthly"}, "cron": "0 6 1 * *"}),
    )
    .await;
    let schedule: Value = response.json().await.unwrap();
    let path = format!("/v1/schedules/{}", schedule["id"].as_str().unwrap());
    let id = schedule["id"].as_str().unwrap();

    assert_problem(app.get_as(&bob.access_token, &path).await, 404, "not-found").await;
    for action in ["pause", "resume"] {
        assert_problem(
            post_action(&app, &bob.access_token, id, action).await,
            404,
            "not-found",
        )
        .await;
    }
    assert_problem(
        app.delete_as(&bob.access_token, &path).await,
        404,
        "not-found",
    )
    .await;
    let bobs = app.get_ok(&bob.access_token, "/v1/schedules").await;
    assert_eq!(bobs["items"], json!([]));
    assert_problem(
        app.get_as(&bob.access_token, "/v1/schedules?all=true")
            .await,
        403,
        "forbidden",
    )
    .await;
    let admin = app.admin_token().await;
    let everyone = app.get_ok(&admin, "/v1/schedules?all=true").await;
    assert_eq!(everyone["items"][0]["id"], id);
    assert_eq!(app.get_ok(&admin, &path).await["id"], id);
    // The schedule is untouched.
    assert_eq!(app.get_ok(&alice.access_token, &path).await, schedule);
    app.cleanup_broker().await;
}

#[tokio::test]
async fn what_the_schedule_schema_allows_the_service_accepts_and_what_it_refuses_it_refuses() {
    let app = TestApp::spawn_with_reporting(ReportingMode::Api).await;
    let doc = description(&app).await;
    let token = app.user("alice").await.access_token;
    let body = |field: &str, value: &str| {
        let mut body = json!({"report": {"kind": "user_monthly"}, "cron": "0 6 1 * *"});
        body[field] = json!(value);
        body
    };
    for (field, candidates) in [
        (
            "cron",
            &[
                "0 8 * * 1",
                " 0  8 * * mon-fri ",
                "*/5 * * * *",
                "0\t8 * * 1",
                "0 8 * *",
                "0 8 * * 1 2026",
                "@daily",
                "* * * *  ",
                &format!("0 0 1 1 {}", "1,".repeat(46) + "1"),
            ][..],
        ),
        (
            "time_zone",
            &[
                "Europe/Berlin",
                "",
                "Etc/GMT+5",
                "UTC ",
                "Europe/Berlin\n",
                &"A".repeat(65),
            ][..],
        ),
        (
            "name",
            &[
                "Weekly",
                "",
                "  padded\t",
                "tab\tinside",
                "nul\u{0}",
                &"n".repeat(100),
                &"n".repeat(101),
            ][..],
        ),
    ] {
        let schema = property(&doc, "CreateScheduleRequest", field).clone();
        for candidate in candidates {
            let response = post_schedule(&app, &token, &body(field, candidate)).await;
            let accepted = response.status() == StatusCode::CREATED;
            assert_eq!(
                allows(&schema, candidate),
                accepted,
                "{field} {candidate:?}"
            );
        }
    }
    app.cleanup_broker().await;
}

/// The secret of a new personal access token of the holder of the password login `password`.
async fn personal_token(app: &TestApp, password: &str, body: Value) -> String {
    let response = app
        .send_json(Method::POST, password, "/v1/users/me/tokens", &body)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    created["secret"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn tokens_keep_their_scopes_and_projects_with_schedules() {
    let app = TestApp::spawn_with_reporting(ReportingMode::Api).await;
    let alice = app.user("alice").await;
    let password = &alice.access_token;
    app.create_project(password, "SWAT").await;
    app.create_project(password, "OPS").await;
    let read = personal_token(&app, password, json!({"name": "ro", "scopes": ["read"]})).await;
    let swat = personal_token(
        &app,
        password,
        json!({"name": "swat", "scopes": ["write"], "projects": ["SWAT"]}),
    )
    .await;
    let ops: Value = post_schedule(&app, password, &weekly("OPS"))
        .await
        .json()
        .await
        .unwrap();
    let ops_path = format!("/v1/schedules/{}", ops["id"].as_str().unwrap());

    assert_problem(
        post_schedule(&app, &read, &weekly("SWAT")).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        app.get_ok(&read, "/v1/schedules").await["items"][0]["id"],
        ops["id"]
    );
    assert_problem(
        post_schedule(&app, &swat, &weekly("OPS")).await,
        404,
        "not-found",
    )
    .await;
    let monthly = json!({"report": {"kind": "user_monthly"}, "cron": "0 6 1 * *"});
    assert_problem(post_schedule(&app, &swat, &monthly).await, 403, "forbidden").await;
    let own = post_schedule(&app, &swat, &weekly("SWAT")).await;
    assert_eq!(own.status(), StatusCode::CREATED);
    let own: Value = own.json().await.unwrap();
    let listed = app.get_ok(&swat, "/v1/schedules").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["items"][0]["id"], own["id"]);
    assert_problem(app.get_as(&swat, &ops_path).await, 404, "not-found").await;
    assert_problem(
        post_action(&app, &swat, ops["id"].as_str().unwrap(), "pause").await,
        404,
        "not-found",
    )
    .await;
    app.cleanup_broker().await;
}

#[tokio::test]
async fn a_finished_run_reaches_the_projects_webhook_as_schedule_report_ready() {
    let app = TestApp::spawn_with_reporting_and_webhooks().await;
    let alice = app.user("alice").await;
    let token = &alice.access_token;
    app.create_project(token, "SWAT").await;
    let mut receiver = Receiver::start().await;
    let webhook = app
        .send_json(
            Method::POST,
            token,
            "/v1/projects/SWAT/webhooks",
            &json!({"url": receiver.url, "event_types": ["schedule.report_ready"]}),
        )
        .await;
    assert_eq!(webhook.status(), StatusCode::CREATED);
    let schedule: Value = post_schedule(&app, token, &weekly("SWAT"))
        .await
        .json()
        .await
        .unwrap();

    // Due now (instead of next Monday).
    let reporting = &app.reporting.as_ref().unwrap().db.pool;
    sqlx::query("UPDATE schedules SET next_run_at = now() WHERE id = $1::uuid")
        .bind(schedule["id"].as_str().unwrap())
        .execute(reporting)
        .await
        .unwrap();
    let (headers, event) = receiver.next().await;

    assert_eq!(event["type"], "schedule.report_ready");
    assert_eq!(event["project_key"], "SWAT");
    assert_eq!(event["data"]["schedule"]["id"], schedule["id"]);
    assert_eq!(event["data"]["schedule"]["name"], "Weekly SWAT");
    assert_eq!(event["data"]["job"]["state"], "succeeded");
    assert_eq!(event["data"]["job"]["params"]["project_key"], "SWAT");
    assert!(headers.contains_key("webhook-signature"));
    // The job is the one the schedule shows, and its PDF is there.
    let job_id = event["data"]["job"]["id"].as_str().unwrap();
    let shown = app
        .get_ok(
            token,
            &format!("/v1/schedules/{}", schedule["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(shown["last_job_id"], job_id);
    let pdf = app
        .get_as(token, &format!("/v1/jobs/{job_id}/artifact/content"))
        .await;
    assert_eq!(pdf.status(), StatusCode::OK);
    app.cleanup_broker().await;
}
