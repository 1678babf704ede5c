//! The check every gateway request passes (DESIGN.md, Tokens): a pinned HS256 JWT whose key is
//! found from the server's own organisation, with every claim and every object behind it live
//! (the member who made the token among them).
//!
//! Gatehouse reads its own tokens here rather than through `jsonwebtoken::decode`: that one
//! decodes the header twice and the claims twice (once into a `serde_json::Value`) and keys a
//! new HMAC per call, about three times the cost of this check (`bench/RESULTS.md` has the
//! figure). This reads each part once, with borrowed strings, into structs that refuse
//! duplicate members, and clones an HMAC keyed when the view loaded.
//! Tokens are still minted by `jsonwebtoken`, and the API tests decode them with it.
use std::borrow::Cow;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::Mac;
use serde::{Deserialize, de::IgnoredAny};
use uuid::Uuid;

pub use app::tokens::Refusal;

use std::sync::Arc;

use app::organisations::Role;
use app::state::GatewayCheck;
use app::tools::ToolRule;

use super::view::{AccessIndex, AccessTables, ServerEntry, TokenEntry};

/// Leeway for `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: i64 = 5;
/// An HS256 signature: 32 bytes, 43 characters of unpadded base64url.
const SIGNATURE_BYTES: usize = 32;

/// What a passed check grants: which token, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `None` when the server does not require a token.
    pub token: Option<Uuid>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The token has no stored fingerprint yet: the gateway, holding the verified string, records it.
    pub unnamed: bool,
    /// The token's tool rule for this server, when it limits the tools.
    pub tools: Option<Arc<ToolRule>>,
}

/// The JOSE header. Key-locating and critical extensions are named only to be refused; a
/// member given twice fails to parse.
#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(default)]
    jku: Option<IgnoredAny>,
    #[serde(default)]
    jwk: Option<IgnoredAny>,
    #[serde(default)]
    x5u: Option<IgnoredAny>,
    #[serde(default)]
    x5c: Option<IgnoredAny>,
    #[serde(default)]
    x5t: Option<IgnoredAny>,
    #[serde(default, rename = "x5t#S256")]
    x5t_s256: Option<IgnoredAny>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
    // Members of encrypted tokens (JWE); a signed token never carries them.
    #[serde(default)]
    enc: Option<IgnoredAny>,
    #[serde(default)]
    zip: Option<IgnoredAny>,
    // Registered members Gatehouse has no use for, read only so that each must be the string
    // the JOSE specs make it: other JWT libraries refuse a token whose `typ` is a number.
    #[allow(dead_code)]
    #[serde(borrow, default)]
    typ: Option<Cow<'a, str>>,
    #[allow(dead_code)]
    #[serde(borrow, default)]
    cty: Option<Cow<'a, str>>,
    #[allow(dead_code)]
    #[serde(borrow, default)]
    url: Option<Cow<'a, str>>,
    #[allow(dead_code)]
    #[serde(borrow, default)]
    nonce: Option<Cow<'a, str>>,
}

impl Header<'_> {
    /// Key-locating members, critical extensions and encryption: all refused.
    fn names_refused_members(&self) -> bool {
        self.jku.is_some()
            || self.jwk.is_some()
            || self.x5u.is_some()
            || self.x5c.is_some()
            || self.x5t.is_some()
            || self.x5t_s256.is_some()
            || self.crit.is_some()
            || self.enc.is_some()
            || self.zip.is_some()
    }
}

/// The claims Gatehouse issues; `iss`, `aud`, `sub`, `nbf` and `jti` are required.
#[derive(Deserialize)]
struct Claims<'a> {
    #[serde(borrow)]
    iss: Cow<'a, str>,
    #[serde(borrow)]
    aud: Audience<'a>,
    #[serde(borrow)]
    sub: Cow<'a, str>,
    #[serde(borrow)]
    jti: Cow<'a, str>,
    nbf: i64,
    #[serde(default)]
    exp: Option<i64>,
}

/// `aud`: one string (tokens made in the dashboard), or an array of strings (OAuth access tokens
/// name the gateway's audience and the resource they were granted for, RFC 8707). Read by hand:
/// an untagged enum would buffer the whole value on every check.
enum Audience<'a> {
    One(Cow<'a, str>),
    Many(Vec<String>),
}

