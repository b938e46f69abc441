//! User accounts: sign-up rules, self-service, search, admin powers, and the server's health and
//! reflection.

use crate::support::{ADMIN, Options, TestApp, authed, fields};
use swatter_proto::identity::v1 as pb;
use swatter_testkit::{altered_page_token, hand_made_page_token};
use tokio_stream::StreamExt;
use tonic::Code;

#[tokio::test]
async fn sign_up_returns_the_users_own_full_record() {
    let app = TestApp::spawn().await;
    let user = app.sign_up("alice", "correct-horse").await.unwrap();
    assert_eq!(user.username, "alice");
    assert_eq!(user.email.as_deref(), Some("alice@example.com"));
    assert_eq!(user.full_name, "alice Example");
    assert_eq!(user.admin, Some(false));
    assert_eq!(user.disabled, Some(false));
    assert!(user.created_at.is_some());
    uuid::Uuid::parse_str(&user.id).unwrap();
}

#[tokio::test]
async fn sign_up_reports_every_invalid_field_at_once() {
    let app = TestApp::spawn().await;
    let status = app
        .client
        .clone()
        .sign_up(pb::SignUpRequest {
            username: "A".into(),
            email: "not-an-email".into(),
            password: "short".into(),
            full_name: Some("x".repeat(101)),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&status),
        ["email", "full_name", "password", "username"]
    );
}

#[tokio::test]
async fn a_taken_username_or_email_is_a_conflict_naming_the_field() {
    let app = TestApp::spawn().await;
    app.sign_up("alice", "correct-horse").await.unwrap();

    let same_name = app.sign_up("alice", "correct-horse").await.unwrap_err();
    assert_eq!(same_name.code(), Code::AlreadyExists);
    assert_eq!(fields(&same_name), ["username"]);

    let same_email_other_case = app
        .client
        .clone()
        .sign_up(pb::SignUpRequest {
            username: "alice2".into(),
            email: "ALICE@Example.com".into(),
            password: "correct-horse".into(),
            full_name: None,
        })
        .await
        .unwrap_err();
    assert_eq!(same_email_other_case.code(), Code::AlreadyExists);
    assert_eq!(fields(&same_email_other_case), ["email"]);
}

#[tokio::test]
async fn concurrent_sign_ups_of_one_username_create_one_user() {
    let app = TestApp::spawn().await;
    let (a, b) = tokio::join!(
        app.sign_up("alice", "correct-horse"),
        app.sign_up("alice", "correct-horse")
    );
    assert!(a.is_ok() != b.is_ok(), "{a:?} / {b:?}");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE username = 'alice'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id_hashes() {
    let app = TestApp::spawn().await;
    app.sign_up("alice", "correct-horse").await.unwrap();
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'alice'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("correct-horse"));
}

