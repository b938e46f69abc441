//! Whether a user's access token still counts, from identity's own records: the rule (no I/O) and
//! the source identity's verifier asks at every request, so that disabling a user or taking admin
//! away takes effect in identity at once. `CheckSession` answers other services with the same.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use swatter_common::{
    auth::{
        PersonalTokenSource, Scope, Session, SessionSource, TokenLimits, TokenStatus,
        UserPrincipal, VerifyError,
    },
    personal_token,
};

use crate::store::{self, PersonalTokenRow, UserRow};

/// The session of a token issued at `issued_at` (seconds) to the user `account` (`None`: deleted),
/// held by a service on the user's behalf when `delegated`.
pub fn session_of(account: Option<&UserRow>, issued_at: i64, delegated: bool) -> Session {
    match account {
        Some(user) if !user.disabled && !voided(user.tokens_valid_after, issued_at) => {
            Session::Active {
                admin: user.admin && !delegated,
            }
        }
        _ => Session::Ended,
    }
}

/// Whether a token issued at `issued_at` predates `valid_after`. Tokens carry whole seconds: every
/// token of the second the change happened in is void, and tokens issued after the change carry
/// the next second at the earliest ([`issue_time`]).
fn voided(valid_after: Option<DateTime<Utc>>, issued_at: i64) -> bool {
    valid_after.is_some_and(|at| issued_at < first_valid_second(at))
}

/// The first whole second whose tokens count after a change at `at`.
fn first_valid_second(at: DateTime<Utc>) -> i64 {
    at.timestamp() + i64::from(at.timestamp_subsec_nanos() > 0)
}

/// The `iat` of a token issued to `account` at `now`: `now`, or the first second after the last
/// change that voided its tokens when that is still to come (at most a second ahead).
pub fn issue_time(account: &UserRow, now: DateTime<Utc>) -> DateTime<Utc> {
    account
        .tokens_valid_after
        .and_then(|at| DateTime::from_timestamp(first_valid_second(at), 0))
        .map_or(now, |first| first.max(now))
}

/// Identity's own database as a [`SessionSource`].
pub struct DbSessions(pub PgPool);

#[async_trait]
impl SessionSource for DbSessions {
    async fn check(
        &self,
        _token: &str,
        user: &UserPrincipal,
        issued_at: i64,
    ) -> anyhow::Result<Session> {
        let account = store::user_by_id(&self.0, user.id).await?;
        Ok(session_of(account.as_ref(), issued_at, user.is_delegated()))
    }
}

/// The state at `now` of the personal access token `token` of `account`: revoked, expired and a
/// disabled account are told apart, in that order; otherwise the token's limits, with admin rights
/// only for an admin's token with the `admin` scope.
pub fn personal_token_status(
    token: &PersonalTokenRow,
    account: &UserRow,
    now: DateTime<Utc>,
) -> anyhow::Result<TokenStatus> {
    if token.revoked_at.is_some() {
        return Ok(TokenStatus::Refused(VerifyError::TokenRevoked));
    }
    if token.expires_at.is_some_and(|at| at <= now) {
        return Ok(TokenStatus::Refused(VerifyError::TokenExpired));
    }
    if account.disabled {
        return Ok(TokenStatus::Refused(VerifyError::AccountDisabled));
    }
    let scopes = token
        .scopes
        .iter()
        .map(|raw| Scope::parse("scopes", raw))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|v| anyhow::anyhow!("a stored token has {}", v.message))?;
    let admin = account.admin && scopes.contains(&Scope::Admin);
    Ok(TokenStatus::Active {
        user: UserPrincipal {
            id: account.id,
            username: account.username.clone(),
            admin,
            acting_service: None,
            token: Some(Arc::new(TokenLimits {
                token_id: token.id,
                scopes,
                projects: token.project_keys.clone().map(Into::into),
                expires_at: token.expires_at.map(|at| at.timestamp()),
            })),
        },
        expires_at: token.expires_at.map(|at| at.timestamp()),
    })
}

/// Identity's own database as a [`PersonalTokenSource`]: looked up by hash at every request,
/// noting its use (to the minute).
pub struct DbPersonalTokens(pub PgPool);

