//! The operator commands (`account`, `server`, `token`, `api-key`, `purge-expired`, `backup`)
//! through the real binary, on SQLite and on PostgreSQL: what they print with and without
//! `--json`, how they refuse bad input, and that what they change reaches a running `serve`.
use std::{
    io::{BufRead, BufReader, Read, Write},
    path::Path,
    process::{Child, ChildStdout, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use super::gatehouse;

const ADA: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery\n";

/// The test body `$name(backend)` once on each database.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::Backend::Sqlite)
            }
            #[test]
            fn postgres() {
                super::$name(super::Backend::Postgres)
            }
        }
    )*};
    (#[ignore = $why:literal] $($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            #[ignore = $why]
            fn sqlite() {
                super::$name(super::Backend::Sqlite)
            }
            #[test]
            #[ignore = $why]
            fn postgres() {
                super::$name(super::Backend::Postgres)
            }
        }
    )*};
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A database of its own on the test server, dropped with the value.
struct Postgres {
    admin: String,
    name: String,
    url: String,
}

impl Postgres {
    fn create() -> Self {
        let admin = std::env::var("GATEHOUSE_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("gatehouse_cli_{}", uuid::Uuid::new_v4().simple());
        psql(&admin, &format!("CREATE DATABASE \"{name}\""));
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&format!("/{name}"));
        Self { admin, name, url: url.to_string() }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([self.admin.as_str(), "-qtAc", &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name)])
            .status();
    }
}

fn psql(admin: &str, sql: &str) {
    let status = Command::new("psql").args([admin, "-qtAc", sql]).status().unwrap();
    assert!(status.success(), "psql {sql}");
}

/// A port nothing listens on (it is free again once the listener is dropped).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One deployment as an operator sees it: a database, a data directory (the master key) and a
/// public URL, shared by every command of the test and by its `serve`.
struct Env {
    backend: Backend,
    dir: tempfile::TempDir,
    database_url: String,
    /// Where `serve` listens, and so the public URL tokens are issued for.
    port: u16,
    _postgres: Option<Postgres>,
}

/// What one command did.
struct Run {
    args: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`gatehouse {}` exited {:?}\n--- stdout\n{}\n--- stderr\n{}", self.args, self.code, self.stdout, self.stderr)
    }
}

impl Env {
    fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (database_url, postgres) = match backend {
            Backend::Sqlite => (format!("sqlite://{}/g.db", dir.path().display()), None),
            Backend::Postgres => {
                let postgres = Postgres::create();
                (postgres.url.clone(), Some(postgres))
            }
        };
        Self { backend, dir, database_url, port: free_port(), _postgres: postgres }
    }

    fn public_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The binary with this deployment's settings, on `database_url`.
    fn command(&self, database_url: &str) -> Command {
        let mut command = gatehouse();
        command
            .current_dir(self.dir.path())
            .env("DATABASE_URL", database_url)
            .env("GATEHOUSE_DATA_DIR", self.dir.path().join("data"))
            .env("GATEHOUSE_PUBLIC_URL", self.public_url())
            .env("GATEHOUSE_BIND", format!("127.0.0.1:{}", self.port))
            // PostgreSQL deployments refuse loopback upstreams by default; the demo server is one.
            .env("GATEHOUSE_UPSTREAM_ALLOW_LOOPBACK", "true");
        command
    }

    /// Runs a command with `stdin` (or none: stdin is then not a terminal, and empty).
    fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut child = self
            .command(&self.database_url)
            .args(args)
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        }
        let output = child.wait_with_output().unwrap();
        Run {
            args: args.join(" "),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None)
    }

    /// Stdout of a command that must succeed.
    fn ok_with(&self, args: &[&str], stdin: Option<&str>) -> String {
        let run = self.run_with(args, stdin);
        assert_eq!(run.code, Some(0), "{run}");
        run.stdout
    }

    fn ok(&self, args: &[&str]) -> String {
        self.ok_with(args, None)
    }

    /// The one JSON document `--json` prints.
    fn json_with(&self, args: &[&str], stdin: Option<&str>) -> Value {
        let args: Vec<&str> = std::iter::once("--json").chain(args.iter().copied()).collect();
        let stdout = self.ok_with(&args, stdin);
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("`gatehouse {}` printed no JSON ({e}):\n{stdout}", args.join(" ")))
    }

    fn json(&self, args: &[&str]) -> Value {
        self.json_with(args, None)
    }

    /// A command refused as bad input: exit 2, nothing on stdout, and stderr naming each of
    /// `needles`. Returns stderr.
    fn bad_input(&self, args: &[&str], stdin: Option<&str>, needles: &[&str]) -> String {
        let run = self.run_with(args, stdin);
        assert_eq!(run.code, Some(2), "{run}");
        assert!(run.stdout.trim().is_empty(), "bad input prints nothing on stdout: {run}");
        assert!(!run.stderr.contains("panicked"), "{run}");
        for needle in needles {
            assert!(run.stderr.contains(needle), "stderr should mention {needle:?}: {run}");
        }
        run.stderr
    }

    fn create_account(&self, email: &str) -> Value {
        self.json_with(&["account", "create", "--email", email, "--password-stdin"], Some(PASSWORD))
    }

    /// `gatehouse serve` on `database_url` (with everything else of this deployment), once it
    /// listens at the public URL's port.
    fn serve(&self, database_url: &str) -> Running {
        let child = self
            .command(database_url)
            .arg("serve")
            .env("GATEHOUSE_LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut running = Running(child);
        let address = first_line_with(running.0.stdout.take().unwrap(), |line| {
            line.split("\"address\":\"").nth(1).map(|rest| rest.split('"').next().unwrap().to_string())
        })
        .expect("gatehouse serve logged the address it listens on");
        assert_eq!(address, format!("127.0.0.1:{}", self.port));
        running
    }
}

/// A child process, killed when the test ends however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What `pick` finds in the first line of `stdout` it finds something in, within 30 s; the
/// rest of the output is read and dropped, so the child never blocks on a full pipe.
fn first_line_with(stdout: ChildStdout, pick: impl Fn(&str) -> Option<String> + Send + 'static) -> Option<String> {
    let (found, wait) = mpsc::channel();
    std::thread::spawn(move || {
        let mut found = Some(found);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(value) = found.as_ref().and_then(|_| pick(&line)) {
                let _ = found.take().unwrap().send(value);
            }
        }
    });
    wait.recv_timeout(Duration::from_secs(30)).ok()
}

