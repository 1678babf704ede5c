//! Token types shared by the browser and the server.
use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{AppError, ErrorCode};
use crate::servers::{ServerId, ServerRef};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenId(pub Uuid);

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a token is for, in the owner's words: 1 to 200 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenDescription(String);

impl TokenDescription {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let text = raw.trim();
        if text.is_empty() {
            return Err("Describe what this token is for, e.g. \"Claude Desktop on my laptop\".");
        }
        if text.chars().count() > 200 {
            return Err("Use at most 200 characters.");
        }
        if text.chars().any(char::is_control) {
            return Err("A description cannot contain control characters.");
        }
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// When a token stops working: never, after a duration (`30m 12h 7d 2w 90d 1y`), or at a date
/// (`2027-01-31`, the end of that day UTC) or an RFC 3339 time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Never,
    After(Duration),
    At(DateTime<Utc>),
}

/// The presets the dashboard offers, as (value, label).
pub const EXPIRY_PRESETS: &[(&str, &str)] = &[
    ("never", "Never"),
    ("1h", "1 hour"),
    ("24h", "24 hours"),
    ("7d", "7 days"),
    ("30d", "30 days"),
    ("90d", "90 days"),
    ("1y", "1 year"),
];

impl Expiry {
    const MAX_YEARS: i64 = 100;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim().to_ascii_lowercase();
        if text.is_empty() {
            return Err("Choose when the token expires.".into());
        }
        if text == "never" {
            return Ok(Expiry::Never);
        }
        if let Some(duration) = parse_duration(&text) {
            return duration;
        }
        if let Ok(date) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            let end_of_day = date.and_hms_opt(23, 59, 59).expect("valid time").and_utc();
            return Ok(Expiry::At(end_of_day));
        }
        if let Ok(at) = DateTime::parse_from_rfc3339(raw.trim()) {
            return Ok(Expiry::At(at.with_timezone(&Utc)));
        }
        Err(format!(
            "\"{}\" is not an expiry. Use never, a duration like 30m, 12h, 7d, 2w, 90d or 1y, or a date like 2027-01-31.",
            raw.trim()
        ))
    }

    /// The moment the token expires, counted from `now`; `None` for never.
    pub fn resolve(self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, String> {
        let at = match self {
            Expiry::Never => return Ok(None),
            Expiry::After(d) => now + d,
            Expiry::At(at) => at,
        };
        if at <= now {
            return Err("That expiry is in the past. Choose a later date.".into());
        }
        if at > now + Duration::days(365 * Self::MAX_YEARS) {
            return Err("That expiry is too far away; choose \"never\" instead.".into());
        }
        Ok(Some(at))
    }
}

fn parse_duration(text: &str) -> Option<Result<Expiry, String>> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let count: i64 = match digits.parse() {
        Ok(n) if n > 0 => n,
        _ => return Some(Err("A duration must be a positive whole number, like 7d.".into())),
    };
    let minutes_per_unit = match unit {
        "m" | "min" | "minutes" => 1,
        "h" | "hours" => 60,
        "d" | "days" => 60 * 24,
        "w" | "weeks" => 60 * 24 * 7,
        "y" | "years" => 60 * 24 * 365,
        _ => return None,
    };
    Some(
        count
            .checked_mul(minutes_per_unit)
            .filter(|m| *m <= Expiry::MAX_YEARS * 365 * 24 * 60)
            .map(|m| Expiry::After(Duration::minutes(m)))
            .ok_or_else(|| "That duration is too long; choose \"never\" instead.".to_string()),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
}

impl TokenStatus {
    /// Whether a token of this status expiring at `expires_at` is active and expires within
    /// [`EXPIRING_SOON_DAYS`] of `now`.
    pub fn expires_soon(self, expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        self == TokenStatus::Active && expires_at.is_some_and(|at| at - now <= Duration::days(EXPIRING_SOON_DAYS))
    }

