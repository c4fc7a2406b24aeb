//! The benchmark's yardstick: the same routes as the service with no storage, no middleware
//! and a constant answer. What the service achieves is reported as a fraction of this.
//!
//! Run: `cargo run --release -p hello-birthday-tools --bin bare_hello -- 127.0.0.1:8081`

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;

async fn greet(Path(username): Path<String>) -> axum::Json<serde_json::Value> {
    axum::Json(
        serde_json::json!({ "message": format!("Hello, {username}! Your birthday is in 42 day(s)") }),
    )
}

async fn save(Path(_username): Path<String>) -> StatusCode {
    StatusCode::NO_CONTENT
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8081".into());
    let app = Router::new().route("/hello/{username}", get(greet).put(save));
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await
}
