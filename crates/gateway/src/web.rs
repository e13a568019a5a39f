//! The web UI: the built single-page app (`web/dist`) served at `/`, with `index.html` for
//! every path that is not a file and not the API, so client-side routes survive a reload.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

use crate::error::ApiError;

/// Serves the UI from `web_dir`, or explains how to build it when it is missing.
#[derive(Clone)]
pub struct WebUi {
    web_dir: Option<PathBuf>,
}

impl WebUi {
    pub fn new(web_dir: Option<PathBuf>) -> Self {
        let web_dir = web_dir.filter(|dir| dir.join("index.html").is_file());
        Self { web_dir }
    }

    pub fn is_built(&self) -> bool {
        self.web_dir.is_some()
    }

    /// The router's fallback: API paths get the JSON 404, everything else the UI.
    pub async fn serve(&self, request: Request) -> Response {
        let path = request.uri().path();
        if path == "/api" || path.starts_with("/api/") {
            return ApiError::not_found("not_found", "There is nothing at this path.")
                .into_response();
        }
        let Some(web_dir) = &self.web_dir else {
            return not_built();
        };
        let immutable = path.starts_with("/assets/");
        let service = ServeDir::new(web_dir)
            .append_index_html_on_directories(true)
            .fallback(ServeFile::new(web_dir.join("index.html")));
        match service.oneshot(request).await {
            Ok(response) => {
                let mut response = response.map(Body::new);
                // Vite puts content hashes in asset names: cache those forever, and never the
                // page that names them.
                let cache_control = if immutable && response.status() == StatusCode::OK {
                    "public, max-age=31536000, immutable"
                } else {
                    "no-cache"
                };
                response.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static(cache_control),
                );
                response
            }
            Err(error) => {
                tracing::error!(%error, "serving the web UI failed");
                ApiError::internal().into_response()
            }
        }
    }
}

fn not_built() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Html(
            "<!doctype html><meta charset=utf-8><title>Convene</title>\
             <h1>Convene is running</h1>\
             <p>The web UI has not been built. Start Convene with <code>script/run</code> \
             (it builds the UI first), or build it with <code>script/build-web</code> and \
             set <code>CONVENE_WEB_DIR</code> to <code>web/dist</code>.</p>\
             <p>The API is up: <a href=\"/api/openapi.json\">/api/openapi.json</a>.</p>",
        ),
    )
        .into_response()
}

/// `web/dist` next to the source tree this binary was built from, for `cargo run` and tests.
pub fn default_web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist")
}