/// `gatehouse demo-mcp` on a free port, and its base URL.
fn demo_mcp(env: &Env) -> (Running, String) {
    let child = gatehouse()
        .args(["demo-mcp", "--bind", "127.0.0.1:0"])
        .current_dir(env.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let base = first_line_with(running.0.stdout.take().unwrap(), |line| {
        line.split("listening on ").nth(1).and_then(|rest| rest.split_whitespace().next()).map(str::to_string)
    })
    .expect("demo-mcp printed where it listens");
    (running, base)
}

fn emails(accounts: &Value) -> Vec<&str> {
    accounts.as_array().expect("an array").iter().map(|a| a["email"].as_str().unwrap()).collect()
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array().expect("an array").iter().map(|t| t["id"].as_str().unwrap()).collect()
}

fn is_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

on_both_backends!(
    every_command_answers_in_text_and_in_json,
    bad_input_exits_2_and_names_what_is_accepted,
    account_create_asks_for_password_stdin_when_stdin_is_not_a_terminal,
    revoking_with_the_cli_ends_live_streams_of_a_running_gateway,
    a_restored_backup_serves_the_same_tokens,
    purge_expired_dry_run_removes_nothing_and_the_real_run_removes_the_long_dead,
    organisations_are_run_from_the_command_line,
);

/// `gatehouse org …` and `--org` on servers and tokens: the operator makes a team, adds and
/// invites members, acts within it as a member (whose role the one rule applies to), and a
/// removal revokes the member's tokens.
fn organisations_are_run_from_the_command_line(backend: Backend) {
    let env = Env::new(backend);
    env.create_account(ADA);
    env.create_account("bob@example.com");
    env.create_account("eve@example.com");
    let made = env.json(&["org", "create", "--owner", ADA, "--name", "Acme"]);
    assert_eq!((made["name"].as_str(), made["personal"].as_bool()), (Some("Acme"), Some(false)));
    let text = env.ok(&["org", "create", "--owner", ADA, "--name", "Beta"]);
    assert!(text.starts_with("Created Beta ("), "{text}");

    let added = env.json(&["org", "add-member", "Acme", "--email", "bob@example.com", "--role", "member"]);
    assert_eq!(added["role"], "member");
    env.json(&["org", "add-member", made["id"].as_str().unwrap(), "--email", "eve@example.com", "--role", "viewer"]);
    env.bad_input(
        &["org", "add-member", "Acme", "--email", "bob@example.com", "--role", "pilot"],
        None,
        &["pilot", "owner, admin, member or viewer"],
    );
    env.bad_input(&["org", "add-member", "Nowhere", "--email", "bob@example.com"], None, &["No organisation is named \"Nowhere\""]);

    let listed = env.json(&["org", "list", "--account", "bob@example.com"]);
    let names: Vec<&str> = listed.as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["bob@example.com", "Acme"], "the personal organisation first");
    let acme = &listed[1];
    let members: Vec<(&str, &str)> =
        acme["members"].as_array().unwrap().iter().map(|m| (m["email"].as_str().unwrap(), m["role"].as_str().unwrap())).collect();
    assert_eq!(members, [(ADA, "owner"), ("bob@example.com", "member"), ("eve@example.com", "viewer")]);
    let table = env.ok(&["org", "list"]);
    for needle in ["NAME", "MEMBERS", "Acme", "Beta", "personal", "bob@example.com (member)"] {
        assert!(table.contains(needle), "{needle} in:\n{table}");
    }

    // Servers and tokens within Acme, as its members; the rule applies to the CLI as well.
    let server =
        env.json(&["server", "create", "--account", ADA, "--org", "Acme", "--name", "docs", "--upstream", "http://127.0.0.1:9/mcp"]);
    let refused = env.run(&[
        "server",
        "create",
        "--account",
        "bob@example.com",
        "--org",
        "Acme",
        "--name",
        "mine",
        "--upstream",
        "http://127.0.0.1:9/mcp",
    ]);
    assert_ne!(refused.code, Some(0), "a member may not register servers: {refused}");
    assert!(refused.stderr.contains("needs admin"), "{refused}");
    env.bad_input(
        &["server", "create", "--account", "bob@example.com", "--org", "Beta", "--name", "x", "--upstream", "http://127.0.0.1:9/mcp"],
        None,
        &["bob@example.com is not a member of Beta"],
    );
    let token = env.json(&[
        "token",
        "create",
        "--account",
        "bob@example.com",
        "--org",
        "Acme",
        "--description",
        "bob's",
        "--expires",
        "never",
        "--server",
        "docs",
    ]);
    assert!(is_jwt(token["token"].as_str().unwrap()));
    let viewer =
        env.run(&["token", "create", "--account", "eve@example.com", "--org", "Acme", "--description", "eve's", "--expires", "never"]);
    assert!(viewer.stderr.contains("needs member"), "a viewer may not make tokens: {viewer}");

    let servers = env.json(&["server", "list", "--org", "Acme"]);
    assert_eq!(ids(&servers), [server["id"].as_str().unwrap()]);
    assert_eq!(
        env.json(&["server", "list", "--account", "bob@example.com"]).as_array().unwrap().len(),
        1,
        "bob's organisations hold one server"
    );
    assert!(env.json(&["server", "list", "--org", "Beta"]).as_array().unwrap().is_empty());
    let tokens = env.json(&["token", "list", "--org", "Acme"]);
    assert_eq!(ids(&tokens), [token["id"].as_str().unwrap()]);
    assert_eq!(tokens[0]["made_by"], "bob@example.com");
    assert!(
        env.json(&["token", "list", "--account", "eve@example.com", "--org", "Acme"]).as_array().unwrap().is_empty(),
        "a viewer sees only their own tokens"
    );

    // An invitation link, and a removal that revokes the member's tokens.
    let invitation = env.json(&["org", "invite", "Acme", "--role", "admin", "--email", "new@example.com", "--days", "3"]);
    assert!(invitation["url"].as_str().unwrap().starts_with(&format!("{}/join?code=ghi_", env.public_url())), "{invitation}");
    assert_eq!((invitation["role"].as_str(), invitation["email"].as_str()), (Some("admin"), Some("new@example.com")));
    env.bad_input(&["org", "invite", "Acme", "--days", "400"], None, &["1 to 90 days"]);
    let removed = env.json(&["org", "remove-member", "Acme", "--email", "bob@example.com"]);
    assert_eq!((removed["tokens"].as_u64(), removed["tokens_were"].as_str()), (Some(1), Some("revoked")));
    let tokens = env.json(&["token", "list", "--org", "Acme"]);
    assert_eq!(tokens[0]["status"], "revoked");
    let last = env.run(&["org", "remove-member", "Acme", "--email", ADA]);
    assert!(last.stderr.contains("at least one owner"), "the last owner stays: {last}");

    // The operator disables and enables an organisation.
    let text = env.ok(&["org", "disable", "Acme"]);
    assert!(text.starts_with("Disabled Acme"), "{text}");
    assert!(env.ok(&["org", "list"]).lines().any(|l| l.starts_with("Acme") && l.contains("disabled")), "listed as disabled");
    assert_eq!(env.json(&["org", "enable", "Acme"])["disabled"], false);
}