impl Audience<'_> {
    fn names(&self, audience: &str) -> bool {
        match self {
            Audience::One(one) => one == audience,
            Audience::Many(many) => many.iter().any(|a| a == audience),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Audience<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Audience<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Self::Value, E> {
                Ok(Audience::One(Cow::Borrowed(value)))
            }
            fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
                Ok(Audience::One(Cow::Owned(value.to_string())))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut many = Vec::new();
                while let Some(one) = seq.next_element::<String>()? {
                    many.push(one);
                }
                Ok(Audience::Many(many))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The bearer token in an `Authorization` header value, if it is one.
pub fn bearer(header: Option<&http::HeaderValue>) -> Result<&str, Refusal> {
    let value = header.ok_or(Refusal::Missing)?.to_str().map_err(|_| Refusal::Malformed)?;
    if !value.trim().contains(' ') {
        return Err(Refusal::Malformed);
    }
    let token = app::tokens::bearer_token(value).ok_or(Refusal::Missing)?;
    if token.is_empty() || token.len() > app::tokens::MAX_TOKEN_BYTES { Err(Refusal::Malformed) } else { Ok(token) }
}

/// Checks `authorization` for a request to `server`.
pub fn check(
    view: &AccessTables,
    server: &ServerEntry,
    authorization: Option<&http::HeaderValue>,
    issuer: &str,
    audience: &str,
    now: DateTime<Utc>,
) -> Result<Grant, Refusal> {
    if !server.require_token {
        grant_stands(view, None, server.id, now)?;
        return Ok(Grant { token: None, expires_at: None, unnamed: false, tools: None });
    }
    let token = bearer(authorization)?;
    let mut grant = verify(view, server.organisation, token, issuer, audience, now)?;
    // `verify` has applied the token part of the rule ([`token_stands`]) to this server's
    // organisation; what remains of [`grant_stands`] is the association.
    match grant.token {
        Some(id) => grant.tools = associated(view, id, server.id)?,
        None => return Err(Refusal::Malformed),
    }
    Ok(grant)
}

/// Whether a grant for `token` (`None`: on a server that needs no token) to `server` stands at
/// `now`. The one rule for "may this go on": every request passes it after its signature and
/// claims, live streams are ended when it fails, and the inspector reports it.
pub fn grant_stands(view: &AccessTables, token: Option<Uuid>, server: Uuid, now: DateTime<Utc>) -> Result<(), Refusal> {
    let entry = view.servers.get(&server).ok_or(Refusal::NotForThisServer)?;
    let Some(token) = token else {
        if entry.require_token {
            return Err(Refusal::Missing);
        }
        // Open servers close while their organisation is disabled, and a personal one's stop
        // with its account.
        if view.organisations.get(&entry.organisation) != Some(&true) {
            return Err(Refusal::OrganisationDisabled);
        }
        return if view.accounts.get(&entry.organisation) == Some(&false) { Err(Refusal::AccountDisabled) } else { Ok(()) };
    };
    let held = view.tokens.get(&token).filter(|t| t.organisation == entry.organisation).ok_or(Refusal::NotForThisServer)?;
    token_stands(view, held, now)?;
    associated(view, token, server).map(|_| ())
}

/// The association of `token` with `server`, and the tool rule on it.
fn associated(view: &AccessTables, token: Uuid, server: Uuid) -> Result<Option<Arc<ToolRule>>, Refusal> {
    view.links.get(&(token, server)).cloned().ok_or(Refusal::NotAssociated)
}

/// The part of [`grant_stands`] that does not depend on the server: the token, its key and its
/// maker are live (the maker an active account, and a member of the token's organisation with a
/// role that may hold tokens), and its time is not up (at its expiry exactly: Gatehouse issued it and
/// holds the time, so no leeway is needed here; leeway is for the claims' clocks).
fn token_stands(view: &AccessTables, token: &TokenEntry, now: DateTime<Utc>) -> Result<(), Refusal> {
    if token.revoked {
        return Err(Refusal::Revoked);
    }
    let key = view.keys.get(&token.key).filter(|k| k.organisation == token.organisation).ok_or(Refusal::NotForThisServer)?;
    if key.revoked {
        return Err(Refusal::KeyRevoked);
    }
    if let Some(expires_at) = token.expires_at
        && expires_at <= now
    {
        return Err(Refusal::Expired(expires_at));
    }
    if view.accounts.get(&token.maker) != Some(&true) {
        return Err(Refusal::AccountDisabled);
    }
    if view.organisations.get(&token.organisation) != Some(&true) {
        return Err(Refusal::OrganisationDisabled);
    }
    let role = view.members.get(&token.maker).and_then(|held| held.iter().find(|(o, _)| *o == token.organisation)).map(|(_, role)| *role);
    if !role.is_some_and(Role::may_hold_tokens) {
        return Err(Refusal::NotAMember);
    }
    Ok(())
}

/// Checks `token` as one of `organisation`'s tokens: everything but the server it is used on.
pub fn verify(
    view: &AccessTables,
    organisation: Uuid,
    token: &str,
    issuer: &str,
    audience: &str,
    now: DateTime<Utc>,
) -> Result<Grant, Refusal> {
    let (header, payload, signature) = parts(token)?;
    let signed = &token[..header.len() + 1 + payload.len()];
    let kid = read_header(header)?;

    // The key comes from the server's organisation; `kid` only chooses among its keys.
    let key = view.keys.get(&kid).filter(|k| k.organisation == organisation).ok_or(Refusal::NotForThisServer)?;
    if key.revoked {
        return Err(Refusal::KeyRevoked);
    }
    let mut mac = [0u8; SIGNATURE_BYTES + 3];
    match URL_SAFE_NO_PAD.decode_slice(signature, &mut mac) {
        Ok(SIGNATURE_BYTES) => {}
        _ => return Err(Refusal::Signature),
    }
    key.mac.clone().chain_update(signed.as_bytes()).verify_slice(&mac[..SIGNATURE_BYTES]).map_err(|_| Refusal::Signature)?;

    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| Refusal::Malformed)?;
    let claims: Claims = serde_json::from_str(json_text(&payload)?).map_err(|_| Refusal::Malformed)?;
    let (seconds, leeway) = (now.timestamp(), LEEWAY_SECONDS);
    if let Some(exp) = claims.exp
        && exp.saturating_add(leeway) <= seconds
    {
        return Err(Refusal::Expired(DateTime::from_timestamp(exp, 0).unwrap_or(now)));
    }
    // Gatehouse never issues a time before 1970; `jsonwebtoken` refuses one too.
    if claims.nbf < 0 || claims.exp.is_some_and(|exp| exp < 0) {
        return Err(Refusal::Malformed);
    }
    if claims.nbf > seconds.saturating_add(leeway) {
        return Err(Refusal::NotYetValid);
    }
    if claims.iss != issuer {
        return Err(Refusal::Issuer);
    }
    if !claims.aud.names(audience) {
        return Err(Refusal::Audience);
    }

    let id: Uuid = claims.jti.parse().map_err(|_| Refusal::Malformed)?;
    // Signed by this organisation's live key and not expired, yet not held: a token the view
    // dropped as dead, or one too new to have reached this process.
    let entry = view.tokens.get(&id).ok_or(Refusal::Unknown)?;
    let mut subject = [0u8; uuid::fmt::Hyphenated::LENGTH];
    if entry.organisation != organisation || entry.key != kid || claims.sub != *organisation.hyphenated().encode_lower(&mut subject) {
        return Err(Refusal::NotForThisServer);
    }
    if entry.revoked {
        return Err(Refusal::Revoked);
    }
    // Only OAuth access tokens name a resource beside the audience; a token made in the
    // dashboard has the one string it was issued with.
    if matches!(claims.aud, Audience::Many(_)) && !entry.renewable {
        return Err(Refusal::Malformed);
    }
    // A time-limited token must carry its expiry, and the one Gatehouse issued. An OAuth grant's
    // access tokens each carry their own, short one, never past the grant's end.
    match (entry.renewable, entry.expires_at, claims.exp) {
        (false, Some(expires_at), Some(exp)) if exp == expires_at.timestamp() => {}
        (false, None, None) => {}
        (true, Some(expires_at), Some(exp)) if exp <= expires_at.timestamp() => {}
        (true, None, Some(_)) => {}
        _ => return Err(Refusal::Malformed),
    }
    token_stands(view, entry, now)?;
    Ok(Grant { token: Some(id), expires_at: entry.expires_at, unnamed: !entry.fingerprinted, tools: None })
}

/// The gateway's check over its live view, for the token inspector: the same code and data as
/// a real request.
pub struct LiveCheck {
    view: Arc<AccessIndex>,
    issuer: String,
    audience: String,
}

impl LiveCheck {
    pub fn new(view: Arc<AccessIndex>, issuer: &str, audience: &str) -> Self {
        Self { view, issuer: issuer.to_string(), audience: audience.to_string() }
    }
}

impl GatewayCheck for LiveCheck {
    fn verify(&self, organisation: Uuid, token: &str) -> Result<Uuid, Refusal> {
        let grant = verify(&self.view.read(), organisation, token, &self.issuer, &self.audience, Utc::now())?;
        grant.token.ok_or(Refusal::Malformed)
    }

    fn check(&self, server: Uuid, token: &str) -> Result<Option<Uuid>, Refusal> {
        let view = self.view.read();
        let entry = view.servers.get(&server).cloned().ok_or(Refusal::NotForThisServer)?;
        let header = http::HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| Refusal::Malformed)?;
        check(&view, &entry, Some(&header), &self.issuer, &self.audience, Utc::now()).map(|grant| grant.token)
    }
}