#[tokio::test]
async fn users_change_their_email_and_name_but_not_their_admin_flag() {
    let app = TestApp::spawn().await;
    let (alice, tokens) = app.user("alice").await;

    let updated = app
        .client
        .clone()
        .update_me(authed(
            pb::UpdateMeRequest {
                email: Some("alice@new.example.org".into()),
                full_name: Some("Alice Liddell".into()),
                update_mask: None,
            },
            &tokens.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.email.as_deref(), Some("alice@new.example.org"));
    assert_eq!(updated.full_name, "Alice Liddell");

    let invalid = app
        .client
        .clone()
        .update_me(authed(
            pb::UpdateMeRequest {
                email: Some("nope".into()),
                full_name: None,
                update_mask: None,
            },
            &tokens.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&invalid), ["email"]);

    let self_promotion = app
        .update_user(
            &tokens.access_token,
            pb::UpdateUserRequest {
                id: alice.id.clone(),
                admin: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(self_promotion.code(), Code::PermissionDenied);
    let me = app.get_me(&tokens.access_token).await.unwrap();
    assert_eq!(me.admin, Some(false));
}

#[tokio::test]
async fn the_configured_admin_exists_and_can_promote_others_but_not_demote_itself() {
    let app = TestApp::spawn().await;
    let (alice, _) = app.user("alice").await;
    let admin_token = app.admin_token().await;
    let admin = app.get_me(&admin_token).await.unwrap();
    assert_eq!(admin.username, ADMIN.0);
    assert_eq!(admin.admin, Some(true));

    let promoted = app
        .update_user(
            &admin_token,
            pb::UpdateUserRequest {
                id: alice.id.clone(),
                admin: Some(true),
                full_name: Some("Alice the Admin".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(promoted.admin, Some(true));
    assert_eq!(promoted.full_name, "Alice the Admin");
    let fresh = app.login("alice", "correct-horse").await.unwrap();
    let claims = fresh.access_token.split('.').nth(1).unwrap().to_owned();
    assert!(
        String::from_utf8(
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims)
                .unwrap()
        )
        .unwrap()
        .contains("\"admin\":true")
    );

    let self_demotion = app
        .update_user(
            &admin_token,
            pb::UpdateUserRequest {
                id: admin.id.clone(),
                admin: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(self_demotion.code(), Code::FailedPrecondition);

    let unknown = app
        .update_user(
            &admin_token,
            pb::UpdateUserRequest {
                id: uuid::Uuid::new_v4().to_string(),
                full_name: Some("Nobody".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

#[tokio::test]
async fn an_update_mask_changes_only_the_named_fields_and_clears_named_unset_ones() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.user("alice").await;
    let update_me = |request: pb::UpdateMeRequest| {
        let mut client = app.client.clone();
        let token = tokens.access_token.clone();
        async move { client.update_me(authed(request, &token)).await }
    };

    let renamed = update_me(pb::UpdateMeRequest {
        email: Some("ignored@example.org".into()),
        full_name: Some("Alice Liddell".into()),
        update_mask: mask(&["full_name"]),
    })
    .await
    .unwrap()
    .into_inner();
    assert_eq!(renamed.full_name, "Alice Liddell");
    assert_eq!(renamed.email.as_deref(), Some("alice@example.com"));

    let cleared = update_me(pb::UpdateMeRequest {
        update_mask: mask(&["full_name"]),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner();
    assert_eq!(cleared.full_name, "");

    let no_email = update_me(pb::UpdateMeRequest {
        update_mask: mask(&["email"]),
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert_eq!(fields(&no_email), ["email"]);
    let me = app.get_me(&tokens.access_token).await.unwrap();
    assert_eq!(me.email.as_deref(), Some("alice@example.com"));
}

#[tokio::test]
async fn an_update_mask_naming_a_field_users_cannot_change_is_an_invalid_mask() {
    let app = TestApp::spawn().await;
    let (alice, tokens) = app.user("alice").await;
    for paths in [&["admin"][..], &["full_name", "username"], &["nickname"]] {
        let status = app
            .client
            .clone()
            .update_me(authed(
                pb::UpdateMeRequest {
                    full_name: Some("Mallory".into()),
                    update_mask: mask(paths),
                    ..Default::default()
                },
                &tokens.access_token,
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{paths:?}");
        assert_eq!(fields(&status), ["update_mask"], "{paths:?}");
    }
    let admin_token = app.admin_token().await;
    let unknown = app
        .update_user(
            &admin_token,
            pb::UpdateUserRequest {
                id: alice.id.clone(),
                full_name: Some("Mallory".into()),
                update_mask: mask(&["created_at"]),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(fields(&unknown), ["update_mask"]);
    let me = app.get_me(&tokens.access_token).await.unwrap();
    assert_eq!(me.full_name, "alice Example");
}

#[tokio::test]
async fn an_admin_re_enables_a_user_by_naming_disabled_in_the_mask() {
    let app = TestApp::spawn().await;
    let (alice, _) = app.user("alice").await;
    let admin_token = app.admin_token().await;
    let update = |request: pb::UpdateUserRequest| app.update_user(&admin_token, request);
    let disabled = update(pb::UpdateUserRequest {
        id: alice.id.clone(),
        disabled: Some(true),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(disabled.disabled, Some(true));
    assert!(app.login("alice", "correct-horse").await.is_err());

    // Named and unset: the empty value, `false`; `admin` is set but not named, so it stays.
    let enabled = update(pb::UpdateUserRequest {
        id: alice.id.clone(),
        admin: Some(true),
        update_mask: mask(&["disabled"]),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(enabled.disabled, Some(false));
    assert_eq!(enabled.admin, Some(false));
    app.login("alice", "correct-horse").await.unwrap();
}

#[tokio::test]
async fn user_search_finds_by_prefix_shows_public_fields_and_pages() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.user("bob").await;
    for name in ["ann_a", "ann_b", "annex", "anna", "ann.c", "zed"] {
        app.sign_up(name, "correct-horse").await.unwrap();
    }
    let search = |query: &str, page_token: String, token: String| {
        let mut client = app.client.clone();
        let query = query.to_owned();
        async move {
            client
                .search_users(authed(
                    pb::SearchUsersRequest {
                        query,
                        page_size: 2,
                        page_token,
                    },
                    &token,
                ))
                .await
        }
    };

    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = search("ann", page_token, tokens.access_token.clone())
            .await
            .unwrap()
            .into_inner();
        assert!(page.users.len() <= 2);
        for user in &page.users {
            assert!(
                user.email.is_none() && user.admin.is_none(),
                "public fields only"
            );
            seen.push(user.username.clone());
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(seen, ["ann.c", "ann_a", "ann_b", "anna", "annex"]);

    // `_` is a literal character, not a LIKE wildcard.
    let underscore = search("ann_", String::new(), tokens.access_token.clone())
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = underscore
        .users
        .iter()
        .map(|u| u.username.as_str())
        .collect();
    assert_eq!(names, ["ann_a", "ann_b"]);

    let admin_view = search("zed", String::new(), app.admin_token().await)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        admin_view.users[0].email.as_deref(),
        Some("zed@example.com")
    );

    let bad_token = search("ann", "garbage".into(), tokens.access_token.clone())
        .await
        .unwrap_err();
    assert_eq!(fields(&bad_token), ["page_token"]);

    let anonymous = app
        .client
        .clone()
        .search_users(pb::SearchUsersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn profiles_are_public_to_users_and_full_to_admins_and_their_owner() {
    let app = TestApp::spawn().await;
    let (alice, alice_tokens) = app.user("alice").await;
    let (_, bob_tokens) = app.user("bob").await;
    let get = |id: String, token: String| {
        let mut client = app.client.clone();
        async move {
            client
                .get_user(authed(pb::GetUserRequest { id }, &token))
                .await
        }
    };

    let as_bob = get(alice.id.clone(), bob_tokens.access_token.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(as_bob.username, "alice");
    assert!(as_bob.email.is_none());
    let as_alice = get(alice.id.clone(), alice_tokens.access_token.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(as_alice.email.is_some());
    let as_admin = get(alice.id.clone(), app.admin_token().await)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(as_admin.disabled, Some(false));

    let missing = get(
        uuid::Uuid::new_v4().to_string(),
        bob_tokens.access_token.clone(),
    )
    .await
    .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let malformed = get("12".into(), bob_tokens.access_token.clone())
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);

    let batch = app
        .client
        .clone()
        .batch_get_users(authed(
            pb::BatchGetUsersRequest {
                ids: vec![alice.id.clone(), uuid::Uuid::new_v4().to_string()],
            },
            &bob_tokens.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(batch.users.len(), 1);
    assert_eq!(batch.users[0].username, "alice");
}

#[tokio::test]
async fn with_sign_up_turned_off_only_admins_create_users() {
    let app = TestApp::spawn_with(Options {
        signup_enabled: false,
        ..Options::default()
    })
    .await;
    let refused = app.sign_up("alice", "correct-horse").await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    let created = app
        .client
        .clone()
        .sign_up(authed(
            pb::SignUpRequest {
                username: "alice".into(),
                email: "alice@example.com".into(),
                password: "correct-horse".into(),
                full_name: None,
            },
            &app.admin_token().await,
        ))
        .await
        .unwrap();
    assert_eq!(created.into_inner().username, "alice");
}

#[tokio::test]
async fn the_server_reports_health_and_offers_both_reflection_versions() {
    let app = TestApp::spawn().await;

    let health = tonic_health::pb::health_client::HealthClient::new(app.channel.clone())
        .check(tonic_health::pb::HealthCheckRequest {
            service: "swatter.identity.v1.IdentityService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        health.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    use tonic_reflection::pb::{v1, v1alpha};
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream = v1::server_reflection_client::ServerReflectionClient::new(app.channel.clone())
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = stream.next().await.unwrap().unwrap();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        panic!("expected a service list");
    };
    let mut names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "swatter.identity.v1.IdentityService",
        ],
        "only what this server serves"
    );

    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                "swatter.identity.v1.IdentityService".into(),
            ),
        ),
    };
    let mut stream =
        v1alpha::server_reflection_client::ServerReflectionClient::new(app.channel.clone())
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
    let response = stream.next().await.unwrap().unwrap();
    assert!(matches!(
        response.message_response,
        Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(ref f))
            if !f.file_descriptor_proto.is_empty()
    ));
}

#[tokio::test]
async fn readiness_turns_not_serving_while_the_database_is_unreachable_liveness_does_not() {
    use swatter_testkit::{allow_connections, health_status, wait_for_health};
    use tonic_health::pb::health_check_response::ServingStatus;

    let app = TestApp::spawn().await;
    let health = app.channel.clone();
    assert_eq!(
        health_status(health.clone(), "").await,
        ServingStatus::Serving
    );

    allow_connections(&app.db.name, false).await;
    wait_for_health(health.clone(), "", ServingStatus::NotServing).await;
    // Liveness does not follow the database: restarting the process would not help.
    assert_eq!(
        health_status(health.clone(), swatter_common::server::LIVENESS_SERVICE).await,
        ServingStatus::Serving
    );

    allow_connections(&app.db.name, true).await;
    wait_for_health(health, "", ServingStatus::Serving).await;
}

#[tokio::test]
async fn control_characters_long_queries_and_forged_page_tokens_in_a_search_name_the_field() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.user("bob").await;
    app.user("bobby").await;
    let search = |query: &str, page_token: &str| {
        let mut client = app.client.clone();
        let request = authed(
            pb::SearchUsersRequest {
                query: query.to_owned(),
                page_size: 1,
                page_token: page_token.to_owned(),
            },
            &tokens.access_token,
        );
        async move { client.search_users(request).await }
    };
    let real = search("bob", "")
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    assert!(!real.is_empty());

    let too_long = "b".repeat(33);
    let cases = [
        ("a\u{0}b", String::new(), "q"),
        ("\u{0}", String::new(), "q"),
        ("bob\u{1b}", String::new(), "q"),
        (too_long.as_str(), String::new(), "q"),
        ("bob", altered_page_token(&real), "page_token"),
        (
            "bob",
            hand_made_page_token(&serde_json::json!("a\u{0}b")),
            "page_token",
        ),
    ];
    for (query, page_token, field) in cases {
        let status = search(query, &page_token).await.unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{query:?} {page_token}"
        );
        assert_eq!(fields(&status), [field], "{query:?} {page_token}");
    }
    assert_eq!(
        search("bob", &real).await.unwrap().into_inner().users.len(),
        1
    );
}

#[tokio::test]
async fn new_passwords_and_full_names_with_control_characters_are_refused() {
    let app = TestApp::spawn().await;

    let status = app.sign_up("carol", "nul\u{0}password").await.unwrap_err();
    let refused_name = app
        .client
        .clone()
        .sign_up(pb::SignUpRequest {
            username: "dave".into(),
            email: "dave@example.com".into(),
            password: "correct-horse".into(),
            full_name: Some("Dave\u{0}".into()),
        })
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["password"]);
    assert_eq!(fields(&refused_name), ["full_name"]);
}
