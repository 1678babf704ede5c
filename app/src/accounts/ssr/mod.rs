//! Server-only account logic: queries, password checks and the login session.
pub mod device;
pub mod entity;
pub mod invites;
pub mod password;
pub mod sign_in;
pub mod throttle;

pub use password::PasswordHasher;

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, SqlErr, sea_query::OnConflict,
};
use tower_sessions::Session;
use uuid::Uuid;

use crate::organisations::ssr as organisations;

use super::NewAccount;
use super::domain::{AccountId, AccountStatus, AccountView, Email, Password, Role, SignupPolicy};
use crate::accounts::actor::{Actor, Via};
use crate::audit::ssr::{AuditRecord, record as audit};
use crate::error::{AppError, ErrorCode};
use crate::events::{ChangeKind, record_change};
use crate::state::AppState;

/// The Prometheus counters of sign-in (described and served by the server's `/metrics`).
pub const LOGINS_METRIC: &str = "gatehouse_logins_total";
pub const THROTTLED_METRIC: &str = "gatehouse_throttled_attempts_total";

const SESSION_ACCOUNT_KEY: &str = "account_id";
/// The account's session epoch when the session logged in; a password change bumps the
/// account's epoch and so ends every older session.
const SESSION_EPOCH_KEY: &str = "session_epoch";
const FIRST_ADMIN_CLAIM: &str = "first_admin";

impl TryFrom<entity::Model> for AccountView {
    type Error = AppError;
    fn try_from(m: entity::Model) -> Result<Self, AppError> {
        Ok(AccountView {
            id: AccountId(m.id),
            email: Email::parse(&m.email).map_err(AppError::internal)?,
            role: Role::parse(&m.role).ok_or_else(|| AppError::internal(format!("bad role {}", m.role)))?,
            status: AccountStatus::parse(&m.status).ok_or_else(|| AppError::internal(format!("bad status {}", m.status)))?,
            created_at: m.created_at,
        })
    }
}

/// How a sign-up arrives: through the dashboard or the API (where the `signup` setting
/// applies), or from the operator's command line (always allowed).
#[derive(Debug, Clone, Copy)]
pub enum Admission<'a> {
    Public { invite: Option<&'a str> },
    Operator,
}

/// Whether the `signup` setting lets this sign-up in. The very first account can always be
/// made. An invite must be valid whatever the setting; under `invite` one is needed, and
/// `closed` lets nobody in but the operator. Checked before any email is looked at, so sign-up
/// never tells an uninvited visitor which emails have accounts. `Ok(true)`: let in only as the
/// first account (the sign-up must then win the first-admin claim, or two racing sign-ups on
/// an empty installation would both get in).
async fn admit(state: &AppState, admission: Admission<'_>) -> Result<bool, AppError> {
    let Admission::Public { invite } = admission else { return Ok(false) };
    let policy = state.settings.signup;
    if policy != SignupPolicy::Open && !any_account(&state.db).await? {
        return Ok(true);
    }
    match (policy, invite.map(str::trim).filter(|c| !c.is_empty())) {
        // An organisation's invitation lets its invitee sign up whatever the setting: someone
        // who may add members has vouched for them.
        (_, Some(code)) if organisations::is_invitation(code) => organisations::offer(&state.db, code).await.map(|_| false),
        (SignupPolicy::Closed, _) => Err(closed_to(SignupPolicy::Closed)),
        (_, Some(code)) => invites::check(&state.db, code).await.map(|()| false),
        (SignupPolicy::Open, None) => Ok(false),
        (SignupPolicy::Invite, None) => Err(closed_to(SignupPolicy::Invite)),
    }
}

fn closed_to(policy: SignupPolicy) -> AppError {
    match policy {
        SignupPolicy::Closed => {
            AppError::new(ErrorCode::Forbidden, "Sign-up is closed on this Gatehouse. Ask an administrator to make you an account.")
        }
        _ => AppError::new(ErrorCode::Forbidden, "Sign-up on this Gatehouse is by invitation. Ask an administrator for an invite link."),
    }
}

async fn any_account(db: &impl ConnectionTrait) -> Result<bool, AppError> {
    use sea_orm::PaginatorTrait;
    Ok(entity::Entity::find().count(db).await? > 0)
}

