//! The MSC3886 rendezvous over HTTP: every status code, headers, ETags, content
//! types, Location forms, expiry and CORS.

mod common;

use std::sync::Arc;

use common::TestServer;
use mock_homeserver::{ManualClock, MockHomeserver, Profile, RendezvousLocation, RendezvousProfile};
use reqwest::header::HeaderMap;
use serde_json::Value;

const CREATE: &str = "/_matrix/client/unstable/org.matrix.msc3886/rendezvous";

/// A rendezvous answer: status, headers, raw body.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn errcode(&self) -> Option<String> {
        let body: Value = serde_json::from_slice(&self.body).ok()?;
        body["errcode"].as_str().map(str::to_owned)
    }
}

async fn request(
    ts: &TestServer,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let url = if url.starts_with("http") { url.to_owned() } else { ts.url(url) };
    let mut builder = ts.http.request(method, url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    if let Some((content_type, bytes)) = body {
        builder = builder.header("content-type", content_type).body(bytes.to_vec());
    }
    let response = builder.send().await.expect("request reaches the server");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap().to_vec();
    Answer { status, headers, body }
}

/// Creates a session with a JSON payload; returns the answer and the session URL.
async fn create(ts: &TestServer, payload: &[u8]) -> (Answer, String) {
    let answer = request(ts, "POST", CREATE, &[], Some(("application/json", payload))).await;
    assert_eq!(answer.status, 201);
    let location = answer.header("location").expect("Location").to_owned();
    (answer, location)
}

async fn with_clock(profile: Profile) -> (TestServer, ManualClock) {
    let clock = ManualClock::new();
    let server =
        MockHomeserver::builder().profile(profile).clock(Arc::new(clock.clone())).start().await.unwrap();
    (TestServer { server, http: reqwest::Client::new() }, clock)
}

fn strict() -> Profile {
    Profile {
        rendezvous: RendezvousProfile {
            require_if_match: true,
            unique_etags: true,
            extend_on_put: true,
            ttl_ms: 30_000,
            max_bytes: 10_240,
            ..RendezvousProfile::default()
        },
        ..Profile::default()
    }
}

#[tokio::test]
async fn create_answers_201_with_every_header() {
    let (ts, _clock) = with_clock(Profile::default()).await;
    let (answer, location) = create(&ts, b"{}").await;
    assert!(answer.body.is_empty());
    let id = location.rsplit('/').next().unwrap();
    assert_eq!(location, format!("{}{CREATE}/{id}", ts.server.base_url()), "absolute by default");
    assert_eq!(answer.header("x-max-bytes"), Some("4096"));
    // The content hash: base64url with padding of SHA-256("{}").
    assert_eq!(answer.header("etag"), Some("\"RBNvo1WzZ4oRRq0W9-hknpT7T8If536DEMBg9hyq_4o=\""));
    assert_eq!(answer.header("last-modified"), Some("Mon, 01 Jan 2024 00:00:00 GMT"));
    assert_eq!(answer.header("expires"), Some("Mon, 01 Jan 2024 00:01:00 GMT"));
}

#[tokio::test]
async fn the_bare_id_profile_sends_a_relative_location() {
    let profile = Profile {
        rendezvous: RendezvousProfile { location: RendezvousLocation::BareId, ..Default::default() },
        ..Profile::default()
    };
    let ts = TestServer::start(profile).await;
    let (_, location) = create(&ts, b"{}").await;
    assert!(!location.contains('/') && !location.is_empty(), "{location}");
    let read = request(&ts, "GET", &format!("{CREATE}/{location}"), &[], None).await;
    assert_eq!(read.status, 200);
}

#[tokio::test]
async fn put_get_304_and_delete() {
    let (ts, clock) = with_clock(Profile::default()).await;
    let (created, url) = create(&ts, b"{\"k\":1}").await;
    let etag0 = created.header("etag").unwrap().to_owned();

    clock.advance_ms(2_000);
    let put =
        request(&ts, "PUT", &url, &[("if-match", &etag0)], Some(("application/json", b"{\"k\":2}"))).await;
    assert_eq!(put.status, 202);
    let etag1 = put.header("etag").unwrap().to_owned();
    assert_ne!(etag1, etag0);
    assert_eq!(put.header("last-modified"), Some("Mon, 01 Jan 2024 00:00:02 GMT"));
    assert_eq!(put.header("expires"), Some("Mon, 01 Jan 2024 00:01:00 GMT"), "not extended by default");
    assert_eq!(put.header("x-max-bytes"), Some("4096"));

    let read = request(&ts, "GET", &url, &[("if-none-match", &etag0)], None).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body, b"{\"k\":2}");
    assert_eq!(read.header("content-type"), Some("application/json"));
    assert_eq!(read.header("etag"), Some(etag1.as_str()));
    assert!(read.header("expires").is_some() && read.header("last-modified").is_some());

    let unchanged = request(&ts, "GET", &url, &[("if-none-match", &etag1)], None).await;
    assert_eq!(unchanged.status, 304);
    assert_eq!(unchanged.header("etag"), Some(etag1.as_str()), "ETag is always sent on 304");
    assert!(unchanged.body.is_empty());
    assert_eq!(unchanged.header("x-max-bytes"), Some("4096"));

    // A PUT without If-Match is accepted in the deployed profile.
    let blind = request(&ts, "PUT", &url, &[], Some(("application/json", b"{\"k\":3}"))).await;
    assert_eq!(blind.status, 202);

    let deleted = request(&ts, "DELETE", &url, &[], None).await;
    assert_eq!(deleted.status, 204);
    for method in ["GET", "PUT", "DELETE"] {
        let gone = request(&ts, method, &url, &[], Some(("application/json", b"{}"))).await;
        assert_eq!((gone.status, gone.errcode().as_deref()), (404, Some("M_NOT_FOUND")), "{method}");
        assert_eq!(gone.header("x-max-bytes"), Some("4096"));
    }
}

