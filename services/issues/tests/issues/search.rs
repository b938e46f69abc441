//! The query language of issue lists (docs/api.md, "Searching issues"), the due date and
//! estimate orders, and saved views, through the real RPCs.

use std::collections::BTreeSet;

use swatter_common::status::violations;
use swatter_proto::issues::v1 as pb;
use tonic::Code;
use uuid::Uuid;

use crate::support::{TestApp, User, req};

/// Project `SRCH` with its owner and a maintainer `dev`, and eight issues:
///
/// | # | title   | status      | prio   | assignee | author | labels      | milestone | due        | est | other |
/// |---|---------|-------------|--------|----------|--------|-------------|-----------|------------|-----|-------|
/// | 1 | epic    | open        | urgent | dev      | owner  | bug         | v1.0      | 2026-12-01 | 8   | parent of 2, 3 |
/// | 2 | login   | in_progress | high   | owner    | dev    | bug, ui     | v1.0      | 2026-12-31 | 3   | blocked by 4 |
/// | 3 | export  | open        | low    | —        | dev    | wontfix     | v2 beta   | —          | 1   | blocked by 5 (closed) |
/// | 4 | crash   | open        | medium | dev      | owner  | —           | —         | 2027-01-15 | —   | |
/// | 5 | logout  | closed      | high   | —        | owner  | ui          | —         | —          | 13  | resolution fixed |
/// | 6 | search  | resolved    | low    | owner    | dev    | —           | v2 beta   | 2026-11-30 | 0   | resolution wont_fix |
/// | 7 | typo    | open        | low    | —        | owner  | docs        | —         | —          | —   | |
/// | 8 | slow    | in_progress | urgent | dev      | dev    | perf        | —         | 2026-12-31 | 5   | |
/// Title, status, priority rank, assignee, author, labels, milestone, due date, estimate.
type Row<'a> = (
    &'a str,
    &'a str,
    i16,
    Option<&'a User>,
    &'a User,
    &'a [&'a str],
    Option<&'a str>,
    Option<&'a str>,
    Option<i32>,
);

struct Fixture {
    app: TestApp,
    owner: User,
    dev: User,
}

