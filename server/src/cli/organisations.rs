//! `gatehouse org …`, and how every other command finds the organisation it acts within. The
//! operator acts as a member: with `--account` as that member (and its role, so the one rule
//! applies as in the dashboard), without one as the organisation's first owner.
use app::{
    accounts::{
        AccountId, AccountView,
        actor::{Actor, Within},
        ssr as accounts,
    },
    organisations::{
        OrganisationId, OrganisationView, Role, TokensOfRemoved,
        ssr::{self, entity as organisations, memberships},
    },
    state::AppState,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{
    CliError, OrgCommand,
    accounts::by_email,
    output::{Output, table, when},
};

/// The organisation `name_or_id` names: an id, or a name only one organisation has.
pub async fn organisation_named(state: &AppState, name_or_id: &str) -> Result<organisations::Model, CliError> {
    let wanted = name_or_id.trim();
    if let Ok(id) = uuid::Uuid::parse_str(wanted)
        && let Some(found) = organisations::Entity::find_by_id(id).one(&state.db).await?
    {
        return Ok(found);
    }
    let mut found = organisations::Entity::find().filter(organisations::Column::Name.eq(wanted)).all(&state.db).await?;
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(CliError::bad_input(format!("No organisation is named \"{wanted}\". `gatehouse org list` shows them."))),
        n => Err(CliError::bad_input(format!(
            "{n} organisations are named \"{wanted}\"; give one's id:\n{}",
            found.iter().map(|o| format!("  {}", o.id)).collect::<Vec<_>>().join("\n")
        ))),
    }
}

/// The organisation's first owner, as the operator acting for it with an owner's standing.
pub async fn operator_in(state: &AppState, organisation: OrganisationId) -> Result<(AccountView, Actor), CliError> {
    let owner = memberships::Entity::find()
        .filter(memberships::Column::OrganisationId.eq(organisation.0))
        .filter(memberships::Column::Role.eq(Role::Owner.as_str()))
        .order_by_asc(memberships::Column::CreatedAt)
        .one(&state.db)
        .await?
        .ok_or_else(|| CliError::bad_input("This organisation has no owner."))?;
    let account = accounts::find_account(&state.db, AccountId(owner.account_id))
        .await?
        .ok_or_else(|| CliError::failed("the owner's account is gone"))?;
    let actor = Actor::cli(account.clone(), Within { organisation, role: Some(Role::Owner) });
    Ok((account, actor))
}

/// The operator acting for the account with `email` within `org` (default: its personal
/// organisation), with the role it has there.
pub async fn actor_in(state: &AppState, email: &str, org: Option<&str>) -> Result<Actor, CliError> {
    let account = by_email(state, email).await?;
    let within = match org {
        None => Within::personal(&account),
        Some(org) => {
            let organisation = organisation_named(state, org).await?;
            let within = ssr::within(&state.db, &account, OrganisationId(organisation.id)).await?;
            if within.role.is_none() {
                return Err(CliError::bad_input(format!("{} is not a member of {}.", account.email, organisation.name)));
            }
            within
        }
    };
    Ok(Actor::cli(account, within))
}

/// Whose objects a list shows, each with the actor to list them as: one organisation's (as
/// `account`, when given), every organisation `account` belongs to, or every organisation.
pub async fn owners(state: &AppState, account: Option<String>, org: Option<&str>) -> Result<Vec<(AccountView, Actor)>, CliError> {
    match (account, org) {
        (Some(email), Some(_)) => {
            let actor = actor_in(state, &email, org).await?;
            Ok(vec![(actor.account.clone(), actor)])
        }
        (None, Some(org)) => Ok(vec![operator_in(state, OrganisationId(organisation_named(state, org).await?.id)).await?]),
        (Some(email), None) => {
            let account = by_email(state, &email).await?;
            let mut listed = Vec::new();
            for organisation in ssr::list_for(&state.db, account.id.0).await? {
                let within = ssr::within(&state.db, &account, organisation.id).await?;
                listed.push((account.clone(), Actor::cli(account.clone(), within)));
            }
            Ok(listed)
        }
        (None, None) => {
            let mut listed = Vec::new();
            for organisation in organisations::Entity::find().order_by_asc(organisations::Column::CreatedAt).all(&state.db).await? {
                if let Ok(found) = operator_in(state, OrganisationId(organisation.id)).await {
                    listed.push(found);
                }
            }
            Ok(listed)
        }
    }
}

