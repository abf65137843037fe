//! The HTTP shell holds up against clients that misbehave: half-sent headers and
//! bodies are cut off after their timeout, the connection cap holds and refuses with
//! `503` rather than starving the listener, a body the HTTP layer cannot decode gets
//! `400` (never `413`), and pipelined requests are all answered, in order.
//!
//! Each test speaks raw HTTP/1.1 over TCP. The timeouts under test are short (300 ms)
//! and every wait of the test is bounded far above them (10 s), so a slow machine
//! cannot make a correct server fail.

use std::time::Duration;

use mock_homeserver::MockHomeserver;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Far above every timeout under test.
const PATIENCE: Duration = Duration::from_secs(10);

async fn server_with(header_ms: u64, body_ms: u64, max_connections: usize) -> MockHomeserver {
    MockHomeserver::builder()
        .header_read_timeout(Duration::from_millis(header_ms))
        .body_read_timeout(Duration::from_millis(body_ms))
        .max_connections(max_connections)
        .start()
        .await
        .expect("bind loopback")
}

async fn connect(server: &MockHomeserver) -> TcpStream {
    TcpStream::connect(server.addr()).await.expect("connect")
}

/// Everything the server sends until it closes the connection; fails the test if it
/// does not close within [`PATIENCE`].
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open: {}", String::from_utf8_lossy(&out));
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads one response with a `content-length` (bounded by [`PATIENCE`]).
async fn read_response(stream: &mut TcpStream, pending: &mut Vec<u8>) -> (u16, String) {
    tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&pending[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .map(|v| v.trim().parse().expect("length"))
                    .unwrap_or(0);
                if pending.len() >= end + 4 + length {
                    let status = head[9..12].parse().expect("status");
                    let body = String::from_utf8_lossy(&pending[end + 4..end + 4 + length]).into_owned();
                    pending.drain(..end + 4 + length);
                    return (status, body);
                }
            }
            let mut buf = [0u8; 8192];
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed before a whole response");
            pending.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("a response in time")
}

fn status_of(response: &str) -> u16 {
    response.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}

const VERSIONS: &str = "GET /_matrix/client/versions HTTP/1.1\r\nhost: localhost\r\n\r\n";

#[tokio::test]
async fn half_sent_headers_are_closed_after_the_header_timeout() {
    let server = server_with(300, 60_000, 64).await;
    let mut stream = connect(&server).await;
    stream.write_all(b"GET /_matrix/client/versions HTTP/1.1\r\nhost: local").await.unwrap();
    let answer = read_to_close(&mut stream).await;
    assert!(!answer.contains("200"), "no answer to a request never finished: {answer}");
    assert!(server.journal().is_empty());
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let server = server_with(300, 60_000, 64).await;
    let mut stream = connect(&server).await;
    stream.write_all(VERSIONS.as_bytes()).await.unwrap();
    let mut pending = Vec::new();
    assert_eq!(read_response(&mut stream, &mut pending).await.0, 200);
    // Nothing more is sent: the connection must not hold a slot for ever.
    assert_eq!(read_to_close(&mut stream).await, "");
}

#[tokio::test]
async fn a_half_sent_body_gets_408_and_the_connection_is_closed() {
    let server = server_with(60_000, 300, 64).await;
    let mut stream = connect(&server).await;
    let head = "POST /_matrix/client/v3/keys/query HTTP/1.1\r\nhost: localhost\r\n\
                content-type: application/json\r\ncontent-length: 100\r\n\r\n{\"device_keys\"";
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut stream).await;
    assert_eq!(status_of(&answer), 408, "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
}

