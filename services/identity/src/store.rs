//! Identity's storage: one function per query against `swatter_identity`.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool, Postgres, Transaction};
use uuid::Uuid;

/// A row of `users`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub password_hash: String,
    pub admin: bool,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    /// Access tokens issued before this are void (set on disabling and on taking admin away).
    pub tokens_valid_after: Option<DateTime<Utc>>,
}

/// A row of `refresh_tokens`, as needed to decide on a refresh.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshTokenRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new user.
pub struct NewUser<'a> {
    pub id: Uuid,
    pub username: &'a str,
    pub email: &'a str,
    pub full_name: &'a str,
    pub password_hash: &'a str,
    pub admin: bool,
}

/// Changes to a user; `None` leaves a column alone.
#[derive(Default)]
pub struct UserChanges<'a> {
    pub email: Option<&'a str>,
    pub full_name: Option<&'a str>,
    pub admin: Option<bool>,
    pub disabled: Option<bool>,
}

const USER_COLUMNS: &str = "id, username, email, full_name, password_hash, admin, disabled, created_at, tokens_valid_after";

pub async fn insert_user(db: impl PgExecutor<'_>, user: &NewUser<'_>) -> sqlx::Result<UserRow> {
    sqlx::query_as(&format!(
        "INSERT INTO users (id, username, email, full_name, password_hash, admin)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING {USER_COLUMNS}"
    ))
    .bind(user.id)
    .bind(user.username)
    .bind(user.email)
    .bind(user.full_name)
    .bind(user.password_hash)
    .bind(user.admin)
    .fetch_one(db)
    .await
}

pub async fn user_by_id(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn user_by_username(
    db: impl PgExecutor<'_>,
    username: &str,
) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
    ))
    .bind(username)
    .fetch_optional(db)
    .await
}

pub async fn users_by_ids(db: impl PgExecutor<'_>, ids: &[Uuid]) -> sqlx::Result<Vec<UserRow>> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id = ANY($1) ORDER BY username"
    ))
    .bind(ids)
    .fetch_all(db)
    .await
}

/// Users whose username starts with `prefix`, after `after` (keyset), at most `limit`.
pub async fn search_users(
    db: impl PgExecutor<'_>,
    prefix: &str,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<UserRow>> {
    let pattern = format!("{}%", escape_like(prefix));
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users
         WHERE username LIKE $1 ESCAPE '\\' AND ($2::text IS NULL OR username > $2)
         ORDER BY username
         LIMIT $3"
    ))
    .bind(pattern)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}

fn escape_like(raw: &str) -> String {
    raw.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Applies `changes`. Disabling a user or taking admin away voids the access tokens they hold
/// (`tokens_valid_after`); the right-hand sides see the row as it was before.
pub async fn update_user(
    db: impl PgExecutor<'_>,
    id: Uuid,
    changes: &UserChanges<'_>,
) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(&format!(
        "UPDATE users SET
            email = COALESCE($2, email),
            full_name = COALESCE($3, full_name),
            admin = COALESCE($4, admin),
            disabled = COALESCE($5, disabled),
            tokens_valid_after = CASE
                WHEN ($5 IS TRUE AND NOT disabled) OR ($4 IS FALSE AND admin) THEN now()
                ELSE tokens_valid_after
            END,
            updated_at = now()
         WHERE id = $1
         RETURNING {USER_COLUMNS}"
    ))
    .bind(id)
    .bind(changes.email)
    .bind(changes.full_name)
    .bind(changes.admin)
    .bind(changes.disabled)
    .fetch_optional(db)
    .await
}

