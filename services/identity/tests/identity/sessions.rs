//! What a token is worth after the account changes: disabling a user or taking admin away takes
//! effect in identity at once, whatever tokens the user holds; tokens held by a service on a
//! user's behalf are short, never admin, and read names only.

use crate::support::{TestApp, authed};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use swatter_proto::identity::v1 as pb;
use tonic::Code;

fn claims_of(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn set_admin(id: &str, admin: bool) -> pb::UpdateUserRequest {
    pb::UpdateUserRequest {
        id: id.into(),
        admin: Some(admin),
        ..Default::default()
    }
}

fn set_disabled(id: &str, disabled: bool) -> pb::UpdateUserRequest {
    pb::UpdateUserRequest {
        id: id.into(),
        disabled: Some(disabled),
        ..Default::default()
    }
}

fn rename(id: &str, full_name: &str) -> pb::UpdateUserRequest {
    pb::UpdateUserRequest {
        id: id.into(),
        full_name: Some(full_name.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_demoted_admins_old_token_can_no_longer_edit_another_user() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (bob, _) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    app.update_user(&admin, set_admin(&bob.id, true))
        .await
        .unwrap();
    let bobs_admin_token = app
        .login("bob", "correct-horse")
        .await
        .unwrap()
        .access_token;
    app.update_user(&bobs_admin_token, rename(&carol.id, "Carol One"))
        .await
        .unwrap();

    app.update_user(&admin, set_admin(&bob.id, false))
        .await
        .unwrap();
    let with_old_token = app
        .update_user(&bobs_admin_token, rename(&carol.id, "Carol Two"))
        .await
        .unwrap_err();
    let bobs_new_token = app
        .login("bob", "correct-horse")
        .await
        .unwrap()
        .access_token;
    let with_new_token = app
        .update_user(&bobs_new_token, rename(&carol.id, "Carol Three"))
        .await
        .unwrap_err();

    assert_eq!(with_old_token.code(), Code::Unauthenticated);
    assert_eq!(with_new_token.code(), Code::PermissionDenied);
    let carols_token = app.login("carol", "correct-horse").await.unwrap();
    let carol_now = app.get_me(&carols_token.access_token).await.unwrap();
    assert_eq!(carol_now.full_name, "Carol One");
}

#[tokio::test]
async fn admin_rights_come_from_the_account_not_from_the_token() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (bob, bobs_tokens) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let before = app.check_session(&bobs_tokens.access_token).await.unwrap();
    assert!(!before.admin);

    // Promoted after the token was issued: the token's `admin: false` claim does not hold him back.
    app.update_user(&admin, set_admin(&bob.id, true))
        .await
        .unwrap();

    let session = app.check_session(&bobs_tokens.access_token).await.unwrap();
    assert_eq!(session.user_id, bob.id);
    assert!(session.admin);
    app.update_user(&bobs_tokens.access_token, rename(&carol.id, "Carol"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_disabled_users_tokens_are_refused_at_once_and_stay_void_after_re_enabling() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (carol, tokens) = app.user("carol").await;
    app.get_me(&tokens.access_token).await.unwrap();

    app.update_user(&admin, set_disabled(&carol.id, true))
        .await
        .unwrap();
    let while_disabled = app.get_me(&tokens.access_token).await.unwrap_err();
    let session = app.check_session(&tokens.access_token).await.unwrap_err();
    app.update_user(&admin, set_disabled(&carol.id, false))
        .await
        .unwrap();
    let after_re_enabling = app.get_me(&tokens.access_token).await.unwrap_err();

    assert_eq!(while_disabled.code(), Code::Unauthenticated);
    assert_eq!(session.code(), Code::Unauthenticated);
    assert_eq!(after_re_enabling.code(), Code::Unauthenticated);
    let fresh = app.login("carol", "correct-horse").await.unwrap();
    assert_eq!(app.get_me(&fresh.access_token).await.unwrap().id, carol.id);
}

#[tokio::test]
async fn a_token_held_for_an_admin_is_short_lived_not_admin_and_reads_names_only() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let admin_id = app.get_me(&admin).await.unwrap().id;
    let (carol, _) = app.user("carol").await;

    let delegated = app.delegated_token(&admin_id).await;

    let claims = claims_of(&delegated.access_token);
    assert_eq!(claims["admin"], false);
    assert_eq!(claims["sub"], admin_id.as_str());
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 120);
    assert_eq!(delegated.expires_in, 120);
    let token = &delegated.access_token;
    let patch = app
        .update_user(token, set_admin(&carol.id, true))
        .await
        .unwrap_err();
    assert_eq!(patch.code(), Code::PermissionDenied);
    let me = app.get_me(token).await.unwrap_err();
    assert_eq!(me.code(), Code::PermissionDenied);
    let sign_up = app
        .client
        .clone()
        .sign_up(authed(
            pb::SignUpRequest {
                username: "mallory".into(),
                email: "mallory@example.com".into(),
                password: "correct-horse".into(),
                full_name: None,
            },
            token,
        ))
        .await
        .unwrap_err();
    assert_eq!(sign_up.code(), Code::PermissionDenied);
    // What a report needs: user names, public fields only.
    let names = app
        .client
        .clone()
        .batch_get_users(authed(
            pb::BatchGetUsersRequest {
                ids: vec![carol.id.clone()],
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .users;
    assert_eq!(names[0].username, "carol");
    assert_eq!(names[0].email, None, "no admin view");
    assert!(!app.check_session(token).await.unwrap().admin);
}
