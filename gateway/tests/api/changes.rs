//! The change feed over HTTP: pages, the Server-Sent Events stream and its resumption.

use std::time::Duration;

use reqwest::{Response, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_invalid, assert_problem};

/// One Server-Sent Event.
#[derive(Debug)]
struct Sse {
    id: Option<String>,
    event: Option<String>,
    data: Value,
}

/// Reads events from a streaming response.
struct Events {
    response: Response,
    buffer: String,
}

impl Events {
    fn new(response: Response) -> Events {
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Events {
            response,
            buffer: String::new(),
        }
    }

    async fn next(&mut self) -> Sse {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = Sse {
                    id: None,
                    event: None,
                    data: Value::Null,
                };
                let mut data = None;
                for line in block.lines() {
                    if let Some(id) = line.strip_prefix("id: ") {
                        event.id = Some(id.to_owned());
                    } else if let Some(name) = line.strip_prefix("event: ") {
                        event.event = Some(name.to_owned());
                    } else if let Some(text) = line.strip_prefix("data: ") {
                        data = Some(text.to_owned());
                    }
                }
                // Comments (keep-alives) have no data.
                if let Some(data) = data {
                    event.data = serde_json::from_str(&data).unwrap();
                    return event;
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("an event within 10 s")
                .unwrap()
                .expect("the stream goes on");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

#[tokio::test]
async fn the_feed_pages_every_change_with_the_issue_exactly_as_get_shows_it() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.create_project(&alice.access_token, "SWAT").await;
    app.create_issue(&alice.access_token, "SWAT", &json!({"title": "Bug"}))
        .await;
    let patched = app
        .patch_issue(
            &alice.access_token,
            "SWAT-1",
            None,
            &json!({"status": "in_progress", "labels": ["b", "a"]}),
        )
        .await;
    assert_eq!(patched.status(), StatusCode::OK);

    let first = app
        .get_ok(&alice.access_token, "/v1/projects/SWAT/changes?page_size=2")
        .await;
    let second = app
        .get_ok(
            &alice.access_token,
            &format!("/v1/projects/SWAT/changes?after={}", first["next_after"]),
        )
        .await;

    let types = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(types(&first), ["project.created", "member.added"]);
    assert_eq!(first["next_after"], 2);
    assert_eq!(first["head_cursor"], 4);
    assert_eq!(types(&second), ["issue.created", "issue.updated"]);
    assert_eq!(second["next_after"], 4);
    let change = &second["items"][1];
    assert_eq!(change["cursor"], 4);
    assert_eq!(change["project_key"], "SWAT");
    assert!(change["id"].as_str().unwrap().starts_with("evt_"));
    let mut issue = app.get_ok(&alice.access_token, "/v1/issues/SWAT-1").await;
    // What GET works out from the issue's relations for its reader is not in the event, which
    // is the same for every reader of the feed (docs/api.md, "Change feed").
    for derived in [
        "parent_key",
        "parent_hidden",
        "sub_issues",
        "blocked",
        "duplicate_of",
    ] {
        assert!(issue.as_object_mut().unwrap().remove(derived).is_some());
    }
    assert_eq!(
        change["data"], issue,
        "the event's data is the issue as GET shows it, without what relations derive"
    );
    let done = app
        .get_ok(&alice.access_token, "/v1/projects/SWAT/changes?after=4")
        .await;
    assert_eq!(done["items"], json!([]));
    assert_eq!(done["next_after"], 4);
}

#[tokio::test]
async fn bad_cursors_and_page_sizes_are_422_naming_the_field_and_outsiders_get_404() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mallory = app.user("mallory").await;
    app.create_project(&alice.access_token, "SWAT").await;
    let token = &alice.access_token;

    for (query, field) in [
        ("after=-1", "after"),
        ("after=soon", "after"),
        ("page_size=0", "page_size"),
        ("page_size=1001", "page_size"),
    ] {
        let response = app
            .get_as(token, &format!("/v1/projects/SWAT/changes?{query}"))
            .await;
        assert_invalid(response, &[field]).await;
    }
    let bad_header = app
        .authed(
            reqwest::Method::GET,
            "/v1/projects/SWAT/changes/stream",
            token,
        )
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    assert_invalid(bad_header, &["Last-Event-ID"]).await;
    for path in [
        "/v1/projects/SWAT/changes",
        "/v1/projects/SWAT/changes/stream",
    ] {
        let hidden = app.get_as(&mallory.access_token, path).await;
        assert_problem(hidden, 404, "not-found").await;
    }
}

#[tokio::test]
async fn a_cursor_older_than_what_the_feed_keeps_is_410_gone() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.create_project(&alice.access_token, "SWAT").await;
    for title in ["One", "Two"] {
        app.create_issue(&alice.access_token, "SWAT", &json!({"title": title}))
            .await;
    }
    // Reading the feed numbers what was written; then retention with a horizon of now prunes
    // every change so far (cursors 1 to 4).
    app.get_ok(&alice.access_token, "/v1/projects/SWAT/changes")
        .await;
    let pruned =
        swatter_issues::feed::retention::prune(&app.issues_db().pool, chrono::Duration::zero())
            .await
            .unwrap();
    assert_eq!(pruned, 4);

