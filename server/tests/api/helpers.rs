use std::{sync::Once, time::Duration};

use gatehouse::{Application, Config};
use reqwest::{Client, Response, redirect::Policy};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use tempfile::TempDir;

use app::state::AppState;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs one async test body on both backends, as two test functions.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name($crate::helpers::Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$name($crate::helpers::Backend::Postgres).await }
        }
    )*};
    // Tests too slow to set up for the test command (`./dev harden` runs them).
    (#[ignore = $why:literal] $($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = $why]
            async fn sqlite() { super::$name($crate::helpers::Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = $why]
            async fn postgres() { super::$name($crate::helpers::Backend::Postgres).await }
        }
    )*};
}

pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub state: AppState,
    pub config: Config,
    _database: Option<TestDatabase>,
    _dir: Option<TempDir>,
}

pub struct Options {
    pub session_idle_seconds: u64,
    /// `None` keeps the engine's default (allowed on SQLite, refused on PostgreSQL).
    pub upstream_allow_loopback: Option<bool>,
    pub upstream_response_timeout_ms: u64,
    pub events_max_staleness_ms: u64,
    pub events_gap_watch_ms: u64,
    pub events_reconcile_ms: u64,
    pub gateway_max_body_bytes: usize,
    pub usage_flush_ms: u64,
    pub token_requests_per_second: u32,
    pub token_burst: u32,
    pub token_max_open: usize,
    /// The built site to serve (`None`: the default, which tests do not build).
    pub site_root: Option<std::path::PathBuf>,
    /// The URL Gatehouse says it is served at (`None`: its own address).
    pub public_url: Option<url::Url>,
    pub header_read_timeout_ms: u64,
    pub body_read_timeout_ms: u64,
    /// Any other setting, changed last.
    pub configure: Box<dyn FnOnce(Config) -> Config + Send>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            session_idle_seconds: 3600,
            upstream_allow_loopback: Some(true),
            upstream_response_timeout_ms: 10_000,
            events_max_staleness_ms: 3_000,
            events_gap_watch_ms: Config::default().events_gap_watch_ms,
            events_reconcile_ms: Config::default().events_reconcile_ms,
            gateway_max_body_bytes: 4 * 1024 * 1024,
            usage_flush_ms: 5_000,
            token_requests_per_second: 1000,
            token_burst: 1000,
            token_max_open: 100,
            site_root: None,
            public_url: None,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 30_000,
            configure: Box::new(|config| config),
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Options::default()).await
}

pub async fn spawn_app_with(backend: Backend, options: Options) -> TestApp {
    init_logging();
    let dir = tempfile::tempdir().expect("temp dir");
    let database = TestDatabase::create(backend, &dir).await;
    let config = Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        database_url: database.url.clone(),
        data_dir: dir.path().join("data"),
        session_idle_seconds: options.session_idle_seconds,
        upstream_allow_loopback: options.upstream_allow_loopback,
        upstream_response_timeout_ms: options.upstream_response_timeout_ms,
        events_max_staleness_ms: options.events_max_staleness_ms,
        events_gap_watch_ms: options.events_gap_watch_ms,
        events_reconcile_ms: options.events_reconcile_ms,
        gateway_max_body_bytes: options.gateway_max_body_bytes,
        usage_flush_ms: options.usage_flush_ms,
        token_requests_per_second: options.token_requests_per_second,
        token_burst: options.token_burst,
        token_max_open: options.token_max_open,
        header_read_timeout_ms: options.header_read_timeout_ms,
        body_read_timeout_ms: options.body_read_timeout_ms,
        max_concurrent_hashes: 4,
        database_max_connections: 5,
        ..Config::default()
    };
    let config = match options.site_root {
        Some(site_root) => Config { site_root, ..config },
        None => config,
    };
    let config = Config { public_url: options.public_url.or(config.public_url.clone()), ..config };
    start((options.configure)(config), Some(database), Some(dir)).await
}

async fn start(config: Config, database: Option<TestDatabase>, dir: Option<TempDir>) -> TestApp {
    let app = Application::build(config.clone()).await.expect("app builds");
    let address = format!("http://{}", app.address());
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    TestApp { address, client: client(), state, config, _database: database, _dir: dir }
}

/// A second Gatehouse process on the same database and master key, serving the same public URL
/// (as instances behind one load balancer do). It must not outlive `app`.
pub async fn spawn_second_process(app: &TestApp) -> TestApp {
    spawn_second_process_with(app, |config| config).await
}

/// Like [`spawn_second_process`], with its configuration changed by `change`.
pub async fn spawn_second_process_with(app: &TestApp, change: impl FnOnce(Config) -> Config) -> TestApp {
    let config =
        Config { bind: "127.0.0.1:0".parse().unwrap(), public_url: Some(url::Url::parse(&app.address).unwrap()), ..app.config.clone() };
    start(change(config), None, None).await
}

/// Builds (connects, migrates, binds) another process on `app`'s database and drops it unserved,
/// as a test running beside `app` in this process does.
pub async fn build_another_process(app: &TestApp) {
    let config = Config { bind: "127.0.0.1:0".parse().unwrap(), ..app.config.clone() };
    drop(Application::build(config).await.expect("app builds"));
}

/// The demo MCP server on a port of its own; returns its base URL.
pub async fn spawn_demo_mcp() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, gatehouse::demo_mcp::router()).await });
    format!("http://{address}")
}