fn every_command_answers_in_text_and_in_json(backend: Backend) {
    let env = Env::new(backend);
    let public = env.public_url();

    // Accounts.
    assert_eq!(env.ok(&["account", "list"]).trim(), "No accounts yet. Make one with `gatehouse account create`.");
    assert_eq!(env.json(&["account", "list"]), json!([]));
    let text = env.ok_with(&["account", "create", "--email", ADA, "--password-stdin"], Some(PASSWORD));
    assert!(text.starts_with("Created ada@example.com (admin), id "), "the first account is an admin: {text}");
    let bob = env.create_account("bob@example.com");
    assert_eq!(
        (bob["email"].as_str(), bob["role"].as_str(), bob["status"].as_str()),
        (Some("bob@example.com"), Some("user"), Some("active"))
    );
    assert!(uuid::Uuid::parse_str(bob["id"].as_str().unwrap()).is_ok(), "{bob}");
    let carol = env.json_with(&["account", "create", "--email", "carol@example.com", "--password-stdin", "--admin"], Some(PASSWORD));
    assert_eq!(carol["role"], "admin", "{carol}");

    let text = env.ok(&["account", "list"]);
    assert!(text.starts_with("EMAIL"), "{text}");
    for email in [ADA, "bob@example.com", "carol@example.com"] {
        assert!(text.contains(email), "{email} in {text}");
    }
    // --json is global: after the subcommand too.
    let listed: Value = serde_json::from_str(&env.ok(&["account", "list", "--json"])).unwrap();
    assert_eq!(emails(&listed), [ADA, "bob@example.com", "carol@example.com"], "oldest first");

    assert_eq!(env.ok(&["account", "disable", "bob@example.com"]).trim(), "bob@example.com is disabled");
    assert_eq!(env.json(&["account", "enable", "bob@example.com"])["status"], "active");
    assert_eq!(env.json(&["account", "disable", "bob@example.com"])["status"], "disabled");
    assert_eq!(env.ok(&["account", "enable", "bob@example.com"]).trim(), "bob@example.com is active");
    assert_eq!(env.ok(&["account", "set-role", "bob@example.com", "admin"]).trim(), "bob@example.com is now admin");
    assert_eq!(env.json(&["account", "set-role", "bob@example.com", "user"])["role"], "user");

    let text = env.ok(&["account", "invite"]);
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with(&format!("{public}/signup?invite=")), "{text}");
    assert!(lines.next().unwrap().starts_with("(one use, until "), "{text}");
    let invite = env.json(&["account", "invite", "--expires", "1d"]);
    assert!(invite["url"].as_str().unwrap().starts_with(&format!("{public}/signup?invite=")), "{invite}");
    let expires = chrono::DateTime::parse_from_rfc3339(invite["expires_at"].as_str().unwrap()).unwrap();
    let in_a_day = expires.signed_duration_since(chrono::Utc::now());
    assert!(in_a_day > chrono::Duration::hours(23) && in_a_day <= chrono::Duration::days(1), "{invite}");

    // Servers.
    let text = env.ok(&[
        "server",
        "create",
        "--account",
        ADA,
        "--name",
        "alpha",
        "--upstream",
        "http://127.0.0.1:9/mcp",
        "--header",
        "Authorization: Bearer upstream-secret",
    ]);
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("Created alpha ("), "{text}");
    let alpha = first.split(['(', ')']).nth(1).unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&alpha).is_ok(), "{text}");
    assert_eq!(text.lines().nth(1), Some(format!("Endpoint: {public}/s/{alpha}/mcp").as_str()), "{text}");
    let beta = env.json(&[
        "server",
        "create",
        "--account",
        ADA,
        "--name",
        "beta",
        "--upstream",
        "http://127.0.0.1:9/sse",
        "--transport",
        "sse",
        "--no-token",
    ]);
    let beta_id = beta["id"].as_str().expect("server create --json has the id").to_string();
    assert_eq!(beta["name"], "beta");
    assert_eq!(beta["endpoint"], format!("{public}/s/{beta_id}/sse"), "an SSE server's endpoint is its /sse");

    let text = env.ok(&["server", "list"]);
    let row = |name: &str| text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} row in {text}")).to_string();
    let (alpha_row, beta_row) = (row("alpha"), row("beta"));
    for needle in [ADA, "streamable-http", "token", alpha.as_str()] {
        assert!(alpha_row.contains(needle), "{needle} in {alpha_row}");
    }
    for needle in ["sse", "open", beta_id.as_str()] {
        assert!(beta_row.contains(needle), "{needle} in {beta_row}");
    }
    let servers = env.json(&["server", "list"]);
    let listed_alpha = servers.as_array().unwrap().iter().find(|s| s["id"] == alpha.as_str()).expect("alpha is listed");
    assert_eq!(listed_alpha["account"], ADA);
    let header_names = listed_alpha["upstream_header_names"].as_array().unwrap();
    assert!(
        header_names.len() == 1 && header_names[0].as_str().unwrap().eq_ignore_ascii_case("authorization"),
        "names only: {listed_alpha}"
    );
    assert!(!servers.to_string().contains("upstream-secret"), "header values are never shown: {servers}");
    let listed_beta = servers.as_array().unwrap().iter().find(|s| s["id"] == beta_id.as_str()).expect("beta is listed");
    assert_eq!((&listed_beta["transport"], &listed_beta["require_token"]), (&json!("sse"), &json!(false)));
    assert_eq!(ids(&env.json(&["server", "list", "--account", ADA])).len(), 2);
    assert_eq!(env.json(&["server", "list", "--account", "bob@example.com"]), json!([]));
    assert_eq!(env.ok(&["server", "list", "--account", "bob@example.com"]).trim(), "No servers.");

    // A check of an upstream nothing listens on: printed, with the reason, and exit 1.
    let down = env.run(&["server", "check", "alpha", "--account", ADA]);
    assert_eq!(down.code, Some(1), "{down}");
    assert!(down.stdout.starts_with("alpha: Down since ") && down.stdout.contains("Could not connect to 127.0.0.1:9"), "{down}");
    let down = env.run(&["--json", "server", "check", &alpha, "--account", ADA]);
    let health: Value = serde_json::from_str(&down.stdout).unwrap_or_else(|e| panic!("{e}: {down}"));
    assert_eq!((health["status"].as_str(), health["problem"]["kind"].as_str()), (Some("down"), Some("unreachable")), "{health}");
    assert!(row("alpha").contains("down"), "the list shows the check made on create: {}", row("alpha"));
    env.bad_input(&["server", "check", "nope", "--account", ADA], None, &["no server named \"nope\""]);
    // Identity for the upstream, on and off.
    let set = env.ok(&["server", "set", "alpha", "--account", ADA, "--identity-header", "Gatehouse-Identity"]);
    assert_eq!(set.trim(), "alpha tells its upstream who is calling in the gatehouse-identity header, and does not record tool calls");
    let audited = env.json(&["server", "set", "alpha", "--account", ADA, "--tool-audit", "calls"]);
    assert_eq!(
        (&audited["tool_audit"], &audited["identity_header"]),
        (&json!("calls"), &json!("gatehouse-identity")),
        "one change leaves the other"
    );
    env.bad_input(&["server", "set", "alpha", "--account", ADA, "--tool-audit", "everything"], None, &["off, calls or arguments"]);
    assert_eq!(
        env.json(&["server", "list"]).as_array().unwrap().iter().find(|s| s["id"] == alpha.as_str()).unwrap()["identity_header"],
        "gatehouse-identity"
    );
    let off = env.json(&["server", "set", &alpha, "--account", ADA, "--identity-header", "off"]);
    assert!(off["identity_header"].is_null(), "{off}");
    env.bad_input(&["server", "set", "alpha", "--account", ADA, "--identity-header", "Host"], None, &["host"]);
    env.bad_input(&["server", "set", "alpha", "--account", ADA], None, &["--identity-header", "--tool-audit"]);

    let gamma = env.json(&["server", "create", "--account", ADA, "--name", "gamma", "--upstream", "http://127.0.0.1:9/mcp"]);
    let delta = env.json(&["server", "create", "--account", ADA, "--name", "delta", "--upstream", "http://127.0.0.1:9/mcp"]);
    let text = env.ok(&["server", "delete", "gamma", "--account", ADA]);
    assert_eq!(text.trim(), format!("Deleted gamma ({})", gamma["id"].as_str().unwrap()));
    let deleted = env.json(&["server", "delete", delta["id"].as_str().unwrap(), "--account", ADA]);
    assert_eq!(deleted, json!({ "id": delta["id"], "deleted": true }));
    let mut left = ids(&env.json(&["server", "list"])).into_iter().map(String::from).collect::<Vec<_>>();
    left.sort();
    let mut expected = vec![alpha.clone(), beta_id.clone()];
    expected.sort();
    assert_eq!(left, expected, "gamma and delta are gone");

    // Tokens.
    let run = env.run(&["token", "create", "--account", ADA, "--description", "laptop", "--expires", "30d", "--server", "alpha"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.stdout.lines().count(), 1, "only the token on stdout: {run}");
    let laptop_token = run.stdout.trim_end_matches('\n').to_string();
    assert!(is_jwt(&laptop_token), "{run}");
    assert!(run.stderr.contains("It is shown only now"), "the note goes to stderr: {run}");
    let ci = env.json(&["token", "create", "--account", ADA, "--description", "ci", "--expires", "never"]);
    let (ci_token, ci_id) = (ci["token"].as_str().unwrap().to_string(), ci["id"].as_str().unwrap().to_string());
    assert!(is_jwt(&ci_token), "{ci}");
    let ci_fingerprint = ci["fingerprint"].as_str().expect("token create --json has the fingerprint").to_string();
    assert!(ci_fingerprint.len() >= 8 && ci_fingerprint.bytes().all(|b| b.is_ascii_hexdigit()), "{ci}");

    let text = env.ok(&["token", "list"]);
    assert!(text.starts_with("FINGERPRINT"), "{text}");
    let laptop_row = text.lines().find(|l| l.contains("laptop")).unwrap_or_else(|| panic!("laptop in {text}"));
    assert!(laptop_row.contains("active") && laptop_row.contains("alpha"), "{laptop_row}");
    assert!(text.lines().any(|l| l.contains(&ci_id)), "{text}");
    let tokens = env.json(&["token", "list"]);
    assert_eq!(tokens.as_array().unwrap().len(), 2, "{tokens}");
    let laptop = tokens.as_array().unwrap().iter().find(|t| t["description"] == "laptop").unwrap().clone();
    let laptop_id = laptop["id"].as_str().unwrap().to_string();
    let laptop_fingerprint = laptop["fingerprint"].as_str().unwrap().to_string();
    assert_eq!(laptop["account"], ADA);
    assert_eq!(laptop["servers"][0]["name"], "alpha", "{laptop}");
    assert!(!tokens.to_string().contains(&laptop_token), "a list never shows the token itself");
    assert_eq!(ids(&env.json(&["token", "list", "--account", ADA])).len(), 2);
    assert_eq!(env.json(&["token", "list", "--account", "bob@example.com"]), json!([]));
    assert_eq!(env.ok(&["token", "list", "--account", "bob@example.com"]).trim(), "No tokens.");

    let text = env.ok(&["token", "show", &ci_fingerprint[..8]]);
    assert_eq!(text.lines().next(), Some("ci"), "{text}");
    for needle in [format!("id           {ci_id}"), format!("account      {ADA}"), "status       active".into(), "servers      none".into()]
    {
        assert!(text.contains(&needle), "{needle} in {text}");
    }
    let shown = env.json(&["token", "show", &ci_id]);
    assert_eq!((&shown["id"], &shown["account"], &shown["description"]), (&json!(ci_id), &json!(ADA), &json!("ci")));
    assert_eq!(env.json(&["token", "show", &ci_fingerprint.to_uppercase()[..12]])["id"], ci_id.as_str(), "case does not matter");

    let text = env.ok(&["token", "associate", &ci_id, "--server", "alpha"]);
    assert_eq!(text.trim(), "ci may now reach alpha");
    let dissociated = env.json(&["token", "dissociate", &ci_fingerprint[..8], "--server", &alpha]);
    assert_eq!(dissociated["servers"], json!([]), "{dissociated}");
    assert_eq!(env.ok(&["token", "dissociate", &ci_id, "--server", "alpha"]).trim(), "ci can no longer reach alpha");
    let associated = env.json(&["token", "associate", &ci_id, "--server", "alpha"]);
    assert_eq!(associated["servers"], json!([{ "id": alpha, "name": "alpha" }]), "{associated}");

    // Tool rules: a list, read-only, bad names refused, and all again.
    let limited = env.json(&["token", "limit", &ci_id, "--server", "alpha", "--tools", "echo,add"]);
    assert_eq!(limited["servers"][0]["tools"], json!({ "mode": "only", "tools": ["add", "echo"] }), "{limited}");
    let text = env.ok(&["token", "limit", &ci_id, "--server", "alpha", "--tools", "read-only"]);
    assert_eq!(text.trim(), "ci may call read-only tools on alpha");
    assert!(env.ok(&["token", "show", &ci_id]).contains("alpha (read-only tools)"), "show names the rule");
    env.bad_input(&["token", "limit", &ci_id, "--server", "alpha", "--tools", "rm -rf"], None, &["rm -rf", "letters, digits"]);
    let all = env.json(&["token", "limit", &ci_id, "--server", "alpha", "--tools", "all"]);
    assert_eq!(all["servers"], json!([{ "id": alpha, "name": "alpha" }]), "{all}");

    // Addresses: a list, shown, refused when malformed, and any again.
    let allowed = env.json(&["token", "allow", &ci_id, "--from", "10.0.0.0/8,203.0.113.7"]);
    assert_eq!(allowed["allowed_networks"], json!(["10.0.0.0/8", "203.0.113.7/32"]), "{allowed}");
    assert!(env.ok(&["token", "show", &ci_id]).contains("from         10.0.0.0/8, 203.0.113.7/32"), "show names them");
    env.bad_input(&["token", "allow", &ci_id, "--from", "10.0.0.0/99"], None, &["10.0.0.0/99"]);
    assert_eq!(env.ok(&["token", "allow", &ci_id, "--from", "any"]).trim(), "ci may be used from any address");

    let text = env.ok_with(&["token", "inspect"], Some(&format!("{ci_token}\n")));
    assert!(text.starts_with(&format!("Token ci ({ci_id}), active, of {ADA}")), "{text}");
    let verdict = text.lines().find(|l| l.starts_with("alpha")).unwrap_or_else(|| panic!("an alpha row in {text}"));
    assert!(verdict.contains("accepted"), "{text}");
    let inspection = env.json_with(&["token", "inspect"], Some(&format!("Bearer {ci_token}\n")));
    assert_eq!(inspection["token"]["id"], ci_id.as_str(), "{inspection}");
    let on_alpha = inspection["servers"].as_array().unwrap().iter().find(|v| v["name"] == "alpha").expect("a verdict for alpha");
    assert_eq!(on_alpha["accepted"], true, "{inspection}");

    let text = env.ok_with(&["token", "find"], Some(&format!("{ci_token}\n")));
    assert!(text.starts_with("ci\n") && text.contains(&ci_id), "{text}");
    let found = env.json_with(&["token", "find"], Some(&format!("Authorization: Bearer {ci_token}\n").replace("Authorization: ", "")));
    assert_eq!((&found["id"], &found["account"]), (&json!(ci_id), &json!(ADA)), "{found}");
    let junk = env.run_with(&["token", "find"], Some("not-a-token\n"));
    assert_eq!(junk.code, Some(1), "not found is exit 1, as grep: {junk}");
    assert!(junk.stdout.contains("Not a token of this Gatehouse"), "{junk}");
    let junk = env.run_with(&["--json", "token", "find"], Some("eyJ.junk.here\n"));
    assert_eq!((junk.code, junk.stdout.trim()), (Some(1), "null"), "{junk}");

    let text = env.ok(&["token", "revoke", &laptop_fingerprint[..8]]);
    assert_eq!(text.trim(), format!("Revoked laptop ({laptop_id}); it stops on every gateway at once"));
    assert_eq!(env.ok(&["token", "revoke", &laptop_id]).trim(), "laptop was already revoked");
    let revoked = env.json(&["token", "revoke", &laptop_id]);
    assert_eq!((&revoked["status"], &revoked["revoked_by"]), (&json!("revoked"), &json!("owner")), "{revoked}");
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    assert_eq!(ids(&env.json(&["token", "list", "--status", "revoked"])), [laptop_id.as_str()]);
    assert_eq!(ids(&env.json(&["token", "list", "--status", "active"])), [ci_id.as_str()]);
    assert_eq!(env.json(&["token", "list", "--status", "expired"]), json!([]));
    assert_eq!(env.json(&["token", "list", "--status", "expiring"]), json!([]));
    let text = env.ok(&["token", "list", "--status", "revoked"]);
    assert!(text.contains("laptop") && !text.contains(&ci_id), "{text}");
    assert!(text.lines().find(|l| l.contains("laptop")).unwrap().contains("revoked"), "{text}");

    // Purging with a cutoff the fresh revocation is not past: nothing goes.
    let text = env.ok(&["purge-expired", "--dry-run", "--older-than", "1m"]);
    assert!(text.starts_with("Nothing to remove.\nWould remove 0 token(s) dead before "), "{text}");
    assert_eq!(env.json(&["purge-expired", "--dry-run", "--older-than", "1m"]), json!({ "dry_run": true, "removed": [] }));
    assert_eq!(env.json(&["purge-expired", "--older-than", "1m"]), json!({ "dry_run": false, "removed": [] }));
    let text = env.ok(&["purge-expired"]);
    assert!(text.starts_with("Nothing to remove.\nRemoved 0 token(s) dead before "), "{text}");
    assert_eq!(env.json(&["token", "list"]).as_array().unwrap().len(), 2, "both tokens are still there");

    // API keys.
    let run = env.run(&["api-key", "create", "--account", ADA, "--scope", "read", "--expires", "30d"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.stdout.lines().count(), 1, "only the key on stdout: {run}");
    let read_key = run.stdout.trim().to_string();
    assert!(read_key.starts_with("ghk_") && read_key.len() > 20, "{run}");
    assert!(run.stderr.contains("read scope"), "{run}");
    let admin_key = env.json(&["api-key", "create", "--account", ADA, "--scope", "admin", "--expires", "never", "--description", "deploy"]);
    assert!(admin_key["key"].as_str().unwrap().starts_with("ghk_"), "{admin_key}");
    let admin_key_id = admin_key["id"].as_str().unwrap().to_string();

    let text = env.ok(&["api-key", "list"]);
    assert!(text.starts_with("KEY"), "{text}");
    let deploy_row = text.lines().find(|l| l.contains("deploy")).unwrap_or_else(|| panic!("deploy in {text}"));
    assert!(deploy_row.contains("admin") && deploy_row.contains(&admin_key_id), "{deploy_row}");
    assert!(text.lines().any(|l| l.contains("made with the CLI on") && l.contains("read")), "the default description: {text}");
    assert!(!text.contains(&read_key), "a list never shows the key itself");
    let keys = env.json(&["api-key", "list"]);
    assert!(ids(&keys).contains(&admin_key_id.as_str()), "{keys}");
    assert_eq!(keys.as_array().unwrap().len(), 2, "{keys}");
    let read_key_id = keys.as_array().unwrap().iter().find(|k| k["scope"] == "read").unwrap()["id"].as_str().unwrap().to_string();
    assert_eq!(env.json(&["api-key", "list", "--account", "bob@example.com"]), json!([]));
    assert_eq!(env.ok(&["api-key", "revoke", &admin_key_id]).trim(), format!("Revoked API key deploy ({admin_key_id})"));
    assert_eq!(env.json(&["api-key", "revoke", &read_key_id])["status"], "revoked");
    let keys = env.json(&["api-key", "list", "--account", ADA]);
    assert!(keys.as_array().unwrap().iter().all(|k| k["status"] == "revoked"), "{keys}");

    // Backup (on PostgreSQL, a_restored_backup_serves_the_same_tokens checks the refusal).
    if env.backend == Backend::Sqlite {
        let to = env.dir.path().join("text.db");
        let text = env.ok(&["backup", "--to", to.to_str().unwrap()]);
        assert!(text.starts_with(&format!("Wrote {}", to.display())), "{text}");
        assert!(text.contains(&env.dir.path().join("data/master.key").display().to_string()), "it names the key to keep: {text}");
        let to = env.dir.path().join("json.db");
        let written = env.json(&["backup", "--to", to.to_str().unwrap()]);
        assert_eq!(written["backup"], to.to_str().unwrap());
        assert!(written["bytes"].as_u64().unwrap() > 0 && to.exists(), "{written}");
    }
    // A token made with an address allowlist.
    let office =
        env.json(&["token", "create", "--account", ADA, "--description", "office", "--expires", "1d", "--allow-from", "192.0.2.0/24"]);
    let office_id = office["id"].as_str().unwrap().to_string();
    assert!(env.ok(&["token", "show", &office_id]).contains("from         192.0.2.0/24"));
}

fn bad_input_exits_2_and_names_what_is_accepted(backend: Backend) {
    let env = Env::new(backend);
    env.create_account(ADA);
    env.json(&["server", "create", "--account", ADA, "--name", "alpha", "--upstream", "http://127.0.0.1:9/mcp"]);
    let token = |expires: &str| -> Vec<String> {
        ["token", "create", "--account", ADA, "--description", "x", "--expires", expires].map(String::from).to_vec()
    };
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (token("soon"), vec!["--expires", "\"soon\" is not an expiry", "30m, 12h, 7d"]),
        (token("2020-01-01"), vec!["--expires", "in the past"]),
        (
            ["token", "list", "--status", "bogus"].map(String::from).to_vec(),
            vec!["possible values", "active", "expired", "revoked", "expiring"],
        ),
        (["purge-expired", "--older-than", "forever"].map(String::from).to_vec(), vec!["\"forever\" is not an age", "30m, 12h, 7d"]),
        (["purge-expired", "--older-than", "never"].map(String::from).to_vec(), vec!["is not an age", "30m, 12h, 7d"]),
        (
            ["server", "create", "--account", ADA, "--name", "h", "--upstream", "http://127.0.0.1:9/mcp", "--header", "NoColon"]
                .map(String::from)
                .to_vec(),
            vec!["\"NoColon\" is not a header", "'Name: value'"],
        ),
        (
            ["server", "create", "--account", ADA, "--name", "h", "--upstream", "http://127.0.0.1:9/mcp", "--transport", "websocket"]
                .map(String::from)
                .to_vec(),
            vec!["possible values", "streamable-http", "sse"],
        ),
        (
            ["token", "show", "abc"].map(String::from).to_vec(),
            vec!["\"abc\" is neither a token id nor a fingerprint", "at least 8 hex characters"],
        ),
        (["token", "show", "deadbeefdeadbeef"].map(String::from).to_vec(), vec!["No token has the id or fingerprint \"deadbeefdeadbeef\""]),
        (["token", "revoke", "zzzzzzzzzz"].map(String::from).to_vec(), vec!["at least 8 hex characters"]),
        (
            ["server", "create", "--account", "nobody@example.com", "--name", "h", "--upstream", "http://127.0.0.1:9/mcp"]
                .map(String::from)
                .to_vec(),
            vec!["No account has the email \"nobody@example.com\"", "`gatehouse account list`"],
        ),
        (
            ["token", "create", "--account", "nobody@example.com", "--description", "x", "--expires", "1d"].map(String::from).to_vec(),
            vec!["No account has the email \"nobody@example.com\""],
        ),
        (["token", "list", "--account", "nobody@example.com"].map(String::from).to_vec(), vec!["No account has the email"]),
        (["account", "disable", "nobody@example.com"].map(String::from).to_vec(), vec!["No account has the email"]),
        (["api-key", "list", "--account", "nobody@example.com"].map(String::from).to_vec(), vec!["No account has the email"]),
        (
            ["token", "create", "--account", ADA, "--description", "x", "--expires", "1d", "--server", "nosuch"].map(String::from).to_vec(),
            vec!["no server named \"nosuch\"", "gatehouse server list"],
        ),
        (["server", "delete", "nosuch", "--account", ADA].map(String::from).to_vec(), vec!["no server named \"nosuch\""]),
        (["account", "set-role", ADA, "owner"].map(String::from).to_vec(), vec!["possible values", "admin", "user"]),
        (["account", "invite", "--expires", "never"].map(String::from).to_vec(), vec!["An invite must expire"]),
        (["account", "invite", "--expires", "soon"].map(String::from).to_vec(), vec!["30m, 12h, 7d"]),
        (
            ["api-key", "create", "--account", ADA, "--scope", "root", "--expires", "1d"].map(String::from).to_vec(),
            vec!["possible values", "read", "write", "admin"],
        ),
        (["api-key", "create", "--account", ADA, "--scope", "read", "--expires", "soon"].map(String::from).to_vec(), vec!["30m, 12h, 7d"]),
        (["api-key", "revoke", "not-a-uuid"].map(String::from).to_vec(), vec!["invalid value 'not-a-uuid'"]),
        (["api-key", "revoke", &uuid::Uuid::new_v4().to_string()].map(String::from).to_vec(), vec!["No API key has the id"]),
        // Without a terminal nothing is asked: the missing flag is named.
        (["token", "create", "--description", "x", "--expires", "1d"].map(String::from).to_vec(), vec!["--account is required."]),
        (["server", "create", "--account", ADA, "--name", "h"].map(String::from).to_vec(), vec!["--upstream is required."]),
        (["token", "frobnicate"].map(String::from).to_vec(), vec!["unrecognized subcommand 'frobnicate'"]),
    ];
    for (args, needles) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        env.bad_input(&args, None, needles);
        // And the same with --json: errors stay on stderr, stdout stays empty.
        let with_json: Vec<&str> = std::iter::once("--json").chain(args.iter().copied()).collect();
        env.bad_input(&with_json, None, needles);
    }

    // Commands reading stdin.
    env.bad_input(&["token", "inspect"], Some("junk\n"), &["not a token of this Gatehouse"]);
    env.bad_input(&["account", "create", "--email", ADA, "--password-stdin"], Some(PASSWORD), &["--email", "already registered"]);
    env.bad_input(&["account", "create", "--email", "not-an-email", "--password-stdin"], Some(PASSWORD), &["--email"]);

    // Nothing was made by any of it.
    assert_eq!(env.json(&["token", "list"]), json!([]));
    assert_eq!(env.json(&["server", "list"]).as_array().unwrap().len(), 1);
    assert_eq!(emails(&env.json(&["account", "list"])), [ADA]);
}