/// Creates an account. The first account of an installation becomes its admin.
#[tracing::instrument(skip_all, fields(email = %new.email))]
pub async fn register(state: &AppState, new: NewAccount, ip: Option<String>, admission: Admission<'_>) -> Result<AccountView, AppError> {
    let attempt = throttle::Attempt::sign_up(ip.as_deref());
    attempt.begin(&state.db, Utc::now()).await?;
    let only_as_first = admit(state, admission).await?;
    // Hash before touching the database, so a taken email costs the same time as a free one.
    let password_hash = state.passwords.hash(new.password.expose()).await?;
    let id = Uuid::now_v7();
    let now = Utc::now();
    let txn = state.changes.begin(&state.db).await?;
    let inserted = entity::Entity::insert(entity::ActiveModel {
        id: Set(id),
        email: Set(new.email.as_str().to_owned()),
        password_hash: Set(password_hash),
        role: Set(Role::User.as_str().into()),
        status: Set(AccountStatus::Active.as_str().into()),
        created_at: Set(now),
        session_epoch: Set(0),
    })
    .exec_without_returning(&txn)
    .await;
    if let Err(err) = inserted {
        return Err(match err.sql_err() {
            // Only open sign-up says so outright; an invitee learns no more than that this
            // email cannot be used (the invite stays unused).
            Some(SqlErr::UniqueConstraintViolation(_)) if state.settings.signup != SignupPolicy::Open => {
                AppError::new(ErrorCode::EmailUnavailable, "This email cannot be used to sign up. If it is yours, log in instead.")
                    .with_field("email", "This email cannot be used.")
            }
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                AppError::new(ErrorCode::EmailUnavailable, "An account with this email already exists. Log in instead.")
                    .with_field("email", "This email is already registered.")
            }
            _ => AppError::internal(err),
        });
    }
    organisations::create_personal(&txn, id, new.email.as_str()).await?;
    if let Admission::Public { invite: Some(code) } = admission
        && !code.trim().is_empty()
    {
        if organisations::is_invitation(code) {
            organisations::accept_in(&txn, code, id, new.email.as_str()).await?;
        } else {
            invites::redeem(&txn, code, id).await?;
        }
    }
    let first = claim_first_admin(&txn, id).await?;
    if only_as_first && !first {
        // Another sign-up made the first account meanwhile; this one needed that exception.
        return Err(closed_to(state.settings.signup));
    }
    if first {
        entity::Entity::update(entity::ActiveModel { id: Set(id), role: Set(Role::Admin.as_str().into()), ..Default::default() })
            .exec(&txn)
            .await?;
    }
    record_change(&txn, ChangeKind::Account, id).await?;
    audit(
        &txn,
        AuditRecord::anonymous(Some(AccountId(id)), ip, "account.signed_up")
            .actor(AccountId(id))
            .detail(serde_json::json!({ "email": new.email.as_str(), "role": if first { "admin" } else { "user" } })),
    )
    .await?;
    state.changes.commit(&state.db, txn).await?;
    attempt.succeeded(&state.db).await?;
    let account = find_account(&state.db, AccountId(id)).await?.ok_or_else(|| AppError::internal("new account vanished"))?;
    tracing::info!(account = %account.id, role = account.role.as_str(), "account registered");
    Ok(account)
}