/// A browser-like client: keeps cookies, does not follow redirects (tests look at them).
pub fn client() -> Client {
    Client::builder().cookie_store(true).redirect(Policy::none()).timeout(Duration::from_secs(30)).build().unwrap()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).json(body).send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("request sent")
    }

    /// Fetches a page the way a browser does (browsers always accept HTML).
    pub async fn page(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .header(reqwest::header::ACCEPT, "text/html,application/xhtml+xml")
            .send()
            .await
            .expect("request sent")
    }

    pub async fn register(&self, email: &str, password: &str) -> Response {
        self.post_json("/api/v1/auth/register", &json!({ "email": email, "password": password })).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json("/api/v1/auth/login", &json!({ "email": email, "password": password })).await
    }

    pub async fn me(&self) -> Response {
        self.get("/api/v1/auth/me").await
    }

    /// Signs up `email` on a client of its own and returns that client, logged in.
    pub async fn user(&self, email: &str) -> User {
        let client = client();
        let response = client
            .post(self.url("/api/v1/auth/register"))
            .json(&json!({ "email": email, "password": "correct horse battery" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::CREATED, "sign up {email}");
        let id = json_body(response).await["id"].as_str().unwrap().to_string();
        User { client, base: self.address.clone(), id }
    }

    /// The database this app runs on, for a connection of a test's own.
    pub fn database_url(&self) -> String {
        self.config.database_url.clone()
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
    }
}

/// The session cookie a response set, if any.
pub fn session_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("gatehouse_session="))
        .map(str::to_owned)
}

pub async fn json_body(response: Response) -> Value {
    let status = response.status();
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("status {status}: body is not JSON: {text}"))
}

/// A database that exists for one test: a SQLite file in a temp dir, or a PostgreSQL
/// database with a random name, dropped at the end.
struct TestDatabase {
    url: String,
    postgres_name: Option<String>,
}

fn postgres_admin_url() -> String {
    std::env::var("GATEHOUSE_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn postgres_url_for(name: &str) -> String {
    let mut url = url::Url::parse(&postgres_admin_url()).expect("GATEHOUSE_TEST_POSTGRES is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

impl TestDatabase {
    async fn create(backend: Backend, dir: &TempDir) -> Self {
        match backend {
            Backend::Sqlite => Self { url: format!("sqlite://{}", dir.path().join("gatehouse.db").display()), postgres_name: None },
            Backend::Postgres => {
                let name = format!("gatehouse_test_{}", uuid::Uuid::new_v4().simple());
                let admin = admin_connection().await;
                admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create test database");
                admin.close().await.ok();
                Self { url: postgres_url_for(&name), postgres_name: Some(name) }
            }
        }
    }
}

async fn admin_connection() -> DatabaseConnection {
    Database::connect(postgres_admin_url())
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is needed for the postgres tests ({e}); start it or set GATEHOUSE_TEST_POSTGRES"))
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else { return };
        // Drop runs inside the test's runtime, so do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let admin = admin_connection().await;
                let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
                admin.close().await.ok();
            });
        })
        .join();
    }
}

fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            gatehouse::telemetry::init(gatehouse::config::LogFormat::Text, "debug", false);
        }
    });
}

/// A signed-in account with its own cookie jar.
#[derive(Clone)]
pub struct User {
    pub client: Client,
    pub base: String,
    pub id: String,
}

impl User {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).json(body).send().await.unwrap()
    }

    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.client.put(self.url(path)).json(body).send().await.unwrap()
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.client.patch(self.url(path)).json(body).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.client.delete(self.url(path)).send().await.unwrap()
    }

    /// Creates a server pointing at `upstream` and returns its JSON.
    pub async fn server(&self, name: &str, upstream: &str) -> Value {
        let response = self.post("/servers", &json!({ "name": name, "upstream_url": upstream, "transport": "streamable_http" })).await;
        assert_eq!(response.status(), reqwest::StatusCode::CREATED, "create server {name}");
        json_body(response).await
    }

    /// Creates a token and returns `(token string, details)`.
    pub async fn token(&self, description: &str, expires: &str, servers: &[&Value]) -> (String, Value) {
        let ids: Vec<&Value> = servers.iter().map(|s| &s["id"]).collect();
        let response = self.post("/tokens", &json!({ "description": description, "expires": expires, "server_ids": ids })).await;
        assert_eq!(response.status(), reqwest::StatusCode::CREATED, "create token {description}");
        let body = json_body(response).await;
        (body["token"].as_str().unwrap().to_string(), body["details"].clone())
    }
}

/// Gatehouse on a database `prepare` filled first (with the migrations it chose to apply): how a
/// test starts a new version on a database an older one made.
pub async fn spawn_app_on_prepared(backend: Backend, options: Options, prepare: impl AsyncFnOnce(&DatabaseConnection)) -> TestApp {
    init_logging();
    let dir = tempfile::tempdir().expect("temp dir");
    let database = TestDatabase::create(backend, &dir).await;
    let url = if database.url.starts_with("sqlite") { format!("{}?mode=rwc", database.url) } else { database.url.clone() };
    let db = Database::connect(&url).await.expect("connect to the test database");
    prepare(&db).await;
    db.close().await.ok();
    let config = Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        database_url: database.url.clone(),
        data_dir: dir.path().join("data"),
        upstream_allow_loopback: options.upstream_allow_loopback,
        max_concurrent_hashes: 4,
        database_max_connections: 5,
        ..Config::default()
    };
    start((options.configure)(config), Some(database), Some(dir)).await
}
