//! `gatehouse token …`
use app::{
    accounts::{
        AccountId,
        actor::{Actor, Within},
        ssr as accounts,
    },
    organisations::{OrganisationId, Role},
    state::AppState,
    tokens::{
        NewTokenInput, TokenId, TokenView,
        inspect::ssr as inspector,
        shown_fingerprint,
        ssr::{self, TokenQuery, operator},
    },
};

use super::{
    CliError, TokenCommand,
    accounts::Owned,
    organisations::{actor_in, owners},
    output::{Output, table, when},
    prompt,
    servers::named as server_named,
};
use crate::startup::Opened;

/// The one token `name` (an id or a fingerprint prefix) means, and the operator acting for its
/// owner. None, or more than one, is bad input that lists the candidates.
async fn resolve(state: &AppState, name: &str) -> Result<(Actor, TokenView), CliError> {
    let mut found = operator::named(state, name).await?;
    match found.len() {
        0 => Err(CliError::bad_input(format!("No token has the id or fingerprint \"{}\".", name.trim()))),
        1 => {
            let token = found.remove(0);
            let actor = maker_of(state, &token).await?;
            let view = ssr::get_token(state, &actor, TokenId(token.id)).await?;
            Ok((actor, view))
        }
        _ => {
            let matches: Vec<String> = found
                .iter()
                .map(|t| {
                    format!(
                        "  {}  {}  {}",
                        t.fingerprint.as_deref().map(shown_fingerprint).unwrap_or_else(|| "-".into()),
                        t.id,
                        t.description
                    )
                })
                .collect();
            Err(CliError::bad_input(format!(
                "\"{}\" matches {} tokens; give more of the fingerprint:\n{}",
                name.trim(),
                found.len(),
                matches.join("\n")
            )))
        }
    }
}

/// The operator acting for the member who made `token`, within the token's organisation (as an
/// owner there: the operator may do to a token whatever its organisation's owner may).
async fn maker_of(state: &AppState, token: &ssr::entity::Model) -> Result<Actor, CliError> {
    let maker = accounts::find_account(&state.db, AccountId(token.account_id))
        .await?
        .ok_or_else(|| CliError::failed("the token's account is gone"))?;
    let within = Within { organisation: OrganisationId(token.organisation_id), role: Some(Role::Owner) };
    Ok(Actor::cli(maker, within))
}

fn rows(tokens: &[Owned<TokenView>]) -> Vec<Vec<String>> {
    tokens
        .iter()
        .map(|o| {
            let t = &o.item;
            vec![
                t.fingerprint.clone().unwrap_or_else(|| "-".into()),
                t.description.clone(),
                o.account.clone(),
                t.status.as_str().into(),
                when(t.expires_at, "never"),
                when(t.last_used_at, "never"),
                t.servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(","),
                t.id.to_string(),
            ]
        })
        .collect()
}

const HEADER: [&str; 8] = ["FINGERPRINT", "DESCRIPTION", "ACCOUNT", "STATUS", "EXPIRES", "LAST USED", "SERVERS", "ID"];

fn detail(account: &str, t: &TokenView) -> String {
    let servers = if t.servers.is_empty() {
        "none".to_string()
    } else {
        let named = t.servers.iter().map(|s| if s.tools.is_all() { s.name.clone() } else { format!("{} ({})", s.name, s.tools) });
        named.collect::<Vec<_>>().join(", ")
    };
    format!(
        "{}\n  id           {}\n  fingerprint  {}\n  account      {account}\n  status       {}\n  created      {}\n  expires      {}\n  revoked      {}\n  last used    {}{}\n  requests     {}\n  servers      {servers}\n  from         {}",
        t.description,
        t.id,
        t.fingerprint.as_deref().unwrap_or("- (made before fingerprints)"),
        t.status.as_str(),
        when(Some(t.created_at), ""),
        when(t.expires_at, "never"),
        when(t.revoked_at, "no"),
        when(t.last_used_at, "never"),
        t.last_used_ip.as_deref().map(|ip| format!(" from {ip}")).unwrap_or_default(),
        t.use_count,
        if t.allowed_networks.is_empty() { "any address".to_string() } else { t.allowed_networks.join(", ") },
    )
}