fn account_create_asks_for_password_stdin_when_stdin_is_not_a_terminal(backend: Backend) {
    let env = Env::new(backend);
    env.bad_input(&["account", "create", "--email", ADA], None, &["--password-stdin", "stdin is not a terminal"]);
    env.bad_input(&["--json", "account", "create", "--email", ADA], None, &["--password-stdin"]);
    // With the flag but an empty line, the password is refused as a field.
    env.bad_input(&["account", "create", "--email", ADA, "--password-stdin"], Some("\n"), &["--password"]);
    assert_eq!(env.json(&["account", "list"]), json!([]), "no account was made");
}

/// A blocking HTTP client that waits on a stream as long as it stays open.
fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().no_proxy().timeout(None).build().unwrap()
}

/// One MCP Streamable HTTP session through the gateway.
struct Session {
    client: reqwest::blocking::Client,
    endpoint: String,
    token: String,
    id: Option<String>,
    protocol: Option<String>,
}

impl Session {
    fn new(endpoint: &str, token: &str) -> Self {
        Self { client: http(), endpoint: endpoint.to_string(), token: token.to_string(), id: None, protocol: None }
    }

    fn post(&self, message: &Value) -> reqwest::blocking::Response {
        let mut request = self
            .client
            .post(&self.endpoint)
            .bearer_auth(&self.token)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json");
        if let Some(id) = &self.id {
            request = request.header("mcp-session-id", id);
        }
        if let Some(protocol) = &self.protocol {
            request = request.header("mcp-protocol-version", protocol);
        }
        request.body(message.to_string()).send().unwrap()
    }