async fn fixture() -> Fixture {
    let app = TestApp::spawn().await;
    let owner = app.user("srch-owner").await;
    let dev = app.user("dev").await;
    app.create_project(&owner, "SRCH").await.unwrap();
    app.set_member(&owner, "SRCH", &dev, pb::Role::Maintainer)
        .await
        .unwrap();
    let rows: [Row; 8] = [
        (
            "epic",
            "open",
            4,
            Some(&dev),
            &owner,
            &["bug"],
            Some("v1.0"),
            Some("2026-12-01"),
            Some(8),
        ),
        (
            "login",
            "in_progress",
            3,
            Some(&owner),
            &dev,
            &["bug", "ui"],
            Some("v1.0"),
            Some("2026-12-31"),
            Some(3),
        ),
        (
            "export",
            "open",
            1,
            None,
            &dev,
            &["wontfix"],
            Some("v2 beta"),
            None,
            Some(1),
        ),
        (
            "crash",
            "open",
            2,
            Some(&dev),
            &owner,
            &[],
            None,
            Some("2027-01-15"),
            None,
        ),
        (
            "logout",
            "closed",
            3,
            None,
            &owner,
            &["ui"],
            None,
            None,
            Some(13),
        ),
        (
            "search",
            "resolved",
            1,
            Some(&owner),
            &dev,
            &[],
            Some("v2 beta"),
            Some("2026-11-30"),
            Some(0),
        ),
        ("typo", "open", 1, None, &owner, &["docs"], None, None, None),
        (
            "slow",
            "in_progress",
            4,
            Some(&dev),
            &dev,
            &["perf"],
            None,
            Some("2026-12-31"),
            Some(5),
        ),
    ];
    let pool = &app.db.pool;
    let project: Uuid = sqlx::query_scalar("SELECT id FROM projects WHERE key = 'SRCH'")
        .fetch_one(pool)
        .await
        .unwrap();
    for title in ["v1.0", "v2 beta"] {
        sqlx::query("INSERT INTO milestones (id, project_id, title) VALUES ($1, $2, $3)")
            .bind(Uuid::now_v7())
            .bind(project)
            .bind(title)
            .execute(pool)
            .await
            .unwrap();
    }
    for (title, _, _, _, author, _, _, _, _) in &rows {
        app.create_issue(author, "SRCH", &format!("{title} issue"))
            .await
            .unwrap();
    }
    for (n, (_, status, priority, assignee, _, labels, milestone, due, estimate)) in
        rows.iter().enumerate()
    {
        let labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        let resolution = match *status {
            "closed" => Some("fixed"),
            "resolved" => Some("wont_fix"),
            _ => None,
        };
        sqlx::query(
            "UPDATE issues SET status = $2, priority = $3, assignee_id = $4, labels = $5,
                    milestone_id = (SELECT id FROM milestones WHERE title = $6),
                    due_on = $7::date, estimate = $8, resolution = $9,
                    updated_at = timestamptz '2026-11-01' + $1 * interval '1 day',
                    created_at = timestamptz '2026-10-01' + $1 * interval '1 day'
             WHERE number = $1",
        )
        .bind(n as i64 + 1)
        .bind(status)
        .bind(priority)
        .bind(assignee.map(|u| u.id.parse::<Uuid>().unwrap()))
        .bind(labels)
        .bind(milestone)
        .bind(due)
        .bind(estimate)
        .bind(resolution)
        .execute(pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "UPDATE issues SET parent_id = (SELECT id FROM issues WHERE number = 1)
         WHERE number IN (2, 3)",
    )
    .execute(pool)
    .await
    .unwrap();
    for (source, target) in [(4, 2), (5, 3)] {
        sqlx::query(
            "INSERT INTO issue_relations (source_id, target_id, kind, created_by)
             SELECT s.id, t.id, 'blocks', s.author_id FROM issues s, issues t
             WHERE s.number = $1 AND t.number = $2",
        )
        .bind(source)
        .bind(target)
        .execute(pool)
        .await
        .unwrap();
    }
    Fixture { app, owner, dev }
}

impl Fixture {
    /// The titles (first word) of every issue listed with `q` and `sort`, in order, page by
    /// page (pages of two, so that every order is walked across its pages).
    async fn titles(&self, user: &User, project: &str, q: &str, sort: &str) -> Vec<String> {
        let mut titles = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .app
                .list(
                    user,
                    pb::ListIssuesRequest {
                        project_key: project.into(),
                        query: q.into(),
                        sort: sort.into(),
                        page_size: 2,
                        page_token,
                        ..Default::default()
                    },
                )
                .await
                .unwrap_or_else(|e| panic!("{q:?} {sort:?}: {e:?}"));
            titles.extend(
                page.issues
                    .iter()
                    .map(|i| i.title.split(' ').next().unwrap().to_owned()),
            );
            if page.next_page_token.is_empty() {
                return titles;
            }
            page_token = page.next_page_token;
        }
    }

    async fn matching(&self, q: &str) -> BTreeSet<String> {
        self.titles(&self.owner, "SRCH", q, "")
            .await
            .into_iter()
            .collect()
    }
}

fn set(titles: &[&str]) -> BTreeSet<String> {
    titles.iter().map(|t| t.to_string()).collect()
}

