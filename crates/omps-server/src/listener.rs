//! The HTTP listener with inbound limits, on hyper's HTTP/1 connection builder (what
//! `axum::serve` does not expose):
//!
//! - a request head must be complete within `header_read_timeout` of the server waiting for it;
//! - a connection without a request in progress is closed after `keep_alive_timeout`;
//! - a request body must average `min_body_rate` bytes per second once `body_rate_grace` has
//!   passed, else the request ends with 408 `OMPSRequestTimeout` and the connection is closed;
//! - at most `max_connections` are open: past it, the connection idle for longest is closed to
//!   make room, or, when every connection has a request in progress, the new one is answered
//!   503 `OMPSServerBusy` and closed.
//!
//! So slow or idle clients cannot hold the server's connections or file descriptors, and health
//! checks of other clients keep being answered.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tower::ServiceExt as _;

use crate::config::Config;
use crate::error::ApiError;

/// The inbound limits of [`serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboundLimits {
    /// A request head must be complete within this long of the server waiting for it.
    pub header_read_timeout: Duration,
    /// A connection without a request in progress is closed after this long.
    pub keep_alive_timeout: Duration,
    /// Bytes per second a body must average once `body_rate_grace` has passed.
    pub min_body_rate: u64,
    /// How long a body may take before `min_body_rate` applies.
    pub body_rate_grace: Duration,
    /// Open connections at most.
    pub max_connections: usize,
}

impl InboundLimits {
    /// The limits of a configuration.
    #[must_use]
    pub fn from_config(config: &Config) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(config.header_read_timeout),
            keep_alive_timeout: Duration::from_secs(config.keep_alive_timeout),
            min_body_rate: config.min_body_rate,
            body_rate_grace: Duration::from_secs(config.body_rate_grace),
            max_connections: config.max_connections,
        }
    }
}

/// One open connection, as the accept loop and its watchdog see it.
#[derive(Debug)]
struct Conn {
    in_flight: AtomicUsize,
    /// Milliseconds since the registry's epoch when the connection last became idle.
    idle_since: AtomicU64,
    /// The connection must end now (evicted to make room).
    doomed: AtomicBool,
    wake: Notify,
}

impl Conn {
    fn doom(&self) {
        self.doomed.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

#[derive(Debug)]
struct Registry {
    epoch: Instant,
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a new connection, making room first when the cap is reached; `None` when
    /// every connection has a request in progress.
    fn admit(&self, max: usize) -> Option<(u64, Arc<Conn>)> {
        let mut conns = self.lock();
        // Doomed connections are on their way out; they do not count.
        let open = conns
            .values()
            .filter(|c| !c.doomed.load(Ordering::SeqCst))
            .count();
        if open >= max {
            let victim = conns
                .values()
                .filter(|c| {
                    !c.doomed.load(Ordering::SeqCst) && c.in_flight.load(Ordering::SeqCst) == 0
                })
                .min_by_key(|c| c.idle_since.load(Ordering::SeqCst))
                .cloned()?;
            victim.doom();
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(self.now_ms()),
            doomed: AtomicBool::new(false),
            wake: Notify::new(),
        });
        conns.insert(id, conn.clone());
        Some((id, conn))
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }
}

/// Serves `router` on `listener` under `limits` until `shutdown` completes; then stops
/// accepting, lets requests in progress finish and closes idle connections, waiting at most
/// `drain` for them.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: InboundLimits,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> std::io::Result<()> {
    let registry = Arc::new(Registry {
        epoch: Instant::now(),
        next_id: AtomicU64::new(0),
        conns: Mutex::new(HashMap::new()),
    });
    let stopping = Arc::new(Notify::new());
    let stopped = Arc::new(AtomicBool::new(false));
    let tracker = tokio_util::task::TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Some((id, conn)) = registry.admit(limits.max_connections) else {
            tracker.spawn(refuse(stream));
            continue;
        };
        let task = connection(
            stream,
            router.clone(),
            limits,
            registry.clone(),
            conn,
            stopping.clone(),
            stopped.clone(),
        );
        let registry = registry.clone();
        tracker.spawn(async move {
            task.await;
            registry.remove(id);
        });
    }
    drop(listener);
    stopped.store(true, Ordering::SeqCst);
    stopping.notify_waiters();
    tracker.close();
    if tokio::time::timeout(drain, tracker.wait()).await.is_err() {
        tracing::warn!(
            "connections still open after {} s; closing them",
            drain.as_secs()
        );
    }
    Ok(())
}

