//! Hostile text in every string input of every REST route (docs/api.md): a NUL, other control
//! characters, a lone surrogate (`"\ud800"` in JSON; its UTF-8-style bytes, which are not UTF-8,
//! in URLs and headers), bytes that are not UTF-8, and 20,001 characters (past every limit, the
//! 20,000 of descriptions included). No answer is a 5xx: a field is refused as 422 naming it, a
//! path segment names nothing (404), a login is a wrong credential (400 `invalid_grant`), a
//! revocation is of a token that does not exist (204), and JSON that is not valid (a lone
//! surrogate) is a malformed body (400).

use reqwest::{Method, Response, StatusCode, header::HeaderValue};
use serde_json::json;

use crate::helpers::{ReportingMode, TestApp, error_fields};

/// One hostile value, as each medium carries it.
struct Hostile {
    name: &'static str,
    /// Percent-encoded, for paths, query strings and forms.
    url: String,
    /// A JSON string literal; `None` where JSON cannot carry it (bytes that are not UTF-8) or
    /// where it is allowed (newlines in descriptions).
    json: Option<String>,
    /// Header value bytes; `None` where HTTP cannot carry it (NUL, line breaks).
    header: Option<Vec<u8>>,
}

impl Hostile {
    fn is_lone_surrogate(&self) -> bool {
        self.name == "a lone surrogate"
    }
}

/// More characters than any input accepts.
const LONG: usize = 20_001;

