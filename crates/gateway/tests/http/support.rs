//! A gateway over a real store (SQLite file or a fresh Postgres database), a clock the test
//! moves, and a small request builder.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use chrono::{Duration, Utc};
use convene_bus::InProcessBus;
use convene_gateway::clock::ManualClock;
use convene_gateway::{AppState, GatewaySettings};
use convene_store::testing::TestDatabase;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const PASSWORD: &str = "violet-otter-sings-42";
pub const ORIGIN: &str = "http://127.0.0.1:8080";

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    database: TestDatabase,
}

impl TestApp {
    pub async fn start(database: TestDatabase, settings: GatewaySettings) -> Self {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let state = AppState::new(
            database.store.clone(),
            Arc::new(InProcessBus::new()),
            settings,
            clock.clone(),
        )
        .expect("app state");
        let router = convene_gateway::router(state.clone())
            .layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
        Self {
            router,
            state,
            clock,
            database,
        }
    }

    pub async fn cleanup(self) {
        self.database.cleanup().await;
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    pub fn call(&self, method: Method, path: &str) -> Call<'_> {
        Call {
            app: self,
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn get(&self, path: &str) -> Call<'_> {
        self.call(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call<'_> {
        self.call(Method::POST, path)
    }

    /// Registers `username` and returns the session (cookies and body).
    pub async fn register(&self, username: &str) -> Reply {
        let reply = self
            .post("/api/v1/auth/register")
            .json(json!({"username": username, "password": PASSWORD, "display_name": username}))
            .send()
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "register {username}: {}",
            reply.body
        );
        reply
    }

    /// Logs in as an API client: tokens in the body.
    pub async fn login_api(&self, username: &str, password: &str) -> Reply {
        self.post("/api/v1/auth/login")
            .json(
                json!({"username": username, "password": password, "refresh_token_in_body": true}),
            )
            .send()
            .await
    }

    /// Registers and returns the access token.
    pub async fn user(&self, username: &str) -> String {
        self.register(username).await.access_token()
    }
}

pub struct Call<'a> {
    app: &'a TestApp,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<(Vec<u8>, Option<&'static str>)>,
}

impl Call<'_> {
    pub fn json(mut self, value: Value) -> Self {
        self.body = Some((
            serde_json::to_vec(&value).unwrap(),
            Some("application/json"),
        ));
        self
    }

    pub fn raw(mut self, bytes: impl Into<Vec<u8>>, content_type: Option<&'static str>) -> Self {
        self.body = Some((bytes.into(), content_type));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn cookie(self, name: &str, value: &str) -> Self {
        self.header("cookie", &format!("{name}={value}"))
    }

    pub async fn send(self) -> Reply {
        let mut builder = Request::builder().method(self.method).uri(&self.path);
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let body = match self.body {
            Some((bytes, content_type)) => {
                if let Some(content_type) = content_type {
                    builder = builder.header(header::CONTENT_TYPE, content_type);
                }
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let response = self
            .app
            .router
            .clone()
            .oneshot(builder.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::String(text.clone()));
        Reply {
            status,
            headers,
            body,
            text,
        }
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("<no error code>")
    }

    /// Asserts the status and the error code of an error reply.
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.error_code(), code, "{}", self.body);
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }

    pub fn access_token(&self) -> String {
        self.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    pub fn refresh_token(&self) -> Option<String> {
        self.body["refresh_token"].as_str().map(str::to_owned)
    }

    /// The full `Set-Cookie` line for `name`.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|value: &HeaderValue| value.to_str().ok())
            .find(|line| line.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    /// The value a `Set-Cookie` gives `name`.
    pub fn cookie_value(&self, name: &str) -> Option<String> {
        let line = self.set_cookie(name)?;
        let pair = line.split(';').next()?;
        Some(pair.split_once('=')?.1.to_owned())
    }
}
