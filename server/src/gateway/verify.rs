//! The check every gateway request passes (DESIGN.md, Tokens): a pinned HS256 JWT whose key is
//! found from the server's own account, with every claim and every object behind it live.
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, Validation, errors::ErrorKind};
use serde::Deserialize;
use uuid::Uuid;

pub use app::tokens::Refusal;

use std::sync::Arc;

use app::state::GatewayCheck;

use super::view::{ServerEntry, TokenView, ViewData};

/// Leeway for `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: u64 = 5;
const MAX_TOKEN_BYTES: usize = 8 * 1024;
const FORBIDDEN_HEADERS: &[&str] = &["jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "crit"];

/// What a passed check grants: which token, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `None` when the server does not require a token.
    pub token: Option<Uuid>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct Claims {
    jti: String,
    sub: String,
    #[serde(default)]
    exp: Option<i64>,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

/// The bearer token in an `Authorization` header value, if it is one.
pub fn bearer(header: Option<&http::HeaderValue>) -> Result<&str, Refusal> {
    let value = header.ok_or(Refusal::Missing)?.to_str().map_err(|_| Refusal::Malformed)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(Refusal::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Refusal::Missing);
    }
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_BYTES { Err(Refusal::Malformed) } else { Ok(token) }
}

/// The `jti` a token claims, unverified: only for attributing refusals made after the
/// signature checked out.
pub fn claimed_id(token: &str) -> Option<Uuid> {
    let payload = URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()?;
    serde_json::from_slice::<serde_json::Value>(&payload).ok()?.get("jti")?.as_str()?.parse().ok()
}

/// Checks `authorization` for a request to `server`.
pub fn check(
    view: &ViewData,
    server: &ServerEntry,
    authorization: Option<&http::HeaderValue>,
    issuer: &str,
    audience: &str,
    now: DateTime<Utc>,
) -> Result<Grant, Refusal> {
    if !server.require_token {
        let owner_active = view.accounts.get(&server.account) == Some(&true);
        return if owner_active { Ok(Grant { token: None, expires_at: None }) } else { Err(Refusal::AccountDisabled) };
    }
    let token = bearer(authorization)?;
    let grant = verify(view, server.account, token, issuer, audience, now)?;
    match grant.token {
        Some(id) if view.links.contains(&(id, server.id)) => Ok(grant),
        _ => Err(Refusal::NotAssociated),
    }
}

/// Checks `token` as one of `account`'s tokens: everything but the server it is used on.
pub fn verify(view: &ViewData, account: Uuid, token: &str, issuer: &str, audience: &str, now: DateTime<Utc>) -> Result<Grant, Refusal> {
    let kid = inspect_header(token)?;

    // The key comes from the server's account; `kid` only chooses among its keys.
    let key = view.keys.get(&kid).filter(|k| k.account == account).ok_or(Refusal::NotForThisServer)?;
    if key.revoked {
        return Err(Refusal::KeyRevoked);
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_nbf = true;
    validation.validate_exp = true;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["iss", "aud", "sub", "nbf"]);
    let claims = jsonwebtoken::decode::<Claims>(token, &key.secret, &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => Refusal::Signature,
            ErrorKind::ExpiredSignature => Refusal::Expired(expiry_of(token).unwrap_or(now)),
            ErrorKind::ImmatureSignature => Refusal::NotYetValid,
            ErrorKind::InvalidIssuer => Refusal::Issuer,
            ErrorKind::InvalidAudience => Refusal::Audience,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => Refusal::Algorithm,
            _ => Refusal::Malformed,
        })?
        .claims;

    let id: Uuid = claims.jti.parse().map_err(|_| Refusal::Malformed)?;
    let entry = view.tokens.get(&id).ok_or(Refusal::NotForThisServer)?;
    if entry.account != account || entry.key != kid || claims.sub != account.to_string() {
        return Err(Refusal::NotForThisServer);
    }
    if entry.revoked {
        return Err(Refusal::Revoked);
    }
    // A time-limited token must carry its expiry, and the one Gatehouse issued.
    if let Some(expires_at) = entry.expires_at {
        match claims.exp {
            Some(exp) if exp == expires_at.timestamp() => {}
            _ => return Err(Refusal::Malformed),
        }
        if expires_at + chrono::Duration::seconds(LEEWAY_SECONDS as i64) <= now {
            return Err(Refusal::Expired(expires_at));
        }
    } else if claims.exp.is_some() {
        return Err(Refusal::Malformed);
    }
    if view.accounts.get(&account) != Some(&true) {
        return Err(Refusal::AccountDisabled);
    }
    Ok(Grant { token: Some(id), expires_at: entry.expires_at })
}

/// The gateway's check over its live view, for the token inspector: the same code and data as
/// a real request.
pub struct ViewCheck {
    view: Arc<TokenView>,
    issuer: String,
    audience: String,
}

