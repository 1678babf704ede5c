//! Organisations, memberships and invitations in the database. Every change that affects who
//! may use a token (a member removed, a role changed) records a `membership` change event for
//! the account, so every process's token view learns it (DESIGN.md, Organisations).
use chrono::{Duration, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, sea_query::Expr};
use uuid::Uuid;

use super::domain::*;
use crate::accounts::actor::{Actor, Within};
use crate::accounts::{AccountView, ssr::entity as accounts};
use crate::audit::ssr::{AuditRecord, record as audit};
use crate::error::{AppError, ErrorCode};
use crate::events::{ChangeKind, record_change};
use crate::secrets::{random_secret, sha256_hex};
use crate::state::AppState;

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "organisations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub personal: bool,
        pub created_at: DateTimeUtc,
        /// Set by the instance admin: its tokens are refused and its open servers closed.
        pub disabled_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod memberships {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "memberships")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub organisation_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub account_id: Uuid,
        pub role: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod invitations {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "invitations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub organisation_id: Uuid,
        pub role: String,
        pub email: Option<String>,
        pub code_hash: String,
        pub invited_by: Uuid,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub used_at: Option<DateTimeUtc>,
        pub used_by: Option<Uuid>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A stored role, read strictly: a row the code cannot read grants nothing.
pub fn stored_role(raw: &str) -> Option<Role> {
    Role::parse(raw).ok()
}

/// `account`'s role in `organisation`, if a member.
pub async fn role_of(db: &impl ConnectionTrait, organisation: OrganisationId, account: Uuid) -> Result<Option<Role>, AppError> {
    let row = memberships::Entity::find_by_id((organisation.0, account)).one(db).await?;
    Ok(row.and_then(|m| stored_role(&m.role)))
}

/// What `account` acts as within `organisation`: its role there (none if not a member, which
/// the rule answers with 404 for everything but the instance admin's reads).
pub async fn within(db: &impl ConnectionTrait, account: &AccountView, organisation: OrganisationId) -> Result<Within, AppError> {
    if organisation.0 == account.id.0 {
        // The personal organisation's own account is always its owner.
        return Ok(Within::personal(account));
    }
    Ok(Within { organisation, role: role_of(db, organisation, account.id.0).await? })
}

/// An organisation's name, as every object of it shows it.
pub async fn name_of(db: &impl ConnectionTrait, organisation: OrganisationId) -> Result<String, AppError> {
    Ok(entity::Entity::find_by_id(organisation.0).one(db).await?.map(|o| o.name).unwrap_or_default())
}

/// Makes `account`'s personal organisation, inside the sign-up's transaction.
pub async fn create_personal(db: &impl ConnectionTrait, account: Uuid, email: &str) -> Result<(), AppError> {
    let name: String = email.chars().take(OrganisationName::MAX_CHARS).collect();
    insert_organisation(db, OrganisationId(account), name, true, account).await
}

/// Inserts an organisation with `owner` as its one owner, and says so to every process.
async fn insert_organisation(
    db: &impl ConnectionTrait,
    id: OrganisationId,
    name: String,
    personal: bool,
    owner: Uuid,
) -> Result<(), AppError> {
    entity::Entity::insert(entity::ActiveModel {
        id: Set(id.0),
        name: Set(name),
        personal: Set(personal),
        created_at: Set(Utc::now()),
        disabled_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    record_change(db, ChangeKind::Organisation, id).await?;
    insert_member(db, id, owner, Role::Owner).await
}

async fn insert_member(db: &impl ConnectionTrait, organisation: OrganisationId, account: Uuid, role: Role) -> Result<(), AppError> {
    memberships::Entity::insert(memberships::ActiveModel {
        organisation_id: Set(organisation.0),
        account_id: Set(account),
        role: Set(role.as_str().into()),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(db)
    .await?;
    record_change(db, ChangeKind::Membership, account).await
}

/// A new organisation with `owner` as its one owner.
pub async fn create(state: &AppState, owner: &Actor, name: &str) -> Result<OrganisationView, AppError> {
    let name = OrganisationName::parse(name).map_err(|e| AppError::invalid_fields([("name".to_string(), e)].into()))?;
    let id = Uuid::now_v7();
    let txn = state.changes.begin(&state.db).await?;
    insert_organisation(&txn, OrganisationId(id), name.as_str().into(), false, owner.account.id.0).await?;
    audit(
        &txn,
        AuditRecord::by(owner, "organisation.created", "organisation", id)
            .in_organisation(OrganisationId(id))
            .detail(serde_json::json!({ "name": name.as_str() })),
    )
    .await?;
    state.changes.commit(&state.db, txn).await?;
    get(state, &owner.account, OrganisationId(id)).await
}

/// One organisation as `viewer` sees it; 404 unless a member (or the instance admin).
pub async fn get(state: &AppState, viewer: &AccountView, id: OrganisationId) -> Result<OrganisationView, AppError> {
    let within = within(&state.db, viewer, id).await?;
    let standing = Standing { role: within.role, instance_admin: viewer.is_admin() };
    decide(standing, Action::Read).map_err(|_| AppError::not_found("organisation"))?;
    let model = entity::Entity::find_by_id(id.0).one(&state.db).await?.ok_or_else(|| AppError::not_found("organisation"))?;
    let members = memberships::Entity::find().filter(memberships::Column::OrganisationId.eq(id.0)).count(&state.db).await?;
    Ok(view(model, within.role, members))
}

fn view(model: entity::Model, role: Option<Role>, members: u64) -> OrganisationView {
    OrganisationView {
        id: OrganisationId(model.id),
        name: model.name,
        personal: model.personal,
        disabled: model.disabled_at.is_some(),
        role,
        members,
        created_at: model.created_at,
    }
}

/// The organisations `account` belongs to: the personal one first, then by name.
pub async fn list_for(db: &impl ConnectionTrait, account: Uuid) -> Result<Vec<OrganisationView>, AppError> {
    let mine = memberships::Entity::find().filter(memberships::Column::AccountId.eq(account)).all(db).await?;
    let ids: Vec<Uuid> = mine.iter().map(|m| m.organisation_id).collect();
    let models = entity::Entity::find().filter(entity::Column::Id.is_in(ids.clone())).order_by_asc(entity::Column::Name).all(db).await?;
    let mut counts = std::collections::HashMap::<Uuid, u64>::new();
    for m in memberships::Entity::find().filter(memberships::Column::OrganisationId.is_in(ids)).all(db).await? {
        *counts.entry(m.organisation_id).or_default() += 1;
    }
    let mut views: Vec<OrganisationView> = models
        .into_iter()
        .map(|model| {
            let role = mine.iter().find(|m| m.organisation_id == model.id).and_then(|m| stored_role(&m.role));
            let members = counts.get(&model.id).copied().unwrap_or(0);
            view(model, role, members)
        })
        .collect();
    views.sort_by_key(|o| (o.id.0 != account, o.name.to_lowercase()));
    Ok(views)
}

/// Every organisation, for the instance admin.
pub async fn list_all(state: &AppState, admin: &Actor) -> Result<Vec<OrganisationView>, AppError> {
    if !admin.account.is_admin() {
        return Err(AppError::forbidden());
    }
    let models = entity::Entity::find().order_by_asc(entity::Column::Name).all(&state.db).await?;
    let mut counts = std::collections::HashMap::<Uuid, u64>::new();
    let mut roles = std::collections::HashMap::<Uuid, Role>::new();
    for m in memberships::Entity::find().all(&state.db).await? {
        *counts.entry(m.organisation_id).or_default() += 1;
        if m.account_id == admin.account.id.0
            && let Some(role) = stored_role(&m.role)
        {
            roles.insert(m.organisation_id, role);
        }
    }
    Ok(models
        .into_iter()
        .map(|model| {
            let (role, members) = (roles.get(&model.id).copied(), counts.get(&model.id).copied().unwrap_or(0));
            view(model, role, members)
        })
        .collect())
}

/// Disables or enables an organisation (the instance admin): while disabled, every token of it
/// is refused and its open servers are closed, on every process at once. Its members still
/// sign in, and its objects stay as they are.
pub async fn set_disabled(state: &AppState, admin: &Actor, id: OrganisationId, disabled: bool) -> Result<OrganisationView, AppError> {
    if !admin.account.is_admin() && admin.via != crate::accounts::actor::Via::Cli {
        return Err(AppError::forbidden());
    }
    let model = entity::Entity::find_by_id(id.0).one(&state.db).await?.ok_or_else(|| AppError::not_found("organisation"))?;
    let txn = state.changes.begin(&state.db).await?;
    entity::Entity::update_many()
        .col_expr(entity::Column::DisabledAt, Expr::value(disabled.then(Utc::now)))
        .filter(entity::Column::Id.eq(id.0))
        .exec(&txn)
        .await?;
    record_change(&txn, ChangeKind::Organisation, id).await?;
    let action = if disabled { "organisation.disabled" } else { "organisation.enabled" };
    audit(&txn, AuditRecord::by(admin, action, "organisation", id).in_organisation(id).detail(serde_json::json!({ "name": model.name })))
        .await?;
    state.changes.commit(&state.db, txn).await?;
    get(state, &admin.account, id).await
}

/// Renames the actor's organisation (owners).
pub async fn rename(state: &AppState, actor: &Actor, name: &str) -> Result<OrganisationView, AppError> {
    let organisation = actor.may(Action::ChangeOrganisation)?;
    let name = OrganisationName::parse(name).map_err(|e| AppError::invalid_fields([("name".to_string(), e)].into()))?;
    let txn = state.changes.begin(&state.db).await?;
    entity::Entity::update_many()
        .col_expr(entity::Column::Name, Expr::value(name.as_str()))
        .filter(entity::Column::Id.eq(organisation.0))
        .exec(&txn)
        .await?;
    audit(
        &txn,
        AuditRecord::by(actor, "organisation.renamed", "organisation", organisation).detail(serde_json::json!({ "name": name.as_str() })),
    )
    .await?;
    state.changes.commit(&state.db, txn).await?;
    get(state, &actor.account, organisation).await
}

/// The members of the actor's organisation, owners first.
pub async fn members(state: &AppState, actor: &Actor) -> Result<Vec<MemberView>, AppError> {
    let organisation = actor.may(Action::Read)?;
    let rows = memberships::Entity::find().filter(memberships::Column::OrganisationId.eq(organisation.0)).all(&state.db).await?;
    let ids: Vec<Uuid> = rows.iter().map(|m| m.account_id).collect();
    let emails: std::collections::HashMap<Uuid, String> = accounts::Entity::find()
        .filter(accounts::Column::Id.is_in(ids))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.email))
        .collect();
    let mut members: Vec<MemberView> = rows
        .into_iter()
        .filter_map(|m| {
            Some(MemberView {
                account_id: m.account_id,
                email: emails.get(&m.account_id)?.clone(),
                role: stored_role(&m.role)?,
                joined_at: m.created_at,
            })
        })
        .collect();
    members.sort_by(|a, b| (a.role, &a.email).cmp(&(b.role, &b.email)));
    Ok(members)
}

/// May the actor give or take away `role`? Owners are made and unmade only by owners.
fn may_touch(actor: &Actor, role: Role) -> Result<OrganisationId, AppError> {
    let organisation = actor.may(Action::ChangeMembers)?;
    if role == Role::Owner {
        actor.may(Action::ChangeOwners)?;
    }
    Ok(organisation)
}

async fn owners(db: &impl ConnectionTrait, organisation: OrganisationId) -> Result<u64, AppError> {
    Ok(memberships::Entity::find()
        .filter(memberships::Column::OrganisationId.eq(organisation.0))
        .filter(memberships::Column::Role.eq(Role::Owner.as_str()))
        .count(db)
        .await?)
}

fn last_owner() -> AppError {
    AppError::new(ErrorCode::Conflict, "An organisation needs at least one owner: make someone else an owner first.")
}

fn personal_owner() -> AppError {
    AppError::new(ErrorCode::Conflict, "The account a personal organisation belongs to is always its owner.")
}

async fn member_account(db: &impl ConnectionTrait, email: &str) -> Result<accounts::Model, AppError> {
    let email = email.trim().to_lowercase();
    accounts::Entity::find().filter(accounts::Column::Email.eq(email.clone())).one(db).await?.ok_or_else(|| {
        AppError::new(ErrorCode::NotFound, format!("No account has the email {email}. Invite them with a link instead."))
            .with_field("email", "No account has this email.")
    })
}

/// Adds an existing account as a member (admins; owners only by owners).
pub async fn add_member(state: &AppState, actor: &Actor, email: &str, role: Role) -> Result<MemberView, AppError> {
    let organisation = may_touch(actor, role)?;
    let account = member_account(&state.db, email).await?;
    if role_of(&state.db, organisation, account.id).await?.is_some() {
        return Err(AppError::new(ErrorCode::Conflict, format!("{} is already a member.", account.email)));
    }
    let txn = state.changes.begin(&state.db).await?;
    insert_member(&txn, organisation, account.id, role).await?;
    audit(
        &txn,
        AuditRecord::by(actor, "member.added", "account", account.id).detail(serde_json::json!({ "email": account.email, "role": role })),
    )
    .await?;
    state.changes.commit(&state.db, txn).await?;
    member(state, organisation, account.id).await
}

async fn member(state: &AppState, organisation: OrganisationId, account: Uuid) -> Result<MemberView, AppError> {
    let row =
        memberships::Entity::find_by_id((organisation.0, account)).one(&state.db).await?.ok_or_else(|| AppError::not_found("member"))?;
    let email = accounts::Entity::find_by_id(account).one(&state.db).await?.map(|a| a.email).unwrap_or_default();
    Ok(MemberView { account_id: account, email, role: stored_role(&row.role).unwrap_or(Role::Viewer), joined_at: row.created_at })
}

/// Changes a member's role; it applies to their next request, and to their tokens at once.
pub async fn set_role(state: &AppState, actor: &Actor, account: Uuid, role: Role) -> Result<MemberView, AppError> {
    let organisation = actor.may(Action::ChangeMembers)?;
    let current = role_of(&state.db, organisation, account).await?.ok_or_else(|| AppError::not_found("member"))?;
    may_touch(actor, current)?;
    may_touch(actor, role)?;
    if current == role {
        return member(state, organisation, account).await;
    }
    if organisation.0 == account {
        return Err(personal_owner());
    }
    let txn = state.changes.begin(&state.db).await?;
    if leaves_no_owner(owners(&txn, organisation).await?, current == Role::Owner) {
        return Err(last_owner());
    }
    memberships::Entity::update_many()
        .col_expr(memberships::Column::Role, Expr::value(role.as_str()))
        .filter(memberships::Column::OrganisationId.eq(organisation.0))
        .filter(memberships::Column::AccountId.eq(account))
        .exec(&txn)
        .await?;
    record_change(&txn, ChangeKind::Membership, account).await?;
    audit(
        &txn,
        AuditRecord::by(actor, "member.role_changed", "account", account).detail(serde_json::json!({ "from": current, "to": role })),
    )
    .await?;
    state.changes.commit(&state.db, txn).await?;
    member(state, organisation, account).await
}

/// Removes a member (or, when `account` is the actor's own, leaves). Their tokens in the
/// organisation are revoked, or handed to another member who may hold tokens; either way their
/// live streams end within the usual bound, on every process.
pub async fn remove_member(state: &AppState, actor: &Actor, account: Uuid, tokens: TokensOfRemoved) -> Result<u64, AppError> {
    use crate::tokens::ssr::entity as token_rows;
    let leaving = account == actor.account.id.0;
    let organisation = if leaving { actor.may(Action::Read)? } else { actor.may(Action::ChangeMembers)? };
    let current = role_of(&state.db, organisation, account).await?.ok_or_else(|| AppError::not_found("member"))?;
    if !leaving {
        may_touch(actor, current)?;
    }
    if organisation.0 == account {
        return Err(personal_owner());
    }
    if let TokensOfRemoved::HandTo(heir) = tokens {
        let heir_role = role_of(&state.db, organisation, heir).await?;
        if heir == account || !heir_role.is_some_and(Role::may_hold_tokens) {
            return Err(AppError::new(
                ErrorCode::InvalidInput,
                "Hand the tokens to another member who may create tokens (member or above).",
            )
            .with_field("hand_to", "Choose a member, admin or owner."));
        }
    }
    let txn = state.changes.begin(&state.db).await?;
    if leaves_no_owner(owners(&txn, organisation).await?, current == Role::Owner) {
        return Err(last_owner());
    }
    memberships::Entity::delete_by_id((organisation.0, account)).exec(&txn).await?;
    let made: Vec<Uuid> = token_rows::Entity::find()
        .filter(token_rows::Column::OrganisationId.eq(organisation.0))
        .filter(token_rows::Column::AccountId.eq(account))
        .filter(token_rows::Column::RevokedAt.is_null())
        .all(&txn)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    let update = token_rows::Entity::update_many().filter(token_rows::Column::Id.is_in(made.clone()));
    let update = match tokens {
        TokensOfRemoved::Revoke => update.col_expr(token_rows::Column::RevokedAt, Expr::value(Utc::now())),
        TokensOfRemoved::HandTo(heir) => update.col_expr(token_rows::Column::AccountId, Expr::value(heir)),
    };
    update.exec(&txn).await?;
    for id in &made {
        record_change(&txn, ChangeKind::Token, id).await?;
    }
    record_change(&txn, ChangeKind::Membership, account).await?;
    let detail = serde_json::json!({
        "role": current,
        "tokens": made.len(),
        "tokens_to": match tokens { TokensOfRemoved::Revoke => None, TokensOfRemoved::HandTo(heir) => Some(heir) },
    });
    let action = if leaving { "member.left" } else { "member.removed" };
    audit(&txn, AuditRecord::by(actor, action, "account", account).detail(detail)).await?;
    state.changes.commit(&state.db, txn).await?;
    Ok(made.len() as u64)
}

/// The prefix of invitation codes, which tells them from sign-up invites.
pub const INVITATION_PREFIX: &str = "ghi_";

/// Whether `code` is an organisation's invitation (not an instance sign-up invite).
pub fn is_invitation(code: &str) -> bool {
    code.trim().starts_with(INVITATION_PREFIX)
}

/// The accept page's address for `code`.
pub fn invitation_url(state: &AppState, code: &str) -> String {
    format!("{}/join?code={code}", state.settings.public_url)
}

/// Makes an invitation link (one use, expiring) to join as `role`, limited to `email` when given.
pub async fn invite(
    state: &AppState,
    actor: &Actor,
    role: Role,
    email: Option<&str>,
    days: Option<i64>,
) -> Result<CreatedInvitation, AppError> {
    let organisation = may_touch(actor, role)?;
    let email = match email.map(str::trim).filter(|e| !e.is_empty()) {
        None => None,
        Some(raw) => Some(
            crate::accounts::Email::parse(raw)
                .map_err(|e| AppError::invalid_fields([("email".to_string(), e.to_string())].into()))?
                .as_str()
                .to_string(),
        ),
    };
    let days = days.unwrap_or(INVITATION_DAYS);
    if !(1..=90).contains(&days) {
        return Err(AppError::invalid_fields([("days".to_string(), "An invitation lasts from 1 to 90 days.".to_string())].into()));
    }
    let code = random_secret(INVITATION_PREFIX);
    let id = Uuid::now_v7();
    let now = Utc::now();
    let expires_at = now + Duration::days(days);
    let txn = state.changes.begin(&state.db).await?;
    invitations::Entity::insert(invitations::ActiveModel {
        id: Set(id),
        organisation_id: Set(organisation.0),
        role: Set(role.as_str().into()),
        email: Set(email.clone()),
        code_hash: Set(sha256_hex(&code)),
        invited_by: Set(actor.account.id.0),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
        used_by: Set(None),
    })
    .exec_without_returning(&txn)
    .await?;
    audit(
        &txn,
        AuditRecord::by(actor, "invitation.created", "invitation", id)
            .detail(serde_json::json!({ "role": role, "email": email, "expires_at": expires_at })),
    )
    .await?;
    state.changes.commit(&state.db, txn).await?;
    Ok(CreatedInvitation { id, url: invitation_url(state, &code), role, email, expires_at })
}

fn invitation_not_valid() -> AppError {
    AppError::new(
        ErrorCode::InvalidInput,
        "This invitation link is not valid: it may have been used already or have expired. Ask for a new one.",
    )
    .with_field("code", "This invitation is not valid.")
}

/// The invitation `code` names, while it may still be accepted.
pub async fn offer(db: &impl ConnectionTrait, code: &str) -> Result<(invitations::Model, InvitationOffer), AppError> {
    let found = invitations::Entity::find()
        .filter(invitations::Column::CodeHash.eq(sha256_hex(code.trim())))
        .filter(invitations::Column::UsedAt.is_null())
        .filter(invitations::Column::ExpiresAt.gt(Utc::now()))
        .one(db)
        .await?
        .ok_or_else(invitation_not_valid)?;
    let organisation = entity::Entity::find_by_id(found.organisation_id).one(db).await?.ok_or_else(invitation_not_valid)?;
    let role = stored_role(&found.role).ok_or_else(invitation_not_valid)?;
    let offer = InvitationOffer { organisation: organisation.name, role, email: found.email.clone() };
    Ok((found, offer))
}

/// Accepts the invitation `code` as `account`: exactly one acceptance wins a code, however many
/// race. Runs in the caller's transaction (a sign-up's, or its own).
pub async fn accept_in(db: &impl ConnectionTrait, code: &str, account: Uuid, email: &str) -> Result<OrganisationId, AppError> {
    let (found, _) = offer(db, code).await?;
    if let Some(invited) = &found.email
        && invited != email
    {
        return Err(AppError::new(
            ErrorCode::Forbidden,
            "This invitation is for another email address. Sign in with the account it names, or ask for a new one.",
        ));
    }
    let organisation = OrganisationId(found.organisation_id);
    if role_of(db, organisation, account).await?.is_some() {
        return Err(AppError::new(ErrorCode::Conflict, "You are already a member of this organisation."));
    }
    let used = invitations::Entity::update_many()
        .col_expr(invitations::Column::UsedAt, Expr::value(Utc::now()))
        .col_expr(invitations::Column::UsedBy, Expr::value(account))
        .filter(invitations::Column::Id.eq(found.id))
        .filter(invitations::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    if used.rows_affected == 0 {
        return Err(invitation_not_valid());
    }
    insert_member(db, organisation, account, stored_role(&found.role).ok_or_else(invitation_not_valid)?).await?;
    audit(
        db,
        AuditRecord::anonymous(Some(crate::accounts::AccountId(account)), None, "invitation.accepted")
            .in_organisation(organisation)
            .actor(crate::accounts::AccountId(account))
            .detail(serde_json::json!({ "invitation": found.id, "role": found.role })),
    )
    .await?;
    Ok(organisation)
}

/// Accepts the invitation `code` for a signed-in account.
pub async fn accept(state: &AppState, account: &AccountView, code: &str) -> Result<OrganisationView, AppError> {
    let txn = state.changes.begin(&state.db).await?;
    let organisation = accept_in(&txn, code, account.id.0, account.email.as_str()).await?;
    state.changes.commit(&state.db, txn).await?;
    get(state, account, organisation).await
}