#[async_trait]
impl PersonalTokenSource for DbPersonalTokens {
    async fn introspect(&self, token: &str) -> anyhow::Result<TokenStatus> {
        let Some((row, account)) =
            store::personal_token_by_hash(&self.0, &personal_token::hash(token)).await?
        else {
            return Ok(TokenStatus::Refused(VerifyError::Invalid));
        };
        let status = personal_token_status(&row, &account, Utc::now())?;
        if matches!(status, TokenStatus::Active { .. }) {
            store::touch_personal_token(&self.0, row.id).await?;
        }
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;

    fn account(admin: bool, disabled: bool, valid_after: Option<i64>) -> UserRow {
        UserRow {
            id: Uuid::nil(),
            username: "alice".into(),
            email: "alice@example.com".into(),
            full_name: String::new(),
            password_hash: String::new(),
            admin,
            disabled,
            created_at: Utc.timestamp_opt(0, 0).unwrap(),
            tokens_valid_after: valid_after.map(|s| Utc.timestamp_opt(s, 500_000_000).unwrap()),
        }
    }

    #[test]
    fn sessions_follow_the_account_as_it_is_now() {
        let active = |admin| Session::Active { admin };
        let cases = [
            // (account, issued_at, delegated, expected)
            (Some(account(false, false, None)), 100, false, active(false)),
            (Some(account(true, false, None)), 100, false, active(true)),
            (Some(account(true, false, None)), 100, true, active(false)),
            (Some(account(true, true, None)), 100, false, Session::Ended),
            (None, 100, false, Session::Ended),
            // Voided at 200.5: tokens of that second and earlier end, later ones count.
            (
                Some(account(false, false, Some(200))),
                199,
                false,
                Session::Ended,
            ),
            (
                Some(account(false, false, Some(200))),
                200,
                false,
                Session::Ended,
            ),
            (
                Some(account(true, false, Some(200))),
                201,
                false,
                active(true),
            ),
        ];
        for (account, issued_at, delegated, expected) in cases {
            assert_eq!(
                session_of(account.as_ref(), issued_at, delegated),
                expected,
                "{account:?} {issued_at} {delegated}"
            );
        }
    }

    #[test]
    fn tokens_issued_after_a_change_count_even_within_its_second() {
        let at = |secs, nanos| Utc.timestamp_opt(secs, nanos).unwrap();
        let changed = account(false, false, Some(200));

        let same_second = issue_time(&changed, at(200, 900_000_000));
        let later = issue_time(&changed, at(305, 0));

        assert_eq!(same_second, at(201, 0));
        assert_eq!(
            session_of(Some(&changed), same_second.timestamp(), false),
            Session::Active { admin: false }
        );
        assert_eq!(later, at(305, 0));
        assert_eq!(issue_time(&account(false, false, None), at(7, 5)), at(7, 5));
    }

    fn token(revoked: bool, expires_in_secs: Option<i64>, scopes: &[&str]) -> PersonalTokenRow {
        PersonalTokenRow {
            id: Uuid::nil(),
            user_id: Uuid::nil(),
            name: "ci".into(),
            prefix: "swt_pat_abcd".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            project_keys: None,
            created_at: Utc.timestamp_opt(0, 0).unwrap(),
            expires_at: expires_in_secs.map(|s| Utc::now() + chrono::Duration::seconds(s)),
            last_used_at: None,
            revoked_at: revoked.then(Utc::now),
        }
    }

    #[test]
    fn a_personal_token_says_why_it_is_refused_and_grants_admin_only_with_the_scope() {
        let refused = |status| TokenStatus::Refused(status);
        let cases = [
            // (token, account, expected refusal or admin rights)
            (
                token(true, Some(-5), &["read"]),
                account(false, false, None),
                Err(refused(VerifyError::TokenRevoked)),
            ),
            (
                token(false, Some(-5), &["read"]),
                account(false, true, None),
                Err(refused(VerifyError::TokenExpired)),
            ),
            (
                token(false, Some(60), &["read"]),
                account(false, true, None),
                Err(refused(VerifyError::AccountDisabled)),
            ),
            (
                token(false, None, &["read"]),
                account(true, false, None),
                Ok(false),
            ),
            (
                token(false, None, &["read", "admin"]),
                account(true, false, None),
                Ok(true),
            ),
            (
                token(false, None, &["admin"]),
                account(false, false, None),
                Ok(false),
            ),
        ];
        for (row, account, expected) in cases {
            let status = personal_token_status(&row, &account, Utc::now()).unwrap();
            match (status, expected) {
                (TokenStatus::Active { user, .. }, Ok(admin)) => assert_eq!(user.admin, admin),
                (status, Err(refusal)) => assert_eq!(status, refusal),
                (status, expected) => panic!("{status:?} where {expected:?} was expected"),
            }
        }
        let mut unknown = token(false, None, &["read"]);
        unknown.scopes.push("root".into());
        assert!(personal_token_status(&unknown, &account(false, false, None), Utc::now()).is_err());
    }
}
