//! The yardstick: a bare axum server answering every request with a static answer, on
//! the same core and the same kind of runtime as the mock (one thread). The answer is
//! byte for byte what the mock's `/versions` sends (its body, `Content-Type` and the
//! CORS headers MSC3886 asks for), so the comparison measures the mock's work, not
//! the size of its answer.

use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, CONTENT_TYPE,
};
use axum::serve::ListenerExt;
use axum::Router;

/// The mock's `/versions` body under the default profile.
const STATIC_BODY: &str = r#"{"unstable_features":{"org.matrix.msc3886":true},"versions":["v1.1","v1.2","v1.3","v1.4","v1.5","v1.6","v1.7","v1.8","v1.9","v1.10","v1.11"]}"#;

/// Serves on `listen` until killed; prints the bound address on stdout first.
pub fn run(listen: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("http://{addr}");
        let headers = [
            (CONTENT_TYPE, "application/json"),
            (ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (ACCESS_CONTROL_ALLOW_METHODS, "GET,PUT,POST,DELETE,OPTIONS"),
            (
                ACCESS_CONTROL_ALLOW_HEADERS,
                "Authorization,Content-Type,If-Match,If-None-Match,X-Requested-With",
            ),
            (ACCESS_CONTROL_EXPOSE_HEADERS, "ETag,Location,X-Max-Bytes"),
        ];
        let app = Router::new().fallback(move || async move { (headers, STATIC_BODY) });
        // TCP_NODELAY, as the mock sets it: otherwise pipelined answers wait for ACKs.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app).await.map_err(|e| e.to_string())
    })
}
