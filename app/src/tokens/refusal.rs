//! Why the gateway refuses a token: shared by the gateway, the usage counts and the token
//! inspector, so all three say the same thing.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a request was refused. Messages say what to do, never whether another tenant's token
/// or server exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    Missing,
    Malformed,
    Algorithm,
    ForbiddenHeader,
    NotForThisServer,
    KeyRevoked,
    Signature,
    Expired(DateTime<Utc>),
    NotYetValid,
    Issuer,
    Audience,
    Revoked,
    /// Signed by the account's live key, unexpired, yet not held: revoked and since dropped
    /// from memory (or purged), or made a moment ago on another process.
    Unknown,
    AccountDisabled,
    /// The member who made the token has left the organisation, or no longer has a role that
    /// may hold tokens.
    NotAMember,
    /// The token's organisation is disabled by the instance admin.
    OrganisationDisabled,
    NotAssociated,
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Refusal::Missing => "This server requires a token: send \"Authorization: Bearer <token>\".".into(),
            Refusal::Malformed => "The token is not a well-formed JWT. Copy the whole token again.".into(),
            Refusal::Algorithm => "The token must be signed with HS256 by Gatehouse.".into(),
            Refusal::ForbiddenHeader => "The token's header carries fields Gatehouse does not accept (jku, jwk, x5u, x5c, crit).".into(),
            Refusal::NotForThisServer => "This token was not issued for this server. Use a token from the server's organisation.".into(),
            Refusal::KeyRevoked => "The token was signed by a signing key that has been revoked. Create a new token.".into(),
            Refusal::Signature => "The token's signature is invalid. Copy the whole token again, or create a new one.".into(),
            Refusal::Expired(at) => format!("The token expired at {}. Create a new token.", at.format("%Y-%m-%d %H:%M:%S UTC")),
            Refusal::NotYetValid => "The token is not valid yet (nbf is in the future). Check the client's clock.".into(),
            Refusal::Issuer => "The token was issued by another Gatehouse deployment.".into(),
            Refusal::Audience => "The token is meant for another audience.".into(),
            Refusal::Revoked => "The token has been revoked. Create a new token.".into(),
            Refusal::Unknown => "This gateway does not know the token: it was revoked, or it was made a moment ago and has not reached \
                                 this gateway yet. Try again in a second; if it still fails, create a new token."
                .into(),
            Refusal::AccountDisabled => "The account that owns this token is disabled.".into(),
            Refusal::OrganisationDisabled => "The organisation this token belongs to is disabled.".into(),
            Refusal::NotAMember => {
                "The member who made this token is no longer in the organisation, or their role no longer allows tokens. Ask an admin for a new one."
                    .into()
            }
            Refusal::NotAssociated => "The token is not associated with this server. Add the server to the token in the dashboard.".into(),
        }
    }

    /// A short, stable reason for metrics and usage counts.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Malformed | Refusal::Algorithm | Refusal::ForbiddenHeader => "malformed",
            Refusal::NotForThisServer => "foreign",
            Refusal::KeyRevoked => "key_revoked",
            Refusal::Signature => "bad_signature",
            Refusal::Expired(_) => "expired",
            Refusal::NotYetValid => "not_yet_valid",
            Refusal::Issuer | Refusal::Audience => "wrong_audience",
            Refusal::Revoked => "revoked",
            Refusal::Unknown => "unknown_token",
            Refusal::AccountDisabled => "account_disabled",
            Refusal::NotAMember => "not_a_member",
            Refusal::OrganisationDisabled => "organisation_disabled",
            Refusal::NotAssociated => "unassociated",
        }
    }

    /// Refusals decided after the signature verified: the token's `jti` can be trusted for
    /// counting.
    pub fn signature_verified(&self) -> bool {
        matches!(
            self,
            Refusal::Expired(_)
                | Refusal::Revoked
                | Refusal::Unknown
                | Refusal::AccountDisabled
                | Refusal::NotAMember
                | Refusal::OrganisationDisabled
                | Refusal::NotAssociated
        )
    }

    /// Whether a token was presented at all (RFC 6750: only then `error="invalid_token"`).
    pub fn token_sent(&self) -> bool {
        *self != Refusal::Missing
    }
}
