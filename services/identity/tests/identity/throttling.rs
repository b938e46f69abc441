//! Identity throttles password guessing and sign-ups itself, in its database: direct gRPC callers
//! meet the limits, every replica shares them, and guessing from one address never locks the
//! owner out from another.

use std::time::{Duration, Instant};

use crate::support::{ADMIN, Options, TestApp, authed};
use swatter_common::server::CLIENT_ADDRESS_HEADER;
use swatter_identity::config::ThrottleConfig;
use swatter_proto::identity::v1::{
    self as pb, create_token_request::Grant, identity_service_client::IdentityServiceClient,
};
use tonic::{Code, Request, Status, transport::Channel};
use tonic_types::StatusExt;

fn options(configure: impl FnOnce(&mut ThrottleConfig)) -> Options {
    let mut options = Options::default();
    configure(&mut options.throttle);
    options
}

fn failures_per_username_and_client(failures: u32) -> Options {
    options(|throttle| throttle.failures_per_username_and_client = failures.try_into().unwrap())
}

/// `message`, sent as a proxy would on behalf of `client` (or as the caller itself: `None`).
fn on_behalf_of<T>(message: T, client: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(client) = client {
        request
            .metadata_mut()
            .insert(CLIENT_ADDRESS_HEADER, client.parse().unwrap());
    }
    request
}

async fn login_via(
    identity: &IdentityServiceClient<Channel>,
    client: Option<&str>,
    username: &str,
    password: &str,
) -> Result<pb::TokenResponse, Status> {
    let grant = Grant::Password(pb::PasswordGrant {
        username: username.into(),
        password: password.into(),
    });
    identity
        .clone()
        .create_token(on_behalf_of(
            pb::CreateTokenRequest { grant: Some(grant) },
            client,
        ))
        .await
        .map(|response| response.into_inner())
}

fn retry_delay(status: &Status) -> Duration {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
        .expect("a RetryInfo delay")
}

#[tokio::test]
async fn password_guessing_over_grpc_is_refused_with_a_retry_delay() {
    let app = TestApp::spawn_with(failures_per_username_and_client(3)).await;

    for _ in 0..3 {
        let guess = app.login(ADMIN.0, "guess").await.unwrap_err();
        assert_eq!(guess.code(), Code::Unauthenticated);
    }
    let refused = app.login(ADMIN.0, ADMIN.1).await.unwrap_err();

    let delay = retry_delay(&refused);
    assert!(
        delay > Duration::ZERO && delay <= Duration::from_secs(900),
        "{delay:?}"
    );
    assert!(refused.message().contains("username"), "{refused:?}");
}

#[tokio::test]
async fn concurrent_guesses_cannot_slip_past_the_limit() {
    let app = TestApp::spawn_with(failures_per_username_and_client(3)).await;

    let guesses = futures::future::join_all((0..10).map(|_| app.login(ADMIN.0, "guess"))).await;

    let codes: Vec<Code> = guesses
        .iter()
        .map(|r| r.as_ref().unwrap_err().code())
        .collect();
    let checked = codes
        .iter()
        .filter(|&&c| c == Code::Unauthenticated)
        .count();
    let refused = codes
        .iter()
        .filter(|&&c| c == Code::ResourceExhausted)
        .count();
    assert_eq!((checked, refused), (3, 7), "{codes:?}");
}

#[tokio::test]
async fn guesses_from_one_address_do_not_lock_the_owner_out_from_another() {
    let app = TestApp::spawn_with(failures_per_username_and_client(3)).await;
    let attacker = Some("203.0.113.1");
    let owner = Some("198.51.100.7");

    for _ in 0..3 {
        let guess = login_via(&app.client, attacker, ADMIN.0, "guess").await;
        assert_eq!(guess.unwrap_err().code(), Code::Unauthenticated);
    }
    let attacker_again = login_via(&app.client, attacker, ADMIN.0, ADMIN.1).await;
    let owner_login = login_via(&app.client, owner, ADMIN.0, ADMIN.1).await;

    retry_delay(&attacker_again.unwrap_err());
    assert!(owner_login.is_ok(), "{owner_login:?}");
}

#[tokio::test]
async fn client_addresses_named_by_untrusted_peers_are_ignored() {
    let app = TestApp::spawn_with(options(|throttle| {
        throttle.failures_per_username_and_client = 3.try_into().unwrap();
        throttle.trusted_proxies = "10.0.0.0/8".parse().unwrap();
    }))
    .await;

    for client in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        let guess = login_via(&app.client, Some(client), ADMIN.0, "guess").await;
        assert_eq!(guess.unwrap_err().code(), Code::Unauthenticated);
    }
    let another_claim = login_via(&app.client, Some("203.0.113.4"), ADMIN.0, ADMIN.1).await;

    retry_delay(&another_claim.unwrap_err());
}