impl ViewCheck {
    pub fn new(view: Arc<TokenView>, issuer: &str, audience: &str) -> Self {
        Self { view, issuer: issuer.to_string(), audience: audience.to_string() }
    }
}

impl GatewayCheck for ViewCheck {
    fn verify(&self, account: Uuid, token: &str) -> Result<Uuid, Refusal> {
        let grant = verify(&self.view.read(), account, token, &self.issuer, &self.audience, Utc::now())?;
        grant.token.ok_or(Refusal::Malformed)
    }

    fn check(&self, server: Uuid, token: &str) -> Result<Option<Uuid>, Refusal> {
        let view = self.view.read();
        let entry = view.servers.get(&server).cloned().ok_or(Refusal::NotForThisServer)?;
        let header = http::HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| Refusal::Malformed)?;
        check(&view, &entry, Some(&header), &self.issuer, &self.audience, Utc::now()).map(|grant| grant.token)
    }
}

/// Reads the JOSE header by hand first: exactly three parts, `alg` exactly HS256, no key-
/// locating or critical extensions, and a `kid` that is a key id.
fn inspect_header(token: &str) -> Result<Uuid, Refusal> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(Refusal::Malformed);
    };
    let bytes = URL_SAFE_NO_PAD.decode(header).map_err(|_| Refusal::Malformed)?;
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes).map_err(|_| Refusal::Malformed)?;
    if FORBIDDEN_HEADERS.iter().any(|name| object.contains_key(*name)) {
        return Err(Refusal::ForbiddenHeader);
    }
    let raw: RawHeader = serde_json::from_value(serde_json::Value::Object(object)).map_err(|_| Refusal::Malformed)?;
    if raw.alg != "HS256" {
        return Err(Refusal::Algorithm);
    }
    raw.kid.as_deref().and_then(|k| k.parse().ok()).ok_or(Refusal::NotForThisServer)
}

/// The `exp` of a token whose signature already verified, for the refusal message.
fn expiry_of(token: &str) -> Option<DateTime<Utc>> {
    let payload = URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()?;
    let exp = serde_json::from_slice::<serde_json::Value>(&payload).ok()?.get("exp")?.as_i64()?;
    DateTime::from_timestamp(exp, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_forms() {
        let h = |v: &str| http::HeaderValue::from_str(v).unwrap();
        assert_eq!(bearer(Some(&h("Bearer abc"))), Ok("abc"));
        assert_eq!(bearer(Some(&h("bearer   abc "))), Ok("abc"));
        assert_eq!(bearer(None), Err(Refusal::Missing));
        assert_eq!(bearer(Some(&h("Basic dXNlcjpwdw=="))), Err(Refusal::Missing));
        assert_eq!(bearer(Some(&h("Bearer"))), Err(Refusal::Malformed));
        assert_eq!(bearer(Some(&h(&format!("Bearer {}", "a".repeat(9000))))), Err(Refusal::Malformed));
    }

    fn header(json: &str) -> String {
        format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(json))
    }

    #[test]
    fn header_must_be_pinned_hs256_without_key_locators() {
        let kid = Uuid::new_v4();
        assert_eq!(inspect_header(&header(&format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#))), Ok(kid));
        for alg in ["none", "None", "NONE", "nOnE", "hs256", "RS256", "ES256", "HS512", ""] {
            assert_eq!(inspect_header(&header(&format!(r#"{{"alg":"{alg}","kid":"{kid}"}}"#))), Err(Refusal::Algorithm), "{alg}");
        }
        for extra in [r#""jku":"https://evil""#, r#""jwk":{}"#, r#""x5u":"https://evil""#, r#""x5c":[]"#, r#""crit":["exp"]"#] {
            let json = format!(r#"{{"alg":"HS256","kid":"{kid}",{extra}}}"#);
            assert_eq!(inspect_header(&header(&json)), Err(Refusal::ForbiddenHeader), "{extra}");
        }
        assert_eq!(inspect_header(&header(r#"{"alg":"HS256"}"#)), Err(Refusal::NotForThisServer), "no kid");
        assert_eq!(inspect_header(&header(r#"{"alg":"HS256","kid":"../../etc/passwd"}"#)), Err(Refusal::NotForThisServer));
        assert_eq!(inspect_header(&header(r#"{"alg":"HS256","kid":"1' OR '1'='1"}"#)), Err(Refusal::NotForThisServer));
        assert_eq!(inspect_header("a.b"), Err(Refusal::Malformed));
        assert_eq!(inspect_header("a.b.c.d"), Err(Refusal::Malformed));
        assert_eq!(inspect_header(r#"{"protected":"x","payload":"y","signature":"z"}"#), Err(Refusal::Malformed), "JSON serialisation");
    }
}
