//! A small TCP proxy under a test's control, to simulate a server that is down, refuses,
//! resets or freezes (accepts and never answers) without touching the shared servers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward both ways.
    Forward,
    /// Accept connections but pass nothing on, either way (a SIGSTOPped server).
    Frozen,
    /// Accept connections and reset them at once.
    Reset,
    /// Down, but able to come back: every open connection is dropped and new ones are
    /// reset at once, until the mode is set to `Forward` again (unlike `Killed`).
    Down,
    /// Gone: the listener is closed and every connection dropped (refused from now on).
    Killed,
}

/// A proxy from a local port to `upstream`; dropped, it is killed.
pub struct Proxy {
    pub addr: SocketAddr,
    mode: Arc<watch::Sender<Mode>>,
}

impl Proxy {
    /// Start a proxy to `upstream` (host:port).
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = watch::channel(Mode::Forward);
        let upstream = upstream.to_string();
        tokio::spawn(accept_loop(listener, upstream, rx));
        Proxy {
            addr,
            mode: Arc::new(tx),
        }
    }

    /// Change what the proxy does.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// `url` with its host:port replaced by the proxy's.
    pub fn url(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").unwrap();
        let (auth_host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let auth = auth_host
            .rsplit_once('@')
            .map(|(a, _)| format!("{a}@"))
            .unwrap_or_default();
        format!("{scheme}://{auth}{}/{path}", self.addr)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.mode.send_replace(Mode::Killed);
    }
}

/// A local address where nothing listens (connections are refused).
pub async fn dead_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

/// host:port of a URL.
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let host = rest.split('/').next().unwrap();
    host.rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(host)
        .to_string()
}

async fn accept_loop(listener: TcpListener, upstream: String, mut mode: watch::Receiver<Mode>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { return };
                let current = *mode.borrow();
                match current {
                    Mode::Killed => return,
                    Mode::Reset | Mode::Down => {
                        #[allow(deprecated)]
                        let _ = client.set_linger(Some(std::time::Duration::ZERO));
                        drop(client);
                    }
                    _ => {
                        tokio::spawn(serve(client, upstream.clone(), mode.clone()));
                    }
                }
            }
            changed = mode.changed() => {
                if changed.is_err() || *mode.borrow() == Mode::Killed {
                    return; // drops the listener: refused from now on
                }
            }
        }
    }
}

/// Wait until the mode is not `Frozen`; false when killed or down (drop the connection).
async fn thawed(mode: &mut watch::Receiver<Mode>) -> bool {
    loop {
        match *mode.borrow_and_update() {
            Mode::Killed | Mode::Down => return false,
            Mode::Frozen => {}
            _ => return true,
        }
        if mode.changed().await.is_err() {
            return false;
        }
    }
}

async fn serve(client: TcpStream, upstream: String, mut mode: watch::Receiver<Mode>) {
    // A frozen proxy accepts but does not even connect on.
    if !thawed(&mut mode).await {
        return;
    }
    let Ok(server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let a = tokio::spawn(pump(cr, sw, mode.clone()));
    let b = tokio::spawn(pump(sr, cw, mode));
    let _ = tokio::join!(a, b);
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !thawed(&mut mode).await {
            return;
        }
        tokio::select! {
            n = from.read(&mut buf) => {
                let n = match n { Ok(0) | Err(_) => return, Ok(n) => n };
                // Data read just before a freeze is held until the thaw.
                if !thawed(&mut mode).await || to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}
