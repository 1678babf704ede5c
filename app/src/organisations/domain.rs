//! The organisation's vocabulary and its one authorization rule. Every face (pages, server
//! functions, REST, CLI, the OAuth consent) asks [`decide`], so tenant isolation and the role
//! table are stated once, here, and tested as a table.
use serde::{Deserialize, Serialize};

/// A member's role, from most to least powerful (the derived order is that ranking: `Owner` is
/// the smallest, so `role <= Role::Admin` reads "admin or more").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including deleting the organisation and naming other owners. There is always
    /// at least one.
    Owner,
    /// Members (except owners), servers, signing keys and any token.
    Admin,
    /// Creates tokens for the organisation's servers; sees and revokes their own.
    Member,
    /// Reads the organisation's servers (and any token of their own); changes nothing.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        let wanted = raw.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == wanted)
            .ok_or_else(|| format!("\"{}\" is not a role. Use owner, admin, member or viewer.", raw.trim()))
    }

    /// Whether a member of this role may hold tokens: the rule's answer to "may create a
    /// token". A token stands only while the member who made it may (the gateway asks this).
    pub fn may_hold_tokens(self) -> bool {
        decide(Standing { role: Some(self), instance_admin: false }, Action::CreateToken).is_ok()
    }

    /// What the Members page says a role may do.
    pub fn summary(self) -> &'static str {
        match self {
            Role::Owner => "Everything, including deleting the organisation.",
            Role::Admin => "Members, servers, signing keys and any token.",
            Role::Member => "Creates tokens for the organisation's servers; sees and revokes their own.",
            Role::Viewer => "Reads the organisation's servers; changes nothing.",
        }
    }
}

/// What an actor wants to do within one organisation. Token actions say whose token it is,
/// because a member may act on their own tokens only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// See the organisation, its servers and its members.
    Read,
    /// See a token (or an OAuth grant): its row, chart and inspector.
    ReadToken(Whose),
    /// Create a token (or consent to an OAuth grant) for the organisation's servers.
    CreateToken,
    /// Revoke a token, or change its servers.
    ChangeToken(Whose),
    /// Register, change or delete servers.
    ChangeServers,
    /// Rotate or revoke signing keys; make API keys that act as admin.
    ChangeKeys,
    /// Invite, remove or change the role of members who are not owners.
    ChangeMembers,
    /// Make someone an owner, or remove or demote an owner.
    ChangeOwners,
    /// Rename or delete the organisation.
    ChangeOrganisation,
}

/// Whose token an action touches, seen from the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Whose {
    Own,
    Another,
}

impl Action {
    /// Every action, for tables and tests.
    pub const ALL: [Action; 11] = [
        Action::Read,
        Action::ReadToken(Whose::Own),
        Action::ReadToken(Whose::Another),
        Action::CreateToken,
        Action::ChangeToken(Whose::Own),
        Action::ChangeToken(Whose::Another),
        Action::ChangeServers,
        Action::ChangeKeys,
        Action::ChangeMembers,
        Action::ChangeOwners,
        Action::ChangeOrganisation,
    ];

    /// Reading changes nothing: the instance admin may read everything.
    pub fn only_reads(self) -> bool {
        matches!(self, Action::Read | Action::ReadToken(_))
    }

    /// The least powerful role that may do this.
    fn needs(self) -> Role {
        match self {
            Action::Read | Action::ReadToken(Whose::Own) => Role::Viewer,
            Action::CreateToken | Action::ChangeToken(Whose::Own) => Role::Member,
            Action::ReadToken(Whose::Another)
            | Action::ChangeToken(Whose::Another)
            | Action::ChangeServers
            | Action::ChangeKeys
            | Action::ChangeMembers => Role::Admin,
            Action::ChangeOwners | Action::ChangeOrganisation => Role::Owner,
        }
    }
}

