//! The thin async shell and the answer parsing against canned, odd server answers
//! (wiremock): a 500, a 429 with `retry_after_ms`, a body that is not JSON, a missing
//! field, no server at all, and a server that never answers.

use std::time::{Duration, Instant};

use devices::api::{self, ApiError};
use devices::retry::RetryOn429;
use devices::shell::{self, HttpExecutor};
use devices::{Abort, Command, DeviceEvent, HttpRequest, HttpResult, Outcome, Role, RoleKind, Step};
use serde_json::json;
use tokio::sync::mpsc;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A role that asks `whoami` once and ends with what it made of the answer.
struct Whoami {
    url: String,
    events: Vec<DeviceEvent>,
    seen: Option<Result<String, ApiError>>,
}

impl Whoami {
    fn new(base: &str) -> Self {
        Self { url: format!("{base}/_matrix/client/v3/account/whoami"), events: Vec::new(), seen: None }
    }
}

impl Role for Whoami {
    fn start(&mut self, _now_ms: u64) -> Step {
        Step::Http(HttpRequest::new("GET", self.url.clone()).bearer("token"))
    }

    fn on_http(&mut self, _now_ms: u64, result: HttpResult) -> Step {
        let parsed = api::json_object(result).and_then(|body| api::str_field(&body, "user_id"));
        let outcome = match &parsed {
            Ok(_) => Outcome::Success,
            Err(error) => Outcome::Error { reason: error.clone().into_abort("GET /account/whoami") },
        };
        self.seen = Some(parsed);
        self.events.push(DeviceEvent::Finished(outcome));
        Step::Done
    }

    fn on_wake(&mut self, _now_ms: u64) -> Step {
        Step::Done
    }

    fn on_command(&mut self, _now_ms: u64, _command: Command) -> Step {
        Step::Done
    }

    fn take_events(&mut self) -> Vec<DeviceEvent> {
        std::mem::take(&mut self.events)
    }
}

async fn drive(role: &mut dyn Role, deadline: Duration) -> Outcome {
    let (_tx, mut rx) = mpsc::channel(1);
    shell::run(
        RoleKind::Registrar,
        role,
        &HttpExecutor::new(Duration::from_secs(5)),
        &mut rx,
        deadline,
        None,
        |_| {},
    )
    .await
}

fn whoami_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"user_id": "@alice:test", "device_id": "D"}))
}

#[tokio::test]
async fn a_429_with_retry_after_ms_is_retried_and_the_role_never_sees_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/_matrix/client/v3/account/whoami"))
        .respond_with(ResponseTemplate::new(429).set_body_json(
            json!({"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests", "retry_after_ms": 20}),
        ))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET")).respond_with(whoami_ok()).expect(1).mount(&server).await;
    let mut role = RetryOn429::new(Whoami::new(&server.uri()));
    assert_eq!(drive(&mut role, Duration::from_secs(10)).await, Outcome::Success);
    assert_eq!(role.inner().seen, Some(Ok("@alice:test".to_owned())));
}

#[tokio::test]
async fn an_endless_429_reaches_the_role_after_three_retries() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(json!({"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 5})),
        )
        .expect(4)
        .mount(&server)
        .await;
    let mut role = RetryOn429::new(Whoami::new(&server.uri()));
    let outcome = drive(&mut role, Duration::from_secs(10)).await;
    assert!(matches!(outcome, Outcome::Error { reason: Abort::Homeserver { .. } }), "{outcome:?}");
    assert_eq!(role.inner().seen.as_ref().unwrap().as_ref().unwrap_err().errcode(), Some("M_LIMIT_EXCEEDED"));
}

#[tokio::test]
async fn a_500_is_a_homeserver_error_naming_the_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(json!({"errcode": "M_UNKNOWN", "error": "boom"})),
        )
        .mount(&server)
        .await;
    let mut role = Whoami::new(&server.uri());
    match drive(&mut role, Duration::from_secs(10)).await {
        Outcome::Error { reason: Abort::Homeserver { request, detail } } => {
            assert_eq!(request, "GET /account/whoami");
            assert!(detail.contains("500 M_UNKNOWN: boom"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    // A 500 without a JSON body still has a status and no invented errcode.
    let bare = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>"))
        .mount(&bare)
        .await;
    let mut role = Whoami::new(&bare.uri());
    drive(&mut role, Duration::from_secs(10)).await;
    let error = role.seen.unwrap().unwrap_err();
    assert_eq!((error.status(), error.errcode()), (Some(502), Some("?")));
}

#[tokio::test]
async fn a_body_that_is_not_json_and_a_missing_field_are_named() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("hello"))
        .mount(&server)
        .await;
    let mut role = Whoami::new(&server.uri());
    drive(&mut role, Duration::from_secs(10)).await;
    assert_eq!(role.seen, Some(Err(ApiError::NotJson { status: 200 })));

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"device_id": "D"})))
        .mount(&server)
        .await;
    let mut role = Whoami::new(&server.uri());
    drive(&mut role, Duration::from_secs(10)).await;
    assert_eq!(
        role.seen,
        Some(Err(ApiError::BadField { field: "user_id".to_owned(), expected: "a string" }))
    );
}

#[tokio::test]
async fn no_server_at_all_is_a_transport_error() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut role = Whoami::new(&format!("http://127.0.0.1:{port}"));
    drive(&mut role, Duration::from_secs(10)).await;
    assert!(matches!(role.seen, Some(Err(ApiError::Transport(_)))), "{:?}", role.seen);
}

#[tokio::test]
async fn a_server_that_never_answers_ends_the_run_at_its_deadline() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(whoami_ok().set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let mut role = Whoami::new(&server.uri());
    let started = Instant::now();
    let outcome = drive(&mut role, Duration::from_millis(300)).await;
    assert!(matches!(outcome, Outcome::Error { reason: Abort::Timeout { .. } }), "{outcome:?}");
    // Well before the executor's own 5 s request timeout: the deadline ended it.
    assert!(started.elapsed() < Duration::from_secs(4), "the deadline bounds the wait");
    assert_eq!(role.seen, None, "the role never got an answer");
}
