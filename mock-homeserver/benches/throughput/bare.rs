//! The yardstick: a bare axum server answering every request with a static body, on
//! the same core and the same kind of runtime as the mock (one thread).

use axum::http::header::CONTENT_TYPE;
use axum::serve::ListenerExt;
use axum::Router;

/// About the size of the mock's `/versions` answer.
const STATIC_BODY: &str = r#"{"versions":["v1.1","v1.2","v1.3","v1.4","v1.5","v1.6","v1.7","v1.8","v1.9","v1.10","v1.11"],"unstable_features":{"org.matrix.msc3886":true}}"#;

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
        let app = Router::new().fallback(|| async { ([(CONTENT_TYPE, "application/json")], STATIC_BODY) });
        // TCP_NODELAY, as the mock sets it: otherwise pipelined answers wait for ACKs.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app).await.map_err(|e| e.to_string())
    })
}
