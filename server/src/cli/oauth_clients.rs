//! `gatehouse oauth-client …`
use app::{oauth::ssr::clients, state::AppState};

use super::{
    CliError, OauthClientCommand,
    output::{Output, table, when},
};

pub async fn run(command: OauthClientCommand, state: &AppState, out: &Output) -> Result<(), CliError> {
    let listed = clients::list(state).await?;
    match command {
        OauthClientCommand::List => out.print(&listed, || {
            let rows = listed
                .iter()
                .map(|c| {
                    vec![
                        c.name.clone(),
                        c.kind.replace('_', " "),
                        c.live_grants.to_string(),
                        c.created_at.format("%Y-%m-%d %H:%M").to_string(),
                        when(c.expires_at, "never"),
                        c.client_id.clone(),
                        c.id.to_string(),
                    ]
                })
                .collect();
            table(&["NAME", "KNOWN BY", "LIVE GRANTS", "CREATED", "EXPIRES", "CLIENT ID", "ID"], rows, "No OAuth clients.")
        }),
        OauthClientCommand::Delete { client } => {
            let wanted = client.trim();
            let found = listed.iter().find(|c| c.id.to_string() == wanted || c.client_id == wanted).ok_or_else(|| {
                CliError::bad_input(format!("No OAuth client is \"{wanted}\". `gatehouse oauth-client list` shows them."))
            })?;
            let ended = clients::delete(state, None, found.id).await?;
            out.print(&serde_json::json!({ "deleted": found.id, "grants_revoked": ended }), || {
                format!("Deleted {} ({}); {ended} grant(s) revoked, their streams ended.", found.name, found.client_id)
            });
        }
    }
    Ok(())
}
