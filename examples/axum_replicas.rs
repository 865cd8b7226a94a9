//! Read-your-writes across HTTP requests with `grant::http::SessionLayer` on an axum
//! `Router`: a POST writes a row and its response carries the session cookie; a GET that
//! brings the cookie back reads from the writer (the session wrote recently) and sees the
//! row; a GET without it reads the replica, which has not got the row.
//!
//! Runs on two SQLite files in the temp dir, with no server and no listener: the router is
//! driven with `tower::ServiceExt::oneshot`, request by request. In an application, serve it
//! with `axum::serve(listener, app)` (axum's `tokio` and `http1` features).
//!
//! `cargo run --example axum_replicas` (needs the `tower` feature, on by default).

use axum::body::{to_bytes, Body};
use axum::extract::{Extension, State};
use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::Router;
use grant::http::SessionLayer;
use grant::{connected_to, raw, Config, Grant, Model, Role, Session};
use tower::ServiceExt;

#[derive(Model, Debug, Clone)]
#[grant(table = "posts")]
struct Post {
    id: i64,
    title: String,
}

// SQLite has no replication: the "replica" here is a second file with the same table that
// nothing copies rows into, so it is stale forever and shows plainly which one a read went
// to. With PostgreSQL or MariaDB, `replicas` lists real streaming replicas, which lag
// behind the writer by a little: the case read-your-writes is for.
const GRANT_TOML: &str = r#"
default = "primary"

[databases.primary]
url = "sqlite://${DIR}/writer.db"
replicas = ["sqlite://${DIR}/replica.db"]
replica_delay = "30s"   # how long a session reads a database it wrote from the writer (default 2s)
"#;

const CREATE: &str =
    "CREATE TABLE posts (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL)";

type Failure = (StatusCode, String);

fn fail(e: grant::Error) -> Failure {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// POST /posts: a write, so it goes to the writer and is recorded in the request's session.
async fn create_post(State(db): State<Grant>, body: String) -> Result<String, Failure> {
    let mut post = Post { id: 0, title: body };
    post.insert(&db).await.map_err(fail)?;
    Ok(format!("created post {}", post.id))
}

/// GET /posts: a read; the replica unless this session wrote to `primary` recently.
async fn list_posts(
    State(db): State<Grant>,
    Extension(session): Extension<Session>,
) -> Result<String, Failure> {
    let posts = Post::query().all(&db).await.map_err(fail)?;
    let titles: Vec<_> = posts.into_iter().map(|p| p.title).collect();
    let recent = session.last_write("primary", None).is_some();
    Ok(format!("{titles:?} (session wrote to primary: {recent})"))
}

/// Send one request; the status, the `Set-Cookie` header if any, and the body.
async fn send(
    app: &Router,
    req: Request<Body>,
) -> Result<(StatusCode, Option<String>, String), Box<dyn std::error::Error>> {
    let res = app.clone().oneshot(req).await?;
    let status = res.status();
    let cookie = match res.headers().get(header::SET_COOKIE) {
        Some(v) => Some(v.to_str()?.to_owned()),
        None => None,
    };
    let body = to_bytes(res.into_body(), 64 * 1024).await?;
    Ok((status, cookie, String::from_utf8(body.to_vec())?))
}

fn expect(ok: bool, what: &str) -> Result<(), Box<dyn std::error::Error>> {
    if ok {
        println!("   ok: {what}");
        Ok(())
    } else {
        Err(format!("expected: {what}").into())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join("grant-axum-replicas");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let dir_s = dir.display().to_string();
    let vars = |name: &str| (name == "DIR").then(|| dir_s.clone());

    // The replica gets the schema (as a real replica would by replication), never rows.
    let replica = Grant::connect(&format!("sqlite://{dir_s}/replica.db")).await?;
    raw(CREATE).execute(&replica).await?;
    replica.close().await;

    let db = Grant::from_config(Config::from_toml_str_with(
        GRANT_TOML,
        "development",
        &vars,
    )?)?;
    connected_to(Role::Writing, raw(CREATE).execute(&db)).await?;

    // The layer restores each request's session from the `grant_session` cookie, runs the
    // handler in it, and sets the cookie again when the handler changed the session.
    let app = Router::new()
        .route("/posts", get(list_posts).post(create_post))
        .layer(SessionLayer::new())
        .with_state(db.clone());

    println!("1. POST /posts (a write)");
    let req = Request::post("/posts").body(Body::from("Hello, replicas"))?;
    let (status, set_cookie, body) = send(&app, req).await?;
    println!("   {status} {body:?}\n   set-cookie: {set_cookie:?}");
    expect(status == StatusCode::OK, "the POST succeeds")?;
    let set_cookie = set_cookie.unwrap_or_default();
    expect(
        set_cookie.starts_with("grant_session=g1."),
        "the response sets the session cookie (the session recorded the write)",
    )?;
    // What a browser sends back: the `name=value` part.
    let cookie = set_cookie.split(';').next().unwrap_or_default().to_owned();

    println!("2. GET /posts with the cookie (the same user, right after)");
    let req = Request::get("/posts")
        .header(header::COOKIE, &cookie)
        .body(Body::empty())?;
    let (status, set_cookie, body) = send(&app, req).await?;
    println!("   {status} {body}");
    expect(status == StatusCode::OK, "the GET succeeds")?;
    expect(
        body.starts_with(r#"["Hello, replicas"]"#),
        "the read went to the writer and sees the post (read-your-writes)",
    )?;
    expect(
        set_cookie.is_none(),
        "a read changes nothing: no new cookie",
    )?;

    println!("3. GET /posts without the cookie (another user)");
    let req = Request::get("/posts").body(Body::empty())?;
    let (status, set_cookie, body) = send(&app, req).await?;
    println!("   {status} {body}");
    expect(status == StatusCode::OK, "the GET succeeds")?;
    expect(
        body.starts_with("[]"),
        "the read went to the replica, which has not got the post",
    )?;
    expect(set_cookie.is_none(), "no session, no write: no cookie")?;

    println!("4. GET /posts with a tampered cookie");
    let tampered = cookie.replacen("g1.", "g1.X", 1);
    let req = Request::get("/posts")
        .header(header::COOKIE, &tampered)
        .body(Body::empty())?;
    let (status, set_cookie, body) = send(&app, req).await?;
    println!("   {status} {body}\n   set-cookie: {set_cookie:?}");
    expect(
        status == StatusCode::OK && body.starts_with("[]"),
        "a bad token is a fresh session (replica), not an error",
    )?;

    db.close().await;
    println!("done");
    Ok(())
}