    /// Computed, never stored: revoked (by the owner, or through its key) wins over expired.
    pub fn of(revoked: bool, expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Self {
        if revoked {
            TokenStatus::Revoked
        } else if expires_at.is_some_and(|at| at <= now) {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Expired => "expired",
            TokenStatus::Revoked => "revoked",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(TokenStatus::Active),
            "expired" => Some(TokenStatus::Expired),
            "revoked" => Some(TokenStatus::Revoked),
            _ => None,
        }
    }
}

/// The short form of a token kept after creation: a prefix and a suffix.
/// How many hex characters of the SHA-256 are shown as a token's fingerprint.
pub const FINGERPRINT_CHARS: usize = 12;
/// A stored fingerprint (64 hex characters) as it is shown.
pub fn shown_fingerprint(stored: &str) -> String {
    stored.chars().take(FINGERPRINT_CHARS).collect()
}

/// The shortest fingerprint prefix that names a token (`gatehouse token show|revoke`).
pub const MIN_FINGERPRINT_PREFIX: usize = 8;

pub fn display_form(token: &str) -> String {
    let chars: Vec<char> = token.chars().collect();
    if chars.len() <= 12 {
        return "…".into();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TokenView {
    /// The JWT `jti`.
    #[cfg_attr(feature = "ssr", schema(value_type = uuid::Uuid))]
    pub id: TokenId,
    /// The organisation it belongs to.
    pub organisation_id: uuid::Uuid,
    /// Its organisation's name.
    pub organisation: String,
    /// The email of the member who made it (for an OAuth grant: who consented).
    pub made_by: String,
    pub description: String,
    /// A prefix and suffix of the token string, e.g. `eyJhbGci…x9Qk`.
    pub display: String,
    /// The first hex characters of the token's SHA-256: how to name it in a list, a script or
    /// an incident (every token's display form starts alike). Absent for tokens made before
    /// fingerprints were kept.
    pub fingerprint: Option<String>,
    pub status: TokenStatus,
    /// Why it is revoked: `owner` or `signing_key`.
    pub revoked_by: Option<String>,
    pub signing_key_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_used_ip: Option<String>,
    pub use_count: i64,
    pub servers: Vec<ServerRef>,
    /// The client addresses it may be used from (CIDRs); empty: any.
    #[serde(default)]
    pub allowed_networks: Vec<String>,
    /// An OAuth grant's client (`oauth_clients.id`): the token renews by refresh, and its
    /// description reads "via OAuth: <client name>".
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<uuid::Uuid>))]
    pub oauth_client: Option<Uuid>,
}

/// How close to its expiry a token gets the "expires soon" badge.
pub const EXPIRING_SOON_DAYS: i64 = 7;

/// The longest token string anyone may send (the gateway's and the inspector's limit); a
/// Gatehouse token is well under 1 KiB.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The token in an `Authorization` value (`Bearer <token>`, the scheme in any case, spaces
/// around either), or `None` when the value names another scheme or none.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Which tokens a list shows: the one parser for REST, server functions and the page's links.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TokenFilter {
    #[default]
    All,
    Status(TokenStatus),
    /// Active, and expiring within [`EXPIRING_SOON_DAYS`].
    ExpiringSoon,
}

impl TokenFilter {
    /// Every filter, in the order the page offers them.
    pub const ALL: [TokenFilter; 5] = [
        TokenFilter::All,
        TokenFilter::Status(TokenStatus::Active),
        TokenFilter::ExpiringSoon,
        TokenFilter::Status(TokenStatus::Expired),
        TokenFilter::Status(TokenStatus::Revoked),
    ];

    /// The `status` query value; absent, empty and `all` are every token.
    pub fn parse(value: Option<&str>) -> Result<Self, AppError> {
        match value.unwrap_or("") {
            "" | "all" => Ok(TokenFilter::All),
            "expiring" => Ok(TokenFilter::ExpiringSoon),
            other => TokenStatus::parse(other).map(TokenFilter::Status).ok_or_else(|| {
                AppError::new(ErrorCode::InvalidInput, "status must be all, active, expiring, expired or revoked")
                    .with_field("status", "Unknown status.")
            }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenFilter::All => "all",
            TokenFilter::Status(status) => status.as_str(),
            TokenFilter::ExpiringSoon => "expiring",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TokenFilter::All => "All",
            TokenFilter::Status(TokenStatus::Active) => "Active",
            TokenFilter::ExpiringSoon => "Expiring soon",
            TokenFilter::Status(TokenStatus::Expired) => "Expired",
            TokenFilter::Status(TokenStatus::Revoked) => "Revoked",
        }
    }
}

/// The order of a token list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TokenOrder {
    /// Newest first.
    #[default]
    Created,
    /// Most recently used first, never-used last.
    LastUsed,
}

