//! Access and refresh tokens: claims, rotation, theft detection, revocation, refusal of forged
//! tokens, and the service credential.

use crate::support::{SERVICE_CLIENT, TestApp, authed};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use swatter_identity::tokens::{SigningKey, Subject, TokenIssuer};
use swatter_proto::identity::v1::{
    self as pb, create_token_request::Grant, identity_service_client::IdentityServiceClient,
};
use swatter_testkit::Identity;
use tonic::{Code, transport::Channel};

fn claims_of(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header_of(token: &str) -> serde_json::Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

#[tokio::test]
async fn login_issues_an_eddsa_access_token_with_the_spec_claims() {
    let app = TestApp::spawn().await;
    let (user, tokens) = app.user("alice").await;

    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 900);
    assert!(!tokens.refresh_token.is_empty());
    let header = header_of(&tokens.access_token);
    assert_eq!(header["alg"], "EdDSA");
    let jwks = app
        .client
        .clone()
        .get_jwks(pb::GetJwksRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(jwks.keys.len(), 1);
    assert_eq!(header["kid"], jwks.keys[0].kid.as_str());
    assert_eq!(jwks.keys[0].kty, "OKP");
    assert_eq!(jwks.keys[0].crv, "Ed25519");
    let claims = claims_of(&tokens.access_token);
    assert_eq!(claims["sub"], user.id.as_str());
    assert_eq!(claims["username"], "alice");
    assert_eq!(claims["admin"], false);
    assert_eq!(claims["typ"], "access");
    assert_eq!(claims["iss"], "swatter");
    assert_eq!(claims["aud"], "swatter");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));

    let me = app.get_me(&tokens.access_token).await.unwrap();
    assert_eq!(me.id, user.id);

    // Usernames are lower case by rule, so any case logs in.
    app.login(" ALICE ", "correct-horse").await.unwrap();
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_refusal() {
    let app = TestApp::spawn().await;
    app.user("alice").await;

    let wrong = app.login("alice", "not-the-password").await.unwrap_err();
    let unknown = app.login("nobody", "not-the-password").await.unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_eq!(unknown.code(), Code::Unauthenticated);
    assert_eq!(wrong.message(), unknown.message());
}

#[tokio::test]
async fn refresh_rotates_the_token_and_reuse_revokes_the_whole_family() {
    let app = TestApp::spawn().await;
    let (_, first) = app.user("alice").await;

    let second = app.refresh(&first.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    app.get_me(&second.access_token).await.unwrap();

    // The first token is presented again: theft is assumed.
    let reuse = app.refresh(&first.refresh_token).await.unwrap_err();
    assert_eq!(reuse.code(), Code::Unauthenticated);
    // ...and the legitimate successor dies with it.
    let successor = app.refresh(&second.refresh_token).await.unwrap_err();
    assert_eq!(successor.code(), Code::Unauthenticated);

    // Other logins of the same user are untouched.
    let other = app.login("alice", "correct-horse").await.unwrap();
    app.refresh(&other.refresh_token).await.unwrap();
}

#[tokio::test]
async fn two_concurrent_refreshes_with_one_token_never_both_succeed() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.user("alice").await;

    let (a, b) = tokio::join!(
        app.refresh(&tokens.refresh_token),
        app.refresh(&tokens.refresh_token)
    );
    assert!(
        a.is_ok() != b.is_ok(),
        "exactly one refresh wins: {a:?} / {b:?}"
    );
    let winner = a.or(b).unwrap();
    // The loser counted as reuse, so the family, winner included, is revoked.
    assert_eq!(
        app.refresh(&winner.refresh_token).await.unwrap_err().code(),
        Code::Unauthenticated
    );
}