    /// `initialize`: the response, and its answer once read.
    fn initialize(&mut self) -> (reqwest::StatusCode, Value) {
        let response = self.post(&json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "cli-tests", "version": "1" } } }));
        let status = response.status();
        assert_eq!(status, 200, "initialize through the gateway: {:?}", response.headers());
        self.id = response.headers().get("mcp-session-id").map(|v| v.to_str().unwrap().to_string());
        let answer = answer(response, 1);
        self.protocol = answer["result"]["protocolVersion"].as_str().map(String::from);
        (status, answer)
    }

    /// `initialize` and `notifications/initialized`: a session ready for calls.
    fn open(endpoint: &str, token: &str) -> Self {
        let mut session = Self::new(endpoint, token);
        let (_, answer) = session.initialize();
        assert!(answer["result"]["serverInfo"].is_object(), "{answer}");
        let initialized = session.post(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }));
        assert_eq!(initialized.status(), 202);
        session
    }
}

/// The JSON-RPC message with `id` in a response: its JSON body, or the first SSE event that
/// carries it.
fn answer(response: reqwest::blocking::Response, id: u64) -> Value {
    let json = response.headers().get("content-type").is_some_and(|v| v.to_str().unwrap_or("").starts_with("application/json"));
    if json {
        return response.json().unwrap();
    }
    let mut data = String::new();
    for line in BufReader::new(response).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("data:") {
            data.push_str(rest.trim_start());
        } else if line.is_empty() && !data.is_empty() {
            let message: Value = serde_json::from_str(&std::mem::take(&mut data)).unwrap_or(Value::Null);
            if message["id"] == id {
                return message;
            }
        }
    }
    panic!("the stream ended without the answer to {id}");
}

