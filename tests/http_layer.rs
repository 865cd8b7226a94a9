//! `grant::http::SessionLayer` driven with real requests (`tower::ServiceExt::oneshot`) on
//! axum routers: the token restored from a cookie or a header, bad tokens giving a fresh
//! session (never an error response), the token written back only when the session
//! changed, the session and shard visible inside the handler, and read-your-writes across
//! requests on a SQLite writer and a (stale) SQLite replica.
#![cfg(feature = "tower")]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{to_bytes, Body};
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use grant::http::{SameSite, SessionLayer};
use grant::{connected_to, raw, Config, Context, Grant, Model, Role, Session};
use tower::ServiceExt;

/// A valid token of a session that wrote to `database` (no shard) just now, in the
/// documented `g1.` format: base64url(JSON) `.` base64url(FNV-1a 64 of the JSON).
fn token_with_write(database: &str) -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let json = format!(r#"[["{database}",null,{ms},null]]"#);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in json.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let token = format!(
        "g1.{}.{}",
        URL_SAFE_NO_PAD.encode(&json),
        URL_SAFE_NO_PAD.encode(h.to_be_bytes())
    );
    let session = Session::from_token(&token).expect("a valid token");
    assert!(session.last_write(database, None).is_some());
    token
}

/// What the handler saw, as text: `<current session empty?> <extension session empty?>
/// <same state?> <wrote to primary?> <shard>`.
async fn probe(Extension(ext): Extension<Session>) -> String {
    let current = Session::current().expect("the handler runs inside a session");
    // Clones share state: the extension and the task-local session are one session.
    let same = current.token() == ext.token();
    format!(
        "{} {} {} {} {:?}",
        current.is_empty(),
        ext.is_empty(),
        same,
        current.last_write("primary", None).is_some(),
        Context::current().shard.as_deref()
    )
}

/// Forgets everything the session recorded: a change, so the token is written back.
async fn clear(Extension(session): Extension<Session>) -> impl IntoResponse {
    session.clear();
    (
        [(header::SET_COOKIE, "theme=dark; Path=/")],
        "cleared".to_owned(),
    )
}

