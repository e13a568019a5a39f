//! Traces leave the process over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: a
//! minimal collector (HTTP/2 on loopback, answering the trace-export RPC) receives the
//! spans of real requests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Response};
use axum::routing::post;
use http_body::Frame;
use http_body_util::StreamBody;
use serde_json::json;
use support::{ConveneProcess, http_client};

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Every export request body received (gRPC-framed protobuf).
type Received = Arc<Mutex<Vec<Bytes>>>;

async fn export(
    axum::extract::State(received): axum::extract::State<Received>,
    body: Bytes,
) -> Response<Body> {
    received.lock().unwrap().push(body);
    // An empty ExportTraceServiceResponse, gRPC-framed, then the status as a trailer.
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let frames = futures::stream::iter([
        Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from_static(&[0, 0, 0, 0, 0]))),
        Ok(Frame::trailers(trailers)),
    ]);
    Response::builder()
        .header("content-type", "application/grpc")
        .body(Body::new(StreamBody::new(frames)))
        .unwrap()
}

async fn start_collector() -> (SocketAddr, Received, tokio::task::JoinHandle<()>) {
    let received: Received = Arc::default();
    let router = axum::Router::new()
        .route(EXPORT_PATH, post(export))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (addr, received, task)
}

#[tokio::test]
async fn request_spans_are_exported_over_otlp_grpc() {
    let (collector, received, collector_task) = start_collector().await;
    let endpoint = format!("http://{collector}");
    let mut convene = ConveneProcess::start(
        "serve",
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())],
    )
    .await;
    let http = http_client();
    let session: serde_json::Value = http
        .post(convene.url("/api/v1/auth/register"))
        .json(&json!({"username": "tracy", "password": "violet-otter-sings-42", "refresh_token_in_body": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let me = http
        .get(convene.url("/api/v1/me"))
        .bearer_auth(session["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    // Shutting down flushes the batch of spans.
    let status = convene.terminate(Duration::from_secs(15)).await;
    assert!(status.success(), "{status}\n{}", convene.log());
    collector_task.abort();

    let exports = received.lock().unwrap().clone();
    assert!(
        !exports.is_empty(),
        "the collector received nothing\n{}",
        convene.log()
    );
    let everything: Vec<u8> = exports
        .iter()
        .flat_map(|body| body.iter().copied())
        .collect();
    let contains = |needle: &str| {
        everything
            .windows(needle.len())
            .any(|window| window == needle.as_bytes())
    };
    assert!(contains("convene"), "the service name is exported");
    assert!(contains("/api/v1/me"), "the request's span is exported");
    assert!(!contains("violet-otter-sings-42"), "no secrets in traces");
    assert!(
        !contains(session["access_token"].as_str().unwrap()),
        "no tokens in traces"
    );
}