/// Who asks, as far as an organisation is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// Their role in the organisation, or `None` if they are not a member.
    pub role: Option<Role>,
    /// The instance's admin: sees everything, and may disable accounts, but changes an
    /// organisation's objects only as a member.
    pub instance_admin: bool,
}

/// Why an action is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// Not a member, or a member who may not even see the object: answered exactly like an id
    /// that does not exist (404), so nothing is learnt about other organisations.
    Hidden,
    /// A member who may see the object but not do this to it (403, naming the role needed).
    Forbidden { needs: Role },
}

/// The authorization rule: may someone of this standing do `action` in the organisation?
pub fn decide(standing: Standing, action: Action) -> Result<(), Denied> {
    let needs = action.needs();
    match standing.role {
        Some(role) if role <= needs => Ok(()),
        _ if standing.instance_admin && action.only_reads() => Ok(()),
        None => Err(Denied::Hidden),
        // A member who may not read another member's token is not told that it exists.
        Some(_) if action == Action::ReadToken(Whose::Another) => Err(Denied::Hidden),
        Some(_) => Err(Denied::Forbidden { needs }),
    }
}

/// Would this change leave the organisation without an owner? `owners` counts the owners now;
/// `removes_an_owner` is true when the change removes, demotes or lets leave one of them.
pub fn leaves_no_owner(owners: u64, removes_an_owner: bool) -> bool {
    removes_an_owner && owners <= 1
}

/// An organisation's name as people see it on every object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganisationName(String);

impl OrganisationName {
    pub const MAX_CHARS: usize = 80;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("Give the organisation a name.".into());
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(format!("Keep the name to {} characters.", Self::MAX_CHARS));
        }
        if name.chars().any(char::is_control) {
            return Err("The name cannot hold control characters (tabs, new lines).".into());
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How long an invitation link stays usable, unless the inviter says otherwise.
pub const INVITATION_DAYS: i64 = 7;

/// An organisation's id. A personal organisation's is its account's id: tokens made before
/// organisations (whose `sub` is that id) stay valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrganisationId(pub uuid::Uuid);

impl std::fmt::Display for OrganisationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// An organisation as one of its members sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OrganisationView {
    #[cfg_attr(feature = "ssr", schema(value_type = uuid::Uuid))]
    pub id: OrganisationId,
    pub name: String,
    /// Made with its account; it cannot be deleted.
    pub personal: bool,
    /// Disabled by the instance admin: its tokens are refused.
    pub disabled: bool,
    /// The viewer's role in it (`None`: the instance admin, looking in).
    pub role: Option<Role>,
    pub members: u64,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A member of an organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberView {
    pub account_id: uuid::Uuid,
    pub email: String,
    pub role: Role,
    pub joined_at: chrono::DateTime<chrono::Utc>,
}

/// An invitation just made: its link is shown once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedInvitation {
    pub id: uuid::Uuid,
    /// The page that accepts it (signing in or up first): send it to the person.
    pub url: String,
    pub role: Role,
    /// Only this account may accept it, when set.
    pub email: Option<String>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// What an unused invitation offers, for the accept page (and the sign-up it allows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvitationOffer {
    pub organisation: String,
    pub role: Role,
    pub email: Option<String>,
}