fn app(layer: SessionLayer) -> Router {
    Router::new()
        .route("/probe", get(probe))
        .route("/clear", get(clear))
        .layer(layer)
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let res: Response = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap();
    (
        parts.status,
        parts.headers,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

fn get_with(uri: &str, name: header::HeaderName, value: &str) -> Request<Body> {
    Request::get(uri)
        .header(name, value)
        .body(Body::empty())
        .unwrap()
}

fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn token_restored_from_the_cookie() {
    let app = app(SessionLayer::new());
    let token = token_with_write("primary");
    let cookie = format!("other=1; grant_session={token}; more=2");
    let (status, headers, body) = send(&app, get_with("/probe", header::COOKIE, &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "false false true true None");
    // Read, not changed: nothing written back.
    assert!(set_cookies(&headers).is_empty(), "{headers:?}");
}

#[tokio::test]
async fn token_restored_from_a_header_and_written_back_there() {
    let app = app(SessionLayer::new().header("x-grant-session"));
    let token = token_with_write("primary");
    let name = header::HeaderName::from_static("x-grant-session");

    let (status, headers, body) = send(&app, get_with("/probe", name.clone(), &token)).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "false false true true None")
    );
    assert!(headers.get(&name).is_none(), "unchanged: no header");

    // A cookie of the default name is not looked at in header mode.
    let cookie = format!("grant_session={token}");
    let (_, _, body) = send(&app, get_with("/probe", header::COOKIE, &cookie)).await;
    assert_eq!(body, "true true true false None");

    // Changed: the new token comes back in the header, not in a cookie.
    let (status, headers, _) = send(&app, get_with("/clear", name.clone(), &token)).await;
    assert_eq!(status, StatusCode::OK);
    let back = headers.get(&name).expect("the new token").to_str().unwrap();
    assert_ne!(back, token);
    assert!(Session::from_token(back).unwrap().is_empty());
    assert_eq!(set_cookies(&headers), ["theme=dark; Path=/"]);
}

#[tokio::test]
async fn bad_tokens_give_a_fresh_session_never_an_error() {
    let app = app(SessionLayer::new());
    let valid = token_with_write("primary");
    let mut tampered = valid.clone().into_bytes();
    tampered[6] = if tampered[6] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let oversized = format!("g1.{}.AAAAAAAAAAA", "A".repeat(10 * 1024));
    let cases = [
        ("malformed", "g1.garbage".to_owned()),
        ("not a grant token", "hello".to_owned()),
        ("tampered", tampered),
        ("truncated", valid[..valid.len() - 3].to_owned()),
        ("oversized", oversized),
    ];
    for (what, token) in cases {
        let cookie = format!("grant_session={token}");
        let (status, headers, body) = send(&app, get_with("/probe", header::COOKIE, &cookie)).await;
        assert_eq!(status, StatusCode::OK, "{what}");
        assert_eq!(body, "true true true false None", "{what}");
        // The bad cookie is replaced by a valid (empty) session's token.
        let set = set_cookies(&headers);
        assert_eq!(set.len(), 1, "{what}: {set:?}");
        let value = set[0]
            .strip_prefix("grant_session=")
            .and_then(|rest| rest.split(';').next())
            .unwrap();
        assert!(Session::from_token(value).unwrap().is_empty(), "{what}");
    }

    // The same through the header.
    let app = crate::app(SessionLayer::new().header("x-grant-session"));
    let (status, _, body) = send(
        &app,
        get_with("/probe", "x-grant-session".parse().unwrap(), "g1.x.y"),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "true true true false None")
    );
    let not_text = Request::get("/probe")
        .header(
            "x-grant-session",
            header::HeaderValue::from_bytes(b"g1.\xff").unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = send(&app, not_text).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "true true true false None")
    );
    assert!(headers.get("x-grant-session").is_none());
}

#[tokio::test]
async fn no_token_and_no_change_sets_no_cookie() {
    let app = app(SessionLayer::new());
    let req = Request::get("/probe").body(Body::empty()).unwrap();
    let (status, headers, body) = send(&app, req).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "true true true false None")
    );
    assert!(set_cookies(&headers).is_empty());
    // An empty cookie value is no token.
    let (_, headers, _) = send(&app, get_with("/probe", header::COOKIE, "grant_session=")).await;
    assert!(set_cookies(&headers).is_empty());
}

#[tokio::test]
async fn set_cookie_when_changed_with_the_attributes() {
    let token = token_with_write("primary");
    let cookie = format!("grant_session={token}");

    let app = app(SessionLayer::new());
    let (status, headers, body) = send(&app, get_with("/clear", header::COOKIE, &cookie)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "cleared"));
    let set = set_cookies(&headers);
    assert_eq!(set.len(), 2, "the handler's cookie and ours: {set:?}");
    assert_eq!(set[0], "theme=dark; Path=/");
    let new = Session::new().token(); // the cleared session
    assert_eq!(
        set[1],
        format!("grant_session={new}; Path=/; HttpOnly; SameSite=Lax")
    );

    // The next request brings the new token back: unchanged, no cookie.
    let next = format!("grant_session={new}");
    let (_, headers, body) = send(&app, get_with("/probe", header::COOKIE, &next)).await;
    assert_eq!(body, "true true true false None");
    assert!(set_cookies(&headers).is_empty());

    let app = crate::app(
        SessionLayer::new()
            .cookie("sid")
            .secure(true)
            .max_age(Duration::from_secs(60))
            .same_site(SameSite::Strict)
            .path("/app"),
    );
    let cookie = format!("sid={token}");
    let (_, headers, _) = send(&app, get_with("/clear", header::COOKIE, &cookie)).await;
    assert_eq!(
        set_cookies(&headers)[1],
        format!("sid={new}; Path=/app; Max-Age=60; Secure; HttpOnly; SameSite=Strict")
    );
}