/// Answers 503 to a connection over the cap, without reading its request.
async fn refuse(mut stream: TcpStream) {
    let body = ApiError::new(
        crate::error::ErrorId::OMPSServerBusy,
        "The server has no free connection; try again later",
    )
    .with("retry_after", serde_json::json!(1))
    .body()
    .to_string();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

async fn connection(
    stream: TcpStream,
    router: Router,
    limits: InboundLimits,
    registry: Arc<Registry>,
    conn: Arc<Conn>,
    stopping: Arc<Notify>,
    stopped: Arc<AtomicBool>,
) {
    let service = ConnService {
        router,
        limits,
        registry: registry.clone(),
        conn: conn.clone(),
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let serving = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(serving);
    let tick = limits
        .keep_alive_timeout
        .min(Duration::from_secs(1))
        .max(Duration::from_millis(50));
    let mut draining = stopped.load(Ordering::SeqCst);
    if draining {
        serving.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = serving.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended");
                }
                return;
            }
            () = conn.wake.notified() => {}
            () = stopping.notified(), if !draining => {
                draining = true;
                serving.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep(tick) => {}
        }
        let idle = conn.in_flight.load(Ordering::SeqCst) == 0;
        if conn.doomed.load(Ordering::SeqCst) {
            // Dropping the connection closes the socket. A request in progress whose push was
            // detached finishes anyway (the push service tracks it).
            return;
        }
        let idle_for = registry
            .now_ms()
            .saturating_sub(conn.idle_since.load(Ordering::SeqCst));
        if idle && u128::from(idle_for) >= limits.keep_alive_timeout.as_millis() {
            return;
        }
    }
}

/// The router behind one connection: counts requests in progress and applies the body rate.
#[derive(Clone)]
struct ConnService {
    router: Router,
    limits: InboundLimits,
    registry: Arc<Registry>,
    conn: Arc<Conn>,
}

/// Marks the connection idle when the request's response is ready.
struct InFlight {
    registry: Arc<Registry>,
    conn: Arc<Conn>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.conn
            .idle_since
            .store(self.registry.now_ms(), Ordering::SeqCst);
        self.conn.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.conn.wake.notify_one();
    }
}

impl hyper::service::Service<hyper::Request<Incoming>> for ConnService {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        self.conn.in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = InFlight {
            registry: self.registry.clone(),
            conn: self.conn.clone(),
        };
        let limits = self.limits;
        let request = request.map(|body| {
            axum::body::Body::new(MinRateBody {
                inner: body,
                started: tokio::time::Instant::now(),
                received: 0,
                limits,
                deadline: Box::pin(tokio::time::sleep(limits.body_rate_grace)),
            })
        });
        let router = self.router.clone();
        Box::pin(async move {
            let response = router.oneshot(request).await;
            drop(guard);
            response
        })
    }
}

/// A request body that fails with [`SlowBody`] when it falls below the minimum rate.
struct MinRateBody {
    inner: Incoming,
    started: tokio::time::Instant,
    received: u64,
    limits: InboundLimits,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

/// The request body arrived slower than `min_body_rate`.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the request body arrived slower than the minimum rate")]
pub struct SlowBody;

impl MinRateBody {
    /// When the bytes received so far stop being enough: the grace plus what they buy at the
    /// minimum rate.
    fn next_deadline(&self) -> tokio::time::Instant {
        let bought = Duration::from_secs_f64(
            u64_to_f64(self.received) / u64_to_f64(self.limits.min_body_rate.max(1)),
        );
        self.started + self.limits.body_rate_grace + bought
    }
}

#[allow(clippy::cast_precision_loss)] // byte counts far below 2^52
fn u64_to_f64(n: u64) -> f64 {
    n as f64
}

impl http_body::Body for MinRateBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    let next = this.next_deadline();
                    this.deadline.as_mut().reset(next);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    // The request ends with 408; hyper does not reuse a connection whose body
                    // was not read to the end, and the idle timeout closes it in any case.
                    tracing::warn!(
                        received = this.received,
                        "request body slower than the minimum rate"
                    );
                    return Poll::Ready(Some(Err(SlowBody.into())));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether an error (a multipart or body error) was caused by [`SlowBody`].
pub fn is_slow_body(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<SlowBody>() {
            return true;
        }
        current = e.source();
    }
    false
}

/// The soft limit on open files, from `/proc/self/limits` (Linux).
#[must_use]
pub fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}
