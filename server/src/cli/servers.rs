//! `gatehouse server …`
use app::{
    accounts::actor::Actor,
    servers::{HeaderInput, ServerId, ServerInput, ServerView, Transport, ssr},
    state::AppState,
};

use super::{
    CliError, ServerCommand,
    accounts::Owned,
    organisations::{actor_in, owners},
    output::{Output, table, when},
    prompt,
};

/// One of the actor's organisation's servers, by name or id.
pub async fn named(state: &AppState, actor: &Actor, name_or_id: &str) -> Result<ServerView, CliError> {
    let wanted = name_or_id.trim();
    let servers = ssr::list_servers(state, actor).await?;
    let by_id = uuid::Uuid::parse_str(wanted).ok().map(ServerId);
    servers.into_iter().find(|s| Some(s.id) == by_id || s.name == wanted).ok_or_else(|| {
        CliError::bad_input(format!(
            "The organisation has no server named \"{wanted}\". `gatehouse server list --account EMAIL` (or --org ORG) shows them."
        ))
    })
}

/// `Name: value` → a header for the upstream.
fn header(raw: &str) -> Result<HeaderInput, CliError> {
    let (name, value) = raw.split_once(':').ok_or_else(|| {
        CliError::bad_input(format!("\"{raw}\" is not a header: write it as 'Name: value', e.g. 'Authorization: Bearer abc'."))
    })?;
    Ok(HeaderInput { name: name.trim().to_string(), value: Some(value.trim().to_string()) })
}

pub async fn run(command: ServerCommand, state: &AppState, out: &Output) -> Result<(), CliError> {
    match command {
        ServerCommand::Create { account, org, name, upstream, transport, no_token, no_oauth, headers } => {
            let account = prompt::required(account, "--account", "The email of the member registering it")?;
            let actor = actor_in(state, &account, org.as_deref()).await?;
            let name = prompt::required(name, "--name", "Server name")?;
            let upstream = prompt::required(upstream, "--upstream", "Upstream URL")?;
            let transport = Transport::parse(&transport.replace('-', "_"))
                .ok_or_else(|| CliError::bad_input("The transport must be streamable-http or sse."))?;
            let headers = headers.iter().map(|h| header(h)).collect::<Result<Vec<_>, _>>()?;
            let input = ServerInput {
                name,
                upstream_url: upstream,
                transport,
                require_token: !no_token,
                oauth_enabled: !no_oauth,
                upstream_headers: (!headers.is_empty()).then_some(headers),
                identity_header: None,
                tool_audit: Default::default(),
            };
            let server = ssr::create_server(state, &actor, input).await?;
            out.print(&serde_json::json!({ "id": server.id, "name": server.name, "endpoint": server.endpoint() }), || {
                format!("Created {} ({})\nEndpoint: {}", server.name, server.id, server.endpoint())
            });
        }
        ServerCommand::List { account, org } => {
            let mut listed = Vec::new();
            for (owner, actor) in owners(state, account, org.as_deref()).await? {
                for server in ssr::list_servers(state, &actor).await? {
                    listed.push(Owned::by(&owner, server));
                }
            }
            out.print(&listed, || {
                let rows = listed
                    .iter()
                    .map(|l| {
                        let s = &l.item;
                        vec![
                            s.name.clone(),
                            l.account.clone(),
                            s.transport.as_str().replace('_', "-"),
                            if s.require_token { "token".into() } else { "open".into() },
                            s.token_count.to_string(),
                            s.health.status.as_str().into(),
                            s.endpoint().to_string(),
                            when(Some(s.created_at), ""),
                            s.id.to_string(),
                        ]
                    })
                    .collect();
                table(&["NAME", "ACCOUNT", "TRANSPORT", "ACCESS", "TOKENS", "HEALTH", "ENDPOINT", "CREATED", "ID"], rows, "No servers.")
            });
        }
        ServerCommand::Set { server, account, org, identity_header, tool_audit } => {
            let actor = actor_in(state, &account, org.as_deref()).await?;
            let server = named(state, &actor, &server).await?;
            if identity_header.is_none() && tool_audit.is_none() {
                return Err(CliError::bad_input(
                    "Say what to change, e.g. --identity-header Gatehouse-Identity (or off), --tool-audit calls.",
                ));
            }
            let identity_header = match identity_header {
                None => server.identity_header.clone(),
                Some(name) => (!name.trim().eq_ignore_ascii_case("off")).then_some(name),
            };
            let tool_audit = match tool_audit {
                None => server.tool_audit,
                Some(value) => app::servers::ToolAudit::parse(&value)
                    .ok_or_else(|| CliError::bad_input("--tool-audit takes off, calls or arguments."))?,
            };
            let input = ServerInput {
                name: server.name.clone(),
                upstream_url: server.upstream_url.clone(),
                transport: server.transport,
                require_token: server.require_token,
                oauth_enabled: server.oauth_enabled,
                upstream_headers: None,
                identity_header,
                tool_audit,
            };
            let saved = ssr::update_server(state, &actor, server.id, input).await?;
            out.print(&saved, || {
                let identity = match &saved.identity_header {
                    Some(name) => format!("{} tells its upstream who is calling in the {name} header", saved.name),
                    None => format!("{} does not tell its upstream who is calling", saved.name),
                };
                let audit = match saved.tool_audit {
                    app::servers::ToolAudit::Off => "does not record tool calls",
                    app::servers::ToolAudit::Calls => "records tool calls",
                    app::servers::ToolAudit::Arguments => "records tool calls with their arguments",
                };
                format!("{identity}, and {audit}")
            });
        }
        ServerCommand::Check { server, account, org } => {
            let actor = actor_in(state, &account, org.as_deref()).await?;
            let server = named(state, &actor, &server).await?;
            let health = ssr::check_server(state, &actor, server.id).await?;
            out.print(&health, || {
                let mut text = format!("{}: {}", server.name, health.summary(chrono::Utc::now()));
                if let Some(found) = &health.discovery {
                    let tools: Vec<String> =
                        found.tools.iter().map(|t| if t.read_only { format!("{} (read-only)", t.name) } else { t.name.clone() }).collect();
                    text.push_str(&format!(
                        "\nServer: {} · protocol {} · {}",
                        found.server_name,
                        found.protocol_version,
                        found.transport.label()
                    ));
                    text.push_str(&format!("\nTools: {}", if tools.is_empty() { "none".into() } else { tools.join(", ") }));
                    let prompts: Vec<&str> = found.prompts.iter().map(|p| p.name.as_str()).collect();
                    let resources: Vec<&str> = found.resources.iter().map(|r| r.uri.as_str()).collect();
                    text.push_str(&format!("\nPrompts: {}", if prompts.is_empty() { "none".into() } else { prompts.join(", ") }));
                    text.push_str(&format!("\nResources: {}", if resources.is_empty() { "none".into() } else { resources.join(", ") }));
                }
                text
            });
            if health.status == app::servers::health::HealthStatus::Down {
                // Printed above, with the reason: the exit status tells a script.
                return Err(CliError::failed_quietly());
            }
        }
        ServerCommand::Delete { server, account } => {
            let actor = actor_in(state, &account, None).await?;
            let server = named(state, &actor, &server).await?;
            ssr::delete_server(state, &actor, server.id).await?;
            out.print(&serde_json::json!({ "id": server.id, "deleted": true }), || format!("Deleted {} ({})", server.name, server.id));
        }
    }
    Ok(())
}
