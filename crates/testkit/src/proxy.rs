//! A TCP proxy in front of a gRPC server that can lose an answer: armed
//! with [`CuttingProxy::lose_next_answer`], it forwards the next bytes the
//! client sends (a request) to the server, drops everything the server
//! sends back, and after a while closes the connection. The server did the
//! work (an application committed); the client sees the connection reset
//! and never its answer: what a channel meets when intake is killed, or the
//! network fails, between the commit and the answer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
struct Inner {
    upstream: std::sync::Mutex<Option<SocketAddr>>,
    armed: AtomicBool,
    lost: AtomicUsize,
}

pub struct CuttingProxy {
    /// `http://127.0.0.1:<port>`, for a gRPC client.
    pub url: String,
    inner: Arc<Inner>,
}

impl CuttingProxy {
    /// Listens at once; connects to the server named by
    /// [`CuttingProxy::forward_to`] (connections wait until it is named).
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let inner = Arc::new(Inner::default());
        let shared = inner.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, shared.clone()));
            }
        });
        Self { url, inner }
    }

    pub fn forward_to(&self, upstream: SocketAddr) {
        *self.inner.upstream.lock().unwrap() = Some(upstream);
    }

    /// The next request sent reaches the server; its answer is lost.
    pub fn lose_next_answer(&self) {
        self.inner.armed.store(true, Ordering::SeqCst);
    }

    /// How many answers were lost so far.
    pub fn lost(&self) -> usize {
        self.inner.lost.load(Ordering::SeqCst)
    }
}

async fn serve(mut client: TcpStream, inner: Arc<Inner>) {
    let upstream = loop {
        if let Some(a) = *inner.upstream.lock().unwrap() {
            break a;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let cut = Arc::new(AtomicBool::new(false));
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let to_server = async {
        let mut buf = vec![0u8; 64 * 1024];
        // Once cut: the rest of the request still goes through (its body
        // may come in a later read), for long enough that the server
        // commits and answers into the void; then the connection is gone.
        let mut until: Option<tokio::time::Instant> = None;
        loop {
            let read = match until {
                None => cr.read(&mut buf).await,
                Some(t) => match tokio::time::timeout_at(t, cr.read(&mut buf)).await {
                    Ok(r) => r,
                    Err(_) => return,
                },
            };
            let n = match read {
                Ok(0) | Err(_) => {
                    if let Some(t) = until {
                        tokio::time::sleep_until(t).await;
                    }
                    return;
                }
                Ok(n) => n,
            };
            // A request while armed: it goes through, its answer will not.
            if until.is_none() && inner.armed.swap(false, Ordering::SeqCst) {
                cut.store(true, Ordering::SeqCst);
                inner.lost.fetch_add(1, Ordering::SeqCst);
                until = Some(tokio::time::Instant::now() + Duration::from_secs(1));
            }
            if sw.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let to_client = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if cut.load(Ordering::SeqCst) {
                continue; // the answer is lost
            }
            if cw.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    // Either direction ending ends the connection, both sides closed.
    tokio::select! {
        _ = to_server => {}
        _ = to_client => {}
    }
}