impl TokenOrder {
    /// The `sort` query value; absent or empty is [`TokenOrder::Created`].
    pub fn parse(value: Option<&str>) -> Result<Self, AppError> {
        match value.unwrap_or("") {
            "" | "created" => Ok(TokenOrder::Created),
            "last_used" => Ok(TokenOrder::LastUsed),
            _ => Err(AppError::new(ErrorCode::InvalidInput, "sort must be created or last_used").with_field("sort", "Unknown order.")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenOrder::Created => "created",
            TokenOrder::LastUsed => "last_used",
        }
    }
}

impl TokenView {
    /// Active, and expiring within [`EXPIRING_SOON_DAYS`] of `now`.
    pub fn expires_soon(&self, now: DateTime<Utc>) -> bool {
        self.status.expires_soon(self.expires_at, now)
    }
}

/// How many tokens one page of the dashboard's list shows.
pub const TOKENS_PER_PAGE: usize = 50;

/// One page of the dashboard's token list: the rendered page stays the same size however many
/// tokens the account has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenPage<T = TokenView> {
    pub tokens: Vec<T>,
    /// Tokens matching the filter, on every page.
    pub total: usize,
    /// 1-based, within `1..=pages()`.
    pub page: usize,
}

impl<T> TokenPage<T> {
    /// Page `page` (1-based, clamped to the pages there are) of `tokens`.
    pub fn of(tokens: Vec<T>, page: usize) -> Self {
        let total = tokens.len();
        let page = page.clamp(1, total.div_ceil(TOKENS_PER_PAGE).max(1));
        let tokens = tokens.into_iter().skip((page - 1) * TOKENS_PER_PAGE).take(TOKENS_PER_PAGE).collect();
        Self { tokens, total, page }
    }

    pub fn pages(&self) -> usize {
        self.total.div_ceil(TOKENS_PER_PAGE).max(1)
    }

    /// The 1-based positions of the first and last token shown.
    pub fn shown(&self) -> (usize, usize) {
        let first = (self.page - 1) * TOKENS_PER_PAGE;
        (first + 1, first + self.tokens.len())
    }
}

/// A request to create a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewTokenInput {
    #[cfg_attr(feature = "ssr", schema(min_length = 1, example = "Claude Desktop on my laptop"))]
    pub description: String,
    /// `never`, a duration (`30m 12h 7d 2w 90d 1y`), a date (`2027-01-31`) or an RFC 3339 time.
    #[cfg_attr(feature = "ssr", schema(min_length = 1, example = "90d"))]
    pub expires: String,
    /// Servers the token may reach right away.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<uuid::Uuid>))]
    pub server_ids: Vec<ServerId>,
    /// Client addresses it may be used from (CIDRs or addresses); absent or empty: any.
    #[serde(default)]
    pub allowed_networks: Vec<String>,
    /// The tool rule on every server in `server_ids` (absent: every tool).
    #[serde(default)]
    pub tools: Option<crate::tools::ToolRule>,
}

/// A token's allowed client addresses, replaced whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NetworksInput {
    /// CIDRs or addresses, e.g. `["10.0.0.0/8", "203.0.113.7"]`; empty: any address.
    pub allowed_networks: Vec<String>,
}

/// A token just made: the only time the token string is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    /// The bearer token. Shown once; Gatehouse keeps only its display form.
    pub token: String,
    pub details: TokenView,
}

/// The claims Gatehouse puts in every token (DESIGN.md, Tokens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    pub jti: String,
}

#[cfg(test)]
mod tests {
    #[test]
    fn list_filters_and_orders_parse_strictly_and_round_trip() {
        for filter in TokenFilter::ALL {
            assert_eq!(TokenFilter::parse(Some(filter.as_str())).unwrap(), filter);
        }
        assert_eq!(TokenFilter::parse(None).unwrap(), TokenFilter::All);
        assert_eq!(TokenFilter::parse(Some("")).unwrap(), TokenFilter::All);
        assert_eq!(TokenFilter::parse(Some("Active")).unwrap_err().fields["status"], "Unknown status.");
        for order in [TokenOrder::Created, TokenOrder::LastUsed] {
            assert_eq!(TokenOrder::parse(Some(order.as_str())).unwrap(), order);
        }
        assert!(TokenOrder::parse(Some("newest")).is_err());
    }

