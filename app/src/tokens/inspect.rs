//! The token inspector: an owner pastes a token and sees what it says and, server by server,
//! whether the gateway would accept it and exactly why not. The token is checked by the
//! gateway's own code on the server; it is never stored or logged.
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::domain::{TokenId, TokenStatus};
use crate::components::*;
use crate::error::AppError;
use crate::servers::ServerId;

/// What the inspector found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspection {
    /// The decoded JOSE header and claims, pretty-printed. Decoding proves nothing; the verdicts do.
    pub header: String,
    pub claims: String,
    /// `iat`, `nbf` and `exp` as times, labelled.
    pub times: Vec<(String, DateTime<Utc>)>,
    /// Which of this account's tokens it is, when it is one.
    pub token: Option<InspectedToken>,
    /// The token on its own: `None` when it is valid, else why not.
    pub problem: Option<String>,
    pub servers: Vec<ServerVerdict>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InspectedToken {
    pub id: TokenId,
    pub description: String,
    pub status: TokenStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerVerdict {
    pub id: ServerId,
    pub name: String,
    pub accepted: bool,
    pub reason: String,
}

#[server(prefix = "/rpc", endpoint = "inspect_token")]
pub async fn inspect_token(token: String) -> Result<Inspection, AppError> {
    crate::server_fns::with_status(
        async move {
            let (state, actor) = crate::accounts::ssr::sign_in::require_actor().await?;
            ssr::inspect(&state, &actor, &token, Utc::now()).await
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use chrono::{DateTime, Utc};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use uuid::Uuid;

    use super::{InspectedToken, Inspection, ServerVerdict};
    use crate::accounts::actor::Actor;
    use crate::components::format_time;
    use crate::error::AppError;
    use crate::organisations::Action;
    use crate::signing_keys::ssr::entity as keys;
    use crate::state::AppState;
    use crate::tokens::{Refusal, TokenId, TokenStatus, ssr::entity as tokens};

    fn invalid(message: &str) -> AppError {
        AppError::new(crate::error::ErrorCode::InvalidInput, message).with_field("token", message)
    }

    fn decode_part(part: &str, what: &str) -> Result<serde_json::Map<String, serde_json::Value>, AppError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .map_err(|_| invalid(&format!("The {what} is not base64url. Copy the whole token again.")))?;
        serde_json::from_slice(&bytes).map_err(|_| invalid(&format!("The {what} is not a JSON object. This is not a JWT.")))
    }

    pub async fn inspect(state: &AppState, actor: &Actor, raw: &str, now: DateTime<Utc>) -> Result<Inspection, AppError> {
        let organisation = actor.may(Action::Read)?;
        // Pasted with its header scheme or without.
        let token = crate::tokens::bearer_token(raw).unwrap_or(raw.trim());
        if token.is_empty() {
            return Err(invalid("Paste a token."));
        }
        if token.len() > crate::tokens::MAX_TOKEN_BYTES {
            return Err(invalid("That is far longer than any Gatehouse token (8 KiB at most)."));
        }
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() != 3 {
            return Err(invalid("A JWT has three parts separated by dots. Copy the whole token again."));
        }
        let header = decode_part(parts[0], "header")?;
        let claims = decode_part(parts[1], "payload")?;
        let times = [("iat", "Issued"), ("nbf", "Valid from"), ("exp", "Expires")]
            .into_iter()
            .filter_map(|(claim, label)| {
                let at = DateTime::from_timestamp(claims.get(claim)?.as_i64()?, 0)?;
                Some((label.to_string(), at))
            })
            .collect();

        // Which of this organisation's tokens and keys it names (never another organisation's,
        // nor another member's token to a member who may not see it).
        let jti = claims.get("jti").and_then(|v| v.as_str()).and_then(|s| s.parse::<Uuid>().ok());
        let kid = header.get("kid").and_then(|v| v.as_str()).and_then(|s| s.parse::<Uuid>().ok());
        let row = match jti {
            Some(id) => tokens::Entity::find_by_id(id)
                .filter(tokens::Column::OrganisationId.eq(organisation.0))
                .one(&state.db)
                .await?
                .filter(|t| actor.may_token(t.account_id, false).is_ok()),
            None => None,
        };
        let key = match kid {
            Some(id) => keys::Entity::find_by_id(id).filter(keys::Column::OrganisationId.eq(organisation.0)).one(&state.db).await?,
            None => None,
        };

        let verdict = state.gateway.verify(organisation.0, token);
        // The token's own row is only trusted once the gateway verified its signature.
        let verified_row = row.as_ref().filter(|_| {
            matches!(&verdict, Ok(_) | Err(Refusal::Revoked | Refusal::Expired(_) | Refusal::AccountDisabled | Refusal::NotAMember))
        });
        let explain = |refusal: &Refusal| -> String {
            match refusal {
                Refusal::NotForThisServer => "Not one of this organisation's tokens.".to_string(),
                Refusal::Signature => {
                    "Bad signature: it was not signed by this organisation's key, or it was changed after signing.".to_string()
                }
                Refusal::KeyRevoked => match key.as_ref().and_then(|k| k.revoked_at) {
                    Some(at) => format!("Signed by a key that was revoked at {}.", format_time(at)),
                    None => "Signed by a revoked key.".to_string(),
                },
                Refusal::Revoked => match verified_row.and_then(|r| r.revoked_at).or(key.as_ref().and_then(|k| k.revoked_at)) {
                    Some(at) => format!("Revoked at {}.", format_time(at)),
                    None => "Revoked.".to_string(),
                },
                Refusal::Expired(at) => format!("Expired at {}.", format_time(*at)),
                Refusal::NotAssociated => "Not associated with this server.".to_string(),
                Refusal::NotYetValid => "Not valid yet (its nbf is in the future).".to_string(),
                Refusal::AccountDisabled => "This account is disabled.".to_string(),
                Refusal::Issuer => format!("Issued by another Gatehouse deployment (this one is {}).", state.settings.issuer),
                Refusal::Audience => format!("Meant for another audience (this deployment expects {}).", state.settings.audience),
                other => other.message(),
            }
        };
        let problem = verdict.as_ref().err().map(&explain);
        let token_summary = verified_row.map(|r| InspectedToken {
            id: TokenId(r.id),
            description: r.description.clone(),
            status: TokenStatus::of(matches!(verdict, Err(Refusal::Revoked)) || r.revoked_at.is_some(), r.expires_at, now),
        });

        // What an accepted token may still not do: its tool rule per server, and its addresses.
        let (rules, networks) = match verified_row {
            Some(r) => {
                let links = crate::servers::ssr::token_servers::Entity::find()
                    .filter(crate::servers::ssr::token_servers::Column::TokenId.eq(r.id))
                    .all(&state.db)
                    .await?;
                let rules: std::collections::HashMap<Uuid, crate::tools::ToolRule> =
                    links.into_iter().map(|l| (l.server_id, crate::tools::ToolRule::from_stored(l.tool_rule.as_deref()))).collect();
                let networks = crate::tokens::networks::from_stored(r.allowed_networks.as_deref())
                    .map(|nets| nets.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", "));
                (rules, networks)
            }
            None => Default::default(),
        };
        let limits = |server: Uuid| {
            let mut said = String::new();
            if let Some(rule) = rules.get(&server).filter(|r| !r.is_all()) {
                said.push_str(&format!(" May call {rule}."));
            }
            if let Some(networks) = &networks {
                said.push_str(&format!(" Only from {networks}."));
            }
            said
        };
        let mut servers = Vec::new();
        for server in crate::servers::ssr::list_servers(state, actor).await? {
            let (accepted, reason) = match state.gateway.check(server.id.0, token) {
                Ok(Some(_)) => (true, format!("Accepted.{}", limits(server.id.0))),
                Ok(None) => (true, "Accepted: this server does not require a token.".to_string()),
                Err(refusal) => (false, explain(&refusal)),
            };
            servers.push(ServerVerdict { id: server.id, name: server.name, accepted, reason });
        }
        let pretty = |m: serde_json::Map<String, serde_json::Value>| serde_json::to_string_pretty(&m).unwrap_or_default();
        Ok(Inspection { header: pretty(header), claims: pretty(claims), times, token: token_summary, problem, servers })
    }
}

/// The inspector page.
#[component]
pub fn InspectPage() -> impl IntoView {
    let action = ServerAction::<InspectToken>::new();
    let error = action_error(action);
    let result = move || action.value().get().and_then(Result::ok);
    view! {
        <Title text="Inspect a token · Gatehouse"/>
        <PageHeader title="Inspect a token" description="Paste a token to see its header and claims, and whether each of your servers would accept it. It is checked on the server and never stored or logged."/>
        <ActionForm action=action attr:class="max-w-3xl space-y-4" attr:novalidate="">
            <FormAlert error=Signal::derive(move || error.get().filter(|e| e.fields.is_empty()))/>
            <div class="space-y-1.5">
                <label for="field-token" class="block text-sm font-medium text-slate-700 dark:text-slate-200">"Token"</label>
                <textarea id="field-token" name="token" rows="4" spellcheck="false" autocomplete="off" required
                    aria-invalid=move || field_error(error, "token").get().is_some().then_some("true")
                    aria-describedby="field-token-error"
                    class=format!("{INPUT} font-mono text-xs") placeholder="eyJ…"></textarea>
                <Show when=move || field_error(error, "token").get().is_some()>
                    <p id="field-token-error" class="text-sm text-rose-600 dark:text-rose-400" data-field-error="token">{move || field_error(error, "token").get()}</p>
                </Show>
            </div>
            <button type="submit" class=PRIMARY_BUTTON disabled=move || action.pending().get() aria-busy=move || action.pending().get().then_some("true")>
                {move || if action.pending().get() { "Inspecting…" } else { "Inspect" }}
            </button>
        </ActionForm>
        {move || result().map(|r| view! { <InspectionView inspection=r/> })}
    }
}

#[component]
fn InspectionView(inspection: Inspection) -> impl IntoView {
    let Inspection { header, claims, times, token, problem, servers } = inspection;
    view! {
        <section class="mt-8 max-w-3xl space-y-6" aria-labelledby="verdict" data-testid="inspection">
            <div class={if problem.is_none() { "rounded-xl border border-emerald-200 bg-emerald-50 p-4 text-sm text-emerald-900 dark:border-emerald-900 dark:bg-emerald-950 dark:text-emerald-200" } else { "rounded-xl border border-rose-200 bg-rose-50 p-4 text-sm text-rose-900 dark:border-rose-900 dark:bg-rose-950 dark:text-rose-200" }}>
                <h2 id="verdict" class="font-semibold">
                    {match &problem { None => "A valid token of this organisation".to_string(), Some(p) => p.clone() }}
                </h2>
                {token.map(|t| view! {
                    <p class="mt-1">"It is " <a class="font-medium underline" href=format!("/tokens/{}", t.id)>{format!("“{}”", t.description)}</a> {format!(" ({}).", t.status.as_str())}</p>
                })}
            </div>
            <div>
                <h3 class="mb-2 text-sm font-semibold uppercase tracking-wide text-slate-500">"Your servers"</h3>
                {if servers.is_empty() {
                    view! { <p class="text-sm text-slate-600 dark:text-slate-400">"You have no servers yet."</p> }.into_any()
                } else {
                    view! {
                        <ul class="divide-y divide-slate-100 rounded-xl border border-slate-200 bg-white dark:divide-slate-800 dark:border-slate-800 dark:bg-slate-900">
                            {servers.into_iter().map(|s| view! {
                                <li class="flex flex-wrap items-center justify-between gap-2 px-4 py-3 text-sm" data-server-verdict=s.name.clone() data-accepted=s.accepted.to_string()>
                                    <a class=LINK href=format!("/servers/{}", s.id)>{s.name.clone()}</a>
                                    <span class="flex items-center gap-2">
                                        <Badge text={if s.accepted { "accepted" } else { "refused" }} tone={if s.accepted { Tone::Good } else { Tone::Bad }}/>
                                        <span class="text-slate-700 dark:text-slate-300">{s.reason}</span>
                                    </span>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </div>
            {(!times.is_empty()).then(|| view! {
                <dl class="grid gap-3 sm:grid-cols-3">
                    {times.into_iter().map(|(label, at)| view! {
                        <div class=CARD>
                            <dt class="text-xs font-medium uppercase tracking-wide text-slate-500">{label}</dt>
                            <dd class="mt-1 text-sm font-semibold">{format_time(at)}<span class="block text-xs font-normal text-slate-500"><RelativeTime at=Some(at)/></span></dd>
                        </div>
                    }).collect_view()}
                </dl>
            })}
            <div class="grid gap-4 md:grid-cols-2">
                <div>
                    <h3 class="mb-2 text-sm font-semibold uppercase tracking-wide text-slate-500">"Header"</h3>
                    <pre class="overflow-x-auto rounded-lg bg-slate-950 p-4 text-xs text-slate-100" data-testid="decoded-header"><code>{header}</code></pre>
                </div>
                <div>
                    <h3 class="mb-2 text-sm font-semibold uppercase tracking-wide text-slate-500">"Claims"</h3>
                    <pre class="overflow-x-auto rounded-lg bg-slate-950 p-4 text-xs text-slate-100" data-testid="decoded-claims"><code>{claims}</code></pre>
                </div>
            </div>
        </section>
    }
}
