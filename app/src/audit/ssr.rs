//! Writing and reading the audit log. Records are written in the same transaction as the
//! change they describe, so the log never claims a change that did not happen.
use std::collections::BTreeMap;

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::domain::{AuditEntryView, AuditPage, DEFAULT_PER_PAGE, MAX_PER_PAGE};
use crate::accounts::actor::Actor;
use crate::accounts::{AccountId, ssr::entity as accounts};
use crate::error::AppError;

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub account_id: Option<Uuid>,
        pub actor_id: Option<Uuid>,
        pub action: String,
        pub object_type: String,
        pub object_id: Option<String>,
        pub detail: String,
        pub ip: Option<String>,
        pub created_at: DateTimeUtc,
        /// `session`, `api_key` or `cli`: the credential that acted.
        pub via: Option<String>,
        pub api_key_id: Option<Uuid>,
        /// Whose log it is in: the organisation acted within (none: the instance's own).
        pub organisation_id: Option<Uuid>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Hides the query values of every upstream URL recorded for `server` (records written before
/// queries were sealed): `upstream_url`, and the `from`/`to` of an edit.
pub async fn redact_upstream_urls(db: &impl ConnectionTrait, server: Uuid) -> Result<(), AppError> {
    use crate::servers::redact_query;
    let records = entity::Entity::find()
        .filter(entity::Column::ObjectType.eq("server"))
        .filter(entity::Column::ObjectId.eq(server.to_string()))
        .all(db)
        .await?;
    for record in records {
        let Ok(mut detail) = serde_json::from_str::<serde_json::Value>(&record.detail) else { continue };
        let Some(url) = detail.get_mut("upstream_url") else { continue };
        let hide = |value: &mut serde_json::Value| {
            if let Some(text) = value.as_str() {
                *value = serde_json::Value::String(redact_query(text));
            }
        };
        hide(url);
        for side in ["from", "to"] {
            if let Some(value) = url.get_mut(side) {
                hide(value);
            }
        }
        entity::Entity::update_many()
            .col_expr(entity::Column::Detail, sea_orm::sea_query::Expr::value(detail.to_string()))
            .filter(entity::Column::Id.eq(record.id))
            .exec(db)
            .await?;
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct AuditRecord {
    account_id: Option<Uuid>,
    actor_id: Option<Uuid>,
    action: &'static str,
    object_type: &'static str,
    object_id: Option<String>,
    detail: serde_json::Value,
    ip: Option<String>,
    via: Option<&'static str>,
    api_key_id: Option<Uuid>,
    organisation_id: Option<Uuid>,
}

impl AuditRecord {
    /// `actor` did `action` to an object of its own account.
    pub fn by(actor: &Actor, action: &'static str, object_type: &'static str, object_id: impl ToString) -> Self {
        Self {
            account_id: Some(actor.account.id.0),
            actor_id: Some(actor.account.id.0),
            action,
            object_type,
            object_id: Some(object_id.to_string()),
            detail: serde_json::Value::Object(Default::default()),
            ip: actor.ip.clone(),
            via: Some(actor.via.as_str()),
            api_key_id: actor.via.api_key(),
            organisation_id: Some(actor.organisation().0),
        }
    }

    /// Something happened to `account` with no signed-in actor (sign-up, login, failed login).
    pub fn anonymous(account: Option<AccountId>, ip: Option<String>, action: &'static str) -> Self {
        Self {
            account_id: account.map(|a| a.0),
            actor_id: None,
            action,
            object_type: "account",
            object_id: account.map(|a| a.to_string()),
            detail: serde_json::Value::Object(Default::default()),
            ip,
            via: None,
            api_key_id: None,
            organisation_id: account.map(|a| a.0),
        }
    }

    /// An OAuth client did `action` within a grant of `account`'s (a code exchanged, a token
    /// refreshed), or Gatehouse did on its behalf (a reused refresh token revoked the grant).
    pub fn by_client(
        account: AccountId,
        ip: Option<String>,
        action: &'static str,
        object_type: &'static str,
        object_id: impl ToString,
    ) -> Self {
        Self {
            account_id: Some(account.0),
            actor_id: None,
            action,
            object_type,
            object_id: Some(object_id.to_string()),
            detail: serde_json::Value::Object(Default::default()),
            ip,
            via: Some("oauth"),
            api_key_id: None,
            organisation_id: Some(account.0),
        }
    }

    /// The record belongs in `account`'s log (an admin acting on another account).
    pub fn in_account(mut self, account: AccountId) -> Self {
        self.account_id = Some(account.0);
        self.organisation_id = Some(account.0);
        self
    }

    /// The record belongs in `organisation`'s log.
    pub fn in_organisation(mut self, organisation: crate::organisations::OrganisationId) -> Self {
        self.organisation_id = Some(organisation.0);
        self
    }

    /// The record belongs in the log of the actor's personal organisation (the organisation
    /// it happened to is gone).
    pub fn in_personal_log(mut self) -> Self {
        self.organisation_id = self.actor_id;
        self
    }

    pub fn actor(mut self, actor: AccountId) -> Self {
        self.actor_id = Some(actor.0);
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

pub async fn record(db: &impl ConnectionTrait, r: AuditRecord) -> Result<(), AppError> {
    entity::Entity::insert(entity::ActiveModel {
        account_id: Set(r.account_id),
        actor_id: Set(r.actor_id),
        action: Set(r.action.into()),
        object_type: Set(r.object_type.into()),
        object_id: Set(r.object_id),
        detail: Set(r.detail.to_string()),
        ip: Set(r.ip),
        created_at: Set(Utc::now()),
        via: Set(r.via.map(String::from)),
        api_key_id: Set(r.api_key_id),
        organisation_id: Set(r.organisation_id),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// A page of the log, newest first: what happened in the actor's organisation (and, in its
/// personal one, what it did outside any organisation); an admin may ask for everything
/// (through an API key, only one with the admin scope).
pub async fn list(db: &impl ConnectionTrait, actor: &Actor, everything: bool, page: u64, per_page: u64) -> Result<AuditPage, AppError> {
    let per_page = per_page.clamp(1, MAX_PER_PAGE);
    let page = page.max(1);
    let mut query = entity::Entity::find();
    let viewer = &actor.account;
    if !(everything && viewer.is_admin() && actor.via.allows(crate::accounts::actor::ApiScope::Admin)) {
        let organisation = actor.may(crate::organisations::Action::Read)?;
        let mut within = Condition::any().add(entity::Column::OrganisationId.eq(organisation.0));
        if organisation.0 == viewer.id.0 {
            within =
                within.add(Condition::all().add(entity::Column::OrganisationId.is_null()).add(entity::Column::ActorId.eq(viewer.id.0)));
        }
        query = query.filter(within);
    }
    let paginator = query.order_by_desc(entity::Column::Id).paginate(db, per_page);
    let total = paginator.num_items().await?;
    let rows = paginator.fetch_page(page - 1).await?;

    let actor_ids: Vec<Uuid> = rows.iter().filter_map(|r| r.actor_id).collect();
    let emails: BTreeMap<Uuid, String> = if actor_ids.is_empty() {
        BTreeMap::new()
    } else {
        accounts::Entity::find().filter(accounts::Column::Id.is_in(actor_ids)).all(db).await?.into_iter().map(|a| (a.id, a.email)).collect()
    };
    let entries = rows
        .into_iter()
        .map(|r| AuditEntryView {
            id: r.id,
            actor_email: r.actor_id.and_then(|id| emails.get(&id).cloned()),
            action: r.action,
            object_type: r.object_type,
            object_id: r.object_id,
            detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::Null),
            ip: r.ip,
            created_at: r.created_at,
            via: r.via,
            api_key_id: r.api_key_id,
        })
        .collect();
    Ok(AuditPage { entries, page, per_page, total })
}

pub fn default_per_page() -> u64 {
    DEFAULT_PER_PAGE
}
