//! The accept loop: HTTP/1.1 on hyper with a header-read timeout (`idle.rs`), `TCP_NODELAY` (so
//! that pipelined answers do not wait for acknowledgements), and a cap on concurrent
//! connections beyond which a connection is refused with `503` instead of starving
//! the listener.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::idle::{self, Activity};
use super::service::{self, Shared};

/// How long connections may finish their current request after shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// File descriptors kept free for the listener, refusals and everything else.
const RESERVED_FDS: usize = 64;

/// Refusals (`503`) in progress at once; beyond this a connection is simply closed.
const MAX_REFUSALS: usize = 32;

/// The largest read buffer of a connection (hyper's minimum is 8 KiB).
const MAX_READ_BUFFER: usize = 64 * 1024;

/// The answer to a connection beyond the cap.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 86\r\n\r\n\
{\"errcode\":\"M_UNKNOWN\",\"error\":\"Too many connections to this server; try again later\"}";

/// Serves `listener` until `stop` changes (or is dropped), then gives open
/// connections [`SHUTDOWN_GRACE`] to finish and ends the rest.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<()>) {
    let cap = effective_cap(shared.limits.max_connections);
    let slots = Arc::new(Semaphore::new(cap));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => break,
        };
        while connections.try_join_next().is_some() {}
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors (or a connection aborted before it was
                // accepted): wait a moment rather than spin.
                if !matches!(error.kind(), std::io::ErrorKind::ConnectionAborted) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let shared = shared.clone();
                let stop = stop.clone();
                connections.spawn(async move {
                    serve_connection(stream, shared, stop).await;
                    drop(slot);
                });
            }
            Err(_) => {
                if let Ok(refusal) = refusals.clone().try_acquire_owned() {
                    connections.spawn(async move {
                        refuse(stream).await;
                        drop(refusal);
                    });
                }
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async { while connections.join_next().await.is_some() {} })
        .await;
    connections.shutdown().await;
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>, mut stop: watch::Receiver<()>) {
    let mut builder = http1::Builder::new();
    builder
        .keep_alive(true)
        // Not `pipeline_flush`: with bytes left unread after a malformed body it never
        // flushes the `400`, and the client sees the connection close without an answer.
        .max_buf_size(MAX_READ_BUFFER);
    // The header-read timeout is kept by the watchdog below (`idle.rs`), not by hyper,
    // which would set and drop a timer for every request.
    let activity = Activity::new();
    let timeout = shared.limits.header_read_timeout;
    let service = {
        let activity = activity.clone();
        service_fn(move |req| service::handle(shared.clone(), activity.begin(), req))
    };
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut watchdog = tokio::time::interval(idle::check_interval(timeout));
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = connection.as_mut() => return,
            _ = stop.changed() => {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
                return;
            }
            _ = watchdog.tick() => {
                if activity.overdue(timeout) {
                    return; // dropping the connection closes it
                }
            }
        }
    }
}

/// Answers `503` to a connection beyond the cap, then reads briefly what the client
/// sent (so that closing does not reset the connection before it reads the answer).
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(REFUSAL).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await;
}

/// The connection cap, kept below the process's open-file limit.
fn effective_cap(configured: usize) -> usize {
    let by_fds = open_file_limit().map(|limit| limit.saturating_sub(RESERVED_FDS + MAX_REFUSALS));
    match by_fds {
        Some(by_fds) => configured.min(by_fds.max(limit_floor(configured))),
        None => configured,
    }
    .max(1)
}

/// With a tiny file limit, still serve a few connections.
fn limit_floor(configured: usize) -> usize {
    configured.min(8)
}

/// The soft limit on open files (`RLIMIT_NOFILE`), from `/proc/self/limits` on Linux.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_states_its_length_right() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["errcode"], "M_UNKNOWN");
    }

    #[test]
    fn the_cap_stays_below_the_open_file_limit() {
        let cap = effective_cap(usize::MAX);
        if let Some(limit) = open_file_limit() {
            assert!(cap < limit, "cap {cap} vs limit {limit}");
        }
        assert_eq!(effective_cap(3), 3);
    }
}