/// Reads `body` to its end on a thread; says when it ended and what came.
fn watch(mut body: impl Read + Send + 'static) -> mpsc::Receiver<(Instant, String)> {
    let (ended, wait) = mpsc::channel();
    std::thread::spawn(move || {
        let mut read = Vec::new();
        let mut buffer = [0u8; 4096];
        while let Ok(n @ 1..) = body.read(&mut buffer) {
            read.extend_from_slice(&buffer[..n]);
        }
        let _ = ended.send((Instant::now(), String::from_utf8_lossy(&read).into_owned()));
    });
    wait
}

/// When `gatehouse token revoke NAME` started and when it returned.
struct Revoked {
    started: Instant,
    returned: Instant,
}

fn revoke(env: &Env, name: &str) -> Revoked {
    let started = Instant::now();
    let text = env.ok(&["token", "revoke", name]);
    let returned = Instant::now();
    assert!(text.starts_with("Revoked "), "{text}");
    Revoked { started, returned }
}

/// How long after the revoke command returned the watched stream ended (zero if it ended
/// before); fails if it is still open 5 s after.
fn ends_after(stream: &mpsc::Receiver<(Instant, String)>, revoked: &Revoked, what: &str) -> (Duration, String) {
    let (ended, body) = stream
        .recv_timeout(Duration::from_secs(5).saturating_sub(revoked.returned.elapsed()))
        .unwrap_or_else(|_| panic!("the {what} stream was still open 5 s after `gatehouse token revoke` returned"));
    let took = ended.saturating_duration_since(revoked.returned);
    println!(
        "{what} stream ended {:?} after `gatehouse token revoke` started; the command took {:?}, so {}",
        ended.saturating_duration_since(revoked.started),
        revoked.returned - revoked.started,
        if ended < revoked.returned { "before it returned".to_string() } else { format!("{took:?} after it returned") },
    );
    (took, body)
}

