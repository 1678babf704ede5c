//! Invite links: one use, expiring, made by admins (the Users page, the API, the CLI), and the
//! only way to sign up when `signup` is `invite`.
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr};
use uuid::Uuid;

use crate::accounts::actor::Actor;
use crate::accounts::domain::CreatedInvite;
use crate::audit::ssr::{AuditRecord, record as audit};
use crate::error::{AppError, ErrorCode};
use crate::secrets::{random_secret, sha256_hex};
use crate::state::AppState;

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "invites")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub code_hash: String,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub used_at: Option<DateTimeUtc>,
        pub used_by: Option<Uuid>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// When an invite asked to last `raw` (a duration or a date; never `never`) stops working.
pub fn expires_at(raw: &str) -> Result<DateTime<Utc>, String> {
    match crate::tokens::Expiry::parse(raw).and_then(|e| e.resolve(Utc::now()))? {
        Some(at) => Ok(at),
        None => Err("An invite must expire: give a duration like 7d or a date like 2027-01-31.".into()),
    }
}

/// The sign-up page's address for `code`.
pub fn signup_url(state: &AppState, code: &str) -> String {
    format!("{}/signup?invite={code}", state.settings.public_url)
}

/// Makes an invite that works until `expires_at`. Admins only.
pub async fn create(state: &AppState, admin: &Actor, expires_at: DateTime<Utc>) -> Result<CreatedInvite, AppError> {
    let code = random_secret("");
    let id = Uuid::now_v7();
    let txn = state.changes.begin(&state.db).await?;
    entity::Entity::insert(entity::ActiveModel {
        id: Set(id),
        code_hash: Set(sha256_hex(&code)),
        created_by: Set(Some(admin.account_id().0)),
        created_at: Set(Utc::now()),
        expires_at: Set(expires_at),
        used_at: Set(None),
        used_by: Set(None),
    })
    .exec_without_returning(&txn)
    .await?;
    audit(&txn, AuditRecord::by(admin, "invite.created", "invite", id).detail(serde_json::json!({ "expires_at": expires_at }))).await?;
    state.changes.commit(&state.db, txn).await?;
    Ok(CreatedInvite { id, url: signup_url(state, &code), expires_at })
}

fn not_valid() -> AppError {
    AppError::new(
        ErrorCode::InvalidInput,
        "This invite link is not valid: it may have been used already or have expired. Ask for a new one.",
    )
    .with_field("invite", "This invite link is not valid.")
}

/// Uses up the invite `code` for `account`, inside the sign-up's transaction: exactly one
/// sign-up wins a code, however many race.
pub async fn redeem(db: &impl ConnectionTrait, code: &str, account: Uuid) -> Result<(), AppError> {
    let now = Utc::now();
    let used = entity::Entity::update_many()
        .col_expr(entity::Column::UsedAt, Expr::value(now))
        .col_expr(entity::Column::UsedBy, Expr::value(account))
        .filter(entity::Column::CodeHash.eq(sha256_hex(code.trim())))
        .filter(entity::Column::UsedAt.is_null())
        .filter(entity::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    if used.rows_affected == 0 { Err(not_valid()) } else { Ok(()) }
}

/// Whether `code` would be accepted now (checked before the password is hashed, so a bad link
/// is answered at once; [`redeem`] decides).
pub async fn check(db: &impl ConnectionTrait, code: &str) -> Result<(), AppError> {
    let found = entity::Entity::find()
        .filter(entity::Column::CodeHash.eq(sha256_hex(code.trim())))
        .filter(entity::Column::UsedAt.is_null())
        .filter(entity::Column::ExpiresAt.gt(Utc::now()))
        .one(db)
        .await?;
    found.map(|_| ()).ok_or_else(not_valid)
}