#[tokio::test]
async fn each_predicate_of_the_query_language_lists_the_issues_it_names() {
    let f = fixture().await;
    let dev = &f.dev.id;
    for (q, expected) in [
        (
            "",
            &[
                "epic", "login", "export", "crash", "logout", "search", "typo", "slow",
            ][..],
        ),
        ("status:open", &["epic", "export", "crash", "typo"]),
        (
            "status:open,in_progress",
            &["epic", "login", "export", "crash", "typo", "slow"],
        ),
        ("-status:open,in_progress", &["logout", "search"]),
        (
            "is:open",
            &["epic", "login", "export", "crash", "typo", "slow"],
        ),
        ("is:closed", &["logout", "search"]),
        (
            "-is:closed status:open",
            &["epic", "export", "crash", "typo"],
        ),
        ("priority:>=high", &["epic", "login", "logout", "slow"]),
        ("priority:<medium", &["export", "search", "typo"]),
        (
            "priority:low,urgent -priority:urgent",
            &["export", "search", "typo"],
        ),
        ("assignee:me", &["login", "search"]),
        ("assignee:dev", &["epic", "crash", "slow"]),
        ("assignee:none", &["export", "logout", "typo"]),
        (
            "assignee:none,me",
            &["login", "search", "export", "logout", "typo"],
        ),
        (
            "-assignee:dev",
            &["login", "export", "logout", "search", "typo"],
        ),
        ("assignee:nobody-here", &[]),
        ("author:dev", &["login", "export", "search", "slow"]),
        (
            "author:me -author:dev",
            &["epic", "crash", "logout", "typo"],
        ),
        ("label:bug", &["epic", "login"]),
        ("label:bug,ui", &["epic", "login", "logout"]),
        (
            "-label:wontfix is:open",
            &["epic", "login", "crash", "typo", "slow"],
        ),
        ("milestone:\"v1.0\"", &["epic", "login"]),
        (
            "milestone:\"v2 beta\",v1.0",
            &["epic", "login", "export", "search"],
        ),
        ("milestone:none", &["crash", "logout", "typo", "slow"]),
        (
            "-milestone:\"v1.0\"",
            &["export", "crash", "logout", "search", "typo", "slow"],
        ),
        ("milestone:\"no such milestone\"", &[]),
        ("due:2026-12-31", &["login", "slow"]),
        ("due:<2026-12-31", &["epic", "search"]),
        ("due:<=2026-12-31", &["epic", "login", "search", "slow"]),
        ("due:>2026-12-31", &["crash"]),
        (
            "-due:<2026-12-31",
            &["login", "export", "crash", "logout", "typo", "slow"],
        ),
        ("created:2026-10-03", &["login"]),
        ("created:<2026-10-03", &["epic"]),
        ("created:>=2026-10-08", &["typo", "slow"]),
        ("updated:>=2026-11-08", &["typo", "slow"]),
        ("updated:<=2026-11-02,>2026-11-08", &["epic", "slow"]),
        ("estimate:>=8", &["epic", "logout"]),
        ("estimate:0", &["search"]),
        ("estimate:<3", &["export", "search"]),
        ("resolution:fixed", &["logout"]),
        ("resolution:fixed,wont_fix", &["logout", "search"]),
        ("resolution:none -is:open", &[]),
        ("is:blocked", &["login"]),
        (
            "is:unblocked is:open",
            &["epic", "export", "crash", "typo", "slow"],
        ),
        (
            "has:assignee",
            &["epic", "login", "crash", "search", "slow"],
        ),
        ("no:assignee", &["export", "logout", "typo"]),
        (
            "has:milestone,due",
            &["epic", "login", "export", "crash", "search", "slow"],
        ),
        ("no:estimate", &["crash", "typo"]),
        ("no:label", &["crash", "search"]),
        ("has:parent", &["login", "export"]),
        ("parent:SRCH-1", &["login", "export"]),
        ("parent:SRCH-99", &[]),
        ("parent:NOPE-1", &[]),
        ("-parent:SRCH-1 is:open", &["epic", "crash", "typo", "slow"]),
        ("crash", &["crash"]),
        (
            "issue -crash -\"login issue\" is:open",
            &["epic", "export", "typo", "slow"],
        ),
        ("\"login issue\"", &["login"]),
        ("\"issue login\"", &[]),
        ("status:open status:closed", &[]),
        (
            &format!("assignee:{dev} priority:urgent"),
            &["epic", "slow"],
        ),
    ] {
        assert_eq!(f.matching(q).await, set(expected), "{q}");
    }
}

#[tokio::test]
async fn the_example_of_the_issue_finds_the_blocked_assigned_sub_issue_it_describes() {
    let f = fixture().await;
    // The issue's example, on this project's names: login is open work assigned to the owner,
    // high, in v1.0, due 2026-12-31 (not before it: nothing), updated after November 1st,
    // blocked, a sub-issue of SRCH-1, and holds the words.
    let q = "status:open,in_progress assignee:me -label:wontfix priority:>=high \
             milestone:\"v1.0\" due:<2027-01-01 updated:>=2026-11-01 is:blocked has:assignee \
             no:estimate parent:SRCH-1 \"login issue\"";
    assert_eq!(f.matching(q).await, set(&[]), "login has an estimate");
    let q = q.replace("no:estimate", "has:estimate");
    assert_eq!(f.matching(&q).await, set(&["login"]));
}

