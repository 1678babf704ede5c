//! Which of a server's tools a token may call: the rule, shared by the browser, the API, the
//! CLI and the gateway.
use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A tool's name as a rule names it. MCP (2025-11-25, "Tool names") asks for 1 to 128
/// characters of `A-Z a-z 0-9 _ - .`; a rule accepts exactly those, so a name in a rule can
/// never be confused with the separators of the CLI's list or the stored form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct ToolName(String);

impl ToolName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("A tool name cannot be empty.".into());
        }
        if name.len() > 128 {
            return Err(format!("The tool name {name:.40}… is longer than 128 characters."));
        }
        if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))) {
            return Err(format!("The tool name {name:?} has {bad:?}: tool names use letters, digits, _ - and . only."));
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ToolName {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
    }
}

impl From<ToolName> for String {
    fn from(name: ToolName) -> String {
        name.0
    }
}

impl fmt::Display for ToolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The most tools one rule may name.
pub const MAX_RULE_TOOLS: usize = 500;

/// Which tools of one server a token may call. `tools/list` answers only these, and a
/// `tools/call` of any other is refused by the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "mode", content = "tools", rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ToolRule {
    /// Every tool (the default).
    #[default]
    All,
    /// Only the tools the upstream annotates `readOnlyHint: true`. A tool whose annotations
    /// Gatehouse has not seen is not read-only (the rule fails closed).
    ReadOnly,
    /// Only these tools.
    Only(BTreeSet<ToolName>),
}

impl ToolRule {
    /// The CLI's and the form's words: `all`, `read-only`, or tool names separated by commas.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        match raw {
            "" => Err("Say which tools: all, read-only, or tool names separated by commas (echo,add).".into()),
            "all" => Ok(Self::All),
            "read-only" | "readonly" | "read_only" => Ok(Self::ReadOnly),
            list => Self::only(list.split(',').filter(|s| !s.trim().is_empty())),
        }
    }

    /// A rule naming exactly `names` (at least one).
    pub fn only<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let names = names.into_iter().map(ToolName::parse).collect::<Result<BTreeSet<_>, _>>()?;
        if names.is_empty() {
            return Err("Name at least one tool, or choose all or read-only.".into());
        }
        if names.len() > MAX_RULE_TOOLS {
            return Err(format!("A rule names at most {MAX_RULE_TOOLS} tools."));
        }
        Ok(Self::Only(names))
    }

    /// The rule in the words [`Self::parse`] reads back: `all`, `read-only` or `echo,add` (what
    /// the token page's field shows).
    pub fn words(&self) -> String {
        match self {
            Self::All => "all".into(),
            Self::ReadOnly => "read-only".into(),
            Self::Only(names) => names.iter().map(ToolName::as_str).collect::<Vec<_>>().join(","),
        }
    }

    /// Whether a tool may be called; `read_only` says whether the upstream annotates it so.
    pub fn allows(&self, tool: &str, read_only: bool) -> bool {
        match self {
            Self::All => true,
            Self::ReadOnly => read_only,
            Self::Only(names) => names.iter().any(|n| n.as_str() == tool),
        }
    }

    pub fn is_all(&self) -> bool {
        matches!(self, Self::All)
    }

    /// How the database keeps it: no value for all, `read-only`, or a JSON array of names.
    pub fn stored(&self) -> Option<String> {
        match self {
            Self::All => None,
            Self::ReadOnly => Some("read-only".into()),
            Self::Only(names) => Some(serde_json::to_string(names).unwrap_or_else(|_| "[]".into())),
        }
    }

    /// Reads the stored form back. Anything unreadable allows nothing rather than everything.
    pub fn from_stored(stored: Option<&str>) -> Self {
        match stored {
            None => Self::All,
            Some("read-only") => Self::ReadOnly,
            Some(list) => Self::Only(serde_json::from_str(list).unwrap_or_default()),
        }
    }
}

/// A rule that cannot be, as the API and the forms answer it: 422 naming the `tools` field.
pub fn invalid_rule(why: String) -> crate::error::AppError {
    crate::error::AppError::new(crate::error::ErrorCode::InvalidInput, why.clone()).with_field("tools", why)
}

impl fmt::Display for ToolRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all tools"),
            Self::ReadOnly => f.write_str("read-only tools"),
            Self::Only(names) => {
                let names: Vec<&str> = names.iter().map(ToolName::as_str).collect();
                write!(f, "only {}", names.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_cli_words_parse() {
        assert_eq!(ToolRule::parse("all"), Ok(ToolRule::All));
        assert_eq!(ToolRule::parse(" read-only "), Ok(ToolRule::ReadOnly));
        let only = ToolRule::parse("echo, add,echo").unwrap();
        assert_eq!(only, ToolRule::only(["add", "echo"]).unwrap());
        assert_eq!(only.to_string(), "only add, echo");
        assert!(ToolRule::parse("").unwrap_err().contains("all, read-only"));
        assert!(ToolRule::parse(",").unwrap_err().contains("at least one"));
        assert!(ToolRule::parse("echo;rm").unwrap_err().contains("';'"));
        assert!(ToolRule::parse(&"x".repeat(129)).unwrap_err().contains("128"));
    }

    #[test]
    fn a_rule_allows_what_it_says() {
        let only = ToolRule::parse("echo").unwrap();
        assert!(only.allows("echo", false));
        assert!(!only.allows("ECHO", true), "names are exact");
        assert!(!only.allows("add", true));
        assert!(ToolRule::ReadOnly.allows("search", true));
        assert!(!ToolRule::ReadOnly.allows("delete", false));
        assert!(ToolRule::All.allows("anything", false));
    }

    #[test]
    fn the_json_form_names_the_mode() {
        let only = ToolRule::parse("echo").unwrap();
        assert_eq!(serde_json::to_value(&only).unwrap(), serde_json::json!({ "mode": "only", "tools": ["echo"] }));
        assert_eq!(serde_json::to_value(ToolRule::ReadOnly).unwrap(), serde_json::json!({ "mode": "read_only" }));
        let bad: Result<ToolRule, _> = serde_json::from_value(serde_json::json!({ "mode": "only", "tools": ["a b"] }));
        assert!(bad.is_err(), "names are checked when read from JSON too");
    }

    #[test]
    fn an_unreadable_stored_rule_allows_nothing() {
        let rule = ToolRule::from_stored(Some("{not json"));
        assert!(!rule.allows("echo", true));
    }

    proptest! {
        #[test]
        fn stored_rules_read_back_the_same(names in proptest::collection::btree_set("[A-Za-z0-9_.-]{1,20}", 1..8)) {
            let rule = ToolRule::only(names.iter().map(String::as_str)).unwrap();
            prop_assert_eq!(ToolRule::from_stored(rule.stored().as_deref()), rule.clone());
            prop_assert_eq!(ToolRule::from_stored(ToolRule::ReadOnly.stored().as_deref()), ToolRule::ReadOnly);
            prop_assert_eq!(ToolRule::from_stored(None), ToolRule::All);
            prop_assert_eq!(ToolRule::parse(&rule.words()), Ok(rule.clone()), "the page's words read back");
        }
    }
}