#[tokio::test]
async fn the_connection_cap_refuses_with_503_and_frees_slots_when_connections_close() {
    let server = server_with(60_000, 60_000, 4).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = connect(&server).await;
        // Each held connection is served once, so it surely occupies a slot.
        stream.write_all(VERSIONS.as_bytes()).await.unwrap();
        let mut pending = Vec::new();
        assert_eq!(read_response(&mut stream, &mut pending).await.0, 200);
        held.push(stream);
    }
    let mut fifth = connect(&server).await;
    let _ = fifth.write_all(VERSIONS.as_bytes()).await;
    let refused = read_to_close(&mut fifth).await;
    assert_eq!(status_of(&refused), 503, "{refused}");
    assert!(refused.contains("M_UNKNOWN"), "{refused}");

    // Closing a held connection frees its slot; the server notices within PATIENCE.
    drop(held.pop());
    let served = tokio::time::timeout(PATIENCE, async {
        loop {
            let mut stream = connect(&server).await;
            stream.write_all(VERSIONS.as_bytes()).await.unwrap();
            let mut pending = Vec::new();
            let mut buf = [0u8; 4096];
            if let Ok(n) = stream.read(&mut buf).await {
                pending.extend_from_slice(&buf[..n]);
                if status_of(&String::from_utf8_lossy(&pending)) == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(served.is_ok(), "a freed slot serves a new connection");
}

/// Sends a chunked `PUT /sendToDevice` with this raw body and returns the whole answer.
async fn chunked_put(server: &MockHomeserver, extra_headers: &str, raw_body: &str) -> String {
    let mut stream = connect(server).await;
    let request = format!(
        "PUT /_matrix/client/v3/sendToDevice/m.x/1 HTTP/1.1\r\nhost: localhost\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\n{extra_headers}\r\n{raw_body}"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    read_to_close(&mut stream).await
}

#[tokio::test]
async fn a_malformed_chunked_body_gets_400_not_413() {
    let server = server_with(60_000, 60_000, 64).await;
    let cases = [
        ("bad chunk size", "", "zz\r\n{}\r\n0\r\n\r\n"),
        ("missing CRLF after a chunk", "", "2\r\n{}XX0\r\n\r\n"),
        ("content-length with bad chunks", "content-length: 9\r\n", "2\r\n{}XX0\r\n\r\n"),
    ];
    for (what, headers, body) in cases {
        let answer = chunked_put(&server, headers, body).await;
        assert_eq!(status_of(&answer), 400, "{what}: {answer}");
        assert!(answer.contains("\"errcode\":\"M_NOT_JSON\""), "{what}: {answer}");
        assert!(answer.contains("Malformed request body"), "{what}: {answer}");
    }
}

#[tokio::test]
async fn content_length_with_a_valid_chunked_body_is_read_as_chunked_then_closed() {
    // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length, and the server
    // closes the connection after answering. The body is a fine JSON object, so the
    // answer is the endpoint's own (no token here), not 413.
    let server = server_with(60_000, 60_000, 64).await;
    let answer = chunked_put(&server, "content-length: 5\r\n", "2\r\n{}\r\n0\r\n\r\n").await;
    assert_eq!(status_of(&answer), 401, "{answer}");
    assert!(answer.contains("M_MISSING_TOKEN"), "{answer}");
}

#[tokio::test]
async fn a_declared_body_over_the_hard_limit_gets_413_without_being_read() {
    let server = server_with(60_000, 60_000, 64).await;
    let mut stream = connect(&server).await;
    let head =
        "POST /_matrix/client/v3/keys/query HTTP/1.1\r\nhost: localhost\r\ncontent-length: 5000000\r\n\r\n{";
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut stream).await;
    assert_eq!(status_of(&answer), 413, "{answer}");
    assert!(answer.contains("M_TOO_LARGE"), "{answer}");
}

#[tokio::test]
async fn pipelined_requests_are_all_answered_in_order() {
    let server = server_with(60_000, 60_000, 64).await;
    let mut stream = connect(&server).await;
    let mut batch = String::new();
    for i in 0..8 {
        // Alternate an endpoint that answers 200 with one that answers 404, so the
        // order of the answers is visible.
        if i % 2 == 0 {
            batch.push_str(VERSIONS);
        } else {
            batch.push_str("GET /_matrix/client/v3/nonexistent HTTP/1.1\r\nhost: localhost\r\n\r\n");
        }
    }
    stream.write_all(batch.as_bytes()).await.unwrap();
    let mut pending = Vec::new();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(read_response(&mut stream, &mut pending).await.0);
    }
    assert_eq!(statuses, [200, 404, 200, 404, 200, 404, 200, 404]);
    let journal = server.journal();
    assert_eq!(journal.len(), 8);
    assert!(journal.iter().enumerate().all(|(i, e)| e.status == if i % 2 == 0 { 200 } else { 404 }));
}
