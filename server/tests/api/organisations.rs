//! Organisations over the REST API: the role table on every route, isolation between
//! organisations, invitations, the last owner, and what a member's removal or new role does to
//! their tokens on every process.
use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::gateway::{ends_soon, held_stream, post_mcp};
use crate::helpers::{Backend, Options, TestApp, User, client, json_body, spawn_app, spawn_app_with, spawn_demo_mcp, spawn_second_process};
use crate::on_both_backends;

on_both_backends!(
    role_table_holds_on_every_route,
    organisation_sweep_answers_404_with_another_organisations_ids,
    invitations_are_one_use_expiring_and_for_the_named_account,
    the_last_owner_cannot_leave_or_be_demoted,
    removing_a_member_ends_their_tokens_on_every_process,
    the_instance_admin_reads_and_disables_any_organisation,
);

/// The header that makes a session-authenticated request act within an organisation.
const ORGANISATION_HEADER: &str = "Gatehouse-Organisation";

/// `user` acting within organisation `id`: every request names it in the header.
struct In<'a> {
    user: &'a User,
    id: &'a str,
}

impl<'a> In<'a> {
    fn new(user: &'a User, id: &'a str) -> Self {
        Self { user, id }
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Response {
        let mut request = self.user.client.request(method, format!("{}/api/v1{path}", self.user.base)).header(ORGANISATION_HEADER, self.id);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    async fn get(&self, path: &str) -> Response {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: &Value) -> Response {
        self.send(Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: &Value) -> Response {
        self.send(Method::PUT, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> Response {
        self.send(Method::DELETE, path, None).await
    }

    /// Creates a server of the organisation and returns its JSON.
    async fn server(&self, name: &str, upstream: &str, transport: &str) -> Value {
        let response = self.post("/servers", &json!({ "name": name, "upstream_url": upstream, "transport": transport })).await;
        assert_eq!(response.status(), StatusCode::CREATED, "create server {name}");
        json_body(response).await
    }

    /// Creates a token of the organisation and returns `(token string, details)`.
    async fn token(&self, description: &str, servers: &[&Value]) -> (String, Value) {
        let ids: Vec<&Value> = servers.iter().map(|s| &s["id"]).collect();
        let response = self.post("/tokens", &json!({ "description": description, "expires": "never", "server_ids": ids })).await;
        assert_eq!(response.status(), StatusCode::CREATED, "create token {description}");
        let body = json_body(response).await;
        (body["token"].as_str().unwrap().to_string(), body["details"].clone())
    }

    /// Adds an existing account as a member with `role`.
    async fn add(&self, email: &str, role: &str) {
        let response = self.post(&format!("/organisations/{}/members", self.id), &json!({ "email": email, "role": role })).await;
        assert_eq!(response.status(), StatusCode::CREATED, "add {email} as {role}");
    }

    /// Makes an invitation and returns its JSON.
    async fn invite(&self, body: &Value) -> Value {
        let response = self.post(&format!("/organisations/{}/invitations", self.id), body).await;
        assert_eq!(response.status(), StatusCode::CREATED, "invite {body}");
        json_body(response).await
    }
}

/// The installation's first account, which becomes the instance admin (who may read every
/// organisation): made first so that the accounts a test looks at are ordinary users.
async fn operator(app: &TestApp) -> User {
    app.user("operator@example.com").await
}

/// Makes an organisation owned by `owner`; returns its id.
async fn organisation(owner: &User, name: &str) -> String {
    let response = owner.post("/organisations", &json!({ "name": name })).await;
    assert_eq!(response.status(), StatusCode::CREATED, "create organisation {name}");
    let body = json_body(response).await;
    assert_eq!((body["name"].as_str(), body["role"].as_str(), body["personal"].as_bool()), (Some(name), Some("owner"), Some(false)));
    body["id"].as_str().unwrap().to_string()
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap().to_string()
}

/// The code an invitation link carries.
fn code_of(url: &str) -> String {
    url::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()).expect("a code in the link")
}

/// Polls the gateway with `bearer` until it answers `wanted`.
async fn eventually(url: &str, bearer: &str, wanted: StatusCode, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let got = post_mcp(url, Some(bearer)).await.status();
        if got == wanted {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: still {got}, not {wanted}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A route of the role table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    GetOrganisation,
    ListServers,
    GetServer,
    ServerTokens,
    CreateServer,
    UpdateServer,
    DeleteServer,
    CheckServer,
    CreateToken,
    ListTokens,
    GetOwnersToken,
    RevokeOwnersToken,
    GetOwnToken,
    RevokeOwnToken,
    ListKeys,
    RotateKey,
    ListMembers,
    AddMember,
    SetRole,
    Invite,
    Rename,
    DeleteOrganisation,
}

/// What each role gets on each route (columns: owner, admin, member, viewer, non-member). Each
/// account calls the routes in this order, the owner last, so the owner's deleting the
/// organisation is the very last call.
const TABLE: [(Route, [u16; 5]); 22] = [
    //                                  owner admin member viewer outsider
    (Route::GetOrganisation, [200, 200, 200, 200, 404]),
    (Route::ListServers, [200, 200, 200, 200, 404]),
    (Route::GetServer, [200, 200, 200, 200, 404]),
    (Route::ServerTokens, [200, 200, 200, 200, 404]),
    (Route::CreateServer, [201, 201, 403, 403, 404]),
    (Route::UpdateServer, [200, 200, 403, 403, 404]),
    (Route::DeleteServer, [204, 204, 403, 403, 404]),
    (Route::CheckServer, [200, 200, 403, 403, 404]),
    (Route::CreateToken, [201, 201, 201, 403, 404]),
    (Route::ListTokens, [200, 200, 200, 200, 404]),
    // A token someone else made: a member or viewer is not told it exists.
    (Route::GetOwnersToken, [200, 200, 404, 404, 404]),
    (Route::RevokeOwnersToken, [200, 200, 404, 404, 404]),
    (Route::GetOwnToken, [200, 200, 200, 200, 404]),
    (Route::RevokeOwnToken, [200, 200, 200, 403, 404]),
    (Route::ListKeys, [200, 200, 200, 200, 404]),
    (Route::RotateKey, [200, 200, 403, 403, 404]),
    (Route::ListMembers, [200, 200, 200, 200, 404]),
    (Route::AddMember, [201, 201, 403, 403, 404]),
    (Route::SetRole, [200, 200, 403, 403, 404]),
    (Route::Invite, [201, 201, 403, 403, 404]),
    (Route::Rename, [200, 403, 403, 403, 404]),
    (Route::DeleteOrganisation, [204, 403, 403, 403, 404]),
];

const ORGANISATION_NAME: &str = "Acme Payroll";
const SERVER_NAME: &str = "payroll upstream";
const OWNER_TOKEN: &str = "payroll robot";

/// What a non-member must never read in an answer.
const SECRETS: [&str; 5] = [ORGANISATION_NAME, SERVER_NAME, OWNER_TOKEN, "victim", "@example.com"];

/// The objects one actor's rows act on.
struct Targets {
    organisation: String,
    server: String,
    /// Made by the owner for this actor's rows to change and delete.
    victim_server: String,
    victim_token: String,
    /// A token the actor made (for the non-member: one of the organisation's).
    own_token: Option<String>,
    /// An account this actor's row adds.
    spare: String,
    /// A member whose role this actor's row sets.
    target: String,
    target_role: &'static str,
}

fn request(route: Route, t: &Targets, tag: &str) -> (Method, String, Option<Value>) {
    let org = &t.organisation;
    let own = t.own_token.as_deref().unwrap_or("none");
    match route {
        Route::GetOrganisation => (Method::GET, format!("/organisations/{org}"), None),
        Route::ListServers => (Method::GET, "/servers".into(), None),
        Route::GetServer => (Method::GET, format!("/servers/{}", t.server), None),
        Route::ServerTokens => (Method::GET, format!("/servers/{}/tokens", t.server), None),
        Route::CreateServer => (
            Method::POST,
            "/servers".into(),
            Some(json!({ "name": format!("made by {tag}"), "upstream_url": "http://127.0.0.1:9/mcp", "transport": "streamable_http" })),
        ),
        Route::UpdateServer => (
            Method::PUT,
            format!("/servers/{}", t.victim_server),
            Some(json!({ "name": format!("victim of {tag}, edited"), "upstream_url": "http://127.0.0.1:9/sse", "transport": "sse" })),
        ),
        Route::DeleteServer => (Method::DELETE, format!("/servers/{}", t.victim_server), None),
        Route::CheckServer => (Method::POST, format!("/servers/{}/check", t.server), Some(json!({}))),
        Route::CreateToken => (
            Method::POST,
            "/tokens".into(),
            Some(json!({ "description": format!("token of {tag}"), "expires": "never", "server_ids": [t.server] })),
        ),
        Route::ListTokens => (Method::GET, "/tokens".into(), None),
        Route::GetOwnersToken => (Method::GET, format!("/tokens/{}", t.victim_token), None),
        Route::RevokeOwnersToken => (Method::POST, format!("/tokens/{}/revoke", t.victim_token), Some(json!({}))),
        Route::GetOwnToken => (Method::GET, format!("/tokens/{own}"), None),
        Route::RevokeOwnToken => (Method::POST, format!("/tokens/{own}/revoke"), Some(json!({}))),
        Route::ListKeys => (Method::GET, "/signing-keys".into(), None),
        Route::RotateKey => (Method::POST, "/signing-keys/rotate".into(), Some(json!({}))),
        Route::ListMembers => (Method::GET, format!("/organisations/{org}/members"), None),
        Route::AddMember => (Method::POST, format!("/organisations/{org}/members"), Some(json!({ "email": t.spare, "role": "member" }))),
        Route::SetRole => (Method::PUT, format!("/organisations/{org}/members/{}", t.target), Some(json!({ "role": t.target_role }))),
        Route::Invite => (Method::POST, format!("/organisations/{org}/invitations"), Some(json!({ "role": "member" }))),
        Route::Rename => (Method::PUT, format!("/organisations/{org}"), Some(json!({ "name": ORGANISATION_NAME }))),
        Route::DeleteOrganisation => (Method::DELETE, format!("/organisations/{org}"), None),
    }
}

async fn role_table_holds_on_every_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let _operator = operator(&app).await;
    let owner = app.user("owner@example.com").await;
    let admin = app.user("admin@example.com").await;
    let member = app.user("member@example.com").await;
    let viewer = app.user("viewer@example.com").await;
    let outsider = app.user("outsider@example.com").await;
    let target = app.user("target@example.com").await;
    let org = organisation(&owner, ORGANISATION_NAME).await;
    let owner_in = In::new(&owner, &org);
    owner_in.add("admin@example.com", "admin").await;
    owner_in.add("member@example.com", "member").await;
    owner_in.add("target@example.com", "member").await;
    // The viewer made a token while still a member: a viewer may see it, not change it.
    owner_in.add("viewer@example.com", "member").await;
    let server = owner_in.server(SERVER_NAME, "http://127.0.0.1:9/mcp", "streamable_http").await;
    let (_, viewer_token) = In::new(&viewer, &org).token("token of viewer", &[&server]).await;
    let demoted = owner_in.put(&format!("/organisations/{org}/members/{}", viewer.id), &json!({ "role": "viewer" })).await;
    assert_eq!(demoted.status(), StatusCode::OK);
    let (_, owner_token) = owner_in.token(OWNER_TOKEN, &[&server]).await;

    // Column of the table, name, account; the owner last.
    let actors: [(usize, &str, &User); 5] =
        [(4, "outsider", &outsider), (3, "viewer", &viewer), (2, "member", &member), (1, "admin", &admin), (0, "owner", &owner)];
    let mut mismatches = Vec::new();
    for (n, (column, tag, user)) in actors.into_iter().enumerate() {
        let email = format!("{tag}@example.com");
        let spare = format!("spare-{tag}@example.com");
        app.user(&spare).await;
        let victim_server = owner_in.server(&format!("victim {tag}"), "http://127.0.0.1:9/mcp", "streamable_http").await;
        let (_, victim_token) = owner_in.token(&format!("{OWNER_TOKEN} for {tag}"), &[&server]).await;
        let mut targets = Targets {
            organisation: org.clone(),
            server: id_of(&server),
            victim_server: id_of(&victim_server),
            victim_token: id_of(&victim_token),
            own_token: match tag {
                "viewer" => Some(id_of(&viewer_token)),
                "outsider" => Some(id_of(&owner_token)),
                _ => None,
            },
            spare,
            target: target.id.clone(),
            target_role: if n % 2 == 0 { "viewer" } else { "member" },
        };
        let acting = In::new(user, &org);
        // An organisation that does not exist, to compare the non-member's answers with.
        let ghost = uuid::Uuid::new_v4().to_string();
        for (route, expected) in TABLE {
            let expected = expected[column];
            let (method, path, body) = request(route, &targets, tag);
            let response = acting.send(method.clone(), &path, body.as_ref()).await;
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            if status != expected {
                mismatches.push(format!("{tag} {route:?} ({method} {path}): {status}, expected {expected}: {text}"));
                continue;
            }
            let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            match status {
                403 => assert_eq!(parsed["code"], "forbidden", "{tag} {route:?}: {text}"),
                404 => {
                    assert_eq!(parsed["code"], "not_found", "{tag} {route:?}: {text}");
                    for secret in SECRETS {
                        assert!(!text.contains(secret), "{tag} {route:?} learnt {secret:?}: {text}");
                    }
                }
                _ => {}
            }
            if tag == "outsider" {
                // Exactly what an organisation that does not exist answers.
                let nothing = In::new(user, &ghost).send(method, &path.replace(&org, &ghost), body.as_ref()).await;
                assert_eq!((nothing.status().as_u16(), nothing.text().await.unwrap()), (status, text.clone()), "{route:?}");
            }
            match (route, status) {
                (Route::CreateToken, 201) => targets.own_token = Some(id_of(&parsed["details"])),
                (Route::ListServers, 200) => {
                    let names: Vec<&Value> = parsed.as_array().unwrap().iter().map(|s| &s["name"]).collect();
                    assert!(names.contains(&&json!(SERVER_NAME)), "{tag} sees the organisation's servers: {names:?}");
                }
                (Route::ListTokens | Route::ServerTokens, 200) => {
                    let makers: Vec<&str> = parsed.as_array().unwrap().iter().map(|t| t["made_by"].as_str().unwrap()).collect();
                    if matches!(tag, "member" | "viewer") {
                        assert!(makers.iter().all(|m| *m == email), "{tag} {route:?} sees only their own tokens: {makers:?}");
                    } else {
                        assert!(makers.contains(&"owner@example.com"), "{tag} {route:?} sees every token: {makers:?}");
                    }
                    if route == Route::ListTokens && matches!(tag, "member" | "viewer") {
                        assert_eq!(makers.len(), 1, "{tag} made one token: {text}");
                    }
                }
                _ => {}
            }
        }
        if column >= 2 {
            // Refused means nothing changed.
            let victim = json_body(owner_in.get(&format!("/servers/{}", targets.victim_server)).await).await;
            assert_eq!(victim["name"].as_str(), Some(format!("victim {tag}").as_str()), "{tag} changed nothing");
            let token = json_body(owner_in.get(&format!("/tokens/{}", targets.victim_token)).await).await;
            assert_eq!(token["status"], "active", "{tag} revoked nothing");
        }
    }
    assert!(mismatches.is_empty(), "the role table does not hold:\n{}", mismatches.join("\n"));

    // The owner's last row deleted the organisation with everything in it.
    assert_eq!(owner_in.get(&format!("/organisations/{org}")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(owner_in.get("/servers").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(owner.get(&format!("/servers/{}", id_of(&server))).await.status(), StatusCode::NOT_FOUND);
}

/// One call of a sweep: `(method, path, body)`.
type Call = (Method, String, Option<Value>);

async fn organisation_sweep_answers_404_with_another_organisations_ids(backend: Backend) {
    let app = spawn_app(backend).await;
    let _operator = operator(&app).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    app.user("carol@example.com").await;
    let a_org = organisation(&ada, "Ada's Lab").await;
    let b_org = organisation(&bob, "Bob's Shop").await;
    let a = In::new(&ada, &a_org);
    let b = In::new(&bob, &b_org);
    a.add("carol@example.com", "member").await;
    let a_server = a.server("ada-lab-server", "http://127.0.0.1:9/mcp", "streamable_http").await;
    let (_, a_token) = a.token("ada-lab-token", &[&a_server]).await;
    let a_key = id_of(&json_body(a.get("/signing-keys").await).await[0]);
    let members = json_body(a.get(&format!("/organisations/{a_org}/members")).await).await;
    let carol =
        members.as_array().unwrap().iter().find(|m| m["email"] == "carol@example.com").unwrap()["account_id"].as_str().unwrap().to_string();
    let b_server = b.server("bob-shop-server", "http://127.0.0.1:9/mcp", "streamable_http").await;
    let (_, b_token) = b.token("bob-shop-token", &[&b_server]).await;
    let b_key = id_of(&json_body(b.get("/signing-keys").await).await[0]);

    let (a_server, a_token, b_server, b_token) = (id_of(&a_server), id_of(&a_token), id_of(&b_server), id_of(&b_token));
    let server_body = json!({ "name": "taken over", "upstream_url": "http://127.0.0.1:9/mcp", "transport": "streamable_http" });
    let leaks = ["Ada", "ada-lab", "ada@example.com", "carol@example.com"];

    // Bob names Ada's organisation: everything in it is answered as if it did not exist,
    // whichever ids he names.
    let in_adas: Vec<Call> = vec![
        (Method::GET, "/servers".into(), None),
        (Method::POST, "/servers".into(), Some(server_body.clone())),
        (Method::GET, format!("/servers/{a_server}"), None),
        (Method::PUT, format!("/servers/{a_server}"), Some(server_body.clone())),
        (Method::DELETE, format!("/servers/{a_server}"), None),
        (Method::GET, format!("/servers/{a_server}/tokens"), None),
        (Method::POST, format!("/servers/{a_server}/check"), Some(json!({}))),
        (Method::GET, format!("/servers/{a_server}/tool-calls"), None),
        (Method::GET, format!("/servers/{a_server}/tool-calls.jsonl"), None),
        (Method::POST, "/servers/detect".into(), Some(json!({ "upstream_url": "http://127.0.0.1:9/mcp", "server_id": a_server }))),
        (Method::GET, format!("/servers/{b_server}"), None),
        (Method::GET, "/tokens".into(), None),
        (Method::POST, "/tokens".into(), Some(json!({ "description": "x", "expires": "never", "server_ids": [a_server] }))),
        (Method::GET, format!("/tokens/{a_token}"), None),
        (Method::POST, format!("/tokens/{a_token}/revoke"), Some(json!({}))),
        (Method::PUT, format!("/tokens/{a_token}/servers/{a_server}"), Some(json!({}))),
        (Method::DELETE, format!("/tokens/{a_token}/servers/{a_server}"), None),
        (Method::PUT, format!("/tokens/{a_token}/servers/{a_server}/tools"), Some(json!({ "mode": "read_only" }))),
        (Method::PUT, format!("/tokens/{a_token}/networks"), Some(json!({ "allowed_networks": ["0.0.0.0/0"] }))),
        (Method::GET, format!("/tokens/{b_token}"), None),
        (Method::GET, "/signing-keys".into(), None),
        (Method::POST, "/signing-keys/rotate".into(), Some(json!({}))),
        (Method::POST, format!("/signing-keys/{a_key}/revoke"), Some(json!({}))),
        (Method::POST, format!("/signing-keys/{b_key}/revoke"), Some(json!({}))),
        (Method::GET, format!("/organisations/{a_org}"), None),
        (Method::PUT, format!("/organisations/{a_org}"), Some(json!({ "name": "Bob's now" }))),
        (Method::DELETE, format!("/organisations/{a_org}"), None),
        (Method::GET, format!("/organisations/{a_org}/members"), None),
        (Method::POST, format!("/organisations/{a_org}/members"), Some(json!({ "email": "bob@example.com", "role": "owner" }))),
        (Method::PUT, format!("/organisations/{a_org}/members/{carol}"), Some(json!({ "role": "viewer" }))),
        (Method::DELETE, format!("/organisations/{a_org}/members/{carol}"), None),
        (Method::DELETE, format!("/organisations/{a_org}/members/{}", ada.id), None),
        (Method::PUT, format!("/organisations/{a_org}/members/{}", bob.id), Some(json!({ "role": "owner" }))),
        (Method::POST, format!("/organisations/{a_org}/invitations"), Some(json!({ "role": "owner" }))),
    ];
    // Bob in his own organisation (or his personal one), naming Ada's objects.
    let adas_ids_in_bobs: Vec<Call> = vec![
        (Method::GET, format!("/servers/{a_server}"), None),
        (Method::PUT, format!("/servers/{a_server}"), Some(server_body.clone())),
        (Method::DELETE, format!("/servers/{a_server}"), None),
        (Method::GET, format!("/servers/{a_server}/tokens"), None),
        (Method::GET, format!("/tokens/{a_token}"), None),
        (Method::POST, format!("/tokens/{a_token}/revoke"), Some(json!({}))),
        (Method::PUT, format!("/tokens/{a_token}/servers/{b_server}"), Some(json!({}))),
        (Method::DELETE, format!("/tokens/{a_token}/servers/{b_server}"), None),
        (Method::PUT, format!("/tokens/{b_token}/servers/{a_server}"), Some(json!({}))),
        (Method::DELETE, format!("/tokens/{b_token}/servers/{a_server}"), None),
        (Method::POST, format!("/signing-keys/{a_key}/revoke"), Some(json!({}))),
        (Method::PUT, format!("/organisations/{b_org}/members/{carol}"), Some(json!({ "role": "viewer" }))),
        (Method::DELETE, format!("/organisations/{b_org}/members/{carol}"), None),
        (Method::PUT, format!("/organisations/{b_org}/members/{}", ada.id), Some(json!({ "role": "viewer" }))),
        (Method::DELETE, format!("/organisations/{b_org}/members/{}", ada.id), None),
        // The organisation routes go by the id in the path, whatever the header says.
        (Method::GET, format!("/organisations/{a_org}"), None),
        (Method::PUT, format!("/organisations/{a_org}"), Some(json!({ "name": "Bob's now" }))),
        (Method::GET, format!("/organisations/{a_org}/members"), None),
        (Method::PUT, format!("/organisations/{a_org}/members/{carol}"), Some(json!({ "role": "viewer" }))),
        (Method::POST, format!("/organisations/{a_org}/invitations"), Some(json!({ "role": "member" }))),
    ];
    let bob_personal = bob.id.clone();
    let personal = In::new(&bob, &bob_personal);
    let mut wrong = Vec::new();
    for (acting, calls, what) in [
        (In::new(&bob, &a_org), &in_adas, "in Ada's organisation"),
        (In::new(&bob, &b_org), &adas_ids_in_bobs, "in Bob's organisation"),
        (In::new(&bob, &bob_personal), &adas_ids_in_bobs, "in Bob's personal organisation"),
    ] {
        for (method, path, body) in calls {
            let response = acting.send(method.clone(), path, body.as_ref()).await;
            let status = response.status();
            let text = response.text().await.unwrap();
            if status != StatusCode::NOT_FOUND {
                wrong.push(format!("{what}: {method} {path}: {status}: {text}"));
            }
            for leak in leaks {
                assert!(!text.contains(leak), "{what}: {method} {path} told {leak:?}: {text}");
            }
        }
    }
    // Without the header a session acts in the personal organisation: the same answers.
    for (method, path, body) in &adas_ids_in_bobs {
        let mut request = bob.client.request(method.clone(), format!("{}/api/v1{path}", bob.base));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        if status != StatusCode::NOT_FOUND {
            wrong.push(format!("without the header: {method} {path}: {status}: {text}"));
        }
        for leak in leaks {
            assert!(!text.contains(leak), "without the header: {method} {path} told {leak:?}: {text}");
        }
    }
    assert!(wrong.is_empty(), "not answered 404:\n{}", wrong.join("\n"));

    // A token of Bob's cannot be made for Ada's server: it does not exist, as far as he knows.
    let cross = b.post("/tokens", &json!({ "description": "x", "expires": "never", "server_ids": [a_server] })).await;
    assert_eq!(cross.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = cross.text().await.unwrap();
    assert!(!text.contains("ada"), "{text}");
    // What Bob lists in his organisations holds nothing of Ada's.
    for listing in [b.get("/servers").await, b.get("/tokens").await, b.get("/signing-keys").await, personal.get("/servers").await] {
        let text = listing.text().await.unwrap();
        assert!(!text.contains("ada-lab") && !text.contains(&a_server) && !text.contains(&a_key), "{text}");
    }
    let organisations = json_body(bob.get("/organisations").await).await;
    assert!(!organisations.to_string().contains(&a_org), "{organisations}");

    // Ada's objects are untouched.
    let server = json_body(a.get(&format!("/servers/{a_server}")).await).await;
    assert_eq!((server["name"].as_str(), server["token_count"].as_u64()), (Some("ada-lab-server"), Some(1)));
    assert_eq!(json_body(a.get(&format!("/tokens/{a_token}")).await).await["status"], "active");
    let keys = json_body(a.get("/signing-keys").await).await;
    assert_eq!((keys.as_array().unwrap().len(), keys[0]["state"].as_str()), (1, Some("active")));
    let view = json_body(a.get(&format!("/organisations/{a_org}")).await).await;
    assert_eq!((view["name"].as_str(), view["members"].as_u64()), (Some("Ada's Lab"), Some(2)));
}

/// Signs up `email` on a client of its own, with an invitation code.
async fn sign_up(app: &TestApp, email: &str, invite: Option<&str>) -> (Response, reqwest::Client) {
    let client = client();
    let mut body = json!({ "email": email, "password": "correct horse battery" });
    if let Some(code) = invite {
        body["invite"] = json!(code);
    }
    let response = client.post(app.url("/api/v1/auth/register")).json(&body).send().await.unwrap();
    (response, client)
}

async fn accept(user: &User, code: &str) -> Response {
    user.post("/invitations/accept", &json!({ "code": code })).await
}

async fn role_in(owner: &In<'_>, email: &str) -> Option<String> {
    let members = json_body(owner.get(&format!("/organisations/{}/members", owner.id)).await).await;
    members.as_array().unwrap().iter().find(|m| m["email"] == email).map(|m| m["role"].as_str().unwrap().to_string())
}

async fn invitations_are_one_use_expiring_and_for_the_named_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let _operator = operator(&app).await;
    let owner = app.user("owner@example.com").await;
    let org = organisation(&owner, "Acme").await;
    let owner_in = In::new(&owner, &org);

    let before = Utc::now();
    let invitation = owner_in.invite(&json!({ "role": "member" })).await;
    let url = invitation["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/join?code=ghi_", app.address)), "{url}");
    assert_eq!((invitation["role"].as_str(), invitation["email"].is_null()), (Some("member"), true));
    let expires: chrono::DateTime<Utc> = invitation["expires_at"].as_str().unwrap().parse().unwrap();
    assert!((expires - before - chrono::Duration::days(7)).num_seconds().abs() < 60, "a week by default: {expires}");
    let code = code_of(url);

    // Accepted by a signed-in account: a member with that role, at once.
    let dan = app.user("dan@example.com").await;
    let joined = accept(&dan, &code).await;
    assert_eq!(joined.status(), StatusCode::OK);
    let joined = json_body(joined).await;
    assert_eq!(
        (joined["id"].as_str(), joined["name"].as_str(), joined["role"].as_str()),
        (Some(org.as_str()), Some("Acme"), Some("member"))
    );
    assert_eq!(role_in(&owner_in, "dan@example.com").await.as_deref(), Some("member"));
    let dan_in = In::new(&dan, &org);
    assert_eq!(dan_in.get("/servers").await.status(), StatusCode::OK);
    let made = dan_in.post("/tokens", &json!({ "description": "dan's", "expires": "never" })).await;
    assert_eq!(made.status(), StatusCode::CREATED, "a member may make tokens");

    // One use: nobody else gets in with it, nor does the same account twice.
    let erin = app.user("erin@example.com").await;
    let reused = accept(&erin, &code).await;
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json_body(reused).await["code"], "invalid_input");
    assert_eq!(accept(&dan, &code).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(In::new(&erin, &org).get(&format!("/organisations/{org}")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(accept(&erin, "ghi_not-a-real-code").await.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // For the named account only; someone else's attempt does not use it up.
    let named = owner_in.invite(&json!({ "role": "viewer", "email": "frank@example.com" })).await;
    assert_eq!(named["email"], "frank@example.com");
    let named_code = code_of(named["url"].as_str().unwrap());
    let grace = app.user("grace@example.com").await;
    let frank = app.user("frank@example.com").await;
    let refused = accept(&grace, &named_code).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(json_body(refused).await["code"], "forbidden");
    assert_eq!(role_in(&owner_in, "grace@example.com").await, None);
    let frank_joined = accept(&frank, &named_code).await;
    assert_eq!(frank_joined.status(), StatusCode::OK, "still usable by the account it names");
    assert_eq!(json_body(frank_joined).await["role"], "viewer");
    assert_eq!(role_in(&owner_in, "frank@example.com").await.as_deref(), Some("viewer"));

    // Expired: its time is moved into the past, as the clock would.
    let expiring = owner_in.invite(&json!({ "role": "member", "days": 1 })).await;
    expire_invitation(&app, &id_of(&expiring)).await;
    let late = accept(&erin, &code_of(expiring["url"].as_str().unwrap())).await;
    assert_eq!(late.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(role_in(&owner_in, "erin@example.com").await, None);

    // Sign-up closed: an organisation's invitation still lets its invitee in, as a member.
    use app::accounts::domain::SignupPolicy;
    let closed = spawn_app_with(
        backend,
        Options { configure: Box::new(|c| gatehouse::Config { signup: SignupPolicy::Closed, ..c }), ..Options::default() },
    )
    .await;
    let owner = closed.user("owner@example.com").await;
    let org = organisation(&owner, "Closed Co").await;
    let owner_in = In::new(&owner, &org);
    let code = code_of(owner_in.invite(&json!({ "role": "admin" })).await["url"].as_str().unwrap());
    assert_eq!(sign_up(&closed, "new@example.com", None).await.0.status(), StatusCode::FORBIDDEN, "sign-up is closed");
    assert_ne!(sign_up(&closed, "new@example.com", Some("ghi_made-up")).await.0.status(), StatusCode::CREATED);
    let (response, new_client) = sign_up(&closed, "new@example.com", Some(&code)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let new = User { client: new_client, base: closed.address.clone(), id: id_of(&json_body(response).await) };
    let theirs = json_body(new.get("/organisations").await).await;
    let found = theirs.as_array().unwrap().iter().find(|o| o["id"] == org.as_str()).expect("a member of the organisation");
    assert_eq!(found["role"], "admin");
    assert_eq!(role_in(&owner_in, "new@example.com").await.as_deref(), Some("admin"));
    assert_eq!(In::new(&new, &org).get("/servers").await.status(), StatusCode::OK);
    let (reused, _) = sign_up(&closed, "again@example.com", Some(&code)).await;
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY, "one use, for sign-up too");
    assert_eq!(closed.login("again@example.com", "correct horse battery").await.status(), StatusCode::UNAUTHORIZED, "no account was made");

    // A named invitation signs up only its own email; the refused sign-up makes no account.
    let named = code_of(owner_in.invite(&json!({ "role": "member", "email": "named@example.com" })).await["url"].as_str().unwrap());
    let (other, _) = sign_up(&closed, "other@example.com", Some(&named)).await;
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    assert_eq!(closed.login("other@example.com", "correct horse battery").await.status(), StatusCode::UNAUTHORIZED, "no account was made");
    let (response, _) = sign_up(&closed, "named@example.com", Some(&named)).await;
    assert_eq!(response.status(), StatusCode::CREATED, "still usable by the email it names");
    assert_eq!(role_in(&owner_in, "named@example.com").await.as_deref(), Some("member"));
}

/// Moves an invitation's expiry into the past, as time passing would (through the entity, so
/// each engine stores the time in its own format).
async fn expire_invitation(app: &TestApp, id: &str) {
    use app::organisations::ssr::invitations::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let id: uuid::Uuid = id.parse().unwrap();
    let past = Utc::now() - chrono::Duration::minutes(5);
    let updated =
        Entity::update_many().col_expr(Column::ExpiresAt, Expr::value(past)).filter(Column::Id.eq(id)).exec(app.db()).await.unwrap();
    assert_eq!(updated.rows_affected, 1);
}

async fn the_last_owner_cannot_leave_or_be_demoted(backend: Backend) {
    let app = spawn_app(backend).await;
    let _operator = operator(&app).await;
    let owner = app.user("owner@example.com").await;
    let admin = app.user("admin@example.com").await;
    let member = app.user("member@example.com").await;
    let second = app.user("second@example.com").await;
    let org = organisation(&owner, "Acme").await;
    let owner_in = In::new(&owner, &org);
    let member_path = |account: &str| format!("/organisations/{org}/members/{account}");

    let leave = owner_in.delete(&member_path(&owner.id)).await;
    assert_eq!(leave.status(), StatusCode::CONFLICT, "the sole owner cannot leave");
    assert_eq!(json_body(leave).await["code"], "conflict");
    let demote = owner_in.put(&member_path(&owner.id), &json!({ "role": "admin" })).await;
    assert_eq!(demote.status(), StatusCode::CONFLICT, "the sole owner cannot step down");
    assert_eq!(role_in(&owner_in, "owner@example.com").await.as_deref(), Some("owner"));
    // Nor does anyone ever stop owning their personal organisation.
    let personal = In::new(&owner, &owner.id);
    assert_eq!(personal.delete(&format!("/organisations/{}/members/{}", owner.id, owner.id)).await.status(), StatusCode::CONFLICT);

    owner_in.add("admin@example.com", "admin").await;
    owner_in.add("member@example.com", "member").await;
    let admin_in = In::new(&admin, &org);
    // An admin manages members, but never owners.
    for (response, what) in [
        (admin_in.delete(&member_path(&owner.id)).await, "remove an owner"),
        (admin_in.put(&member_path(&owner.id), &json!({ "role": "member" })).await, "demote an owner"),
        (admin_in.put(&member_path(&member.id), &json!({ "role": "owner" })).await, "make a member owner"),
        (admin_in.put(&member_path(&admin.id), &json!({ "role": "owner" })).await, "make themself owner"),
        (
            admin_in.post(&format!("/organisations/{org}/members"), &json!({ "email": "second@example.com", "role": "owner" })).await,
            "add an owner",
        ),
        (admin_in.post(&format!("/organisations/{org}/invitations"), &json!({ "role": "owner" })).await, "invite an owner"),
    ] {
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "an admin may not {what}");
    }
    assert_eq!(role_in(&owner_in, "owner@example.com").await.as_deref(), Some("owner"));
    assert_eq!(role_in(&owner_in, "member@example.com").await.as_deref(), Some("member"));
    assert_eq!(role_in(&owner_in, "second@example.com").await, None);
    // What an admin may do to members who are not owners.
    assert_eq!(admin_in.put(&member_path(&member.id), &json!({ "role": "viewer" })).await.status(), StatusCode::OK);

    // With a second owner, either may step down or leave.
    owner_in.add("second@example.com", "owner").await;
    let stepped = owner_in.put(&member_path(&owner.id), &json!({ "role": "admin" })).await;
    assert_eq!(stepped.status(), StatusCode::OK);
    assert_eq!(json_body(stepped).await["role"], "admin");
    let second_in = In::new(&second, &org);
    assert_eq!(second_in.delete(&member_path(&second.id)).await.status(), StatusCode::CONFLICT, "now the sole owner");
    assert_eq!(second_in.put(&member_path(&owner.id), &json!({ "role": "owner" })).await.status(), StatusCode::OK);
    let left = owner_in.delete(&member_path(&owner.id)).await;
    assert_eq!(left.status(), StatusCode::OK, "one of two owners may leave");
    assert_eq!(owner_in.get(&format!("/organisations/{org}")).await.status(), StatusCode::NOT_FOUND, "gone from it");
    assert_eq!(role_in(&second_in, "owner@example.com").await, None);
    assert_eq!(role_in(&second_in, "second@example.com").await.as_deref(), Some("owner"));
}

async fn removing_a_member_ends_their_tokens_on_every_process(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let second = spawn_second_process(&app).await;
    let _operator = operator(&app).await;
    let owner = app.user("owner@example.com").await;
    let admin = app.user("admin@example.com").await;
    let member = app.user("member@example.com").await;
    let org = organisation(&owner, "Acme").await;
    let owner_in = In::new(&owner, &org);
    let member_in = In::new(&member, &org);
    owner_in.add("admin@example.com", "admin").await;
    owner_in.add("member@example.com", "member").await;
    let mcp = owner_in.server("demo mcp", &format!("{demo}/mcp"), "streamable_http").await;
    let sse = owner_in.server("demo sse", &format!("{demo}/sse"), "sse").await;
    let here = mcp["mcp_endpoint"].as_str().unwrap().to_string();
    let there = here.replace(&app.address, &second.address);
    let stream_there = sse["sse_endpoint"].as_str().unwrap().replace(&app.address, &second.address);
    let member_path = format!("/organisations/{org}/members/{}", member.id);

    // Removed: their tokens stop on this process at once, on the other within the bound, and
    // a stream open there ends.
    let (token, details) = member_in.token("member's client", &[&mcp, &sse]).await;
    let bearer = format!("Bearer {token}");
    assert_eq!(post_mcp(&here, Some(&bearer)).await.status(), StatusCode::OK);
    eventually(&there, &bearer, StatusCode::OK, "the new token reaches the second process").await;
    let stream = held_stream(&stream_there, &token).await;
    let started = Instant::now();
    let removed = owner_in.delete(&member_path).await;
    assert_eq!(removed.status(), StatusCode::OK);
    assert_eq!(json_body(removed).await["tokens"], 1);
    assert_eq!(post_mcp(&here, Some(&bearer)).await.status(), StatusCode::UNAUTHORIZED, "refused here on the next request");
    ends_soon(stream, "the member was removed on another process").await;
    eventually(&there, &bearer, StatusCode::UNAUTHORIZED, "the removal reaches the second process").await;
    eprintln!("the removal ended the stream and the token on the other process within {:?}", started.elapsed());
    assert_eq!(json_body(owner_in.get(&format!("/tokens/{}", id_of(&details))).await).await["status"], "revoked");
    assert_eq!(member_in.get("/servers").await.status(), StatusCode::NOT_FOUND, "no longer a member");

    // Removed with the tokens handed to the admin: they keep working, as the admin's.
    owner_in.add("member@example.com", "member").await;
    let (kept, kept_details) = member_in.token("handed on", &[&mcp]).await;
    let bearer = format!("Bearer {kept}");
    assert_eq!(post_mcp(&here, Some(&bearer)).await.status(), StatusCode::OK);
    eventually(&there, &bearer, StatusCode::OK, "the new token reaches the second process").await;
    let handed = owner_in.delete(&format!("{member_path}?hand_to={}", admin.id)).await;
    assert_eq!(handed.status(), StatusCode::OK);
    assert_eq!(json_body(handed).await["tokens"], 1);
    let watch = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < watch {
        assert_eq!(post_mcp(&here, Some(&bearer)).await.status(), StatusCode::OK, "a handed-on token keeps working here");
        assert_eq!(post_mcp(&there, Some(&bearer)).await.status(), StatusCode::OK, "a handed-on token keeps working there");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let view = json_body(In::new(&admin, &org).get(&format!("/tokens/{}", id_of(&kept_details))).await).await;
    assert_eq!((view["made_by"].as_str(), view["status"].as_str()), (Some("admin@example.com"), Some("active")));
    assert_eq!(member_in.get(&format!("/tokens/{}", id_of(&kept_details))).await.status(), StatusCode::NOT_FOUND);

    // A new role applies to their tokens on the next request: a viewer's refuse, a member's work.
    owner_in.add("member@example.com", "member").await;
    let (third, _) = member_in.token("third", &[&mcp]).await;
    let bearer = format!("Bearer {third}");
    assert_eq!(post_mcp(&here, Some(&bearer)).await.status(), StatusCode::OK);
    eventually(&there, &bearer, StatusCode::OK, "the new token reaches the second process").await;
    assert_eq!(owner_in.put(&member_path, &json!({ "role": "viewer" })).await.status(), StatusCode::OK);
    let refused = post_mcp(&here, Some(&bearer)).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "a viewer's token is refused on the next request");
    let message = json_body(refused).await["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("no longer allows tokens"), "{message}");
    eventually(&there, &bearer, StatusCode::UNAUTHORIZED, "the new role reaches the second process").await;
    assert_eq!(owner_in.put(&member_path, &json!({ "role": "member" })).await.status(), StatusCode::OK);
    assert_eq!(post_mcp(&here, Some(&bearer)).await.status(), StatusCode::OK, "a member's token works again on the next request");
    eventually(&there, &bearer, StatusCode::OK, "the role back reaches the second process").await;
}

/// The instance admin sees every organisation and may read one it is not a member of, but not
/// act in it; disabling one refuses its tokens on every process (and ends their streams) until
/// it is enabled again. Nobody else may do either.
async fn the_instance_admin_reads_and_disables_any_organisation(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let second = spawn_second_process(&app).await;
    let admin = operator(&app).await;
    let owner = app.user("owner@example.com").await;
    let org = organisation(&owner, "Acme").await;
    let owner_in = In::new(&owner, &org);
    let admin_in = In::new(&admin, &org);
    let mcp = owner_in.server("demo mcp", &format!("{demo}/mcp"), "streamable_http").await;
    let sse = owner_in.server("demo sse", &format!("{demo}/sse"), "sse").await;
    let (token, _) = owner_in.token("team client", &[&mcp, &sse]).await;
    let bearer = format!("Bearer {token}");
    let here = mcp["mcp_endpoint"].as_str().unwrap().to_string();
    let there = here.replace(&app.address, &second.address);

    let all = json_body(admin.get("/admin/organisations").await).await;
    let listed: Vec<&str> = all.as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert!(listed.contains(&"Acme") && listed.contains(&"owner@example.com"), "{listed:?}");
    assert_eq!(owner.get("/admin/organisations").await.status(), StatusCode::FORBIDDEN);

    // Reads, not changes.
    let servers = json_body(admin_in.get("/servers").await).await;
    assert_eq!(servers.as_array().unwrap().len(), 2, "the admin reads Acme's servers");
    let change =
        admin_in.post("/servers", &json!({ "name": "x", "upstream_url": format!("{demo}/mcp"), "transport": "streamable_http" })).await;
    assert_eq!(change.status(), StatusCode::NOT_FOUND, "not a member: acting is as if Acme did not exist");

    let path = format!("/admin/organisations/{org}");
    assert_eq!(owner.patch(&path, &json!({ "disabled": true })).await.status(), StatusCode::FORBIDDEN, "owners do not disable");
    eventually(&there, &bearer, StatusCode::OK, "the new token reaches the second process").await;
    let stream_there = sse["sse_endpoint"].as_str().unwrap().replace(&app.address, &second.address);
    let stream = held_stream(&stream_there, &token).await;

    let disabled = admin.patch(&path, &json!({ "disabled": true })).await;
    assert_eq!(disabled.status(), StatusCode::OK);
    assert_eq!(json_body(disabled).await["disabled"], true);
    let refused = post_mcp(&here, Some(&bearer)).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "refused on the next request");
    assert!(refused.text().await.unwrap().contains("organisation this token belongs to is disabled"));
    ends_soon(stream, "the organisation was disabled").await;
    eventually(&there, &bearer, StatusCode::UNAUTHORIZED, "disabling reaches the second process").await;
    assert_eq!(
        admin.patch(&format!("/admin/organisations/{}", uuid::Uuid::new_v4()), &json!({ "disabled": true })).await.status(),
        StatusCode::NOT_FOUND
    );

    let enabled = admin.patch(&path, &json!({ "disabled": false })).await;
    assert_eq!(json_body(enabled).await["disabled"], false);
    assert_eq!(post_mcp(&here, Some(&bearer)).await.status(), StatusCode::OK, "enabled again, the token works");
    eventually(&there, &bearer, StatusCode::OK, "enabling reaches the second process").await;
}