pub async fn set_password_hash(
    db: impl PgExecutor<'_>,
    id: Uuid,
    password_hash: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(password_hash)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn insert_refresh_token(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    family_id: Uuid,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(family_id)
    .bind(token_hash)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// The token with this hash, locked until the transaction ends, so concurrent refreshes with one
/// token are decided one after the other.
pub async fn lock_refresh_token(
    tx: &mut Transaction<'_, Postgres>,
    token_hash: &[u8],
) -> sqlx::Result<Option<RefreshTokenRow>> {
    sqlx::query_as(
        "SELECT id, user_id, family_id, expires_at, used_at, revoked_at
         FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
    )
    .bind(token_hash)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn family_of_refresh_token(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE token_hash = $1")
        .bind(token_hash)
        .fetch_optional(db)
        .await
}

pub async fn mark_refresh_token_used(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE refresh_tokens SET used_at = now() WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Revokes the live refresh tokens of a family; returns how many.
pub async fn revoke_refresh_family(db: impl PgExecutor<'_>, family_id: Uuid) -> sqlx::Result<u64> {
    revoke_refresh_tokens_where(db, "family_id", family_id).await
}

/// Revokes every live refresh token of a user; returns how many.
pub async fn revoke_user_refresh_tokens(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> sqlx::Result<u64> {
    revoke_refresh_tokens_where(db, "user_id", user_id).await
}

async fn revoke_refresh_tokens_where(
    db: impl PgExecutor<'_>,
    column: &str,
    id: Uuid,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(&format!(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE {column} = $1 AND revoked_at IS NULL"
    ))
    .bind(id)
    .execute(db)
    .await?
    .rows_affected())
}

/// A row of `personal_access_tokens`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PersonalTokenRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub project_keys: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new personal access token.
pub struct NewPersonalToken<'a> {
    pub user_id: Uuid,
    pub name: &'a str,
    pub token_hash: &'a [u8],
    pub prefix: &'a str,
    pub scopes: &'a [String],
    pub project_keys: Option<&'a [String]>,
    pub expires_at: Option<DateTime<Utc>>,
}

const PERSONAL_TOKEN_COLUMNS: &str = "id, user_id, name, prefix, scopes, project_keys, created_at, expires_at, last_used_at, revoked_at";

pub async fn insert_personal_token(
    db: impl PgExecutor<'_>,
    token: &NewPersonalToken<'_>,
) -> sqlx::Result<PersonalTokenRow> {
    sqlx::query_as(&format!(
        "INSERT INTO personal_access_tokens
             (id, user_id, name, token_hash, prefix, scopes, project_keys, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING {PERSONAL_TOKEN_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(token.user_id)
    .bind(token.name)
    .bind(token.token_hash)
    .bind(token.prefix)
    .bind(token.scopes)
    .bind(token.project_keys)
    .bind(token.expires_at)
    .fetch_one(db)
    .await
}

/// A user's tokens that are not revoked, newest first, after `after` (keyset), at most `limit`.
pub async fn live_personal_tokens(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<PersonalTokenRow>> {
    sqlx::query_as(&format!(
        "SELECT {PERSONAL_TOKEN_COLUMNS} FROM personal_access_tokens
         WHERE user_id = $1 AND revoked_at IS NULL
           AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
         ORDER BY created_at DESC, id DESC
         LIMIT $4"
    ))
    .bind(user_id)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Revokes the token `id` of `user_id` (kept as it is when revoked already); `None`: no such token.
pub async fn revoke_personal_token(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<PersonalTokenRow>> {
    sqlx::query_as(&format!(
        "UPDATE personal_access_tokens SET revoked_at = COALESCE(revoked_at, now())
         WHERE id = $1 AND user_id = $2
         RETURNING {PERSONAL_TOKEN_COLUMNS}"
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// The token with this hash and its user, as a verification needs them.
pub async fn personal_token_by_hash(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> sqlx::Result<Option<(PersonalTokenRow, UserRow)>> {
    let row: Option<PersonalTokenWithUser> = sqlx::query_as(
        "SELECT t.id, t.user_id, t.name, t.prefix, t.scopes, t.project_keys, t.created_at,
                t.expires_at, t.last_used_at, t.revoked_at,
                u.username, u.email, u.full_name, u.password_hash, u.admin, u.disabled,
                u.created_at AS user_created_at, u.tokens_valid_after
         FROM personal_access_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|row| {
        let user = UserRow {
            id: row.token.user_id,
            username: row.username,
            email: row.email,
            full_name: row.full_name,
            password_hash: row.password_hash,
            admin: row.admin,
            disabled: row.disabled,
            created_at: row.user_created_at,
            tokens_valid_after: row.tokens_valid_after,
        };
        (row.token, user)
    }))
}

#[derive(sqlx::FromRow)]
struct PersonalTokenWithUser {
    #[sqlx(flatten)]
    token: PersonalTokenRow,
    username: String,
    email: String,
    full_name: String,
    password_hash: String,
    admin: bool,
    disabled: bool,
    user_created_at: DateTime<Utc>,
    tokens_valid_after: Option<DateTime<Utc>>,
}

/// Notes that the token `id` was used, at most once a minute (a write per request would cost
/// more than the request).
pub async fn touch_personal_token(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE personal_access_tokens SET last_used_at = date_trunc('minute', now())
         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < date_trunc('minute', now()))",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Counts one event in the throttle bucket `(scope, key)`, pushing its `tat` `interval` seconds
/// ahead, unless that would put it more than `window` seconds ahead of now. `None` when counted;
/// otherwise the seconds until the bucket has room again.
pub async fn take_from_bucket(
    db: &mut sqlx::PgConnection,
    scope: &str,
    key: &str,
    interval: f64,
    window: f64,
) -> sqlx::Result<Option<f64>> {
    let counted = sqlx::query(
        "INSERT INTO throttle_buckets AS b (scope, key, tat)
         VALUES ($1, $2, now() + make_interval(secs => $3))
         ON CONFLICT (scope, key) DO UPDATE
             SET tat = GREATEST(b.tat, now()) + make_interval(secs => $3)
             WHERE GREATEST(b.tat, now()) + make_interval(secs => $3)
                 <= now() + make_interval(secs => $4)",
    )
    .bind(scope)
    .bind(key)
    .bind(interval)
    .bind(window)
    .execute(&mut *db)
    .await?
    .rows_affected()
        == 1;
    if counted {
        return Ok(None);
    }
    let ahead: f64 = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM tat - now())::float8 FROM throttle_buckets
         WHERE scope = $1 AND key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_one(&mut *db)
    .await?;
    Ok(Some(ahead + interval - window))
}

/// Counts one event in the throttle bucket `(scope, key)` whatever its state, keeping `tat` at
/// most `cap` seconds ahead of now; returns how far ahead of now it is afterwards, in seconds.
pub async fn add_to_bucket(
    db: impl PgExecutor<'_>,
    scope: &str,
    key: &str,
    interval: f64,
    cap: f64,
) -> sqlx::Result<f64> {
    sqlx::query_scalar(
        "INSERT INTO throttle_buckets AS b (scope, key, tat)
         VALUES ($1, $2, now() + make_interval(secs => LEAST($3, $4)))
         ON CONFLICT (scope, key) DO UPDATE
             SET tat = LEAST(GREATEST(b.tat, now()) + make_interval(secs => $3),
                             now() + make_interval(secs => $4))
         RETURNING EXTRACT(EPOCH FROM tat - now())::float8",
    )
    .bind(scope)
    .bind(key)
    .bind(interval)
    .bind(cap)
    .fetch_one(db)
    .await
}

/// Takes back one event counted in the throttle bucket `(scope, key)`.
pub async fn give_back_to_bucket(
    db: impl PgExecutor<'_>,
    scope: &str,
    key: &str,
    interval: f64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE throttle_buckets SET tat = tat - make_interval(secs => $3)
         WHERE scope = $1 AND key = $2",
    )
    .bind(scope)
    .bind(key)
    .bind(interval)
    .execute(db)
    .await?;
    Ok(())
}

/// Empties the throttle bucket `(scope, key)`.
pub async fn clear_bucket(db: impl PgExecutor<'_>, scope: &str, key: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM throttle_buckets WHERE scope = $1 AND key = $2")
        .bind(scope)
        .bind(key)
        .execute(db)
        .await?;
    Ok(())
}

/// Forgets the throttle buckets that have fully refilled; returns how many.
pub async fn delete_refilled_buckets(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM throttle_buckets WHERE tat <= now()")
            .execute(db)
            .await?
            .rows_affected(),
    )
}

/// Whether the database answers (readiness).
pub async fn ping(db: &PgPool) -> sqlx::Result<()> {
    sqlx::query("SELECT 1").execute(db).await?;
    Ok(())
}