fn hostile_values() -> Vec<Hostile> {
    let long = "x".repeat(LONG);
    vec![
        Hostile {
            name: "a NUL",
            url: "a%00b".into(),
            json: Some(r#""a\u0000b""#.into()),
            header: None,
        },
        Hostile {
            name: "an escape sequence",
            url: "%1B%5B31m".into(),
            json: Some(r#""\u001b[31m""#.into()),
            header: None,
        },
        Hostile {
            name: "a bell",
            url: "bell%07".into(),
            json: Some(r#""bell\u0007""#.into()),
            header: None,
        },
        Hostile {
            name: "a newline",
            url: "a%0Ab".into(),
            json: None,
            header: None,
        },
        Hostile {
            name: "a tab",
            url: "a%09b".into(),
            json: None,
            header: Some(b"a\tb".to_vec()),
        },
        Hostile {
            name: "20,001 characters",
            url: long.clone(),
            json: Some(format!("\"{long}\"")),
            header: Some(long.into_bytes()),
        },
        Hostile {
            name: "a lone surrogate",
            url: "%ED%A0%80".into(),
            json: Some(r#""\ud800""#.into()),
            header: Some(b"\xed\xa0\x80".to_vec()),
        },
        Hostile {
            name: "bytes that are not UTF-8",
            url: "%FF%FE".into(),
            json: None,
            header: Some(b"\xff\xfe".to_vec()),
        },
    ]
}

/// Where an input travels. Paths name ids of the fixture as `:user` and `:comment`.
#[derive(Clone, Copy)]
enum At {
    /// The `{}` of the path; the body, if any, is valid JSON.
    Path(Option<&'static str>),
    /// The query parameter of this name.
    Query(&'static str),
    /// This JSON body, with `"HOSTILE"` replaced, naming this field.
    Json(&'static str, &'static str),
    /// This form, with `HOSTILE` replaced.
    Form(&'static str),
    /// This header, on a request with this valid JSON body (if any).
    Header(&'static str, Option<&'static str>),
}

/// What the answer must be.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// 422 naming the input.
    Named,
    /// Exactly this status.
    Status(u16),
    /// Any 4xx.
    ClientError,
}

struct Input {
    method: Method,
    path: &'static str,
    at: At,
    expect: Expect,
}

fn input(method: &str, path: &'static str, at: At, expect: Expect) -> Input {
    Input {
        method: method.parse().expect("an HTTP method"),
        path,
        at,
        expect,
    }
}

/// The name a problem gives the input.
fn field_of(at: At) -> &'static str {
    match at {
        At::Query(name) | At::Json(_, name) | At::Header(name, _) => name,
        At::Path(_) | At::Form(_) => "",
    }
}

/// Ids the paths refer to.
struct Fixture {
    token: String,
    user: String,
    comment: String,
}

impl Fixture {
    fn path(&self, template: &str, hostile: &str) -> String {
        template
            .replace(":user", &self.user)
            .replace(":comment", &self.comment)
            .replace("{}", hostile)
    }
}

/// Sends `hostile` in `input`; `None` when the medium cannot carry it.
async fn send(
    app: &TestApp,
    fixture: &Fixture,
    input: &Input,
    hostile: &Hostile,
) -> Option<Response> {
    let json_request = |path: String, body: Option<&str>| {
        let request = app.authed(input.method.clone(), &path, &fixture.token);
        match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(body.to_owned()),
            None => request,
        }
    };
    let request = match input.at {
        At::Path(body) => json_request(fixture.path(input.path, &hostile.url), body),
        At::Query(name) => {
            let path = fixture.path(input.path, "");
            let separator = if path.contains('?') { '&' } else { '?' };
            json_request(format!("{path}{separator}{name}={}", hostile.url), None)
        }
        At::Json(body, _) => {
            let body = body.replace("\"HOSTILE\"", hostile.json.as_deref()?);
            json_request(fixture.path(input.path, ""), Some(&body))
        }
        At::Form(form) => app
            .client
            .request(input.method.clone(), app.url(input.path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.replace("HOSTILE", &hostile.url)),
        At::Header(name, body) => {
            let value = HeaderValue::from_bytes(hostile.header.as_deref()?).expect("a header");
            let request = if name == "Authorization" {
                app.client
                    .request(input.method.clone(), app.url(input.path))
            } else {
                json_request(fixture.path(input.path, ""), body)
            };
            request.header(name, value)
        }
    };
    Some(request.send().await.expect("send request"))
}

/// Sends every hostile value to every input; returns what went wrong, one line each.
async fn probe(app: &TestApp, fixture: &Fixture, inputs: &[Input]) -> Vec<String> {
    let mut failures = Vec::new();
    for input in inputs {
        for hostile in hostile_values() {
            let Some(response) = send(app, fixture, input, &hostile).await else {
                continue;
            };
            let field = field_of(input.at);
            let expect = match input.at {
                At::Json(..) if hostile.is_lone_surrogate() => Expect::Status(400),
                _ => input.expect,
            };
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            let problem: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let ok = match expect {
                Expect::Named => {
                    status == StatusCode::UNPROCESSABLE_ENTITY
                        && error_fields(&problem).contains(&field)
                }
                Expect::Status(code) => status.as_u16() == code,
                Expect::ClientError => status.is_client_error(),
            };
            if !ok || status.is_server_error() {
                let shown: String = body.chars().take(300).collect();
                failures.push(format!(
                    "{} {} {field} with {}: expected {expect:?}, got {status} {shown}",
                    input.method, input.path, hostile.name
                ));
            }
        }
    }
    failures
}

const USER: &str =
    r#"{"username": "HOSTILE", "email": "h@example.com", "password": "long-enough-1"}"#;

/// The routes of identity and issues.
#[rustfmt::skip]
fn identity_and_issues_inputs() -> Vec<Input> {
    use At::*;
    use Expect::*;
    let mut inputs = vec![
        // Identity.
        input("POST", "/v1/users", Json(USER, "username"), Named),
        input("POST", "/v1/users", Json(r#"{"username": "hostile", "email": "HOSTILE", "password": "long-enough-1"}"#, "email"), Named),
        input("POST", "/v1/users", Json(r#"{"username": "hostile", "email": "h@example.com", "password": "HOSTILE"}"#, "password"), Named),
        input("POST", "/v1/users", Json(r#"{"username": "hostile", "email": "h@example.com", "password": "long-enough-1", "full_name": "HOSTILE"}"#, "full_name"), Named),
        input("POST", "/v1/auth/token", Form("grant_type=HOSTILE&username=nobody&password=whatever-1"), ClientError),
        input("POST", "/v1/auth/token", Form("grant_type=password&username=HOSTILE&password=whatever-1"), Status(400)),
        input("POST", "/v1/auth/token", Form("grant_type=password&username=nobody&password=HOSTILE"), Status(400)),
        input("POST", "/v1/auth/token", Form("grant_type=refresh_token&refresh_token=HOSTILE"), Status(400)),
        input("POST", "/v1/auth/token", Json(r#"{"grant_type": "password", "username": "HOSTILE", "password": "whatever-1"}"#, "username"), Status(400)),
        input("POST", "/v1/auth/token", Json(r#"{"grant_type": "password", "username": "nobody-else", "password": "HOSTILE"}"#, "password"), Status(400)),
        input("POST", "/v1/auth/token", Json(r#"{"grant_type": "refresh_token", "refresh_token": "HOSTILE"}"#, "refresh_token"), Status(400)),
        input("POST", "/v1/auth/revoke", Json(r#"{"refresh_token": "HOSTILE"}"#, "refresh_token"), Status(204)),
        input("POST", "/v1/auth/revoke", Form("token=HOSTILE"), Status(204)),
        input("GET", "/v1/users/me", Header("Authorization", None), Status(401)),
        input("PATCH", "/v1/users/me", Json(r#"{"email": "HOSTILE"}"#, "email"), Named),
        input("PATCH", "/v1/users/me", Json(r#"{"full_name": "HOSTILE"}"#, "full_name"), Named),
        input("POST", "/v1/users/me/password", Json(r#"{"current_password": "HOSTILE", "new_password": "a-new-password"}"#, "current_password"), Named),
        input("POST", "/v1/users/me/password", Json(r#"{"current_password": "swatter-admin", "new_password": "HOSTILE"}"#, "new_password"), Named),
        input("GET", "/v1/users", Query("q"), Named),
        input("GET", "/v1/users", Query("page_size"), Named),
        input("GET", "/v1/users", Query("page_token"), Named),
        input("GET", "/v1/users/{}", Path(None), Status(404)),
        input("PATCH", "/v1/users/{}", Path(Some(r#"{"full_name": "Eve"}"#)), Status(404)),
        input("PATCH", "/v1/users/:user", Json(r#"{"email": "HOSTILE"}"#, "email"), Named),
        input("PATCH", "/v1/users/:user", Json(r#"{"full_name": "HOSTILE"}"#, "full_name"), Named),
        // Projects and members.
        input("POST", "/v1/projects", Json(r#"{"key": "HOSTILE", "name": "Hostile"}"#, "key"), Named),
        input("POST", "/v1/projects", Json(r#"{"key": "HOSA", "name": "HOSTILE"}"#, "name"), Named),
        input("POST", "/v1/projects", Json(r#"{"key": "HOSA", "name": "Hostile", "description": "HOSTILE"}"#, "description"), Named),
        input("POST", "/v1/projects", Header("Idempotency-Key", Some(r#"{"key": "HOSB", "name": "Hostile"}"#)), Named),
        input("GET", "/v1/projects", Query("page_size"), Named),
        input("GET", "/v1/projects", Query("page_token"), Named),
        input("GET", "/v1/projects/{}", Path(None), Status(404)),
        input("PATCH", "/v1/projects/{}", Path(Some(r#"{"name": "Renamed"}"#)), Status(404)),
        input("DELETE", "/v1/projects/{}", Path(None), Status(404)),
        input("PATCH", "/v1/projects/HOST", Json(r#"{"name": "HOSTILE"}"#, "name"), Named),
        input("PATCH", "/v1/projects/HOST", Json(r#"{"description": "HOSTILE"}"#, "description"), Named),
        input("GET", "/v1/projects/{}/members", Path(None), Status(404)),
        input("PUT", "/v1/projects/{}/members/:user", Path(Some(r#"{"role": "viewer"}"#)), Status(404)),
        input("PUT", "/v1/projects/HOST/members/{}", Path(Some(r#"{"role": "viewer"}"#)), Status(404)),
        input("PUT", "/v1/projects/HOST/members/:user", Json(r#"{"role": "HOSTILE"}"#, "role"), Named),
        input("DELETE", "/v1/projects/{}/members/:user", Path(None), Status(404)),
        input("DELETE", "/v1/projects/HOST/members/{}", Path(None), Status(404)),
        // Issues.
        input("POST", "/v1/projects/{}/issues", Path(Some(r#"{"title": "Fine"}"#)), Status(404)),
        input("POST", "/v1/projects/HOST/issues", Json(r#"{"title": "HOSTILE"}"#, "title"), Named),
        input("POST", "/v1/projects/HOST/issues", Json(r#"{"title": "Fine", "description": "HOSTILE"}"#, "description"), Named),
        input("POST", "/v1/projects/HOST/issues", Json(r#"{"title": "Fine", "assignee_id": "HOSTILE"}"#, "assignee_id"), Named),
        input("POST", "/v1/projects/HOST/issues", Json(r#"{"title": "Fine", "labels": ["ok", "HOSTILE"]}"#, "labels"), Named),
        input("POST", "/v1/projects/HOST/issues", Header("Idempotency-Key", Some(r#"{"title": "Fine"}"#)), Named),
        input("GET", "/v1/issues/{}", Path(None), Status(404)),
        input("PATCH", "/v1/issues/{}", Path(Some(r#"{"title": "Fine"}"#)), Status(404)),
        input("DELETE", "/v1/issues/{}", Path(None), Status(404)),
        input("PATCH", "/v1/issues/HOST-1", Json(r#"{"title": "HOSTILE"}"#, "title"), Named),
        input("PATCH", "/v1/issues/HOST-1", Json(r#"{"description": "HOSTILE"}"#, "description"), Named),
        input("PATCH", "/v1/issues/HOST-1", Json(r#"{"assignee_id": "HOSTILE"}"#, "assignee_id"), Named),
        input("PATCH", "/v1/issues/HOST-1", Json(r#"{"labels": ["HOSTILE"]}"#, "labels"), Named),
        input("PATCH", "/v1/issues/HOST-1", Header("If-Match", Some(r#"{"title": "Changed"}"#)), Status(412)),
        input("GET", "/v1/issues/{}/events", Path(None), Status(404)),
        input("GET", "/v1/issues/HOST-1/events", Query("page_size"), Named),
        input("GET", "/v1/issues/HOST-1/events", Query("page_token"), Named),
        // Comments.
        input("POST", "/v1/issues/{}/comments", Path(Some(r#"{"body": "Fine"}"#)), Status(404)),
        input("POST", "/v1/issues/HOST-1/comments", Json(r#"{"body": "HOSTILE"}"#, "body"), Named),
        input("POST", "/v1/issues/HOST-1/comments", Header("Idempotency-Key", Some(r#"{"body": "Fine"}"#)), Named),
        input("GET", "/v1/issues/{}/comments", Path(None), Status(404)),
        input("GET", "/v1/issues/HOST-1/comments", Query("page_size"), Named),
        input("GET", "/v1/issues/HOST-1/comments", Query("page_token"), Named),
        input("PATCH", "/v1/comments/{}", Path(Some(r#"{"body": "Fine"}"#)), Status(404)),
        input("PATCH", "/v1/comments/:comment", Json(r#"{"body": "HOSTILE"}"#, "body"), Named),
        input("DELETE", "/v1/comments/{}", Path(None), Status(404)),
        // Attachments (a file name loses its control characters instead: docs/api.md).
        input("POST", "/v1/issues/{}/attachments/uploads", Path(Some(r#"{"file_name": "a.txt", "size": 1, "content_type": "text/plain"}"#)), Status(404)),
        input("POST", "/v1/issues/HOST-1/attachments/uploads", Json(r#"{"file_name": "a.txt", "size": 1, "content_type": "HOSTILE"}"#, "content_type"), Named),
        input("POST", "/v1/issues/HOST-1/attachments/uploads", Json(r#"{"file_name": "a.txt", "size": 1, "content_type": "text/plain", "sha256": "HOSTILE"}"#, "sha256"), Named),
        input("POST", "/v1/issues/HOST-1/attachments/uploads", Json(r#"{"file_name": "a.txt", "size": 1, "content_type": "text/plain", "comment_id": "HOSTILE"}"#, "comment_id"), Named),
        // (Its body is not multipart here, so 415 may come first.)
        input("POST", "/v1/issues/{}/attachments", Path(None), ClientError),
        input("GET", "/v1/issues/{}/attachments", Path(None), Status(404)),
        input("GET", "/v1/issues/HOST-1/attachments", Query("comment_id"), Named),
        input("GET", "/v1/issues/HOST-1/attachments", Query("page_size"), Named),
        input("GET", "/v1/issues/HOST-1/attachments", Query("page_token"), Named),
        input("GET", "/v1/attachments/{}", Path(None), Status(404)),
        input("DELETE", "/v1/attachments/{}", Path(None), Status(404)),
        input("POST", "/v1/attachments/{}/confirm", Path(None), Status(404)),
        input("GET", "/v1/attachments/{}/download", Path(None), Status(404)),
        input("GET", "/v1/projects/{}/attachment-usage", Path(None), Status(404)),
        // Saved views.
        input("POST", "/v1/projects/HOST/views", Json(r#"{"name": "HOSTILE", "query": ""}"#, "name"), Named),
        input("POST", "/v1/projects/HOST/views", Json(r#"{"name": "Fine", "query": "HOSTILE"}"#, "query"), Named),
        input("POST", "/v1/projects/HOST/views", Json(r#"{"name": "Fine", "query": "", "sort": "HOSTILE"}"#, "sort"), Named),
        input("POST", "/v1/projects/{}/views", Path(Some(r#"{"name": "Fine", "query": ""}"#)), Status(404)),
        input("GET", "/v1/projects/{}/views", Path(None), Status(404)),
        input("DELETE", "/v1/views/{}", Path(None), Status(404)),
    ];
    // Both issue lists take the same filters.
    for list in ["/v1/issues", "/v1/projects/HOST/issues"] {
        for name in [
            "status",
            "priority",
            "assignee",
            "author",
            "label",
            "q",
            "sort",
            "page_size",
            "page_token",
        ] {
            inputs.push(input("GET", list, Query(name), Named));
        }
    }
    inputs.push(input("GET", "/v1/projects/{}/issues", Path(None), Status(404)));
    inputs
}

#[tokio::test]
async fn hostile_text_in_any_input_of_identity_and_issues_routes_is_a_client_error() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let bob = app.user("bob").await;
    app.create_project(&token, "HOST").await;
    app.create_issue(&token, "HOST", &json!({"title": "Target"}))
        .await;
    let comment: serde_json::Value = app
        .post_comment(&token, "HOST-1", "A comment")
        .await
        .json()
        .await
        .expect("comment body");
    let fixture = Fixture {
        token,
        user: bob.id,
        comment: comment["id"].as_str().expect("comment id").to_owned(),
    };

    let failures = probe(&app, &fixture, &identity_and_issues_inputs()).await;

    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The routes of milestones (`milestone` is one's path) and the planning fields of issues.
#[rustfmt::skip]
fn planning_inputs(milestone: &'static str) -> Vec<Input> {
    use At::*;
    use Expect::*;
    vec![
        input("POST", "/v1/projects/{}/milestones", Path(Some(r#"{"title": "Fine"}"#)), Status(404)),
        input("POST", "/v1/projects/HOST/milestones", Json(r#"{"title": "HOSTILE"}"#, "title"), Named),
        input("POST", "/v1/projects/HOST/milestones", Json(r#"{"title": "Fine", "description": "HOSTILE"}"#, "description"), Named),
        input("POST", "/v1/projects/HOST/milestones", Json(r#"{"title": "Fine", "due_on": "HOSTILE"}"#, "due_on"), Named),
        input("POST", "/v1/projects/HOST/milestones", Header("Idempotency-Key", Some(r#"{"title": "Fine"}"#)), Named),
        input("GET", "/v1/projects/{}/milestones", Path(None), Status(404)),
        input("GET", "/v1/projects/HOST/milestones", Query("state"), Named),
        input("GET", "/v1/projects/HOST/milestones", Query("page_size"), Named),
        input("GET", "/v1/projects/HOST/milestones", Query("page_token"), Named),
        input("GET", "/v1/milestones/{}", Path(None), Status(404)),
        input("PATCH", "/v1/milestones/{}", Path(Some(r#"{"title": "Fine"}"#)), Status(404)),
        input("DELETE", "/v1/milestones/{}", Path(None), Status(404)),
        input("PATCH", milestone, Json(r#"{"title": "HOSTILE"}"#, "title"), Named),
        input("PATCH", milestone, Json(r#"{"description": "HOSTILE"}"#, "description"), Named),
        input("PATCH", milestone, Json(r#"{"due_on": "HOSTILE"}"#, "due_on"), Named),
        input("PATCH", milestone, Json(r#"{"state": "HOSTILE"}"#, "state"), Named),
        input("POST", "/v1/projects/HOST/issues", Json(r#"{"title": "Fine", "due_on": "HOSTILE"}"#, "due_on"), Named),
        input("POST", "/v1/projects/HOST/issues", Json(r#"{"title": "Fine", "milestone_id": "HOSTILE"}"#, "milestone_id"), Named),
        input("PATCH", "/v1/issues/HOST-1", Json(r#"{"due_on": "HOSTILE"}"#, "due_on"), Named),
        input("PATCH", "/v1/issues/HOST-1", Json(r#"{"milestone_id": "HOSTILE"}"#, "milestone_id"), Named),
        input("PATCH", "/v1/issues/HOST-1", Json(r#"{"resolution": "HOSTILE"}"#, "resolution"), Named),
    ]
}

#[tokio::test]
async fn hostile_text_in_any_input_of_milestones_and_planning_fields_is_a_client_error() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let bob = app.user("bob").await;
    app.create_project(&token, "HOST").await;
    app.create_issue(&token, "HOST", &json!({"title": "Target"}))
        .await;
    let milestone: serde_json::Value = app
        .send_json(
            Method::POST,
            &token,
            "/v1/projects/HOST/milestones",
            &json!({"title": "Target"}),
        )
        .await
        .json()
        .await
        .expect("milestone body");
    let path = format!(
        "/v1/milestones/{}",
        milestone["id"].as_str().expect("milestone id")
    );
    let fixture = Fixture {
        token,
        user: bob.id,
        comment: String::new(),
    };

    let failures = probe(&app, &fixture, &planning_inputs(path.leak())).await;

    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The routes of reports and jobs.
#[rustfmt::skip]
fn report_and_job_inputs() -> Vec<Input> {
    use At::*;
    use Expect::*;
    vec![
        input("POST", "/v1/reports", Json(r#"{"kind": "HOSTILE"}"#, "kind"), Named),
        input("POST", "/v1/reports", Json(r#"{"kind": "project", "project_key": "HOSTILE"}"#, "project_key"), Named),
        input("POST", "/v1/reports", Json(r#"{"kind": "project", "project_key": "HOST", "from": "HOSTILE"}"#, "from"), Named),
        input("POST", "/v1/reports", Json(r#"{"kind": "project", "project_key": "HOST", "to": "HOSTILE"}"#, "to"), Named),
        input("POST", "/v1/reports", Json(r#"{"kind": "user_monthly", "month": "HOSTILE"}"#, "month"), Named),
        input("POST", "/v1/reports", Header("Idempotency-Key", Some(r#"{"kind": "user_monthly"}"#)), Named),
        input("GET", "/v1/jobs", Query("state"), Named),
        input("GET", "/v1/jobs", Query("all"), Named),
        input("GET", "/v1/jobs", Query("page_size"), Named),
        input("GET", "/v1/jobs", Query("page_token"), Named),
        input("GET", "/v1/jobs/{}", Path(None), Status(404)),
        input("POST", "/v1/jobs/{}/cancel", Path(None), Status(404)),
        input("POST", "/v1/jobs/{}/retry", Path(None), Status(404)),
        input("GET", "/v1/jobs/{}/artifact", Path(None), Status(404)),
        input("GET", "/v1/jobs/{}/artifact/content", Path(None), Status(404)),
        input("GET", "/v1/jobs/{}/events", Path(None), Status(404)),
    ]
}

#[tokio::test]
async fn hostile_text_in_any_input_of_report_and_job_routes_is_a_client_error() {
    let app = TestApp::spawn_with_reporting(ReportingMode::Api).await;
    let alice = app.user("alice").await;
    app.create_project(&alice.access_token, "HOST").await;
    let fixture = Fixture {
        token: alice.access_token.clone(),
        user: alice.id.clone(),
        comment: String::new(),
    };

    let failures = probe(&app, &fixture, &report_and_job_inputs()).await;

    app.cleanup_broker().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