fn revoking_with_the_cli_ends_live_streams_of_a_running_gateway(backend: Backend) {
    let env = Env::new(backend);
    let (_demo, demo) = demo_mcp(&env);
    env.create_account(ADA);
    let streamable = env.json(&["server", "create", "--account", ADA, "--name", "demo", "--upstream", &format!("{demo}/mcp")]);
    let sse =
        env.json(&["server", "create", "--account", ADA, "--name", "demo-sse", "--transport", "sse", "--upstream", &format!("{demo}/sse")]);
    let mcp_token = env.json(&["token", "create", "--account", ADA, "--description", "mcp client", "--expires", "1h", "--server", "demo"]);
    let sse_token =
        env.json(&["token", "create", "--account", ADA, "--description", "sse client", "--expires", "1h", "--server", "demo-sse"]);
    let _serve = env.serve(&env.database_url);

    // Streamable HTTP: a session, then a call that answers only after 30 s, its SSE response open.
    let endpoint = streamable["endpoint"].as_str().unwrap();
    assert_eq!(endpoint, format!("{}/s/{}/mcp", env.public_url(), streamable["id"].as_str().unwrap()));
    let session = Session::open(endpoint, mcp_token["token"].as_str().unwrap());
    let call = session.post(&json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": { "name": "ticker", "arguments": { "ticks": 300 } } }));
    assert_eq!(call.status(), 200);
    assert!(call.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"), "{:?}", call.headers());
    let call = watch(call);

    // Legacy SSE: the event stream, once its endpoint event came.
    let stream = http()
        .get(sse["endpoint"].as_str().unwrap())
        .bearer_auth(sse_token["token"].as_str().unwrap())
        .header("accept", "text/event-stream")
        .send()
        .unwrap();
    assert_eq!(stream.status(), 200, "{:?}", stream.headers());
    let mut stream = BufReader::new(stream);
    let mut line = String::new();
    while !line.starts_with("event: endpoint") && !line.starts_with("event:endpoint") {
        line.clear();
        assert!(stream.read_line(&mut line).unwrap() > 0, "the SSE stream ended before its endpoint event");
    }
    line.clear();
    stream.read_line(&mut line).unwrap();
    assert!(line.contains(&format!("/s/{}/messages?", sse["id"].as_str().unwrap())), "the endpoint is the gateway's: {line}");
    let sse_stream = watch(stream);

    // Both stay open while nothing changes.
    assert!(matches!(call.recv_timeout(Duration::from_millis(200)), Err(mpsc::RecvTimeoutError::Timeout)), "the call ended by itself");
    assert!(matches!(sse_stream.try_recv(), Err(mpsc::TryRecvError::Empty)), "the SSE stream ended by itself");
    let revoked = revoke(&env, &mcp_token["fingerprint"].as_str().unwrap()[..8]);
    let (took, body) = ends_after(&call, &revoked, "Streamable HTTP");
    assert!(!body.contains("300 ticks"), "the call was cut, not answered: {body}");
    assert!(took < Duration::from_secs(5));
    let refused = session.post(&json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/list" }));
    assert_eq!(refused.status(), 401, "the revoked token is refused now");
    assert!(
        matches!(sse_stream.recv_timeout(Duration::from_millis(300)), Err(mpsc::RecvTimeoutError::Timeout)),
        "the other token's stream stays open"
    );

    let revoked = revoke(&env, sse_token["id"].as_str().unwrap());
    let (took, _) = ends_after(&sse_stream, &revoked, "SSE");
    assert!(took < Duration::from_secs(5));
}

fn a_restored_backup_serves_the_same_tokens(backend: Backend) {
    let env = Env::new(backend);
    env.create_account(ADA);
    if backend == Backend::Postgres {
        let run = env.run(&["backup", "--to", "copy.dump"]);
        assert_eq!(run.code, Some(1), "{run}");
        assert!(run.stdout.is_empty(), "{run}");
        assert!(run.stderr.contains("pg_dump --format=custom --file='copy.dump'"), "it gives the pg_dump command: {run}");
        assert!(run.stderr.contains(&env.database_url), "{run}");
        assert!(!Path::new(&env.dir.path().join("copy.dump")).exists());
        let run = env.run(&["--json", "backup", "--to", "copy.dump"]);
        assert!(run.code == Some(1) && run.stdout.is_empty() && run.stderr.contains("pg_dump"), "{run}");
        return;
    }
    let (_demo, demo) = demo_mcp(&env);
    let server = env.json(&["server", "create", "--account", ADA, "--name", "demo", "--upstream", &format!("{demo}/mcp")]);
    let checked = env.ok(&["server", "check", "demo", "--account", ADA]);
    assert!(
        checked.starts_with("demo: Up · 3 tools · checked just now") && checked.contains("Tools: echo (read-only), slow_echo, ticker"),
        "{checked}"
    );
    let token = env.ok(&["token", "create", "--account", ADA, "--description", "kept", "--expires", "1d", "--server", "demo"]);
    let token = token.trim();
    let copy = env.dir.path().join("copy.db");
    let written = env.json(&["backup", "--to", copy.to_str().unwrap()]);
    assert!(written["bytes"].as_u64().unwrap() > 0, "{written}");
    env.bad_input(&["backup", "--to", copy.to_str().unwrap()], None, &["already exists"]);

    // Only the copy is left to answer from.
    for file in ["g.db", "g.db-wal", "g.db-shm"] {
        let _ = std::fs::remove_file(env.dir.path().join(file));
    }
    let _serve = env.serve(&format!("sqlite://{}", copy.display()));
    let (status, answer) = Session::new(server["endpoint"].as_str().unwrap(), token).initialize();
    assert_eq!(status, 200);
    assert_eq!(answer["result"]["serverInfo"]["name"], "gatehouse-demo-mcp", "{answer}");
    let forged = Session::new(server["endpoint"].as_str().unwrap(), &format!("{token}x"))
        .post(&json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {} }));
    assert_eq!(forged.status(), 401, "and only them");
}

/// Sets a timestamp column of a token to `days` ago, as if it had happened then.
fn backdate(env: &Env, token: &str, column: app::tokens::ssr::entity::Column, days: i64) {
    use app::tokens::ssr::entity;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let url = match env.backend {
        Backend::Sqlite => format!("{}?mode=rw", env.database_url),
        Backend::Postgres => env.database_url.clone(),
    };
    let id = uuid::Uuid::parse_str(token).unwrap();
    let at = chrono::Utc::now() - chrono::Duration::days(days);
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        let db = sea_orm::Database::connect(&url).await.unwrap();
        let updated =
            entity::Entity::update_many().col_expr(column, Expr::value(at)).filter(entity::Column::Id.eq(id)).exec(&db).await.unwrap();
        assert_eq!(updated.rows_affected, 1);
        db.close().await.unwrap();
    });
}

