//! A TCP proxy on loopback that a test can cut or stall: the fault injector for "the
//! database (or Redis) went away" without touching the real service other tests use.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Forwards bytes both ways.
    Open,
    /// Closes every connection and refuses (closes) new ones: a service that is down.
    Cut,
    /// Keeps connections open but forwards nothing: a service that hangs.
    Stall,
}

pub struct Proxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A proxy to `upstream` on 127.0.0.1:0.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, watcher) = watch::channel(Mode::Open);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let watcher = watcher.clone();
                tokio::spawn(async move {
                    if *watcher.borrow() == Mode::Cut {
                        return;
                    }
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::select! {
                        _ = pump(cr, sw, watcher.clone()) => {}
                        _ = pump(sr, cw, watcher.clone()) => {}
                    }
                });
            }
        });
        Proxy { addr, mode, task }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies `from` to `to` while the mode allows; returns (closing both) when cut.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // Wait until forwarding is allowed; a cut ends the connection.
        loop {
            let now = *mode.borrow_and_update();
            match now {
                Mode::Open => break,
                Mode::Cut => return,
                Mode::Stall => {}
            }
            if mode.changed().await.is_err() {
                return;
            }
        }
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = mode.changed() => continue,
        };
        // Bytes read while a stall began are held until it ends.
        loop {
            let now = *mode.borrow_and_update();
            match now {
                Mode::Open => break,
                Mode::Cut => return,
                Mode::Stall => {
                    if mode.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