#[tokio::test]
async fn the_separate_filters_and_the_query_must_both_hold() {
    let f = fixture().await;
    let list = |filters: pb::ListIssuesRequest| {
        let app = &f.app;
        let owner = &f.owner;
        async move {
            let page = app
                .list(
                    owner,
                    pb::ListIssuesRequest {
                        project_key: "SRCH".into(),
                        ..filters
                    },
                )
                .await
                .unwrap();
            page.issues
                .iter()
                .map(|i| i.title.split(' ').next().unwrap().to_owned())
                .collect::<BTreeSet<_>>()
        }
    };
    let both = list(pb::ListIssuesRequest {
        statuses: vec![pb::IssueStatus::Open as i32],
        query: "label:bug,docs".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(both, set(&["epic", "typo"]));
    let disjoint = list(pb::ListIssuesRequest {
        statuses: vec![pb::IssueStatus::Closed as i32],
        query: "is:open".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(disjoint, set(&[]));
    let assignee = list(pb::ListIssuesRequest {
        assignee: "me".into(),
        query: "assignee:dev".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(
        assignee,
        set(&[]),
        "assigned to me and to dev: nobody is both"
    );
    let label = list(pb::ListIssuesRequest {
        label: "ui".into(),
        query: "priority:high crash OR logout".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(label, set(&[]), "every word must match, OR is a word");
}

#[tokio::test]
async fn a_query_that_does_not_parse_is_invalid_argument_naming_q_with_the_position() {
    let f = fixture().await;
    for (q, message) in [
        ("status:", "at 8: expected a value after \"status:\""),
        (
            "is:open  status:",
            "at 17: expected a value after \"status:\"",
        ),
        (
            "  colour:red",
            "at 3: expected a known field (status, priority, assignee, author, label, milestone, due, created, updated, estimate, resolution, is, has, no, parent), not \"colour\"",
        ),
        (
            "status:done",
            "at 8: expected a status (open, in_progress, resolved, closed)",
        ),
        ("due:2026-13-01", "at 5: expected a date as YYYY-MM-DD"),
        (
            "due:0999-01-01",
            "at 5: expected a date from 1900-01-01 to 9999-12-31",
        ),
        (
            "estimate:-3",
            "at 10: expected an estimate from 0 to 2147483647",
        ),
        (
            "milestone:\"v1.0",
            "at 11: expected a closing quote for the quote opened here",
        ),
        ("parent:12", "at 8: expected an issue key such as SWAT-12"),
    ] {
        for project in ["SRCH", ""] {
            let status = f
                .app
                .list(
                    &f.owner,
                    pb::ListIssuesRequest {
                        project_key: project.into(),
                        query: q.into(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument, "{q}");
            let violations = violations(&status);
            assert_eq!(violations.len(), 1, "{q}");
            assert_eq!(
                (violations[0].field.as_str(), violations[0].message.as_str()),
                ("q", message),
                "{q}"
            );
        }
    }
    let terms = vec!["x"; 31].join(" ");
    let values = vec!["a"; 21].join(",");
    for q in [
        "y".repeat(1001),
        terms,
        format!("label:{values}"),
        "a\u{1}b".into(),
    ] {
        let status = f
            .app
            .list(
                &f.owner,
                pb::ListIssuesRequest {
                    query: q.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{q}");
        assert_eq!(violations(&status)[0].field, "q", "{q}");
    }
}

#[tokio::test]
async fn queries_across_projects_resolve_names_only_in_projects_the_caller_sees() {
    let f = fixture().await;
    let stranger = f.app.user("stranger").await;
    f.app.create_project(&stranger, "HIDE").await.unwrap();
    f.app
        .create_issue(&stranger, "HIDE", "hidden parent")
        .await
        .unwrap();
    f.app
        .create_issue(&f.dev, "SRCH", "child of a hidden issue")
        .await
        .unwrap();
    sqlx::query(
        "UPDATE issues SET parent_id = (SELECT i.id FROM issues i JOIN projects p
             ON p.id = i.project_id WHERE p.key = 'HIDE') WHERE title = 'child of a hidden issue'",
    )
    .execute(&f.app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        f.titles(&f.dev, "", "parent:HIDE-1", "").await,
        Vec::<String>::new(),
        "a key of a project the caller cannot see names nothing"
    );
    assert_eq!(
        f.titles(&stranger, "", "assignee:dev", "").await,
        Vec::<String>::new(),
        "dev is no member of the stranger's projects"
    );
    let mine: BTreeSet<String> = f
        .titles(&f.dev, "", "assignee:me is:open", "")
        .await
        .into_iter()
        .collect();
    assert_eq!(mine, set(&["epic", "crash", "slow"]));
    let by_owner: BTreeSet<String> = f
        .titles(&f.dev, "", "author:srch-owner label:ui", "")
        .await
        .into_iter()
        .collect();
    assert_eq!(by_owner, set(&["logout"]));
}

#[tokio::test]
async fn due_date_and_estimate_orders_put_issues_without_a_value_last_both_ways() {
    let f = fixture().await;
    for (sort, expected) in [
        (
            "due_on",
            &[
                "search", "epic", "login", "slow", "crash", "export", "logout", "typo",
            ],
        ),
        (
            "-due_on",
            &[
                "crash", "slow", "login", "epic", "search", "typo", "logout", "export",
            ],
        ),
        (
            "estimate",
            &[
                "search", "export", "login", "slow", "epic", "logout", "crash", "typo",
            ],
        ),
        (
            "-estimate",
            &[
                "logout", "epic", "slow", "login", "export", "search", "typo", "crash",
            ],
        ),
    ] {
        let titles = f.titles(&f.owner, "SRCH", "", sort).await;
        // Ties (login and slow are both due 2026-12-31; issues without a value) go by id,
        // in the direction of the sort.
        assert_eq!(titles, expected, "{sort}");
        let across = f.titles(&f.owner, "", "", sort).await;
        assert_eq!(across, expected, "{sort} across projects");
        let open = f.titles(&f.owner, "SRCH", "is:open", sort).await;
        let expected_open: Vec<&str> = expected
            .iter()
            .copied()
            .filter(|t| !["logout", "search"].contains(t))
            .collect();
        assert_eq!(open, expected_open, "{sort} is:open");
        let text = f.titles(&f.owner, "SRCH", "issue", sort).await;
        assert_eq!(text, expected, "{sort} driven by full-text");
    }
    let first = f
        .app
        .list(
            &f.owner,
            pb::ListIssuesRequest {
                project_key: "SRCH".into(),
                sort: "due_on".into(),
                page_size: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let other_order = f
        .app
        .list(
            &f.owner,
            pb::ListIssuesRequest {
                project_key: "SRCH".into(),
                sort: "-due_on".into(),
                page_size: 2,
                page_token: first.next_page_token,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(other_order.code(), Code::InvalidArgument);
    assert_eq!(violations(&other_order)[0].field, "page_token");
}

fn view(project: &str, name: &str, query: &str, sort: &str) -> pb::CreateSavedViewRequest {
    pb::CreateSavedViewRequest {
        project_key: project.into(),
        name: name.into(),
        query: query.into(),
        sort: sort.into(),
    }
}

async fn save(
    app: &TestApp,
    user: &User,
    request: pb::CreateSavedViewRequest,
) -> Result<pb::SavedView, tonic::Status> {
    app.client()
        .create_saved_view(req(request, user))
        .await
        .map(|r| r.into_inner())
}

async fn views(
    app: &TestApp,
    user: &User,
    project: &str,
) -> Result<Vec<pb::SavedView>, tonic::Status> {
    app.client()
        .list_saved_views(req(
            pb::ListSavedViewsRequest {
                project_key: project.into(),
            },
            user,
        ))
        .await
        .map(|r| r.into_inner().views)
}

async fn delete(app: &TestApp, user: &User, id: &str) -> Result<(), tonic::Status> {
    app.client()
        .delete_saved_view(req(pb::DeleteSavedViewRequest { id: id.into() }, user))
        .await
        .map(|_| ())
}

#[tokio::test]
async fn a_user_saves_named_views_of_a_project_and_only_they_see_or_delete_them() {
    let f = fixture().await;
    let app = &f.app;
    let mine = save(
        app,
        &f.dev,
        view("SRCH", " My work ", "assignee:me is:open", "-due_on"),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            mine.name.as_str(),
            mine.query.as_str(),
            mine.sort.as_str(),
            mine.project_key.as_str()
        ),
        ("My work", "assignee:me is:open", "-due_on", "SRCH")
    );
    save(app, &f.dev, view("SRCH", "Blocked", "is:blocked", ""))
        .await
        .unwrap();
    let theirs = save(app, &f.owner, view("SRCH", "My work", "assignee:me", ""))
        .await
        .expect("names are unique per user, not per project");
    let listed: Vec<String> = views(app, &f.dev, "SRCH")
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(listed, ["Blocked", "My work"], "by name, the caller's only");

    // The saved query lists what it says.
    let titles: BTreeSet<String> = f
        .titles(&f.dev, "SRCH", &mine.query, &mine.sort)
        .await
        .into_iter()
        .collect();
    assert_eq!(titles, set(&["epic", "crash", "slow"]));

    let taken = save(app, &f.dev, view("SRCH", "My work", "x", ""))
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
    assert_eq!(violations(&taken)[0].field, "name");

    let hidden = delete(app, &f.dev, &theirs.id).await.unwrap_err();
    assert_eq!(
        hidden.code(),
        Code::NotFound,
        "another user's view is not found"
    );
    for id in ["not-a-uuid", &Uuid::now_v7().to_string()] {
        assert_eq!(
            delete(app, &f.dev, id).await.unwrap_err().code(),
            Code::NotFound
        );
    }
    delete(app, &f.dev, &mine.id).await.unwrap();
    assert_eq!(
        delete(app, &f.dev, &mine.id).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(views(app, &f.dev, "SRCH").await.unwrap().len(), 1);

    let outsider = app.user("outsider").await;
    for status in [
        views(app, &outsider, "SRCH").await.unwrap_err(),
        save(app, &outsider, view("SRCH", "peek", "", ""))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(status.code(), Code::NotFound, "non-members see no project");
    }
}

#[tokio::test]
async fn a_view_with_a_bad_name_query_or_sort_is_refused_naming_each_field() {
    let f = fixture().await;
    for (request, fields, message) in [
        (view("SRCH", "", "x", ""), vec!["name"], "must not be empty"),
        (view("SRCH", &"n".repeat(101), "x", ""), vec!["name"], ""),
        (view("SRCH", "tab\there", "x", ""), vec!["name"], ""),
        (
            view("SRCH", "ok", "is:open status:", ""),
            vec!["query"],
            "at 16: expected a value after \"status:\"",
        ),
        (view("SRCH", "ok", "x", "title"), vec!["sort"], ""),
        (
            view("SRCH", "", "colour:red", "due"),
            vec!["name", "query", "sort"],
            "",
        ),
    ] {
        let status = save(&f.app, &f.owner, request.clone()).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{request:?}");
        let violations = violations(&status);
        let named: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(named, fields, "{request:?}");
        if !message.is_empty() {
            assert_eq!(violations[0].message, message);
        }
    }
}

#[tokio::test]
async fn concurrent_saves_never_exceed_a_hundred_views_per_user_and_project() {
    let f = fixture().await;
    for n in 0..95 {
        save(
            &f.app,
            &f.dev,
            view("SRCH", &format!("view {n:03}"), "", ""),
        )
        .await
        .unwrap();
    }
    let attempts = (0..12).map(|n| {
        let app = &f.app;
        let dev = &f.dev;
        async move {
            save(
                app,
                dev,
                view("SRCH", &format!("race {n:02}"), "is:open", ""),
            )
            .await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let saved = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(saved, 5, "only five fit under the limit");
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(refused.code(), Code::FailedPrecondition);
    }
    assert_eq!(views(&f.app, &f.dev, "SRCH").await.unwrap().len(), 100);
    // The limit is per user: the owner still saves.
    save(&f.app, &f.owner, view("SRCH", "mine", "", ""))
        .await
        .unwrap();
    // Concurrent saves of one name: one wins, the others conflict.
    let other = f.app.user("racer").await;
    f.app
        .set_member(&f.owner, "SRCH", &other, pb::Role::Viewer)
        .await
        .unwrap();
    let same = (0..8).map(|_| save(&f.app, &other, view("SRCH", "same", "", "")));
    let results = futures::future::join_all(same).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(refused.code(), Code::AlreadyExists);
    }
}

#[tokio::test]
async fn hostile_queries_are_data_or_invalid_never_an_internal_error() {
    let f = fixture().await;
    for q in [
        "'; DROP TABLE issues; --",
        "label:\"'; DROP TABLE issues; --\"",
        "milestone:\"') OR 1=1 --\"",
        "\"a & b | !c\"",
        "\"<-> <2>\"",
        "!!! ??? ...",
        "\"\"",
        "-\"\"",
        "label:\"状態\" \"é\u{301}\"",
        "assignee:robert.tables author:x_y-z",
        "parent:ZZZZZZZZZZ-9223372036854775807",
        "estimate:2147483647 due:9999-12-31 created:>9999-12-31 updated:<1900-01-01",
        "\u{202e}status:open",
    ] {
        for project in ["SRCH", ""] {
            let answer = f
                .app
                .list(
                    &f.owner,
                    pb::ListIssuesRequest {
                        project_key: project.into(),
                        query: q.into(),
                        ..Default::default()
                    },
                )
                .await;
            match answer {
                Ok(_) => {}
                Err(status) => {
                    assert_eq!(status.code(), Code::InvalidArgument, "{q}: {status:?}");
                    assert_eq!(violations(&status)[0].field, "q", "{q}");
                }
            }
        }
    }
    assert!(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM issues")
            .fetch_one(&f.app.db.pool)
            .await
            .unwrap()
            == 8,
        "nothing was dropped"
    );
}