/// Inserts the one-time "first admin" claim; the primary key makes exactly one sign-up win,
/// however many race.
async fn claim_first_admin(db: &impl ConnectionTrait, id: Uuid) -> Result<bool, AppError> {
    let rows = entity::instance_claims::Entity::insert(entity::instance_claims::ActiveModel {
        name: Set(FIRST_ADMIN_CLAIM.into()),
        account_id: Set(id),
        created_at: Set(Utc::now()),
    })
    .on_conflict(OnConflict::column(entity::instance_claims::Column::Name).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    Ok(rows > 0)
}

/// Checks an email and password. Unknown emails and wrong passwords take the same time and
/// get the same answer. `device` is the id of a device cookie issued for this email, if the
/// request carried one.
#[tracing::instrument(skip_all)]
pub async fn authenticate(
    state: &AppState,
    email: &str,
    password: &str,
    ip: Option<String>,
    device: Option<String>,
) -> Result<(AccountView, i32), AppError> {
    let attempt = throttle::Attempt::login_from_device(email, ip.as_deref(), device);
    attempt.begin(&state.db, Utc::now()).await?;
    let email = Email::parse(email).ok();
    let account = match &email {
        Some(email) => entity::Entity::find().filter(entity::Column::Email.eq(email.as_str())).one(&state.db).await?,
        None => None,
    };
    let matched = state.passwords.verify(password, account.as_ref().map(|a| a.password_hash.as_str())).await?;
    let (account, epoch) = match account {
        Some(account) if matched => {
            let epoch = account.session_epoch;
            (AccountView::try_from(account)?, epoch)
        }
        other => {
            tracing::info!("login refused: bad credentials");
            metrics::counter!(LOGINS_METRIC, "outcome" => "failed").increment(1);
            let known = other.map(|a| AccountId(a.id));
            audit(
                &state.db,
                AuditRecord::anonymous(known, ip, "account.login_failed").detail(serde_json::json!({
                    "email": email.as_ref().map(Email::as_str),
                })),
            )
            .await?;
            return Err(AppError::new(ErrorCode::InvalidCredentials, "Incorrect email or password."));
        }
    };
    if account.status == AccountStatus::Disabled {
        metrics::counter!(LOGINS_METRIC, "outcome" => "disabled").increment(1);
        return Err(AppError::new(ErrorCode::AccountDisabled, "This account has been disabled. Contact your Gatehouse administrator."));
    }
    metrics::counter!(LOGINS_METRIC, "outcome" => "succeeded").increment(1);
    attempt.succeeded(&state.db).await?;
    audit(&state.db, AuditRecord::anonymous(Some(account.id), ip, "account.logged_in").actor(account.id)).await?;
    Ok((account, epoch))
}

pub async fn find_account(db: &DatabaseConnection, id: AccountId) -> Result<Option<AccountView>, AppError> {
    entity::Entity::find_by_id(id.0).one(db).await?.map(AccountView::try_from).transpose()
}

pub async fn find_by_email(db: &DatabaseConnection, email: &str) -> Result<Option<AccountView>, AppError> {
    let Ok(email) = Email::parse(email) else { return Ok(None) };
    entity::Entity::find().filter(entity::Column::Email.eq(email.as_str())).one(db).await?.map(AccountView::try_from).transpose()
}

pub async fn list_accounts(db: &DatabaseConnection) -> Result<Vec<AccountView>, AppError> {
    entity::Entity::find().order_by_asc(entity::Column::CreatedAt).all(db).await?.into_iter().map(AccountView::try_from).collect()
}

/// Starts a login session under a fresh id, so an id planted before login is worthless.
pub async fn start_session(session: &Session, id: AccountId, epoch: i32) -> Result<(), AppError> {
    session.cycle_id().await.map_err(AppError::from)?;
    session.insert(SESSION_ACCOUNT_KEY, id).await.map_err(AppError::from)?;
    session.insert(SESSION_EPOCH_KEY, epoch).await.map_err(AppError::from)
}

/// Ends the session and deletes it from the store.
pub async fn end_session(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(AppError::from)
}

/// The live account behind a session, if any. A disabled account counts as logged out.
pub async fn session_account(state: &AppState, session: &Session) -> Result<Option<AccountView>, AppError> {
    let Some(id) = session.get::<AccountId>(SESSION_ACCOUNT_KEY).await.map_err(AppError::from)? else {
        return Ok(None);
    };
    let epoch = session.get::<i32>(SESSION_EPOCH_KEY).await.map_err(AppError::from)?.unwrap_or(-1);
    let Some(model) = entity::Entity::find_by_id(id.0).one(&state.db).await? else {
        return Ok(None);
    };
    if model.session_epoch != epoch {
        return Ok(None);
    }
    Ok(Some(AccountView::try_from(model)?).filter(|a| a.status == AccountStatus::Active))
}

/// Changes the actor's password after checking the current one, ends every other session of
/// the account, and keeps this one.
#[tracing::instrument(skip_all, fields(account = %actor.account_id()))]
pub async fn change_password(state: &AppState, actor: &Actor, session: &Session, current: &str, new: String) -> Result<(), AppError> {
    if actor.via != Via::Session {
        return Err(AppError::new(ErrorCode::Forbidden, "Changing the password needs a login session, not an API key."));
    }
    let model = entity::Entity::find_by_id(actor.account_id().0).one(&state.db).await?.ok_or_else(AppError::unauthenticated)?;
    let new = Password::parse(new).map_err(|e| AppError::invalid_fields([("new_password".to_string(), e.to_string())].into()))?;
    // The current password is guessed at like a login's, by whoever holds the session.
    let attempt = throttle::Attempt::login(&model.email, actor.ip.as_deref());
    attempt.begin(&state.db, Utc::now()).await?;
    if !state.passwords.verify(current, Some(&model.password_hash)).await? {
        return Err(AppError::new(ErrorCode::InvalidCredentials, "Your current password is not right.")
            .with_field("current_password", "This is not your current password."));
    }
    let hash = state.passwords.hash(new.expose()).await?;
    let epoch = model.session_epoch.wrapping_add(1);
    let txn = state.changes.begin(&state.db).await?;
    entity::Entity::update(entity::ActiveModel {
        id: Set(model.id),
        password_hash: Set(hash),
        session_epoch: Set(epoch),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    audit(&txn, AuditRecord::by(actor, "account.password_changed", "account", model.id)).await?;
    state.changes.commit(&state.db, txn).await?;
    attempt.succeeded(&state.db).await?;
    start_session(session, actor.account_id(), epoch).await
}

/// An admin disables or enables an account. A disabled account cannot log in and every token
/// of it stops working.
#[tracing::instrument(skip_all, fields(admin = %admin.account_id(), target = %target))]
pub async fn set_status(state: &AppState, admin: &Actor, target: AccountId, status: AccountStatus) -> Result<AccountView, AppError> {
    // The command line may (its operator can always undo it there); the dashboard may not lock
    // its own user out.
    if target == admin.account_id() && status == AccountStatus::Disabled && admin.via != Via::Cli {
        return Err(AppError::new(ErrorCode::Conflict, "You cannot disable your own account."));
    }
    let account = find_account(&state.db, target).await?.ok_or_else(|| AppError::not_found("account"))?;
    if account.status != status {
        let txn = state.changes.begin(&state.db).await?;
        entity::Entity::update(entity::ActiveModel { id: Set(target.0), status: Set(status.as_str().into()), ..Default::default() })
            .exec(&txn)
            .await?;
        record_change(&txn, ChangeKind::Account, target).await?;
        let action = match status {
            AccountStatus::Disabled => "account.disabled",
            AccountStatus::Active => "account.enabled",
        };
        audit(
            &txn,
            AuditRecord::by(admin, action, "account", target).in_account(target).detail(serde_json::json!({
                "email": account.email.as_str(),
            })),
        )
        .await?;
        state.changes.commit(&state.db, txn).await?;
    }
    find_account(&state.db, target).await?.ok_or_else(|| AppError::not_found("account"))
}

/// An admin's change to another account: its status, its role, or both (status first).
/// With neither, the account as it is.
pub async fn update_account(
    state: &AppState,
    admin: &Actor,
    target: AccountId,
    status: Option<AccountStatus>,
    role: Option<Role>,
) -> Result<AccountView, AppError> {
    if status.is_none() && role.is_none() {
        // The same answer from the dashboard and the REST API: there is nothing to do.
        return Err(AppError::new(ErrorCode::InvalidInput, "Give a status or a role to change.")
            .with_field("status", "Give a status or a role to change."));
    }
    if let Some(status) = status {
        set_status(state, admin, target, status).await?;
    }
    if let Some(role) = role {
        set_role(state, admin, target, role).await?;
    }
    find_account(&state.db, target).await?.ok_or_else(|| AppError::not_found("account"))
}

#[tracing::instrument(skip_all, fields(admin = %admin.account_id(), target = %target))]
pub async fn set_role(state: &AppState, admin: &Actor, target: AccountId, role: Role) -> Result<AccountView, AppError> {
    if target == admin.account_id() && role != Role::Admin && admin.via != Via::Cli {
        return Err(AppError::new(ErrorCode::Conflict, "You cannot remove your own admin role; ask another admin."));
    }
    let account = find_account(&state.db, target).await?.ok_or_else(|| AppError::not_found("account"))?;
    if account.role != role {
        let txn = state.changes.begin(&state.db).await?;
        entity::Entity::update(entity::ActiveModel { id: Set(target.0), role: Set(role.as_str().into()), ..Default::default() })
            .exec(&txn)
            .await?;
        audit(
            &txn,
            AuditRecord::by(admin, "account.role_changed", "account", target)
                .in_account(target)
                .detail(serde_json::json!({ "email": account.email.as_str(), "from": account.role.as_str(), "to": role.as_str() })),
        )
        .await?;
        state.changes.commit(&state.db, txn).await?;
    }
    find_account(&state.db, target).await?.ok_or_else(|| AppError::not_found("account"))
}

/// Opens every handler that needs a login: the account, or 401.
pub async fn require_account(state: &AppState, session: &Session) -> Result<AccountView, AppError> {
    session_account(state, session).await?.ok_or_else(AppError::unauthenticated)
}