/// A decoded part as JSON text: UTF-8 throughout, and JSON read in full (see [`WellFormed`]).
/// serde_json checks the strings it reads but skips over the ones it ignores, so invalid bytes
/// in an unknown member passed (the `signed_claims` fuzz target found it; `jsonwebtoken`
/// refuses such a token).
fn json_text(bytes: &[u8]) -> Result<&str, Refusal> {
    let text = std::str::from_utf8(bytes).map_err(|_| Refusal::Malformed)?;
    serde_json::from_str::<WellFormed>(text).map_err(|_| Refusal::Malformed)?;
    Ok(text)
}

/// Any JSON value, read in full. serde skips the members a struct does not name without reading
/// their numbers, so a claim of `1e999` (beyond any `f64`) there would pass, where libraries that
/// read every claim refuse the token; fuzzing found one such token accepted. Each part is read
/// once as this first, which allocates nothing.
struct WellFormed;

impl<'de> Deserialize<'de> for WellFormed {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(WellFormed)
    }
}

impl<'de> serde::de::Visitor<'de> for WellFormed {
    type Value = WellFormed;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut items: A) -> Result<Self, A::Error> {
        while items.next_element::<WellFormed>()?.is_some() {}
        Ok(self)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut members: A) -> Result<Self, A::Error> {
        while members.next_entry::<WellFormed, WellFormed>()?.is_some() {}
        Ok(self)
    }
}