/// `GetMe` on another identity instance (`replica`) as the holder of `access_token`.
async fn get_me_on(
    replica: &IdentityServiceClient<Channel>,
    access_token: &str,
) -> Result<pb::User, tonic::Status> {
    replica
        .clone()
        .get_me(authed(pb::GetMeRequest {}, access_token))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn through_a_key_rotation_tokens_of_the_previous_key_verify_until_they_expire() {
    let app = TestApp::spawn().await;
    let (user, before) = app.user("alice").await;
    let previous_pem = app.config.signing_key_pem.clone();
    let previous_kid = SigningKey::from_pem(&previous_pem)
        .unwrap()
        .kid()
        .to_owned();
    let next_pem = SigningKey::generate_pem().unwrap();
    let next_kid = SigningKey::from_pem(&next_pem).unwrap().kid().to_owned();
    let lapsed = TokenIssuer::new(
        SigningKey::from_pem(&previous_pem).unwrap(),
        "swatter",
        "swatter",
        60,
    )
    .access_token(
        Subject::User {
            id: user.id.parse().unwrap(),
            username: "alice",
            admin: false,
            acting_service: None,
        },
        Utc::now() - chrono::Duration::minutes(10),
    )
    .unwrap();

    // Step 2 of docs/deploy.md: the new key signs, the previous one only verifies.
    let rotated = Identity::another_replica(&app, |config| {
        config.verify_key_pems = vec![previous_pem.clone()];
        config.signing_key_pem = next_pem.clone();
    })
    .await;
    let published: Vec<String> = rotated
        .clone()
        .get_jwks(pb::GetJwksRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys
        .into_iter()
        .map(|key| key.kid)
        .collect();
    let after = rotated
        .clone()
        .create_token(pb::CreateTokenRequest {
            grant: Some(Grant::RefreshToken(pb::RefreshTokenGrant {
                refresh_token: before.refresh_token.clone(),
            })),
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(published, [next_kid.clone(), previous_kid]);
    assert_eq!(header_of(&after.access_token)["kid"], next_kid.as_str());
    assert_eq!(
        get_me_on(&rotated, &before.access_token)
            .await
            .unwrap()
            .username,
        "alice"
    );
    assert!(get_me_on(&rotated, &after.access_token).await.is_ok());
    let lapsed = get_me_on(&rotated, &lapsed).await.unwrap_err();
    assert_eq!(lapsed.code(), Code::Unauthenticated);

    // Step 3: the previous key is withdrawn; its tokens are refused, the new ones still work.
    let withdrawn = Identity::another_replica(&app, |config| {
        config.signing_key_pem = next_pem.clone();
    })
    .await;
    let refused = get_me_on(&withdrawn, &before.access_token)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(get_me_on(&withdrawn, &after.access_token).await.is_ok());
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_login() {
    let app = TestApp::spawn().await;
    let (_, first) = app.user("alice").await;
    let second = app.refresh(&first.refresh_token).await.unwrap();

    // Revoking by any token of the family ends the whole family.
    app.client
        .clone()
        .revoke_token(pb::RevokeTokenRequest {
            refresh_token: first.refresh_token.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        app.refresh(&second.refresh_token).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    // Unknown tokens are accepted silently (RFC 7009).
    app.client
        .clone()
        .revoke_token(pb::RevokeTokenRequest {
            refresh_token: "never-issued".into(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_refresh_token_is_never_accepted_as_an_access_token() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.user("alice").await;

    let status = app.get_me(&tokens.refresh_token).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn expired_tampered_unsigned_and_foreign_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let (user, tokens) = app.user("alice").await;
    let id = user.id.parse().unwrap();
    let subject = || Subject::User {
        id,
        username: "alice",
        admin: false,
        acting_service: None,
    };

    let expired = TokenIssuer::new(
        SigningKey::from_pem(&app.config.signing_key_pem).unwrap(),
        "swatter",
        "swatter",
        60,
    )
    .access_token(subject(), Utc::now() - chrono::Duration::minutes(10))
    .unwrap();

    let mut parts: Vec<String> = tokens.access_token.split('.').map(String::from).collect();
    let mut claims = claims_of(&tokens.access_token);
    claims["admin"] = true.into();
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let tampered = parts.join(".");

    let mut none_header = header_of(&tokens.access_token);
    none_header["alg"] = "none".into();
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&none_header).unwrap()),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
    );

    // Signed by another key that claims the real key's id.
    let foreign_key = SigningKey::from_pem(&SigningKey::generate_pem().unwrap()).unwrap();
    let foreign = TokenIssuer::new(foreign_key, "swatter", "swatter", 900)
        .access_token(subject(), Utc::now())
        .unwrap();
    let mut foreign_parts: Vec<String> = foreign.split('.').map(String::from).collect();
    foreign_parts[0] = tokens.access_token.split('.').next().unwrap().to_owned();
    let foreign_with_real_kid = foreign_parts.join(".");

    let wrong_audience = TokenIssuer::new(
        SigningKey::from_pem(&app.config.signing_key_pem).unwrap(),
        "swatter",
        "somebody-else",
        900,
    )
    .access_token(subject(), Utc::now())
    .unwrap();

    for (name, token) in [
        ("expired", expired.as_str()),
        ("tampered", tampered.as_str()),
        ("alg none", unsigned.as_str()),
        ("foreign key", foreign.as_str()),
        ("foreign key, real kid", foreign_with_real_kid.as_str()),
        ("wrong audience", wrong_audience.as_str()),
        ("garbage", "not.a.jwt"),
    ] {
        let status = app.get_me(token).await.unwrap_err();
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "{name} token: {status:?}"
        );
    }
    app.get_me(&tokens.access_token).await.unwrap();
}

#[tokio::test]
async fn a_password_change_revokes_every_refresh_token_of_the_user() {
    let app = TestApp::spawn().await;
    let (_, laptop) = app.user("alice").await;
    let phone = app.login("alice", "correct-horse").await.unwrap();

    let wrong = app
        .client
        .clone()
        .change_password(authed(
            pb::ChangePasswordRequest {
                current_password: "not-it-at-all".into(),
                new_password: "battery-staple".into(),
            },
            &laptop.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::InvalidArgument);

    app.client
        .clone()
        .change_password(authed(
            pb::ChangePasswordRequest {
                current_password: "correct-horse".into(),
                new_password: "battery-staple".into(),
            },
            &laptop.access_token,
        ))
        .await
        .unwrap();

    for refresh_token in [&laptop.refresh_token, &phone.refresh_token] {
        assert_eq!(
            app.refresh(refresh_token).await.unwrap_err().code(),
            Code::Unauthenticated
        );
    }
    assert!(app.login("alice", "correct-horse").await.is_err());
    app.login("alice", "battery-staple").await.unwrap();
}

#[tokio::test]
async fn disabled_users_are_refused_at_login_and_refresh() {
    let app = TestApp::spawn().await;
    let (alice, tokens) = app.user("alice").await;
    let admin = app.admin_token().await;

    let updated = app
        .update_user(
            &admin,
            pb::UpdateUserRequest {
                id: alice.id.clone(),
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.disabled, Some(true));

    assert_eq!(
        app.login("alice", "correct-horse")
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    assert_eq!(
        app.refresh(&tokens.refresh_token).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    // Identity itself stops honouring the still-unexpired access token.
    assert_eq!(
        app.get_me(&tokens.access_token).await.unwrap_err().code(),
        Code::Unauthenticated
    );

    // Enabled again, the user can log in; the old login stays ended.
    app.update_user(
        &admin,
        pb::UpdateUserRequest {
            id: alice.id,
            disabled: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    app.login("alice", "correct-horse").await.unwrap();
    assert!(app.refresh(&tokens.refresh_token).await.is_err());
}

#[tokio::test]
async fn a_service_client_gets_service_tokens_and_tokens_on_a_users_behalf() {
    let app = TestApp::spawn().await;
    let (alice, _) = app.user("alice").await;
    let client_credentials = |subject_user_id: Option<String>, secret: &str| {
        Grant::ClientCredentials(pb::ClientCredentialsGrant {
            client_id: SERVICE_CLIENT.0.into(),
            client_secret: secret.into(),
            subject_user_id,
        })
    };

    let service = app
        .token(client_credentials(None, SERVICE_CLIENT.1))
        .await
        .unwrap();
    assert!(service.refresh_token.is_empty());
    let claims = claims_of(&service.access_token);
    assert_eq!(claims["typ"], "service");
    assert_eq!(claims["sub"], "service:reporting");
    // A service token is no user: user-only operations refuse it.
    assert_eq!(
        app.get_me(&service.access_token).await.unwrap_err().code(),
        Code::PermissionDenied
    );

    let delegated = app
        .token(client_credentials(Some(alice.id.clone()), SERVICE_CLIENT.1))
        .await
        .unwrap();
    let claims = claims_of(&delegated.access_token);
    assert_eq!(claims["typ"], "access");
    assert_eq!(claims["sub"], alice.id.as_str());
    assert_eq!(claims["act"]["sub"], "reporting");
    // A token held on a user's behalf reads names only (see tests/sessions.rs).
    assert_eq!(
        app.get_me(&delegated.access_token)
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );

    let wrong_secret = app
        .token(client_credentials(None, "not-the-secret"))
        .await
        .unwrap_err();
    assert_eq!(wrong_secret.code(), Code::Unauthenticated);
    let unknown_user = app
        .token(client_credentials(
            Some(uuid::Uuid::new_v4().to_string()),
            SERVICE_CLIENT.1,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown_user.code(), Code::NotFound);
}

#[tokio::test]
async fn a_token_request_without_a_grant_is_invalid() {
    let app = TestApp::spawn().await;
    let status = app
        .client
        .clone()
        .create_token(pb::CreateTokenRequest { grant: None })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
}

mod key_rotation {
    use std::sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    };

    use super::*;
    use swatter_common::auth::{JwksSource, Principal, TokenVerifier, VerifyError};

    struct RotatingKeys {
        keys: Arc<Mutex<Vec<pb::Jwk>>>,
        fetches: Arc<AtomicUsize>,
    }

    #[async_trait::async_trait]
    impl JwksSource for RotatingKeys {
        async fn fetch(&self) -> anyhow::Result<Vec<pb::Jwk>> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            Ok(self.keys.lock().unwrap().clone())
        }
    }

    fn issuer() -> TokenIssuer {
        TokenIssuer::new(
            SigningKey::from_pem(&SigningKey::generate_pem().unwrap()).unwrap(),
            "swatter",
            "swatter",
            900,
        )
    }

    fn token(issuer: &TokenIssuer) -> String {
        issuer
            .access_token(
                Subject::User {
                    id: uuid::Uuid::new_v4(),
                    username: "alice",
                    admin: false,
                    acting_service: None,
                },
                Utc::now(),
            )
            .unwrap()
    }

    #[tokio::test]
    async fn the_verifier_fetches_keys_again_when_a_token_names_an_unknown_kid() {
        let (old, new, stranger) = (issuer(), issuer(), issuer());
        let keys = Arc::new(Mutex::new(vec![old.key().jwk().clone()]));
        let fetches = Arc::new(AtomicUsize::new(0));
        let verifier = TokenVerifier::new(
            "swatter",
            "swatter",
            RotatingKeys {
                keys: keys.clone(),
                fetches: fetches.clone(),
            },
        );
        verifier.refresh().await.unwrap();
        assert!(matches!(
            verifier.authenticate(&token(&old)).await,
            Ok(Principal::User(_))
        ));
        assert_eq!(fetches.load(Ordering::SeqCst), 1);

        // Identity rotates to a new key and publishes both.
        keys.lock().unwrap().push(new.key().jwk().clone());
        // The cooldown since the last fetch has not passed, so wait it out.
        tokio::time::sleep(swatter_common::auth::REFRESH_COOLDOWN).await;
        verifier.verify(&token(&new)).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 2);

        // Unknown kids in a burst cost at most one fetch per cooldown.
        for _ in 0..5 {
            assert_eq!(
                verifier.verify(&token(&stranger)).await,
                Err(VerifyError::Invalid)
            );
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }
}

#[tokio::test]
async fn a_login_with_a_username_no_account_can_have_is_a_wrong_credential() {
    let app = TestApp::spawn().await;
    app.user("alice").await;

    for username in [
        "a\u{0}b",
        "\u{0}",
        "alice\u{1b}",
        "ali\nce",
        &"a".repeat(10_000),
    ] {
        let status = app.login(username, "correct-horse").await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{username:?}");
        assert_eq!(status.message(), "invalid username or password");
    }
    for refresh_token in ["a\u{0}b", &"r".repeat(10_000)] {
        let status = app.refresh(refresh_token).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{refresh_token:?}");
    }
    assert!(app.login(" Alice ", "correct-horse").await.is_ok());
}

#[tokio::test]
async fn revoking_text_that_no_refresh_token_can_be_is_accepted_like_an_unknown_token() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.user("alice").await;

    for hostile in ["a\u{0}b".to_owned(), "x".repeat(257)] {
        app.client
            .clone()
            .revoke_token(pb::RevokeTokenRequest {
                refresh_token: hostile,
            })
            .await
            .unwrap();
    }

    assert!(app.refresh(&tokens.refresh_token).await.is_ok());
}