async fn toggle(state: &AppState, out: &Output, org: &str, disabled: bool) -> Result<(), CliError> {
    let (_, actor) = operator_in(state, OrganisationId(organisation_named(state, org).await?.id)).await?;
    let changed = ssr::set_disabled(state, &actor, actor.organisation(), disabled).await?;
    out.print(&changed, || {
        if disabled {
            format!("Disabled {}: every token of it is refused on every gateway at once", changed.name)
        } else {
            format!("Enabled {}", changed.name)
        }
    });
    Ok(())
}

fn role(raw: &str) -> Result<Role, CliError> {
    Role::parse(raw).map_err(CliError::bad_input)
}

#[derive(serde::Serialize)]
struct Listed {
    #[serde(flatten)]
    organisation: OrganisationView,
    members: Vec<app::organisations::MemberView>,
}

pub async fn run(command: OrgCommand, state: &AppState, out: &Output) -> Result<(), CliError> {
    match command {
        OrgCommand::Create { owner, name } => {
            let owner = by_email(state, &owner).await?;
            let actor = Actor::cli_personal(owner.clone());
            let created = ssr::create(state, &actor, &name).await?;
            out.print(&created, || format!("Created {} ({}), owned by {}", created.name, created.id, owner.email));
        }
        OrgCommand::List { account } => {
            let mut listed = Vec::new();
            for (_, actor) in owners(state, account, None).await? {
                let organisation = ssr::get(state, &actor.account, actor.organisation()).await?;
                let members = ssr::members(state, &actor).await?;
                listed.push(Listed { organisation, members });
            }
            out.print(&listed, || {
                let rows = listed
                    .iter()
                    .map(|l| {
                        let o = &l.organisation;
                        let members = l.members.iter().map(|m| format!("{} ({})", m.email, m.role.as_str())).collect::<Vec<_>>().join(", ");
                        vec![
                            o.name.clone(),
                            match (o.personal, o.disabled) {
                                (_, true) => "disabled".into(),
                                (true, false) => "personal".into(),
                                (false, false) => "team".into(),
                            },
                            members,
                            when(Some(o.created_at), ""),
                            o.id.to_string(),
                        ]
                    })
                    .collect();
                table(&["NAME", "KIND", "MEMBERS", "CREATED", "ID"], rows, "No organisations.")
            });
        }
        OrgCommand::AddMember { org, email, role: raw } => {
            let (_, actor) = operator_in(state, OrganisationId(organisation_named(state, &org).await?.id)).await?;
            let member = ssr::add_member(state, &actor, &email, role(&raw)?).await?;
            out.print(&member, || format!("{} is now a member ({})", member.email, member.role.as_str()));
        }
        OrgCommand::RemoveMember { org, email, hand_to } => {
            let (_, actor) = operator_in(state, OrganisationId(organisation_named(state, &org).await?.id)).await?;
            let member = by_email(state, &email).await?;
            let tokens = match hand_to {
                None => TokensOfRemoved::Revoke,
                Some(heir) => TokensOfRemoved::HandTo(by_email(state, &heir).await?.id.0),
            };
            let moved = ssr::remove_member(state, &actor, member.id.0, tokens).await?;
            let what = match tokens {
                TokensOfRemoved::Revoke => "revoked",
                TokensOfRemoved::HandTo(_) => "handed on",
            };
            out.print(&serde_json::json!({ "removed": member.email.as_str(), "tokens": moved, "tokens_were": what }), || {
                format!("Removed {}; {moved} of their tokens {what}", member.email)
            });
        }
        OrgCommand::Disable { org } => toggle(state, out, &org, true).await?,
        OrgCommand::Enable { org } => toggle(state, out, &org, false).await?,
        OrgCommand::Invite { org, role: raw, email, days } => {
            let (_, actor) = operator_in(state, OrganisationId(organisation_named(state, &org).await?.id)).await?;
            let invitation = ssr::invite(state, &actor, role(&raw)?, email.as_deref(), Some(days)).await?;
            out.print(&invitation, || {
                format!(
                    "{}\n(one use, joins as {}, until {})",
                    invitation.url,
                    invitation.role.as_str(),
                    when(Some(invitation.expires_at), "")
                )
            });
        }
    }
    Ok(())
}
