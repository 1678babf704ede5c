//! Server-only account logic: queries, password checks and the login session.
pub mod entity;
mod password;

pub use password::PasswordHasher;

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    SqlErr, TransactionTrait, ColumnTrait, sea_query::OnConflict,
};
use tower_sessions::Session;
use uuid::Uuid;

use super::domain::{AccountId, AccountStatus, AccountView, Email, Role};
use super::NewAccount;
use crate::error::{AppError, ErrorCode};
use crate::state::AppState;

const SESSION_ACCOUNT_KEY: &str = "account_id";
const FIRST_ADMIN_CLAIM: &str = "first_admin";

impl TryFrom<entity::Model> for AccountView {
    type Error = AppError;
    fn try_from(m: entity::Model) -> Result<Self, AppError> {
        Ok(AccountView {
            id: AccountId(m.id),
            email: Email::parse(&m.email).map_err(AppError::internal)?,
            role: Role::parse(&m.role).ok_or_else(|| AppError::internal(format!("bad role {}", m.role)))?,
            status: AccountStatus::parse(&m.status)
                .ok_or_else(|| AppError::internal(format!("bad status {}", m.status)))?,
            created_at: m.created_at,
        })
    }
}

/// Creates an account. The first account of an installation becomes its admin.
#[tracing::instrument(skip_all, fields(email = %new.email))]
pub async fn register(state: &AppState, new: NewAccount) -> Result<AccountView, AppError> {
    // Hash before touching the database, so a taken email costs the same time as a free one.
    let password_hash = state.passwords.hash(new.password.expose()).await?;
    let id = Uuid::now_v7();
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let inserted = entity::Entity::insert(entity::ActiveModel {
        id: Set(id),
        email: Set(new.email.as_str().to_owned()),
        password_hash: Set(password_hash),
        role: Set(Role::User.as_str().into()),
        status: Set(AccountStatus::Active.as_str().into()),
        created_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await;
    if let Err(err) = inserted {
        return Err(match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => AppError::new(
                ErrorCode::EmailUnavailable,
                "An account with this email already exists. Log in instead.",
            )
            .with_field("email", "This email is already registered."),
            _ => AppError::internal(err),
        });
    }
    if claim_first_admin(&txn, id).await? {
        entity::Entity::update(entity::ActiveModel {
            id: Set(id),
            role: Set(Role::Admin.as_str().into()),
            ..Default::default()
        })
        .exec(&txn)
        .await?;
    }
    txn.commit().await?;
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
/// get the same answer.
#[tracing::instrument(skip_all)]
pub async fn authenticate(state: &AppState, email: &str, password: &str) -> Result<AccountView, AppError> {
    let account = match Email::parse(email) {
        Ok(email) => entity::Entity::find()
            .filter(entity::Column::Email.eq(email.as_str()))
            .one(&state.db)
            .await?,
        Err(_) => None,
    };
    let matched = state.passwords.verify(password, account.as_ref().map(|a| a.password_hash.as_str())).await?;
    let account = match account {
        Some(account) if matched => AccountView::try_from(account)?,
        _ => {
            tracing::info!("login refused: bad credentials");
            return Err(AppError::new(ErrorCode::InvalidCredentials, "Incorrect email or password."));
        }
    };
    if account.status == AccountStatus::Disabled {
        return Err(AppError::new(
            ErrorCode::AccountDisabled,
            "This account has been disabled. Contact your Gatehouse administrator.",
        ));
    }
    Ok(account)
}

pub async fn find_account(db: &DatabaseConnection, id: AccountId) -> Result<Option<AccountView>, AppError> {
    entity::Entity::find_by_id(id.0).one(db).await?.map(AccountView::try_from).transpose()
}

pub async fn list_accounts(db: &DatabaseConnection) -> Result<Vec<AccountView>, AppError> {
    entity::Entity::find()
        .order_by_asc(entity::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(AccountView::try_from)
        .collect()
}

/// Starts a login session under a fresh id, so an id planted before login is worthless.
pub async fn start_session(session: &Session, id: AccountId) -> Result<(), AppError> {
    session.cycle_id().await.map_err(AppError::internal)?;
    session.insert(SESSION_ACCOUNT_KEY, id).await.map_err(AppError::internal)
}

/// Ends the session and deletes it from the store.
pub async fn end_session(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(AppError::internal)
}

/// The live account behind a session, if any. A disabled account counts as logged out.
pub async fn session_account(state: &AppState, session: &Session) -> Result<Option<AccountView>, AppError> {
    let Some(id) = session.get::<AccountId>(SESSION_ACCOUNT_KEY).await.map_err(AppError::internal)? else {
        return Ok(None);
    };
    Ok(find_account(&state.db, id).await?.filter(|a| a.status == AccountStatus::Active))
}

/// Opens every handler that needs a login: the account, or 401.
pub async fn require_account(state: &AppState, session: &Session) -> Result<AccountView, AppError> {
    session_account(state, session).await?.ok_or_else(AppError::unauthenticated)
}

pub async fn require_admin(state: &AppState, session: &Session) -> Result<AccountView, AppError> {
    let account = require_account(state, session).await?;
    if account.is_admin() { Ok(account) } else { Err(AppError::forbidden()) }
}
