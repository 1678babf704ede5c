//! The `gatehouse` command line: `serve`, and everything an operator does without a browser,
//! working directly on the configured database. Every change writes its change event, so
//! running gateways on any process apply it at once.
mod accounts;
mod api_keys;
mod maintenance;
mod oauth_clients;
mod organisations;
mod output;
mod prompt;
mod servers;
mod tokens;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use output::{CliError, Exit};

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "A hosted gateway for MCP servers",
    long_about = "A hosted gateway for MCP servers.\n\n`gatehouse serve` runs the dashboard, REST API and gateway. Every other command \
                  works directly on the configured database (DATABASE_URL, or the default SQLite file in ./data), so a running \
                  server on any machine applies its changes at once.",
    after_help = "Exit codes: 0 done, 2 bad input, 1 anything else. Add --json to any command for one JSON document on stdout."
)]
pub struct Cli {
    /// Configuration file (default: ./gatehouse.toml, if present).
    #[arg(long, global = true, env = "GATEHOUSE_CONFIG")]
    pub config: Option<PathBuf>,

    /// Print one JSON document on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the dashboard, API and gateway (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Run a small demo MCP server (echo, slow_echo, ticker) to put behind Gatehouse.
    DemoMcp {
        /// Where it listens.
        #[arg(long, default_value = "127.0.0.1:8931")]
        bind: std::net::SocketAddr,
    },
    /// Accounts: create, list, disable, enable, change roles, invite.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Organisations (teams): create, list, members, invitations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Upstream MCP servers and their hosted endpoints.
    #[command(subcommand)]
    Server(ServerCommand),
    /// Bearer tokens for MCP clients.
    #[command(subcommand)]
    Token(TokenCommand),
    /// API keys for the REST API.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// OAuth clients: those that registered and those known by a metadata document.
    #[command(subcommand, name = "oauth-client")]
    OauthClient(OauthClientCommand),
    /// Delete tokens that were revoked or expired long ago, with their server links and usage.
    PurgeExpired {
        /// Only tokens dead for longer than this.
        #[arg(long, default_value = "30d", value_name = "DURATION")]
        older_than: String,
        /// Print what would be removed, and remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// A consistent copy of a live SQLite database (on PostgreSQL: the pg_dump command to use).
    Backup {
        /// The file to write; it must not exist yet.
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account (the very first one is an admin whatever the sign-up setting).
    Create {
        /// The new account's email (asked for when missing and stdin is a terminal).
        #[arg(long, value_name = "EMAIL")]
        email: Option<String>,
        /// Read the password from the first line of stdin (otherwise it is asked for, unechoed).
        #[arg(long)]
        password_stdin: bool,
        /// Make it an admin.
        #[arg(long)]
        admin: bool,
    },
    /// Every account, oldest first.
    List,
    /// Disable an account: it cannot log in, and every token and API key of it stops working.
    Disable {
        /// The account's email.
        email: String,
    },
    /// Enable a disabled account.
    Enable {
        /// The account's email.
        email: String,
    },
    /// Make an account an admin or a user.
    SetRole {
        /// The account's email.
        email: String,
        /// admin or user.
        #[arg(value_parser = ["admin", "user"])]
        role: String,
    },
    /// Make a one-use sign-up link.
    Invite {
        /// How long the link works.
        #[arg(long, default_value = "7d", value_name = "DURATION")]
        expires: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organisation with one owner.
    Create {
        /// The owner's email.
        #[arg(long, value_name = "EMAIL")]
        owner: String,
        /// Its name, shown on every object it owns.
        #[arg(long)]
        name: String,
    },
    /// Organisations, with their members (of one account, or all).
    List {
        /// Only the organisations this account belongs to.
        #[arg(long, value_name = "EMAIL")]
        account: Option<String>,
    },
    /// Add an existing account as a member.
    AddMember {
        /// The organisation's name or id.
        #[arg(value_name = "ORG")]
        org: String,
        #[arg(long, value_name = "EMAIL")]
        email: String,
        /// owner, admin, member or viewer.
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Remove a member: tokens they made in the organisation are revoked (or handed on).
    RemoveMember {
        /// The organisation's name or id.
        #[arg(value_name = "ORG")]
        org: String,
        #[arg(long, value_name = "EMAIL")]
        email: String,
        /// Hand their tokens to this member instead of revoking them.
        #[arg(long, value_name = "EMAIL")]
        hand_to: Option<String>,
    },
    /// Disable an organisation: every token of it is refused and its open servers close.
    Disable {
        /// The organisation's name or id.
        #[arg(value_name = "ORG")]
        org: String,
    },
    /// Enable a disabled organisation.
    Enable {
        /// The organisation's name or id.
        #[arg(value_name = "ORG")]
        org: String,
    },
    /// An invitation link (one use, expiring) to join as a role; it lets its invitee sign up.
    Invite {
        /// The organisation's name or id.
        #[arg(value_name = "ORG")]
        org: String,
        /// owner, admin, member or viewer.
        #[arg(long, default_value = "member")]
        role: String,
        /// Only the account with this email may accept it.
        #[arg(long, value_name = "EMAIL")]
        email: Option<String>,
        /// How many days it works.
        #[arg(long, default_value_t = 7)]
        days: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Register an upstream MCP server and get its hosted endpoint.
    Create {
        /// The email of the member who registers it.
        #[arg(long, value_name = "EMAIL")]
        account: Option<String>,
        /// The organisation it belongs to, by name or id (default: the account's personal one).
        #[arg(long, value_name = "ORG")]
        org: Option<String>,
        /// Its name in lists and on the dashboard, unique within the organisation.
        #[arg(long)]
        name: Option<String>,
        /// The upstream's URL, e.g. http://127.0.0.1:8931/mcp.
        #[arg(long, value_name = "URL")]
        upstream: Option<String>,
        /// How the upstream speaks MCP.
        #[arg(long, value_parser = ["streamable-http", "sse"], default_value = "streamable-http")]
        transport: String,
        /// Let anyone call it, with no token.
        #[arg(long)]
        no_token: bool,
        /// Do not offer OAuth sign-in (clients then send a token header; Cursor needs this to use one).
        #[arg(long)]
        no_oauth: bool,
        /// A header sent to the upstream, `Name: value` (repeat for more).
        #[arg(long = "header", value_name = "NAME: VALUE")]
        headers: Vec<String>,
    },
    /// Servers, of one organisation, of one account's organisations, or of all.
    List {
        /// A member's email: the servers of the organisations they belong to.
        #[arg(long, value_name = "EMAIL")]
        account: Option<String>,
        /// Only this organisation's, by name or id.
        #[arg(long, value_name = "ORG")]
        org: Option<String>,
    },
    /// Change a server's settings.
    Set {
        /// The server's name or id.
        #[arg(value_name = "NAME_OR_ID")]
        server: String,
        /// The email of a member who may change servers.
        #[arg(long, value_name = "EMAIL")]
        account: String,
        /// The organisation, by name or id (default: the account's personal one).
        #[arg(long, value_name = "ORG")]
        org: Option<String>,
        /// Tell the upstream who is calling, in a signed JWT in this header (e.g.
        /// Gatehouse-Identity; keys at /.well-known/jwks.json), or `off`.
        #[arg(long, value_name = "NAME|off")]
        identity_header: Option<String>,
        /// Record the tool calls made on it: off, calls (who, which tool, when, the outcome) or
        /// arguments (the same with each call's arguments).
        #[arg(long, value_name = "off|calls|arguments")]
        tool_audit: Option<String>,
    },
    /// Connect to a server's upstream now: up or down (and why), its tools, prompts and resources.
    Check {
        /// The server's name or id.
        #[arg(value_name = "NAME_OR_ID")]
        server: String,
        /// The email of a member who may change servers.
        #[arg(long, value_name = "EMAIL")]
        account: String,
        /// The organisation, by name or id (default: the account's personal one).
        #[arg(long, value_name = "ORG")]
        org: Option<String>,
    },
    /// Delete a server: its endpoint stops at once, and tokens lose their link to it.
    Delete {
        /// The server's name or id.
        #[arg(value_name = "NAME_OR_ID")]
        server: String,
        /// The owning account's email.
        #[arg(long, value_name = "EMAIL")]
        account: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a token; it is printed once, alone on its line.
    Create {
        /// The email of the member who makes it.
        #[arg(long, value_name = "EMAIL")]
        account: Option<String>,
        /// The organisation it belongs to, by name or id (default: the account's personal one).
        #[arg(long, value_name = "ORG")]
        org: Option<String>,
        /// What will use it, e.g. "Claude Desktop on my laptop".
        #[arg(long)]
        description: Option<String>,
        /// never, a duration (30m 12h 7d 2w 90d 1y) or a date (2027-01-31).
        #[arg(long)]
        expires: Option<String>,
        /// A server it may reach, by name or id (repeat for more).
        #[arg(long = "server", value_name = "NAME_OR_ID")]
        servers: Vec<String>,
        /// A client address or CIDR it may be used from (repeat, or separate with commas);
        /// none: any address.
        #[arg(long = "allow-from", value_name = "CIDR")]
        allow_from: Vec<String>,
    },
    /// Tokens, of one organisation, of one account's organisations, or of all.
    List {
        /// A member's email: the tokens they may see in the organisations they belong to.
        #[arg(long, value_name = "EMAIL")]
        account: Option<String>,
        /// Only this organisation's, by name or id.
        #[arg(long, value_name = "ORG")]
        org: Option<String>,
        /// Only tokens in this state (expiring: active and expiring within 7 days).
        #[arg(long, value_parser = ["active", "expired", "revoked", "expiring"])]
        status: Option<String>,
    },
    /// One token, by id or fingerprint (at least 8 hex characters).
    Show {
        /// The token's id or fingerprint (at least 8 hex characters).
        #[arg(value_name = "ID_OR_FINGERPRINT")]
        token: String,
    },
    /// Revoke a token: it stops at once, and its live streams end, on every process.
    Revoke {
        /// The token's id or fingerprint (at least 8 hex characters).
        #[arg(value_name = "ID_OR_FINGERPRINT")]
        token: String,
    },
    /// Let a token reach a server.
    Associate(Association),
    /// Stop a token reaching a server.
    Dissociate(Association),
    /// Limit which of a server's tools a token may call.
    Limit {
        /// The token's id or fingerprint (at least 8 hex characters).
        #[arg(value_name = "ID_OR_FINGERPRINT")]
        token: String,
        /// The server's name or id; the token must already reach it.
        #[arg(long, value_name = "NAME_OR_ID")]
        server: String,
        /// all, read-only (tools the upstream annotates readOnlyHint), or tool names separated
        /// by commas (echo,add).
        #[arg(long, value_name = "all|read-only|NAMES")]
        tools: String,
    },
    /// Limit the client addresses a token may be used from.
    Allow {
        /// The token's id or fingerprint (at least 8 hex characters).
        #[arg(value_name = "ID_OR_FINGERPRINT")]
        token: String,
        /// CIDRs or addresses separated by commas (10.0.0.0/8,203.0.113.7), or `any`.
        #[arg(long, value_name = "CIDRS|any")]
        from: String,
    },
    /// Read a token on stdin and print, server by server, whether the gateway would accept it.
    Inspect,
    /// Read a string on stdin and say which token it is, if any (for secret scanners and incidents).
    Find,
}

#[derive(Debug, Args)]
pub struct Association {
    /// The token's id or fingerprint (at least 8 hex characters).
    #[arg(value_name = "ID_OR_FINGERPRINT")]
    pub token: String,
    /// The server's name or id, in the token's account.
    #[arg(long, value_name = "NAME_OR_ID")]
    pub server: String,
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Make an API key; it is printed once, alone on its line.
    Create {
        /// The owning account's email.
        #[arg(long, value_name = "EMAIL")]
        account: Option<String>,
        /// read, write or admin (admin only for an admin's key).
        #[arg(long, value_parser = ["read", "write", "admin"])]
        scope: Option<String>,
        /// never, a duration (30m 12h 7d 2w 90d 1y) or a date (2027-01-31).
        #[arg(long)]
        expires: Option<String>,
        /// What will use it (default: "made with the CLI on DATE").
        #[arg(long)]
        description: Option<String>,
    },
    /// API keys, of one account or of all.
    List {
        /// The owning account's email (all accounts when left out).
        #[arg(long, value_name = "EMAIL")]
        account: Option<String>,
    },
    /// Revoke an API key: the next request with it gets 401.
    Revoke {
        /// The key's id (`gatehouse api-key list` shows them).
        id: uuid::Uuid,
    },
}

#[derive(Debug, Subcommand)]
pub enum OauthClientCommand {
    /// Every client, with how many grants it still holds.
    List,
    /// Delete a client: every grant it holds is revoked and its streams end.
    Delete {
        /// The client's id (`gatehouse oauth-client list`), or its client_id.
        client: String,
    },
}

/// Runs an operator command (anything but `serve`, `migrate` and `demo-mcp`).
pub async fn run(command: Command, config: &crate::Config, json: bool) -> Result<(), CliError> {
    let out = output::Output { json };
    let opened = || async {
        let url = config.public_url(config.bind);
        crate::startup::open(config, &url, config.bind).await.map_err(CliError::from)
    };
    match command {
        Command::Serve | Command::Migrate | Command::DemoMcp { .. } => unreachable!("main runs these"),
        Command::Account(command) => accounts::run(command, &opened().await?.state, &out).await,
        Command::Org(command) => organisations::run(command, &opened().await?.state, &out).await,
        Command::Server(command) => servers::run(command, &opened().await?.state, &out).await,
        Command::Token(command) => {
            let opened = opened().await?;
            tokens::run(command, &opened, &out).await
        }
        Command::ApiKey(command) => api_keys::run(command, &opened().await?.state, &out).await,
        Command::OauthClient(command) => oauth_clients::run(command, &opened().await?.state, &out).await,
        Command::PurgeExpired { older_than, dry_run } => {
            let older_than = maintenance::parse_age(&older_than)?;
            maintenance::purge(&opened().await?.state, older_than, dry_run, &out).await
        }
        Command::Backup { to } => maintenance::backup(config, &to, &out).await,
    }
}
