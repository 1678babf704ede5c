//! Deleting an organisation with everything it owns: kept apart from `ssr` because it reaches
//! into servers, tokens, keys and usage, which themselves ask `ssr` for names and roles.
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::Action;
use super::ssr::{entity, memberships};
use crate::accounts::actor::Actor;
use crate::audit::ssr::{AuditRecord, record as audit};
use crate::error::{AppError, ErrorCode};
use crate::events::{ChangeKind, record_change};
use crate::state::AppState;

/// Deletes the actor's organisation and everything it owns (owners; never a personal one).
/// Its tokens stop at once: every process learns the servers, keys and tokens are gone.
pub async fn delete(state: &AppState, actor: &Actor) -> Result<(), AppError> {
    use crate::servers::ssr::{entity as servers, token_servers};
    use crate::signing_keys::ssr::entity as keys;
    use crate::tokens::ssr::entity as tokens;
    let organisation = actor.may(Action::ChangeOrganisation)?;
    let model = entity::Entity::find_by_id(organisation.0).one(&state.db).await?.ok_or_else(|| AppError::not_found("organisation"))?;
    if model.personal {
        return Err(AppError::new(ErrorCode::Conflict, "A personal organisation cannot be deleted."));
    }
    let txn = state.changes.begin(&state.db).await?;
    let token_ids: Vec<Uuid> = tokens::Entity::find()
        .filter(tokens::Column::OrganisationId.eq(organisation.0))
        .all(&txn)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    let server_ids: Vec<Uuid> = servers::Entity::find()
        .filter(servers::Column::OrganisationId.eq(organisation.0))
        .all(&txn)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    let key_ids: Vec<Uuid> =
        keys::Entity::find().filter(keys::Column::OrganisationId.eq(organisation.0)).all(&txn).await?.into_iter().map(|k| k.id).collect();
    let member_ids: Vec<Uuid> = memberships::Entity::find()
        .filter(memberships::Column::OrganisationId.eq(organisation.0))
        .all(&txn)
        .await?
        .into_iter()
        .map(|m| m.account_id)
        .collect();
    crate::usage::ssr::forget_tokens(&txn, &token_ids).await?;
    token_servers::Entity::delete_many().filter(token_servers::Column::TokenId.is_in(token_ids.clone())).exec(&txn).await?;
    tokens::Entity::delete_many().filter(tokens::Column::OrganisationId.eq(organisation.0)).exec(&txn).await?;
    servers::Entity::delete_many().filter(servers::Column::OrganisationId.eq(organisation.0)).exec(&txn).await?;
    keys::Entity::delete_many().filter(keys::Column::OrganisationId.eq(organisation.0)).exec(&txn).await?;
    entity::Entity::delete_by_id(organisation.0).exec(&txn).await?;
    record_change(&txn, ChangeKind::Organisation, organisation).await?;
    for (kind, ids) in [(ChangeKind::Token, &token_ids), (ChangeKind::Server, &server_ids), (ChangeKind::SigningKey, &key_ids)] {
        for id in ids {
            record_change(&txn, kind, id).await?;
        }
    }
    for account in &member_ids {
        record_change(&txn, ChangeKind::Membership, account).await?;
    }
    audit(
        &txn,
        AuditRecord::by(actor, "organisation.deleted", "organisation", organisation)
            .in_personal_log()
            .detail(serde_json::json!({ "name": model.name, "tokens": token_ids.len(), "servers": server_ids.len() })),
    )
    .await?;
    state.changes.commit(&state.db, txn).await?;
    Ok(())
}
