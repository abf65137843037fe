//! The harness API under `/_harness/`: only its owner reads or changes it (the token,
//! or `Open` for local programs; never a web page, never with CORS headers), the
//! journal comes in pages and as a stream that holds up nothing, and faults can be
//! listed, added and cleared over HTTP.

use std::time::Duration;

use mock_homeserver::{HarnessAccess, JournalEntry, JournalLimit, MockHomeserver};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "harness-secret";
const VERSIONS: &str = "/_matrix/client/versions";

async fn server(access: HarnessAccess) -> MockHomeserver {
    MockHomeserver::builder().harness_access(access).start().await.expect("bind loopback")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client")
}

async fn versions(server: &MockHomeserver, times: usize) {
    let http = client();
    for _ in 0..times {
        let status = http.get(format!("{}{VERSIONS}", server.base_url())).send().await.unwrap().status();
        assert_eq!(status, 200);
    }
}

fn has_cors(response: &reqwest::Response) -> bool {
    response.headers().keys().any(|name| name.as_str().starts_with("access-control-"))
}

#[tokio::test]
async fn without_the_token_or_from_a_web_page_nothing_is_served_and_no_cors_is_sent() {
    let server = server(HarnessAccess::Token(TOKEN.into())).await;
    versions(&server, 1).await;
    let http = client();
    let url = format!("{}/_harness/journal", server.base_url());
    let cases = [
        ("no token", http.get(&url), 401, "M_MISSING_TOKEN"),
        ("wrong token", http.get(&url).bearer_auth("guess"), 401, "M_UNKNOWN_TOKEN"),
        ("token in the query", http.get(format!("{url}?access_token={TOKEN}")), 401, "M_MISSING_TOKEN"),
        (
            "a page of another origin, even with the token",
            http.get(&url).bearer_auth(TOKEN).header("origin", "http://localhost:3000"),
            403,
            "M_FORBIDDEN",
        ),
        (
            "a CORS preflight",
            http.request(reqwest::Method::OPTIONS, &url)
                .header("origin", "https://evil.example")
                .header("access-control-request-method", "GET"),
            403,
            "M_FORBIDDEN",
        ),
        (
            "a page clearing the faults",
            http.delete(format!("{}/_harness/faults", server.base_url())).header("origin", "null"),
            403,
            "M_FORBIDDEN",
        ),
    ];
    for (what, request, status, errcode) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{what}");
        assert!(!has_cors(&response), "{what}: CORS headers on /_harness/");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errcode"], errcode, "{what}: {body}");
        assert!(body.get("journal").is_none(), "{what}: {body}");
    }
    // The Matrix API itself keeps its CORS headers (MSC3886).
    let matrix = http.get(format!("{}{VERSIONS}", server.base_url())).send().await.unwrap();
    assert!(has_cors(&matrix));
    // And the owner reads it; none of the refused requests was journaled.
    let owner = http.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(owner.status(), 200);
    assert!(!has_cors(&owner));
    let body: Value = owner.json().await.unwrap();
    assert_eq!(body["journal"].as_array().unwrap().len(), 2, "{body}");
}

#[tokio::test]
async fn the_library_serves_no_harness_api_unless_asked() {
    let server = MockHomeserver::builder().start().await.unwrap();
    versions(&server, 1).await;
    let response = client().get(format!("{}/_harness/journal", server.base_url())).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errcode"], "M_UNRECOGNIZED");
    assert!(body.get("journal").is_none());
}

#[tokio::test]
async fn the_open_api_refuses_a_host_that_a_web_page_could_rebind() {
    let server = server(HarnessAccess::Open).await;
    let http = client();
    let url = format!("{}/_harness/journal", server.base_url());
    let rebound = http.get(&url).header("host", "attacker.example:8008").send().await.unwrap();
    assert_eq!(rebound.status(), 403);
    let local = http.get(&url).send().await.unwrap();
    assert_eq!(local.status(), 200, "127.0.0.1 is an IP literal");
}