    #[test]
    fn bearer_values() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("  bEaReR   abc  "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("abc"), None);
    }

    use super::*;
    use proptest::prelude::*;

    fn now() -> DateTime<Utc> {
        "2026-11-22T12:00:00Z".parse().unwrap()
    }

    fn token(n: usize) -> TokenView {
        TokenView {
            id: TokenId(uuid::Uuid::from_u128(n as u128)),
            organisation_id: uuid::Uuid::nil(),
            organisation: String::new(),
            made_by: String::new(),
            description: format!("t{n}"),
            display: String::new(),
            fingerprint: None,
            status: TokenStatus::Active,
            revoked_by: None,
            signing_key_id: uuid::Uuid::nil(),
            created_at: now(),
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            last_used_ip: None,
            use_count: 0,
            servers: Vec::new(),
            allowed_networks: Vec::new(),
            oauth_client: None,
        }
    }

    #[test]
    fn token_pages_hold_fifty_and_clamp_the_page_number() {
        let all: Vec<TokenView> = (0..101).map(token).collect();
        let first = TokenPage::of(all.clone(), 1);
        assert_eq!((first.tokens.len(), first.total, first.pages(), first.shown()), (50, 101, 3, (1, 50)));
        let last = TokenPage::of(all.clone(), 3);
        assert_eq!((last.tokens.len(), last.shown(), last.tokens[0].description.as_str()), (1, (101, 101), "t100"));
        assert_eq!(TokenPage::of(all.clone(), 99).page, 3, "past the end: the last page");
        assert_eq!(TokenPage::of(all, 0).page, 1);
        let none = TokenPage::<TokenView>::of(Vec::new(), 5);
        assert_eq!((none.page, none.pages(), none.tokens.len()), (1, 1, 0));
    }

    #[test]
    fn presets_and_cli_durations_parse() {
        let n = now();
        assert_eq!(Expiry::parse("never").unwrap().resolve(n).unwrap(), None);
        for (text, minutes) in
            [("30m", 30), ("1h", 60), ("12h", 720), ("24h", 1440), ("7d", 10080), ("2w", 20160), ("90d", 129600), ("1y", 525600)]
        {
            let at = Expiry::parse(text).unwrap().resolve(n).unwrap().unwrap();
            assert_eq!(at - n, Duration::minutes(minutes), "{text}");
        }
        for (value, _) in EXPIRY_PRESETS {
            assert!(Expiry::parse(value).is_ok(), "{value}");
        }
    }

    #[test]
    fn dates_mean_the_end_of_that_day_utc() {
        let at = Expiry::parse("2027-01-31").unwrap().resolve(now()).unwrap().unwrap();
        assert_eq!(at.to_rfc3339(), "2027-01-31T23:59:59+00:00");
        let at = Expiry::parse("2026-12-01T08:00:00+02:00").unwrap().resolve(now()).unwrap().unwrap();
        assert_eq!(at.to_rfc3339(), "2026-12-01T06:00:00+00:00");
    }

    #[test]
    fn past_zero_and_nonsense_expiries_are_refused() {
        assert!(Expiry::parse("2020-01-01").unwrap().resolve(now()).is_err());
        for bad in ["", "0d", "-1d", "7x", "soon", "d", "99999999999999999999d", "1000y"] {
            let result = Expiry::parse(bad).and_then(|e| e.resolve(now()));
            assert!(result.is_err(), "{bad:?}");
        }
    }

    #[test]
    fn status_is_computed_revoked_first() {
        let n = now();
        let past = Some(n - Duration::hours(1));
        let future = Some(n + Duration::hours(1));
        assert_eq!(TokenStatus::of(false, None, n), TokenStatus::Active);
        assert_eq!(TokenStatus::of(false, future, n), TokenStatus::Active);
        assert_eq!(TokenStatus::of(false, past, n), TokenStatus::Expired);
        assert_eq!(TokenStatus::of(true, past, n), TokenStatus::Revoked);
        assert_eq!(TokenStatus::of(false, Some(n), n), TokenStatus::Expired, "expired at the exact second");
    }

    #[test]
    fn display_form_keeps_only_ends() {
        assert_eq!(display_form("eyJhbGciOiJIUzI1NiJ9.abc.defx9Qk"), "eyJhbGci…x9Qk");
        assert_eq!(display_form("short"), "…");
    }

    #[test]
    fn descriptions_are_required_and_bounded() {
        assert_eq!(TokenDescription::parse("  CI  ").unwrap().as_str(), "CI");
        assert!(TokenDescription::parse(" ").is_err());
        assert!(TokenDescription::parse(&"d".repeat(201)).is_err());
    }

    proptest! {
        #[test]
        fn expiry_parse_never_panics(raw in "\\PC{0,40}") {
            if let Ok(expiry) = Expiry::parse(&raw) {
                let _ = expiry.resolve(now());
            }
        }

        #[test]
        fn any_positive_day_count_up_to_a_century_works(days in 1i64..36500) {
            let at = Expiry::parse(&format!("{days}d")).unwrap().resolve(now()).unwrap().unwrap();
            prop_assert_eq!(at - now(), Duration::days(days));
        }
    }
}
