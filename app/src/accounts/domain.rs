//! Account types shared by the browser and the server. Input is parsed into these once, at the
//! boundary; everything past it can rely on them being valid.
use std::fmt;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub Uuid);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A normalised email address: trimmed and lower-cased, so comparisons are case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err("Enter your email address.");
        }
        if email.chars().count() > Self::MAX_LEN {
            return Err("That email address is too long (254 characters at most).");
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("An email address cannot contain spaces.");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err("Enter an email address like name@example.com.");
        };
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if local.is_empty() || local.chars().count() > 64 || !domain_ok {
            return Err("Enter an email address like name@example.com.");
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password that meets the length rule (8 to 128 characters, no composition rules, as NIST
/// SP 800-63B advises). Never printed, never serialised.
pub struct Password(SecretString);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: String) -> Result<Self, &'static str> {
        let chars = raw.chars().count();
        if chars == 0 {
            return Err("Enter a password.");
        }
        if chars < Self::MIN_CHARS {
            return Err("Use at least 8 characters.");
        }
        if chars > Self::MAX_CHARS {
            return Err("Use at most 128 characters.");
        }
        Ok(Self(SecretString::from(raw)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<hidden>)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum AccountStatus {
    Active,
    Disabled,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Disabled => "disabled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(AccountStatus::Active),
            "disabled" => Some(AccountStatus::Disabled),
            _ => None,
        }
    }
}

/// Who may sign up (the `signup` setting). Whatever it says, the very first account of an
/// installation can always be made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignupPolicy {
    /// Anyone.
    #[default]
    Open,
    /// Only with an invite link an admin made.
    Invite,
    /// Nobody (admins make accounts with `gatehouse account create`).
    Closed,
}

/// A one-use sign-up link, as an admin sees it after making it (the only time the link is
/// shown).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedInvite {
    pub id: uuid::Uuid,
    /// The sign-up page with the invite in it: send it to the person.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// What the browser and API clients may see of an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AccountView {
    #[cfg_attr(feature = "ssr", schema(value_type = uuid::Uuid))]
    pub id: AccountId,
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = Email))]
    pub email: Email,
    pub role: Role,
    pub status: AccountStatus,
    pub created_at: DateTime<Utc>,
}

impl AccountView {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// A local path to return to after logging in. Anything else (other hosts, `//evil`,
/// `/\evil`, control characters) falls back to the dashboard, so `next` cannot redirect off-site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && path.len() <= 2048
                && path.chars().all(|c| c.is_ascii_graphic()) =>
        {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn email_is_trimmed_and_lowercased() {
        assert_eq!(Email::parse("  Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@@example.com",
            "ada@exa mple.com",
            "ada@-example.com",
            "ada@example..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn email_length_is_bounded() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn password_length_rule_counts_characters_not_bytes() {
        assert!(Password::parse("1234567".into()).is_err());
        assert!(Password::parse("12345678".into()).is_ok());
        assert!(Password::parse("é".repeat(128)).is_ok(), "128 two-byte characters are fine");
        assert!(Password::parse("x".repeat(129)).is_err());
        assert!(Password::parse(String::new()).is_err());
    }

    #[test]
    fn password_debug_hides_the_secret() {
        let p = Password::parse("correct horse battery".into()).unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn next_stays_on_site() {
        assert_eq!(safe_next(Some("/tokens?status=active")), "/tokens?status=active");
        for bad in ["https://evil.example", "//evil.example", "/\\evil.example", "tokens", "/a b"] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }

    proptest! {
        #[test]
        fn email_parse_never_panics_and_is_idempotent(raw in "\\PC{0,300}") {
            if let Ok(email) = Email::parse(&raw) {
                let again = Email::parse(email.as_str()).expect("a parsed email parses again");
                prop_assert_eq!(again, email.clone());
                prop_assert_eq!(email.as_str(), email.as_str().to_lowercase());
                prop_assert!(email.as_str().chars().count() <= Email::MAX_LEN);
            }
        }

        #[test]
        fn case_variants_normalise_to_one_email(local in "[a-zA-Z0-9._+]{1,20}", domain in "[a-zA-Z0-9]{1,20}\\.[a-zA-Z]{2,6}") {
            let lower = Email::parse(&format!("{local}@{domain}").to_lowercase()).unwrap();
            let upper = Email::parse(&format!("{local}@{domain}").to_uppercase()).unwrap();
            prop_assert_eq!(lower, upper);
        }

        #[test]
        fn password_accepts_exactly_8_to_128_chars(len in 0usize..200) {
            let ok = Password::parse("p".repeat(len)).is_ok();
            prop_assert_eq!(ok, (8..=128).contains(&len));
        }

        #[test]
        fn safe_next_output_is_always_local(raw in "\\PC{0,60}") {
            let next = safe_next(Some(&raw));
            prop_assert!(next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\"));
        }
    }
}