async fn page(server: &MockHomeserver, query: &str) -> Value {
    let url = format!("{}/_harness/journal{query}", server.base_url());
    let response = client().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn seqs(page: &Value) -> Vec<u64> {
    page["journal"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn the_journal_comes_in_pages_that_say_where_to_go_on() {
    let server = server(HarnessAccess::Open).await;
    versions(&server, 25).await;
    let first = page(&server, "?limit=10").await;
    assert_eq!(seqs(&first), (1..=10).collect::<Vec<_>>());
    assert_eq!((first["next_since"].as_u64(), first["more"].as_bool()), (Some(10), Some(true)));
    let second = page(&server, "?since=10&limit=10").await;
    assert_eq!(seqs(&second), (11..=20).collect::<Vec<_>>());
    let last = page(&server, "?since=20&limit=10").await;
    assert_eq!(seqs(&last), (21..=25).collect::<Vec<_>>());
    assert_eq!((last["next_since"].as_u64(), last["more"].as_bool()), (Some(25), Some(false)));
    let beyond = page(&server, "?since=25").await;
    assert_eq!(seqs(&beyond), Vec::<u64>::new());
    assert_eq!(beyond["next_since"], 25);

    let bad = client().get(format!("{}/_harness/journal?limit=-1", server.base_url())).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.json::<Value>().await.unwrap()["errcode"], "M_INVALID_PARAM");
}

#[tokio::test]
async fn the_whole_journal_over_http_equals_the_in_process_one_and_clearing_starts_afresh() {
    let server = server(HarnessAccess::Open).await;
    let http = client();
    // Bodies of every kind: JSON in and out, a non-JSON body, an empty one.
    let login = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "nobody"}, "password": "x"});
    http.post(format!("{}/_matrix/client/v3/login", server.base_url())).json(&login).send().await.unwrap();
    http.post(format!("{}/_matrix/client/v3/login", server.base_url()))
        .body("not json")
        .send()
        .await
        .unwrap();
    versions(&server, 3).await;

    let all = page(&server, "").await;
    // Compared as JSON: a `Note` body reads back as a JSON object (the format is
    // untagged), so typed entries would differ where the JSON does not.
    assert_eq!(all["journal"], serde_json::to_value(server.journal()).unwrap());
    let entries: Vec<JournalEntry> = serde_json::from_value(all["journal"].clone()).unwrap();
    assert_eq!(entries.len(), 5);
    assert_eq!(entries[0].request.json().unwrap()["password"], "x");
    assert_eq!(all["journal"][1]["request"]["note"], "8 bytes of unknown content type, not JSON");

    let cleared: Value = http
        .delete(format!("{}/_harness/journal", server.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cleared, json!({"cleared": 5}));
    assert!(server.journal().is_empty());
    versions(&server, 1).await;
    assert_eq!(seqs(&page(&server, "").await), [6], "numbering goes on after a clear");
}

#[tokio::test]
async fn a_bounded_journal_reports_what_it_dropped() {
    let server = MockHomeserver::builder()
        .harness_access(HarnessAccess::Open)
        .journal_limit(JournalLimit { max_entries: 4, ..JournalLimit::UNLIMITED })
        .start()
        .await
        .unwrap();
    versions(&server, 10).await;
    let all = page(&server, "").await;
    assert_eq!(seqs(&all), [7, 8, 9, 10]);
    assert_eq!(all["dropped"], 6);
    assert_eq!(server.core().journal_dropped(), 6);
}

#[tokio::test]
async fn a_journal_read_that_the_client_stops_consuming_holds_up_no_other_request() {
    let server = server(HarnessAccess::Open).await;
    // Enough journal that its JSON is far larger than the socket buffers.
    let big = "x".repeat(4000);
    for i in 0..600 {
        let mut request =
            mock_homeserver::Request::post("/_matrix/client/v3/nonexistent", &json!({ "pad": big }));
        request.query = format!("i={i}");
        server.core().handle(request);
    }
    // A client asks for the whole journal, reads a little, and then stops reading.
    let mut stalled = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    stalled.write_all(b"GET /_harness/journal HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n").await.unwrap();
    let mut first = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), stalled.read(&mut first)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));

    // Meanwhile the server answers others, and journals them.
    versions(&server, 3).await;
    assert_eq!(server.core().journal_len(), 603);
    drop(stalled);
}

