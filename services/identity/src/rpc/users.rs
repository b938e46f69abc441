//! Handlers for user accounts: sign-up, self-service, search, and admin updates.

use swatter_common::{
    auth::{self, Principal},
    input::{self, Lines},
    pagination,
    rpc::{UpdateMask, Violations, update_mask::Fields},
    status::Violation,
};
use swatter_proto::identity::v1 as pb;
use tonic::Request;
use uuid::Uuid;

use super::{Identity, View, user_message};
use crate::{
    domain::{Email, FullName, Password, Username},
    error::{IdentityError, Result},
    store::{self, NewUser, UserChanges, UserRow},
    throttle,
};

/// Most ids one `BatchGetUsers` call may name.
const MAX_BATCH: usize = 1000;
/// Longest username prefix a search takes (no username is longer).
const MAX_SEARCH_LEN: usize = 32;

/// What `UpdateMe`'s `update_mask` may name: users change their own profile, not their rights.
const ME_FIELDS: Fields = Fields {
    updatable: &["email", "full_name"],
    fixed: &["id", "username", "created_at", "admin", "disabled"],
};

/// What `UpdateUser`'s `update_mask` may name.
const USER_FIELDS: Fields = Fields {
    updatable: &["admin", "disabled", "email", "full_name"],
    fixed: &["id", "username", "created_at"],
};

fn parse_user_id(field: &str, raw: &str) -> Result<Uuid> {
    raw.parse()
        .map_err(|_| IdentityError::invalid(Violation::new(field, "is not a UUID")))
}

/// The live record of the calling user; a deleted or disabled account counts as signed out.
async fn current_user(identity: &Identity, user_id: Uuid) -> Result<UserRow> {
    match store::user_by_id(&identity.db, user_id).await? {
        Some(user) if !user.disabled => Ok(user),
        Some(_) => Err(IdentityError::Unauthenticated("this account is disabled")),
        None => Err(IdentityError::Unauthenticated(
            "this account no longer exists",
        )),
    }
}

fn is_admin(principal: &Principal) -> bool {
    matches!(principal, Principal::User(user) if user.admin)
}

/// What of other users' records the caller of `request` may see: all of it for admins.
fn view_for<T>(request: &Request<T>) -> Result<View> {
    Ok(if is_admin(auth::principal(request)?) {
        View::Full
    } else {
        View::Public
    })
}

/// The optional new email address and full name of an update.
fn profile_changes(
    email: Option<&str>,
    full_name: Option<&str>,
) -> Result<(Option<Email>, Option<FullName>)> {
    let mut violations = Violations::default();
    let email = violations.check(email.map(Email::parse).transpose());
    let full_name = violations.check(full_name.map(FullName::parse).transpose());
    violations.finish()?;
    Ok((email.flatten(), full_name.flatten()))
}

pub(super) async fn sign_up(
    identity: &Identity,
    request: Request<pb::SignUpRequest>,
) -> Result<pb::User> {
    let caller_is_admin = request
        .extensions()
        .get::<Principal>()
        .is_some_and(is_admin);
    if !identity.signup_enabled && !caller_is_admin {
        return Err(IdentityError::Forbidden(
            "sign-up is turned off on this server",
        ));
    }
    let client = throttle::client_address(&request, identity.throttle.trusted_proxies());
    let req = request.into_inner();
    let mut violations = Violations::default();
    let username = violations.check(Username::parse(&req.username));
    let email = violations.check(Email::parse(&req.email));
    let password = violations.check(Password::parse("password", &req.password));
    let full_name = violations.check(FullName::parse(req.full_name.as_deref().unwrap_or("")));
    violations.finish()?;
    let (Some(username), Some(email), Some(password), Some(full_name)) =
        (username, email, password, full_name)
    else {
        unreachable!("violations were reported above");
    };
    if !caller_is_admin {
        identity.throttle.sign_up(client).await?;
    }
    let password_hash = identity
        .passwords
        .hash(password.expose().to_owned())
        .await
        .map_err(IdentityError::Internal)?;
    let user = store::insert_user(
        &identity.db,
        &NewUser {
            id: Uuid::now_v7(),
            username: username.as_str(),
            email: email.as_str(),
            full_name: full_name.as_str(),
            password_hash: &password_hash,
            admin: false,
        },
    )
    .await?;
    tracing::info!(user_id = %user.id, username = %user.username, "user signed up");
    Ok(user_message(user, View::Full))
}

pub(super) async fn get_me(
    identity: &Identity,
    request: Request<pb::GetMeRequest>,
) -> Result<pb::User> {
    let me = auth::user(&request)?.id;
    let user = current_user(identity, me).await?;
    Ok(user_message(user, View::Full))
}

pub(super) async fn update_me(
    identity: &Identity,
    request: Request<pb::UpdateMeRequest>,
) -> Result<pb::User> {
    let caller = auth::user(&request)?;
    caller.require_password_login("changing your profile")?;
    let me = caller.id;
    let req = request.into_inner();
    let mask =
        UpdateMask::parse(req.update_mask.as_ref(), ME_FIELDS).map_err(IdentityError::invalid)?;
    let (email, full_name) = profile_changes(
        mask.value("email", req.email).as_deref(),
        mask.value("full_name", req.full_name).as_deref(),
    )?;
    current_user(identity, me).await?;
    let changes = UserChanges {
        email: email.as_ref().map(Email::as_str),
        full_name: full_name.as_ref().map(FullName::as_str),
        ..UserChanges::default()
    };
    let user = store::update_user(&identity.db, me, &changes)
        .await?
        .ok_or(IdentityError::Unauthenticated(
            "this account no longer exists",
        ))?;
    Ok(user_message(user, View::Full))
}