#[tokio::test]
async fn shard_selector_sets_the_scope_shard() {
    let app = app(SessionLayer::new().shard_selector(|parts| {
        let tenant = parts.headers.get("x-tenant")?.to_str().ok()?;
        Some(format!("tenant_{tenant}"))
    }));
    let req = get_with("/probe", "x-tenant".parse().unwrap(), "acme");
    let (status, _, body) = send(&app, req).await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::OK,
            r#"true true true false Some("tenant_acme")"#
        )
    );
    // No tenant: the selector says None and the shard stays unset.
    let req = Request::get("/probe").body(Body::empty()).unwrap();
    let (_, _, body) = send(&app, req).await;
    assert_eq!(body, "true true true false None");
    // The scope ended with the request.
    assert_eq!(Context::current().shard, None);
    assert!(Session::current().is_none());
}

#[derive(Model, Debug, Clone)]
#[grant(table = "http_notes")]
struct Note {
    id: i64,
    text: String,
}

const CREATE: &str =
    "CREATE TABLE http_notes (id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL)";

async fn create_note(State(db): State<Grant>) -> Result<String, (StatusCode, String)> {
    let mut note = Note {
        id: 0,
        text: "hello".into(),
    };
    note.insert(&db)
        .await
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(note.id.to_string())
}

async fn count_notes(State(db): State<Grant>) -> Result<String, (StatusCode, String)> {
    let n = Note::query()
        .count(&db)
        .await
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(n.to_string())
}

/// Read-your-writes across requests: a POST writes through the writer, its response carries
/// the session cookie, and a GET with that cookie reads the writer (the session's recent
/// write) while a GET without it reads the replica. The "replica" is a second SQLite file
/// that nothing copies rows into: stale by construction, so which one a read went to shows.
///
/// Needs session-aware routing (writes recorded in the session, reads of a recently
/// written database sent to the writer for `replica_delay`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_your_writes_across_requests_sqlite() {
    let writer = common::sqlite_file("http-writer");
    let replica = common::sqlite_file("http-replica");
    // The replica has the table (as a real replica would), never the rows.
    let seed = Grant::connect(&replica).await.unwrap();
    raw(CREATE).execute(&seed).await.unwrap();
    seed.close().await;

    let toml = format!(
        r#"
default = "primary"
[databases.primary]
url = "{writer}"
replicas = ["{replica}"]
replica_delay = "1m"   # long enough that no test machine is slower
"#
    );
    let db = Grant::from_config(Config::from_toml_str(&toml).unwrap()).unwrap();
    connected_to(Role::Writing, raw(CREATE).execute(&db))
        .await
        .unwrap();

    let app = Router::new()
        .route("/notes", get(count_notes).post(create_note))
        .layer(SessionLayer::new())
        .with_state(db.clone());

    let post = Request::post("/notes").body(Body::empty()).unwrap();
    let (status, headers, body) = send(&app, post).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let set = set_cookies(&headers);
    assert_eq!(set.len(), 1, "the write changed the session: {set:?}");
    let cookie = set[0].split(';').next().unwrap().to_owned();
    let session = Session::from_token(cookie.strip_prefix("grant_session=").unwrap()).unwrap();
    assert!(session.last_write("primary", None).is_some());

    let (status, headers, body) = send(&app, get_with("/notes", header::COOKIE, &cookie)).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "1"),
        "with the cookie, the read sees the session's write (writer)"
    );
    assert!(set_cookies(&headers).is_empty(), "a read changes nothing");

    let get = Request::get("/notes").body(Body::empty()).unwrap();
    let (status, _, body) = send(&app, get).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "0"),
        "without it, the read goes to the (stale) replica"
    );
    db.close().await;
}