fn purge_expired_dry_run_removes_nothing_and_the_real_run_removes_the_long_dead(backend: Backend) {
    use app::tokens::ssr::entity::Column;
    let env = Env::new(backend);
    env.create_account(ADA);
    env.json(&["server", "create", "--account", ADA, "--name", "alpha", "--upstream", "http://127.0.0.1:9/mcp"]);
    let token = |description: &str, expires: &str| -> String {
        let created =
            env.json(&["token", "create", "--account", ADA, "--description", description, "--expires", expires, "--server", "alpha"]);
        created["id"].as_str().unwrap().to_string()
    };
    let long_revoked = token("long revoked", "30d");
    let long_expired = token("long expired", "30d");
    let just_revoked = token("just revoked", "never");
    let alive = token("alive", "never");
    env.ok(&["token", "revoke", &long_revoked]);
    env.ok(&["token", "revoke", &just_revoked]);
    backdate(&env, &long_revoked, Column::RevokedAt, 40);
    backdate(&env, &long_expired, Column::ExpiresAt, 40);
    let all = |env: &Env| {
        let mut ids: Vec<String> = ids(&env.json(&["token", "list"])).into_iter().map(String::from).collect();
        ids.sort();
        ids
    };
    let mut everything = vec![long_revoked.clone(), long_expired.clone(), just_revoked.clone(), alive.clone()];
    everything.sort();
    assert_eq!(all(&env), everything);
    assert_eq!(ids(&env.json(&["token", "list", "--status", "expired"])), [long_expired.as_str()]);

    let dry = env.json(&["purge-expired", "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    let would: Vec<(&str, &str)> =
        dry["removed"].as_array().unwrap().iter().map(|p| (p["id"].as_str().unwrap(), p["state"].as_str().unwrap())).collect();
    assert_eq!(would, [(long_revoked.as_str(), "revoked"), (long_expired.as_str(), "expired")], "{dry}");
    let text = env.ok(&["purge-expired", "--dry-run", "--older-than", "30d"]);
    assert!(text.contains("long revoked") && text.contains("long expired") && !text.contains("just revoked"), "{text}");
    assert!(text.contains("Would remove 2 token(s) dead before"), "{text}");
    assert_eq!(all(&env), everything, "a dry run removes nothing");
    assert_eq!(env.json(&["server", "list"])[0]["token_count"], 4, "nor any server link");
    let nothing_that_old = env.json(&["purge-expired", "--dry-run", "--older-than", "41d"]);
    assert_eq!(nothing_that_old["removed"], json!([]));

    let purged = env.json(&["purge-expired", "--older-than", "30d"]);
    assert_eq!(purged["dry_run"], false);
    let mut removed: Vec<&str> = ids(&purged["removed"]);
    removed.sort();
    let mut expected = vec![long_revoked.as_str(), long_expired.as_str()];
    expected.sort();
    assert_eq!(removed, expected, "{purged}");
    let mut left = vec![just_revoked.clone(), alive.clone()];
    left.sort();
    assert_eq!(all(&env), left, "only the long dead went");
    // Gone: bad input (the wording for an unknown id is checked in an_unknown_token_id_is_called_unknown).
    env.bad_input(&["token", "show", &long_revoked], None, &[long_revoked.as_str()]);
    let servers = env.json(&["server", "list"]);
    assert_eq!(servers[0]["token_count"], 2, "their server links went with them: {servers}");
    let text = env.ok(&["purge-expired"]);
    assert!(text.starts_with("Nothing to remove.\nRemoved 0 token(s)"), "{text}");
}

on_both_backends!(an_unknown_token_id_is_called_unknown);

/// A UUID that names no token (mistyped, or purged) is bad input that says no token has it,
/// not that it is no id.
fn an_unknown_token_id_is_called_unknown(backend: Backend) {
    let env = Env::new(backend);
    env.create_account(ADA);
    let id = uuid::Uuid::new_v4().to_string();
    for command in ["show", "revoke"] {
        env.bad_input(&["token", command, &id], None, &[&format!("No token has the id or fingerprint \"{id}\"")]);
    }
}

on_both_backends!(serve_and_every_command_stop_when_the_master_key_cannot_open_the_signing_keys);

/// A database made with one master key, started with another: `serve` exits 1 at once with a
/// message that says what is wrong and what to set, and so does an operator command; nothing
/// is served or changed.
fn serve_and_every_command_stop_when_the_master_key_cannot_open_the_signing_keys(backend: Backend) {
    let env = Env::new(backend);
    env.create_account(ADA);
    env.ok(&["token", "create", "--account", ADA, "--description", "made under the first key", "--expires", "7d"]);
    let other = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="; // 32 bytes of 0x01
    for args in [&["serve"][..], &["token", "list"][..]] {
        let started = Instant::now();
        let output = env.command(&env.database_url).args(args).env("GATEHOUSE_MASTER_KEY", other).stdin(Stdio::null()).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(started.elapsed() < Duration::from_secs(20), "{args:?} stopped at once");
        assert!(stderr.contains("1 of the 1 signing keys in the database cannot be decrypted with the configured master key"), "{stderr}");
        assert!(stderr.contains("set GATEHOUSE_MASTER_KEY"), "says what to do: {stderr}");
    }
    // The right key still works.
    assert!(env.ok(&["token", "list"]).contains("made under the first key"));
}

on_both_backends!(at_a_terminal_missing_values_are_asked_for_and_the_password_is_not_echoed);

/// At a terminal (a pseudo-terminal made by util-linux `script`), `account create` with no
/// flags asks for the email and, twice and unechoed, the password.
fn at_a_terminal_missing_values_are_asked_for_and_the_password_is_not_echoed(backend: Backend) {
    let env = Env::new(backend);
    let password = "a passphrase nobody sees";
    let gatehouse = env!("CARGO_BIN_EXE_gatehouse");
    let mut script = Command::new("script");
    script
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(env.dir.path())
        .env("DATABASE_URL", &env.database_url)
        .env("GATEHOUSE_DATA_DIR", env.dir.path().join("data"))
        .env("GATEHOUSE_PUBLIC_URL", env.public_url());
    let mut child = script
        .args(["-qec", &format!("{gatehouse} account create"), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Each answer after its prompt has had time to appear (the terminal reads line by line).
    for line in ["grace@example.com", password, password] {
        std::thread::sleep(Duration::from_millis(700));
        writeln!(stdin, "{line}").unwrap();
    }
    std::thread::sleep(Duration::from_millis(700));
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{shown}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(shown.contains("Email:") && shown.contains("Password:") && shown.contains("Again:"), "{shown}");
    assert!(shown.contains("Created grace@example.com"), "{shown}");
    assert!(!shown.contains(password), "the password was echoed: {shown}");
    assert!(env.ok(&["account", "list"]).contains("grace@example.com"));
}

on_both_backends!(oauth_clients_are_listed_and_deleted);

/// `oauth-client list` shows what registered with the running server; `delete` takes the id or
/// the client_id, and an unknown one is bad input.
fn oauth_clients_are_listed_and_deleted(backend: Backend) {
    let env = Env::new(backend);
    let _serving = env.serve(&env.database_url);
    let registered: Value = http()
        .post(format!("{}/oauth/register", env.public_url()))
        .json(&serde_json::json!({ "client_name": "CLI listed", "redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none" }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let client_id = registered["client_id"].as_str().unwrap();
    let listed = env.json(&["oauth-client", "list"]);
    let row = listed.as_array().unwrap().iter().find(|c| c["client_id"] == client_id).expect("listed");
    assert_eq!(row["name"], "CLI listed");
    assert_eq!(row["live_grants"], 0);
    assert!(env.ok(&["oauth-client", "list"]).contains("CLI listed"), "the text table names it");
    env.bad_input(&["oauth-client", "delete", "ghc_nobody"], None, &["No OAuth client is \"ghc_nobody\"", "oauth-client list"]);
    let deleted = env.json(&["oauth-client", "delete", client_id]);
    assert_eq!(deleted["grants_revoked"], 0);
    assert!(env.json(&["oauth-client", "list"]).as_array().unwrap().is_empty());
}
