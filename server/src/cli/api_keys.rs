//! `gatehouse api-key …`
use app::{
    accounts::ssr as accounts,
    api_keys::{ApiScope, NewApiKeyInput, ssr},
    state::AppState,
};

use super::{
    ApiKeyCommand, CliError,
    accounts::{Owned, accounts_or_all, actor_for},
    output::{Output, table, when},
    prompt,
};

pub async fn run(command: ApiKeyCommand, state: &AppState, out: &Output) -> Result<(), CliError> {
    match command {
        ApiKeyCommand::Create { account, scope, expires, description } => {
            let account = prompt::required(account, "--account", "Owner's email")?;
            let actor = actor_for(state, &account).await?;
            let scope =
                ApiScope::parse(&prompt::required(scope, "--scope", "Scope (read, write or admin)")?).map_err(CliError::bad_input)?;
            let expires = prompt::required(expires, "--expires", "Expires (never, 30d, 2027-01-31…)")?;
            let description = description.unwrap_or_else(|| format!("made with the CLI on {}", chrono::Utc::now().format("%Y-%m-%d")));
            let created = ssr::create(state, &actor, NewApiKeyInput { description, scope, expires }).await?;
            out.print(&serde_json::json!({ "key": created.key, "id": created.details.id }), || created.key.clone());
            out.note(&format!(
                "API key {} ({} scope) for {}. It is shown only now. Send it as `Authorization: Bearer <key>` to /api/v1.",
                created.details.id,
                scope.as_str(),
                actor.account.email
            ));
        }
        ApiKeyCommand::List { account } => {
            let mut listed = Vec::new();
            for owner in accounts_or_all(state, account).await? {
                for key in ssr::list(state, Some(owner.id)).await? {
                    listed.push(Owned::by(&owner, key));
                }
            }
            out.print(&listed, || {
                let rows = listed
                    .iter()
                    .map(|o| {
                        let k = &o.item;
                        vec![
                            k.display.clone(),
                            k.description.clone(),
                            o.account.clone(),
                            k.scope.as_str().into(),
                            k.status.as_str().into(),
                            when(k.expires_at, "never"),
                            when(k.last_used_at, "never"),
                            k.id.to_string(),
                        ]
                    })
                    .collect();
                table(&["KEY", "DESCRIPTION", "ACCOUNT", "SCOPE", "STATUS", "EXPIRES", "LAST USED", "ID"], rows, "No API keys.")
            });
        }
        ApiKeyCommand::Revoke { id } => {
            let Some(model) = ssr::entity_by_id(state, id).await? else {
                return Err(CliError::bad_input(format!("No API key has the id {id}. `gatehouse api-key list` shows them.")));
            };
            let owner = accounts::find_account(&state.db, app::accounts::AccountId(model.account_id))
                .await?
                .ok_or_else(|| CliError::failed("the key's account is gone"))?;
            let key = ssr::revoke(state, &app::accounts::actor::Actor::cli_personal(owner), id).await?;
            out.print(&key, || format!("Revoked API key {} ({})", key.description, key.id));
        }
    }
    Ok(())
}