pub async fn run(command: TokenCommand, opened: &Opened, out: &Output) -> Result<(), CliError> {
    let state = &opened.state;
    match command {
        TokenCommand::Create { account, org, description, expires, servers, allow_from } => {
            let account = prompt::required(account, "--account", "The email of the member making it")?;
            let actor = actor_in(state, &account, org.as_deref()).await?;
            let description = prompt::required(description, "--description", "Description (what will use it)")?;
            let expires = prompt::required(expires, "--expires", "Expires (never, 30d, 2027-01-31…)")?;
            let mut server_ids = Vec::new();
            for name in &servers {
                server_ids.push(server_named(state, &actor, name).await?.id);
            }
            let created = ssr::create_token(
                state,
                &actor,
                NewTokenInput { description, expires, server_ids, allowed_networks: allow_from, tools: None },
            )
            .await?;
            out.print(
                &serde_json::json!({ "token": created.token, "id": created.details.id, "fingerprint": created.details.fingerprint }),
                || created.token.clone(),
            );
            out.note(&format!(
                "Token {} (fingerprint {}) for {}. It is shown only now: copy it into the client.",
                created.details.id,
                created.details.fingerprint.as_deref().unwrap_or("-"),
                actor.account.email
            ));
        }
        TokenCommand::List { account, org, status } => {
            let query = TokenQuery::parse(status.as_deref(), None)?;
            let mut listed = Vec::new();
            for (owner, actor) in owners(state, account, org.as_deref()).await? {
                for token in ssr::list_tokens(state, &actor, &query).await? {
                    listed.push(Owned::by(&owner, token));
                }
            }
            out.print(&listed, || table(&HEADER, rows(&listed), "No tokens."));
        }
        TokenCommand::Show { token } => {
            let (actor, token) = resolve(state, &token).await?;
            let shown = Owned::by(&actor.account, token);
            out.print(&shown, || detail(&shown.account, &shown.item));
        }
        TokenCommand::Revoke { token } => {
            let (actor, token) = resolve(state, &token).await?;
            let was = token.status;
            let token = ssr::revoke_token(state, &actor, token.id).await?;
            let shown = Owned::by(&actor.account, token);
            out.print(&shown, || {
                if was == app::tokens::TokenStatus::Revoked {
                    format!("{} was already revoked", shown.item.description)
                } else {
                    format!("Revoked {} ({}); it stops on every gateway at once", shown.item.description, shown.item.id)
                }
            });
        }
        TokenCommand::Associate(link) => {
            let (actor, token) = resolve(state, &link.token).await?;
            let server = server_named(state, &actor, &link.server).await?;
            let token = ssr::associate(state, &actor, token.id, server.id).await?;
            out.print(&token, || format!("{} may now reach {}", token.description, server.name));
        }
        TokenCommand::Dissociate(link) => {
            let (actor, token) = resolve(state, &link.token).await?;
            let server = server_named(state, &actor, &link.server).await?;
            let token = ssr::dissociate(state, &actor, token.id, server.id).await?;
            out.print(&token, || format!("{} can no longer reach {}", token.description, server.name));
        }
        TokenCommand::Limit { token, server, tools } => {
            let rule = app::tools::ToolRule::parse(&tools).map_err(CliError::bad_input)?;
            let (actor, token) = resolve(state, &token).await?;
            let server = server_named(state, &actor, &server).await?;
            let token = ssr::set_tool_rule(state, &actor, token.id, server.id, rule.clone()).await?;
            out.print(&token, || format!("{} may call {rule} on {}", token.description, server.name));
        }
        TokenCommand::Allow { token, from } => {
            let (actor, token) = resolve(state, &token).await?;
            let token = ssr::set_allowed_networks(state, &actor, token.id, vec![from]).await?;
            out.print(&token, || match token.allowed_networks.as_slice() {
                [] => format!("{} may be used from any address", token.description),
                networks => format!("{} may be used only from {}", token.description, networks.join(", ")),
            });
        }
        TokenCommand::Inspect => inspect(opened, out).await?,
        TokenCommand::Find => {
            let presented = prompt::stdin_line()?;
            let found = operator::by_string(state, &presented).await?;
            let Some(token) = found else {
                out.print(&serde_json::Value::Null, || "Not a token of this Gatehouse (or one made before fingerprints were kept).".into());
                return Err(CliError::failed_quietly());
            };
            let actor = maker_of(state, &token).await?;
            let view = ssr::get_token(state, &actor, TokenId(token.id)).await?;
            let shown = Owned::by(&actor.account, view);
            out.print(&shown, || detail(&shown.account, &shown.item));
        }
    }
    Ok(())
}

/// The gateway's verdict on a token read from stdin, server by server: the dashboard
/// inspector's check, over this process's freshly loaded view.
async fn inspect(opened: &Opened, out: &Output) -> Result<(), CliError> {
    let state = &opened.state;
    let raw = prompt::stdin_line()?;
    // Whose servers to judge it on: the organisation the token names. Only the verdicts prove
    // anything; a token naming no organisation here is judged on none.
    let claimed = claimed_account(&raw);
    let Some((owner, actor)) = (match claimed {
        Some(id) => super::organisations::operator_in(state, OrganisationId(id)).await.ok(),
        None => None,
    }) else {
        return Err(CliError::bad_input("This is not a token of this Gatehouse: it names no organisation here."));
    };
    opened.view.load(state).await?;
    let inspection = inspector::inspect(state, &actor, &raw, chrono::Utc::now()).await?;
    out.print(&inspection, || {
        let mut text = String::new();
        match &inspection.token {
            Some(t) => text.push_str(&format!("Token {} ({}), {}, of {}\n", t.description, t.id, t.status.as_str(), owner.email)),
            None => text.push_str(&format!("Not one of {}'s tokens\n", owner.email)),
        }
        if let Some(problem) = &inspection.problem {
            text.push_str(&format!("Refused everywhere: {problem}\n"));
        }
        let rows = inspection
            .servers
            .iter()
            .map(|v| vec![v.name.clone(), if v.accepted { "accepted".into() } else { "refused".into() }, v.reason.clone()])
            .collect();
        text.push_str(&table(&["SERVER", "VERDICT", "WHY"], rows, "The organisation has no servers."));
        text
    });
    Ok(())
}

/// The `sub` claim of a JWT, unverified.
fn claimed_account(raw: &str) -> Option<uuid::Uuid> {
    use base64::Engine;
    let token = app::tokens::bearer_token(raw).unwrap_or(raw.trim());
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    uuid::Uuid::parse_str(claims.get("sub")?.as_str()?).ok()
}