#[tokio::test]
async fn faults_are_listed_added_and_cleared_over_http() {
    let server = server(HarnessAccess::Token(TOKEN.into())).await;
    let http = client();
    let url = format!("{}/_harness/faults", server.base_url());
    let drop_fault = json!({"kind": "drop-to-device", "event_type": "m.secret.request"});
    let delay_fault = json!({"kind": "delay-to-device", "event_type": "m.x", "delay_ms": 5});

    let added: Value =
        http.post(&url).bearer_auth(TOKEN).json(&drop_fault).send().await.unwrap().json().await.unwrap();
    assert_eq!(added, json!({"faults": [drop_fault]}));
    let added: Value = http
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&json!([delay_fault]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(added, json!({"faults": [drop_fault, delay_fault]}));
    assert_eq!(server.core().faults().len(), 2);

    let cases = [
        ("not JSON", reqwest::Body::from("{"), 400, "M_NOT_JSON"),
        ("not a fault", reqwest::Body::from(r#"{"kind":"nonsense"}"#), 400, "M_BAD_JSON"),
        (
            "a fault that can change nothing",
            reqwest::Body::from(
                r#"{"kind":"tamper-cross-signing-key","user_id":"@a:test","key":"master","field":"curve25519"}"#,
            ),
            400,
            "M_INVALID_PARAM",
        ),
    ];
    for (what, body, status, errcode) in cases {
        let response = http.post(&url).bearer_auth(TOKEN).body(body).send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{what}");
        assert_eq!(response.json::<Value>().await.unwrap()["errcode"], errcode, "{what}");
    }
    assert_eq!(server.core().faults().len(), 2, "a refused fault adds nothing");

    let listed: Value = http.get(&url).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["faults"].as_array().unwrap().len(), 2);
    let cleared: Value = http.delete(&url).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(cleared, json!({"faults": []}));
    assert!(server.core().faults().is_empty());
    let wrong_method = http.put(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
}

#[tokio::test]
async fn a_fault_added_over_http_can_be_aimed_at_one_caller_by_user_and_device() {
    let server = server(HarnessAccess::Token(TOKEN.into())).await;
    let http = client();
    let core = server.core();
    let user_id = core.create_account("alice", "pw").unwrap();
    let (aimed_device, aimed_token) = core.login_account(&user_id, Some("AIMED")).unwrap();
    let (_, other_token) = core.login_account(&user_id, Some("OTHER")).unwrap();
    let fault = json!({
        "kind": "respond-with-error", "path": "/_matrix/client/v3/account/whoami",
        "status": 403, "errcode": "M_FORBIDDEN",
        "seen_by": { "user_id": user_id, "device_id": aimed_device }
    });
    let url = format!("{}/_harness/faults", server.base_url());
    let added: Value =
        http.post(&url).bearer_auth(TOKEN).json(&fault).send().await.unwrap().json().await.unwrap();
    assert_eq!(added["faults"][0]["seen_by"], fault["seen_by"], "listed with its caller: {added}");

    let whoami = format!("{}/_matrix/client/v3/account/whoami", server.base_url());
    let status = |token: &str| {
        let request = http.get(&whoami).bearer_auth(token.to_owned());
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(&other_token).await, 200, "another device of the same user");
    assert_eq!(status(&aimed_token).await, 403, "the aimed caller");

    let misaimed =
        json!({ "kind": "drop-to-device", "event_type": "m.x", "seen_by": { "user_id": user_id } });
    let response = http.post(&url).bearer_auth(TOKEN).json(&misaimed).send().await.unwrap();
    assert_eq!(response.status(), 400, "a caller is a user and a device");
}