#[tokio::test]
async fn a_successful_login_clears_the_failures_of_its_address() {
    let app = TestApp::spawn_with(failures_per_username_and_client(3)).await;

    for _ in 0..3 {
        for _ in 0..2 {
            let guess = app.login(ADMIN.0, "typo").await.unwrap_err();
            assert_eq!(guess.code(), Code::Unauthenticated);
        }
        app.login(ADMIN.0, ADMIN.1).await.unwrap();
    }
}

#[tokio::test]
async fn one_address_guessing_many_usernames_meets_the_per_client_limit() {
    let app = TestApp::spawn_with(options(|throttle| {
        throttle.failures_per_client = 3.try_into().unwrap();
    }))
    .await;
    let attacker = Some("203.0.113.1");

    for username in ["ann", "bob", "cid"] {
        let guess = login_via(&app.client, attacker, username, "guess").await;
        assert_eq!(guess.unwrap_err().code(), Code::Unauthenticated);
    }
    let fourth_name = login_via(&app.client, attacker, "dan", "guess").await;
    let elsewhere = login_via(&app.client, Some("198.51.100.7"), ADMIN.0, ADMIN.1).await;

    let refused = fourth_name.unwrap_err();
    retry_delay(&refused);
    assert!(refused.message().contains("address"), "{refused:?}");
    assert!(elsewhere.is_ok(), "{elsewhere:?}");
}

#[tokio::test]
async fn guessing_spread_over_many_addresses_slows_the_username_down_without_locking_it() {
    let app = TestApp::spawn_with(options(|throttle| {
        throttle.failures_per_username = 1.try_into().unwrap();
        throttle.max_login_slowdown = Duration::from_millis(1000);
    }))
    .await;

    // The first failure is within the budget; the next ones wait 100, 200, 400 and 800 ms.
    for n in 1..=5 {
        let client = format!("203.0.113.{n}");
        let guess = login_via(&app.client, Some(&client), ADMIN.0, "guess").await;
        assert_eq!(
            guess.unwrap_err().code(),
            Code::Unauthenticated,
            "guess {n}"
        );
    }
    let started = Instant::now();
    let owner = login_via(&app.client, Some("198.51.100.7"), ADMIN.0, ADMIN.1).await;
    let owner_waited = started.elapsed();
    let other_user = Instant::now();
    let _ = login_via(&app.client, Some("198.51.100.7"), "someone-else", "x").await;
    let other_user_waited = other_user.elapsed();

    assert!(owner.is_ok(), "never locked: {owner:?}");
    assert!(
        owner_waited >= Duration::from_millis(1000),
        "{owner_waited:?}"
    );
    assert!(
        other_user_waited < Duration::from_millis(1000),
        "{other_user_waited:?}"
    );
}

#[tokio::test]
async fn two_identity_replicas_on_one_database_share_the_counters() {
    let options = failures_per_username_and_client(2);
    let app = TestApp::spawn_with(options.clone()).await;
    let replica = app.another_replica(options).await;

    for _ in 0..2 {
        let guess = app.login(ADMIN.0, "guess").await.unwrap_err();
        assert_eq!(guess.code(), Code::Unauthenticated);
    }
    let on_the_replica = login_via(&replica, None, ADMIN.0, ADMIN.1).await;

    retry_delay(&on_the_replica.unwrap_err());
}

fn sign_up_request(username: &str) -> pb::SignUpRequest {
    pb::SignUpRequest {
        username: username.into(),
        email: format!("{username}@example.com"),
        password: "correct-horse".into(),
        full_name: None,
    }
}

#[tokio::test]
async fn sign_ups_beyond_the_limit_per_client_are_refused_but_admins_are_not_counted() {
    let app =
        TestApp::spawn_with(options(|throttle| throttle.signups_per_client_per_hour = 2)).await;
    let admin = app.admin_token().await;
    let sign_up = |username: &str, client: Option<&str>| {
        let mut identity = app.client.clone();
        let request = on_behalf_of(sign_up_request(username), client);
        async move { identity.sign_up(request).await }
    };

    sign_up("ann", None).await.unwrap();
    sign_up("bob", None).await.unwrap();
    let third = sign_up("cid", None).await;
    let elsewhere = sign_up("dan", Some("198.51.100.7")).await;
    let by_admin = app
        .client
        .clone()
        .sign_up(authed(sign_up_request("eve"), &admin))
        .await;

    let delay = retry_delay(&third.unwrap_err());
    assert!(
        delay > Duration::from_secs(1000) && delay <= Duration::from_secs(1800),
        "one sign-up comes back every 30 minutes: {delay:?}"
    );
    assert!(elsewhere.is_ok(), "{elsewhere:?}");
    assert!(by_admin.is_ok(), "{by_admin:?}");
}