    for path in [
        "/v1/projects/SWAT/changes?after=1",
        "/v1/projects/SWAT/changes/stream?after=2",
    ] {
        let gone = app.get_as(&alice.access_token, path).await;
        let problem = assert_problem(gone, 410, "cursor-expired").await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("resynchronise"),
            "{problem}"
        );
    }
    app.create_issue(&alice.access_token, "SWAT", &json!({"title": "Three"}))
        .await;
    let kept = app
        .get_ok(&alice.access_token, "/v1/projects/SWAT/changes?after=4")
        .await;
    assert_eq!(kept["items"][0]["cursor"], 5);
}

#[tokio::test]
async fn the_stream_sends_new_changes_and_resumes_from_last_event_id_with_no_gap_or_duplicate() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.create_project(&alice.access_token, "SWAT").await;
    let token = alice.access_token.clone();

    let mut events = Events::new(app.get_as(&token, "/v1/projects/SWAT/changes/stream").await);
    assert_eq!(
        events.next().await.event.as_deref(),
        Some("project.created")
    );
    assert_eq!(events.next().await.id.as_deref(), Some("2"));
    app.create_issue(&token, "SWAT", &json!({"title": "Live"}))
        .await;
    let live = events.next().await;
    assert_eq!(live.id.as_deref(), Some("3"));
    assert_eq!(live.event.as_deref(), Some("issue.created"));
    assert_eq!(live.data["cursor"], 3);
    assert_eq!(live.data["data"]["key"], "SWAT-1");
    drop(events);

    for title in ["Away 1", "Away 2"] {
        app.create_issue(&token, "SWAT", &json!({"title": title}))
            .await;
    }
    // As EventSource reconnects: the original URL, and the last id in Last-Event-ID.
    let resumed = app
        .authed(
            reqwest::Method::GET,
            "/v1/projects/SWAT/changes/stream?after=0",
            &token,
        )
        .header("Last-Event-ID", "3")
        .send()
        .await
        .unwrap();
    let mut events = Events::new(resumed);
    let mut ids = vec![events.next().await.id, events.next().await.id];
    app.create_issue(&token, "SWAT", &json!({"title": "After"}))
        .await;
    ids.push(events.next().await.id);

    assert_eq!(
        ids,
        [
            Some("4".to_owned()),
            Some("5".to_owned()),
            Some("6".to_owned())
        ]
    );
}

#[tokio::test]
async fn projects_members_and_comments_in_the_feed_look_as_the_api_shows_them() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let token = &alice.access_token;
    app.create_project(token, "SWAT").await;
    let member: Value = app
        .put_member(token, "SWAT", &bob.id, "reporter")
        .await
        .json()
        .await
        .unwrap();
    app.create_issue(token, "SWAT", &json!({"title": "Bug"}))
        .await;
    let comment: Value = app
        .post_comment(token, "SWAT-1", "Seen it too")
        .await
        .json()
        .await
        .unwrap();

    let feed = app.get_ok(token, "/v1/projects/SWAT/changes").await;

    let data = |n: usize| feed["items"][n]["data"].clone();
    let mut project = app.get_ok(token, "/v1/projects/SWAT").await;
    project.as_object_mut().unwrap().remove("my_role");
    assert_eq!(
        data(0),
        project,
        "project.created: the project without my_role"
    );
    assert_eq!(feed["items"][2]["type"], "member.added");
    assert_eq!(data(2), member);
    assert_eq!(feed["items"][4]["type"], "comment.created");
    assert_eq!(data(4), comment);
}