pub(super) async fn change_password(
    identity: &Identity,
    request: Request<pb::ChangePasswordRequest>,
) -> Result<()> {
    let caller = auth::user(&request)?;
    caller.require_password_login("changing your password")?;
    let me = caller.id;
    let req = request.into_inner();
    let new_password =
        Password::parse("new_password", &req.new_password).map_err(IdentityError::invalid)?;
    let user = current_user(identity, me).await?;
    let matches = identity
        .passwords
        .verify(req.current_password, Some(user.password_hash))
        .await
        .map_err(IdentityError::Internal)?;
    if !matches {
        return Err(IdentityError::invalid(Violation::new(
            "current_password",
            "is not the current password",
        )));
    }
    let hash = identity
        .passwords
        .hash(new_password.expose().to_owned())
        .await
        .map_err(IdentityError::Internal)?;
    let mut tx = identity.db.begin().await?;
    store::set_password_hash(&mut *tx, me, &hash).await?;
    let revoked = store::revoke_user_refresh_tokens(&mut *tx, me).await?;
    tx.commit().await?;
    tracing::info!(user_id = %me, revoked, "password changed; refresh tokens revoked");
    Ok(())
}

pub(super) async fn search_users(
    identity: &Identity,
    request: Request<pb::SearchUsersRequest>,
) -> Result<pb::SearchUsersResponse> {
    let view = view_for(&request)?;
    let req = request.into_inner();
    let mut violations = Violations::default();
    let limit = violations.check(pagination::page_size(req.page_size));
    let after = violations
        .check(
            pagination::decode_token::<String>(&req.page_token).and_then(|name| {
                name.map(|name| Username::parse(&name).map_err(|_| pagination::bad_token()))
                    .transpose()
            }),
        )
        .flatten();
    violations.check(input::check_text(
        "q",
        &req.query,
        MAX_SEARCH_LEN,
        Lines::One,
    ));
    violations.finish()?;
    let Some(limit) = limit else {
        unreachable!("violations were reported above");
    };
    let prefix = req.query.trim().to_lowercase();
    let mut rows = store::search_users(
        &identity.db,
        &prefix,
        after.as_ref().map(Username::as_str),
        limit + 1,
    )
    .await?;
    let next_page_token = pagination::next_token(&mut rows, limit, |last| last.username.clone());
    Ok(pb::SearchUsersResponse {
        users: rows
            .into_iter()
            .map(|row| user_message(row, view))
            .collect(),
        next_page_token,
    })
}

pub(super) async fn get_user(
    identity: &Identity,
    request: Request<pb::GetUserRequest>,
) -> Result<pb::User> {
    let principal = auth::principal(&request)?;
    let id = parse_user_id("id", &request.get_ref().id)?;
    let view = match principal {
        Principal::User(user) if user.admin || user.id == id => View::Full,
        _ => View::Public,
    };
    let user = store::user_by_id(&identity.db, id)
        .await?
        .ok_or(IdentityError::NotFound("user"))?;
    Ok(user_message(user, view))
}

pub(super) async fn batch_get_users(
    identity: &Identity,
    request: Request<pb::BatchGetUsersRequest>,
) -> Result<pb::BatchGetUsersResponse> {
    let view = view_for(&request)?;
    let req = request.into_inner();
    if req.ids.len() > MAX_BATCH {
        return Err(IdentityError::invalid(Violation::new(
            "ids",
            format!("at most {MAX_BATCH} ids per call"),
        )));
    }
    let ids = req
        .ids
        .iter()
        .map(|id| parse_user_id("ids", id))
        .collect::<Result<Vec<_>>>()?;
    let rows = store::users_by_ids(&identity.db, &ids).await?;
    Ok(pb::BatchGetUsersResponse {
        users: rows
            .into_iter()
            .map(|row| user_message(row, view))
            .collect(),
    })
}

pub(super) async fn update_user(
    identity: &Identity,
    request: Request<pb::UpdateUserRequest>,
) -> Result<pb::User> {
    let caller = auth::user(&request)?.clone();
    if !caller.admin {
        return Err(IdentityError::Forbidden(
            "only admins may change other users",
        ));
    }
    let req = request.into_inner();
    let id = parse_user_id("id", &req.id)?;
    let mask =
        UpdateMask::parse(req.update_mask.as_ref(), USER_FIELDS).map_err(IdentityError::invalid)?;
    let (email, full_name) = profile_changes(
        mask.value("email", req.email).as_deref(),
        mask.value("full_name", req.full_name).as_deref(),
    )?;
    let admin = mask.value("admin", req.admin);
    let disabled = mask.value("disabled", req.disabled);
    if id == caller.id && (admin == Some(false) || disabled == Some(true)) {
        return Err(IdentityError::FailedPrecondition(
            "admins cannot remove their own admin rights or disable themselves".into(),
        ));
    }
    let changes = UserChanges {
        email: email.as_ref().map(Email::as_str),
        full_name: full_name.as_ref().map(FullName::as_str),
        admin,
        disabled,
    };
    let mut tx = identity.db.begin().await?;
    let user = store::update_user(&mut *tx, id, &changes)
        .await?
        .ok_or(IdentityError::NotFound("user"))?;
    if disabled == Some(true) {
        store::revoke_user_refresh_tokens(&mut *tx, id).await?;
    }
    tx.commit().await?;
    tracing::info!(
        admin_id = %caller.id,
        user_id = %id,
        admin = ?admin,
        disabled = ?disabled,
        "user updated by admin"
    );
    Ok(user_message(user, View::Full))
}