/// The header, payload and signature of a compact JWT: exactly three parts.
fn parts(token: &str) -> Result<(&str, &str, &str), Refusal> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(payload), Some(signature), None) => Ok((header, payload, signature)),
        _ => Err(Refusal::Malformed),
    }
}

#[cfg(test)]
fn inspect_header(token: &str) -> Result<Uuid, Refusal> {
    read_header(parts(token)?.0)
}

/// Reads the JOSE header: `alg` exactly HS256, no key-locating or critical extensions, and a
/// `kid` that is a key id.
fn read_header(header: &str) -> Result<Uuid, Refusal> {
    let bytes = URL_SAFE_NO_PAD.decode(header).map_err(|_| Refusal::Malformed)?;
    let header: Header = serde_json::from_str(json_text(&bytes)?).map_err(|_| Refusal::Malformed)?;
    if header.names_refused_members() {
        return Err(Refusal::ForbiddenHeader);
    }
    if header.alg != "HS256" {
        return Err(Refusal::Algorithm);
    }
    header.kid.as_deref().and_then(|k| k.parse().ok()).ok_or(Refusal::NotForThisServer)
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
        for extra in [
            r#""jku":"https://evil""#,
            r#""jwk":{}"#,
            r#""x5u":"https://evil""#,
            r#""x5c":[]"#,
            r#""crit":["exp"]"#,
            r#""enc":"A128GCM""#,
            r#""zip":"DEF""#,
        ] {
            let json = format!(r#"{{"alg":"HS256","kid":"{kid}",{extra}}}"#);
            assert_eq!(inspect_header(&header(&json)), Err(Refusal::ForbiddenHeader), "{extra}");
        }
        // Found by fuzzing: a `typ` that is a number was accepted; jsonwebtoken refuses it.
        for member in ["typ", "cty", "url", "nonce"] {
            let json = format!(r#"{{"alg":"HS256","kid":"{kid}","{member}":1796083140}}"#);
            assert_eq!(inspect_header(&header(&json)), Err(Refusal::Malformed), "{member} as a number");
            let json = format!(r#"{{"alg":"HS256","kid":"{kid}","{member}":"JWT"}}"#);
            assert_eq!(inspect_header(&header(&json)), Ok(kid), "{member} as a string");
        }
        assert_eq!(inspect_header(&header(r#"{"alg":"HS256"}"#)), Err(Refusal::NotForThisServer), "no kid");
        assert_eq!(inspect_header(&header(r#"{"alg":"HS256","kid":"../../etc/passwd"}"#)), Err(Refusal::NotForThisServer));
        assert_eq!(inspect_header(&header(r#"{"alg":"HS256","kid":"1' OR '1'='1"}"#)), Err(Refusal::NotForThisServer));
        assert_eq!(inspect_header("a.b"), Err(Refusal::Malformed));
        assert_eq!(inspect_header("a.b.c.d"), Err(Refusal::Malformed));
        assert_eq!(inspect_header(r#"{"protected":"x","payload":"y","signature":"z"}"#), Err(Refusal::Malformed), "JSON serialisation");
        // Found by fuzzing: a number beyond any f64 in a member nobody reads was let through.
        let huge = format!(r#"{{"alg":"HS256","kid":"{kid}","note":[1e999]}}"#);
        assert_eq!(inspect_header(&header(&huge)), Err(Refusal::Malformed), "a number out of range");
        let nested = format!(r#"{{"alg":"HS256","kid":"{kid}","note":{{"a":[1.5e300,-2,"x\u00e9",null,true]}}}}"#);
        assert_eq!(inspect_header(&header(&nested)), Ok(kid), "any JSON in range");
        let twice = format!(r#"{{"alg":"none","alg":"HS256","kid":"{kid}"}}"#);
        assert_eq!(inspect_header(&header(&twice)), Err(Refusal::Malformed), "a member given twice");
    }

    const ISSUER: &str = "https://gatehouse.test";

    struct Fixture {
        view: AccessTables,
        account: Uuid,
        kid: Uuid,
        token: Uuid,
        secret: [u8; 32],
        now: DateTime<Utc>,
    }

    fn fixture() -> Fixture {
        let (account, kid, token) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let secret = [9u8; 32];
        let mut view = AccessTables::default();
        view.accounts.insert(account, true);
        view.members.insert(account, vec![(account, Role::Owner)]);
        view.organisations.insert(account, true);
        view.keys.insert(kid, super::super::view::KeyEntry::new(account, false, &secret));
        view.tokens.insert(
            token,
            super::super::view::TokenEntry {
                organisation: account,
                maker: account,
                key: kid,
                expires_at: None,
                revoked: false,
                fingerprinted: true,
                renewable: false,
                networks: None,
            },
        );
        Fixture { view, account, kid, token, secret, now: Utc::now() }
    }

    impl Fixture {
        fn claims(&self) -> String {
            let t = self.now.timestamp();
            format!(r#""iss":"{ISSUER}","aud":"{ISSUER}","sub":"{}","iat":{t},"nbf":{t},"jti":"{}""#, self.account, self.token)
        }

        /// A token with this header and claims JSON, signed with the fixture's key.
        fn sign(&self, header: &str, claims: &str) -> String {
            let signed = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
            let mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.secret).unwrap().chain_update(signed.as_bytes()).finalize();
            format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.into_bytes()))
        }

        fn header(&self) -> String {
            format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#, self.kid)
        }

        fn verify(&self, token: &str) -> Result<Grant, Refusal> {
            verify(&self.view, self.account, token, ISSUER, ISSUER, self.now)
        }
    }

    #[test]
    fn a_token_signed_with_the_accounts_key_passes_and_tampering_does_not() {
        let f = fixture();
        let token = f.sign(&f.header(), &format!("{{{}}}", f.claims()));
        assert_eq!(f.verify(&token), Ok(Grant { token: Some(f.token), expires_at: None, unnamed: false, tools: None }));

        let (signed, signature) = token.rsplit_once('.').unwrap();
        assert_eq!(f.verify(&format!("{signed}.")), Err(Refusal::Signature), "no signature");
        assert_eq!(f.verify(&format!("{signed}.{}", &signature[..20])), Err(Refusal::Signature), "truncated");
        assert_eq!(f.verify(&format!("{signed}.{signature}=")), Err(Refusal::Signature), "padded");
        assert_eq!(f.verify(&format!("{signed}.{signature}AA")), Err(Refusal::Signature), "too long");
        let flipped = if signature.starts_with('A') { signature.replacen('A', "B", 1) } else { format!("A{}", &signature[1..]) };
        assert_eq!(f.verify(&format!("{signed}.{flipped}")), Err(Refusal::Signature), "altered");
    }

    /// A token of a team organisation stands while the member who made it may hold tokens
    /// there: removed, or made a viewer, it is refused; made a member again, it works.
    #[test]
    fn a_token_stands_only_while_its_maker_may_hold_tokens() {
        let mut f = fixture();
        let maker = Uuid::new_v4();
        f.view.accounts.insert(maker, true);
        f.view.tokens.get_mut(&f.token).unwrap().maker = maker;
        let token = f.sign(&f.header(), &format!("{{{}}}", f.claims()));
        assert_eq!(f.verify(&token), Err(Refusal::NotAMember), "not a member");
        for (role, stands) in [(Role::Owner, true), (Role::Admin, true), (Role::Member, true), (Role::Viewer, false)] {
            f.view.members.insert(maker, vec![(f.account, role)]);
            assert_eq!(f.verify(&token).is_ok(), stands, "{role:?}");
        }
        f.view.members.insert(maker, vec![(Uuid::new_v4(), Role::Owner)]);
        assert_eq!(f.verify(&token), Err(Refusal::NotAMember), "a member of another organisation only");
        f.view.members.insert(maker, vec![(f.account, Role::Member)]);
        f.view.organisations.insert(f.account, false);
        assert_eq!(f.verify(&token), Err(Refusal::OrganisationDisabled), "the organisation disabled");
        f.view.organisations.insert(f.account, true);
        f.view.accounts.insert(maker, false);
        assert_eq!(f.verify(&token), Err(Refusal::AccountDisabled), "the maker's account disabled");
    }

    #[test]
    fn claims_are_read_strictly() {
        let f = fixture();
        let claims = f.claims();
        let check = |members: String| f.verify(&f.sign(&f.header(), &format!("{{{members}}}")));
        let t = f.now.timestamp();
        assert_eq!(check(format!(r#"{claims},"jti":"{}""#, Uuid::new_v4())), Err(Refusal::Malformed), "a claim given twice");
        assert_eq!(check(format!(r#"{claims},"exp":{}"#, i64::MAX)), Err(Refusal::Malformed), "far-future exp on an indefinite token");
        assert_eq!(check(format!(r#"{claims},"exp":{}"#, i64::MIN)), Err(Refusal::Expired(f.now)), "exp at the start of time");
        assert_eq!(check(format!(r#"{claims},"exp":{}"#, t - 60)).map_err(|r| r.reason()), Err("expired"));
        assert_eq!(check(claims.replace(&format!(r#""nbf":{t}"#), &format!(r#""nbf":{}"#, t + 600))), Err(Refusal::NotYetValid));
        assert_eq!(check(claims.replacen(ISSUER, "https://evil.test", 1)), Err(Refusal::Issuer));
        assert_eq!(check(claims.replace(&format!(r#""aud":"{ISSUER}""#), r#""aud":"https://other.test""#)), Err(Refusal::Audience));
        assert_eq!(
            check(claims.replace(&f.account.to_string(), &Uuid::new_v4().to_string())),
            Err(Refusal::NotForThisServer),
            "sub of another account"
        );
        assert_eq!(check(claims.replace(r#""nbf""#, r#""nbf_""#)), Err(Refusal::Malformed), "no nbf");
        assert_eq!(f.verify(&f.sign(&f.header(), "[]")), Err(Refusal::Malformed), "claims not an object");
    }

    /// The request check and the cut of live streams are one rule: a token past its expiry by
    /// less than the claims' leeway was let in by one and cut by the other before.
    #[test]
    fn the_request_check_and_the_stream_cut_agree_at_expiry() {
        let mut f = fixture();
        let server = Uuid::new_v4();
        f.view.servers.insert(
            server,
            Arc::new(ServerEntry {
                id: server,
                organisation: f.account,
                upstream: url::Url::parse("http://127.0.0.1:9/mcp").unwrap(),
                refused: None,
                transport: app::servers::Transport::StreamableHttp,
                require_token: true,
                oauth: false,
                headers: Vec::new(),
                identity: None,
                tool_audit: Default::default(),
                row: 0,
            }),
        );
        f.view.links.insert((f.token, server), None);
        let expired = DateTime::from_timestamp(f.now.timestamp() - 2, 0).unwrap();
        f.view.tokens.get_mut(&f.token).unwrap().expires_at = Some(expired);
        let token = f.sign(&f.header(), &format!("{{{},\"exp\":{}}}", f.claims(), expired.timestamp()));
        let header = http::HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        let entry = f.view.servers[&server].clone();
        let request = |now| check(&f.view, &entry, Some(&header), ISSUER, ISSUER, now).map(|_| ());
        assert_eq!(request(f.now), Err(Refusal::Expired(expired)), "within the claims' leeway, but expired");
        assert_eq!(grant_stands(&f.view, Some(f.token), server, f.now), Err(Refusal::Expired(expired)));
        let before = expired - chrono::Duration::milliseconds(1);
        assert_eq!(request(before), Ok(()), "a moment before, both let it go on");
        assert_eq!(grant_stands(&f.view, Some(f.token), server, before), Ok(()));
    }

    /// OAuth access tokens (grants that renew) carry `aud` as an array naming the gateway's
    /// audience and the resource, and each its own `exp`, never past the grant's end.
    #[test]
    fn renewable_grants_take_arrays_of_audiences_and_short_expiries_up_to_their_end() {
        let mut f = fixture();
        let end = f.now + chrono::Duration::days(1);
        let entry = f.view.tokens.get_mut(&f.token).unwrap();
        entry.renewable = true;
        entry.expires_at = Some(end);
        let t = f.now.timestamp();
        let token = |aud: &str, exp: Option<i64>| {
            let exp = exp.map(|e| format!(r#","exp":{e}"#)).unwrap_or_default();
            let claims = format!(r#"{{"iss":"{ISSUER}","aud":{aud},"sub":"{}","iat":{t},"nbf":{t}{exp},"jti":"{}"}}"#, f.account, f.token);
            f.sign(&f.header(), &claims)
        };
        let both = format!(r#"["{ISSUER}","{ISSUER}/s/x/mcp"]"#);
        let granted = f.verify(&token(&both, Some(t + 3600)));
        assert_eq!(
            granted,
            Ok(Grant { token: Some(f.token), expires_at: Some(end), unnamed: false, tools: None }),
            "streams last until the grant ends"
        );
        assert_eq!(f.verify(&token(&both, Some(end.timestamp()))).map(|g| g.token), Ok(Some(f.token)), "up to the end itself");
        assert_eq!(f.verify(&token(&both, Some(end.timestamp() + 1))), Err(Refusal::Malformed), "past the grant's end");
        assert_eq!(f.verify(&token(&both, None)), Err(Refusal::Malformed), "an access token always expires");
        assert!(matches!(f.verify(&token(&both, Some(t - 60))), Err(Refusal::Expired(_))), "its own exp is checked");
        assert_eq!(f.verify(&token(r#"["https://other.example"]"#, Some(t + 60))), Err(Refusal::Audience));
        assert_eq!(f.verify(&token("[]", Some(t + 60))), Err(Refusal::Audience));
        assert_eq!(f.verify(&token("[1]", Some(t + 60))), Err(Refusal::Malformed));
        // A token made in the dashboard keeps to one expiry, exactly.
        let (short, exact) = (token(&both, Some(t + 3600)), token(&both, Some(end.timestamp())));
        f.view.tokens.get_mut(&f.token).unwrap().renewable = false;
        assert_eq!(f.verify(&short), Err(Refusal::Malformed));
        assert_eq!(f.verify(&exact), Err(Refusal::Malformed), "nor an audience array");
    }
}