#[tokio::test]
async fn the_content_type_is_echoed_exactly() {
    let ts = TestServer::start(Profile::default()).await;
    let (_, url) = create(&ts, b"{}").await;
    for content_type in ["application/json; charset=utf-8", "text/plain", "application/json"] {
        let put = request(&ts, "PUT", &url, &[], Some((content_type, b"{}"))).await;
        assert_eq!(put.status, 202);
        let read = request(&ts, "GET", &url, &[], None).await;
        assert_eq!(read.header("content-type"), Some(content_type));
    }
    // No Content-Type on the write: application/octet-stream.
    let put = request(&ts, "PUT", &url, &[], None).await;
    assert_eq!(put.status, 202);
    let read = request(&ts, "GET", &url, &[], None).await;
    assert_eq!(read.header("content-type"), Some("application/octet-stream"));
    assert!(read.body.is_empty());
}

#[tokio::test]
async fn a_stale_if_match_is_412_with_the_current_headers() {
    let ts = TestServer::start(Profile::default()).await;
    let (created, url) = create(&ts, b"{\"a\":1}").await;
    let etag0 = created.header("etag").unwrap().to_owned();
    let put =
        request(&ts, "PUT", &url, &[("if-match", &etag0)], Some(("application/json", b"{\"a\":2}"))).await;
    let etag1 = put.header("etag").unwrap().to_owned();

    let stale =
        request(&ts, "PUT", &url, &[("if-match", &etag0)], Some(("application/json", b"{\"a\":3}"))).await;
    assert_eq!((stale.status, stale.errcode().as_deref()), (412, Some("M_CONCURRENT_WRITE")));
    assert_eq!(stale.header("etag"), Some(etag1.as_str()));
    assert!(stale.header("expires").is_some() && stale.header("last-modified").is_some());
    let read = request(&ts, "GET", &url, &[], None).await;
    assert_eq!(read.body, b"{\"a\":2}", "the rejected write is not stored");

    // `*` and a list containing the current tag pass in the deployed profile.
    let star = request(&ts, "PUT", &url, &[("if-match", "*")], Some(("application/json", b"{}"))).await;
    assert_eq!(star.status, 202);
    let current = star.header("etag").unwrap().to_owned();
    let list = format!("\"nope\", {current}");
    let listed = request(&ts, "PUT", &url, &[("if-match", &list)], Some(("application/json", b"{}"))).await;
    assert_eq!(listed.status, 202);
}

#[tokio::test]
async fn too_large_payloads_are_413() {
    let ts = TestServer::start(Profile::default()).await;
    let big = vec![b'x'; 4097];
    let post = request(&ts, "POST", CREATE, &[], Some(("application/octet-stream", &big))).await;
    assert_eq!((post.status, post.errcode().as_deref()), (413, Some("M_TOO_LARGE")));
    assert_eq!(post.header("x-max-bytes"), Some("4096"));

    let (_, url) = create(&ts, &big[..4096]).await;
    let put = request(&ts, "PUT", &url, &[], Some(("application/octet-stream", &big))).await;
    assert_eq!((put.status, put.errcode().as_deref()), (413, Some("M_TOO_LARGE")));
    let read = request(&ts, "GET", &url, &[], None).await;
    assert_eq!(read.body.len(), 4096);
}