/// What becomes of a removed member's tokens in the organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokensOfRemoved {
    /// Revoked at once (the default): their live streams end.
    Revoke,
    /// Kept working, as tokens of this member (who must be able to hold tokens).
    HandTo(uuid::Uuid),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The role table as the issue states it: owner everything; admin members, servers, keys
    /// and any token; member their own tokens; viewer read only. `Y` allowed, `F` forbidden
    /// (403), `H` hidden (404).
    const TABLE: [(Action, [char; 4]); 11] = [
        //                                   owner admin member viewer
        (Action::Read, ['Y', 'Y', 'Y', 'Y']),
        (Action::ReadToken(Whose::Own), ['Y', 'Y', 'Y', 'Y']),
        (Action::ReadToken(Whose::Another), ['Y', 'Y', 'H', 'H']),
        (Action::CreateToken, ['Y', 'Y', 'Y', 'F']),
        (Action::ChangeToken(Whose::Own), ['Y', 'Y', 'Y', 'F']),
        (Action::ChangeToken(Whose::Another), ['Y', 'Y', 'F', 'F']),
        (Action::ChangeServers, ['Y', 'Y', 'F', 'F']),
        (Action::ChangeKeys, ['Y', 'Y', 'F', 'F']),
        (Action::ChangeMembers, ['Y', 'Y', 'F', 'F']),
        (Action::ChangeOwners, ['Y', 'F', 'F', 'F']),
        (Action::ChangeOrganisation, ['Y', 'F', 'F', 'F']),
    ];

    fn answer(result: Result<(), Denied>) -> char {
        match result {
            Ok(()) => 'Y',
            Err(Denied::Forbidden { .. }) => 'F',
            Err(Denied::Hidden) => 'H',
        }
    }

    #[test]
    fn every_role_gets_exactly_what_the_table_says() {
        assert_eq!(TABLE.map(|(a, _)| a), Action::ALL, "the table covers every action once");
        for (action, row) in TABLE {
            for (role, expected) in Role::ALL.into_iter().zip(row) {
                let got = answer(decide(Standing { role: Some(role), instance_admin: false }, action));
                assert_eq!(got, expected, "{} doing {action:?}", role.as_str());
                // Being the instance's admin as well never takes anything away.
                let got = answer(decide(Standing { role: Some(role), instance_admin: true }, action));
                assert!(got == expected || (got == 'Y' && action.only_reads()), "{} (admin) doing {action:?}", role.as_str());
            }
        }
    }

    #[test]
    fn a_non_member_learns_nothing_and_the_instance_admin_only_reads() {
        for action in Action::ALL {
            assert_eq!(decide(Standing { role: None, instance_admin: false }, action), Err(Denied::Hidden), "{action:?}");
            let admin = decide(Standing { role: None, instance_admin: true }, action);
            if action.only_reads() {
                assert_eq!(admin, Ok(()), "{action:?}");
            } else {
                assert_eq!(admin, Err(Denied::Hidden), "{action:?}");
            }
        }
    }

    #[test]
    fn a_refusal_names_the_least_role_that_would_do() {
        let viewer = Standing { role: Some(Role::Viewer), instance_admin: false };
        assert_eq!(decide(viewer, Action::CreateToken), Err(Denied::Forbidden { needs: Role::Member }));
        assert_eq!(decide(viewer, Action::ChangeServers), Err(Denied::Forbidden { needs: Role::Admin }));
        let admin = Standing { role: Some(Role::Admin), instance_admin: false };
        assert_eq!(decide(admin, Action::ChangeOwners), Err(Denied::Forbidden { needs: Role::Owner }));
    }

    #[test]
    fn the_last_owner_stays() {
        assert!(leaves_no_owner(1, true));
        assert!(!leaves_no_owner(2, true));
        assert!(!leaves_no_owner(1, false));
    }

    #[test]
    fn roles_parse_whatever_their_case_and_refuse_the_unknown() {
        for role in Role::ALL {
            assert_eq!(Role::parse(&format!(" {} ", role.as_str().to_uppercase())), Ok(role));
        }
        assert!(Role::parse("superuser").unwrap_err().contains("owner, admin, member or viewer"));
        assert!(Role::parse("").is_err());
    }

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(OrganisationName::parse("  Acme  ").unwrap().as_str(), "Acme");
        assert!(OrganisationName::parse("   ").is_err());
        assert!(OrganisationName::parse(&"é".repeat(80)).is_ok());
        assert!(OrganisationName::parse(&"é".repeat(81)).is_err());
        assert!(OrganisationName::parse("a\nb").is_err());
    }
}