#[tokio::test]
async fn unknown_and_expired_sessions_are_404() {
    let (ts, clock) = with_clock(Profile::default()).await;
    let unknown = request(&ts, "GET", &format!("{CREATE}/NOSUCHSESSION"), &[], None).await;
    assert_eq!((unknown.status, unknown.errcode().as_deref()), (404, Some("M_NOT_FOUND")));

    let (_, url) = create(&ts, b"{}").await;
    clock.advance_ms(59_999);
    assert_eq!(request(&ts, "GET", &url, &[], None).await.status, 200);
    clock.advance_ms(1);
    let expired = request(&ts, "GET", &url, &[], None).await;
    assert_eq!((expired.status, expired.errcode().as_deref()), (404, Some("M_NOT_FOUND")));

    // Expiry by the operator.
    let (_, url) = create(&ts, b"{}").await;
    ts.server.expire_rendezvous_now();
    assert_eq!(request(&ts, "PUT", &url, &[], Some(("application/json", b"{}"))).await.status, 404);
}

#[tokio::test]
async fn the_strict_profile_requires_a_single_strong_if_match() {
    let (ts, clock) = with_clock(strict()).await;
    let (created, url) = create(&ts, b"{}").await;
    assert_eq!(created.header("x-max-bytes"), Some("10240"));
    let etag = created.header("etag").unwrap().to_owned();
    let json = Some(("application/json", b"{}".as_slice()));

    let missing = request(&ts, "PUT", &url, &[], json).await;
    assert_eq!((missing.status, missing.errcode().as_deref()), (400, Some("M_MISSING_PARAM")));
    let weak = format!("W/{etag}");
    let list = format!("{etag}, \"other\"");
    for bad in [weak.as_str(), list.as_str(), "*", "unquoted"] {
        let answer = request(&ts, "PUT", &url, &[("if-match", bad)], json).await;
        assert_eq!((answer.status, answer.errcode().as_deref()), (400, Some("M_INVALID_PARAM")), "{bad}");
    }
    let wrong = request(&ts, "PUT", &url, &[("if-match", "\"other\"")], json).await;
    assert_eq!((wrong.status, wrong.errcode().as_deref()), (412, Some("M_CONCURRENT_WRITE")));

    // Same bytes, new ETag (unique per write); the expiry moves with every PUT.
    clock.advance_ms(10_000);
    let put = request(&ts, "PUT", &url, &[("if-match", &etag)], json).await;
    assert_eq!(put.status, 202);
    assert_ne!(put.header("etag"), Some(etag.as_str()));
    assert_eq!(put.header("expires"), Some("Mon, 01 Jan 2024 00:00:40 GMT"));
    clock.advance_ms(25_000);
    assert_eq!(request(&ts, "GET", &url, &[], None).await.status, 200, "alive thanks to the extension");
}

#[tokio::test]
async fn identical_payloads_get_identical_etags_by_default() {
    let ts = TestServer::start(Profile::default()).await;
    let (created, url) = create(&ts, b"same").await;
    let put = request(&ts, "PUT", &url, &[], Some(("text/plain", b"same"))).await;
    assert_eq!(put.header("etag"), created.header("etag"));
}

#[tokio::test]
async fn options_preflight_is_204_with_cors_headers() {
    let ts = TestServer::start(Profile::default()).await;
    let (_, url) = create(&ts, b"{}").await;
    for target in [CREATE.to_owned(), url] {
        let answer = request(
            &ts,
            "OPTIONS",
            &target,
            &[("origin", "https://app.example"), ("access-control-request-method", "PUT")],
            None,
        )
        .await;
        assert_eq!(answer.status, 204, "{target}");
        assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
        let methods = answer.header("access-control-allow-methods").unwrap();
        for method in ["GET", "PUT", "POST", "DELETE"] {
            assert!(methods.split(',').any(|m| m.trim() == method), "{methods}");
        }
        let allowed = answer.header("access-control-allow-headers").unwrap().to_ascii_lowercase();
        for header in ["content-type", "if-match", "if-none-match"] {
            assert!(allowed.split(',').any(|h| h.trim() == header), "{allowed}");
        }
        let exposed = answer.header("access-control-expose-headers").unwrap().to_ascii_lowercase();
        for header in ["etag", "location", "x-max-bytes"] {
            assert!(exposed.split(',').any(|h| h.trim() == header), "{exposed}");
        }
        assert_eq!(answer.header("x-max-bytes"), Some("4096"));
    }
    // Actual answers carry CORS too.
    let (created, _) = create(&ts, b"{}").await;
    assert_eq!(created.header("access-control-allow-origin"), Some("*"));
    assert!(created.header("access-control-expose-headers").unwrap().contains("Location"));
}

#[tokio::test]
async fn a_disabled_rendezvous_is_unrecognized() {
    let profile = Profile {
        rendezvous: RendezvousProfile { enabled: false, ..Default::default() },
        ..Profile::default()
    };
    let ts = TestServer::start(profile).await;
    let post = request(&ts, "POST", CREATE, &[], Some(("application/json", b"{}"))).await;
    assert_eq!((post.status, post.errcode().as_deref()), (404, Some("M_UNRECOGNIZED")));
    assert_eq!(post.header("x-max-bytes"), None);
}
