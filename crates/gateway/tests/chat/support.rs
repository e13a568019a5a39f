//! A real gateway on a loopback port (so the WebSocket is real), over a real store, and a
//! small WebSocket and REST client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use convene_bus::InProcessBus;
use convene_gateway::clock::ManualClock;
use convene_gateway::{AppState, GatewaySettings};
use convene_store::testing::TestDatabase;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::task::TaskTracker;
use uuid::Uuid;

pub const PASSWORD: &str = "violet-otter-sings-42";
pub const ORIGIN: &str = "http://127.0.0.1:8080";
/// How long a test waits for a frame it expects.
const FRAME_TIMEOUT: Duration = Duration::from_secs(5);

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    http: reqwest::Client,
    tasks: TaskTracker,
    database: TestDatabase,
}

/// A signed-in user: id and access token.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: Uuid,
    pub token: String,
}

impl TestServer {
    pub async fn start(database: TestDatabase, settings: GatewaySettings) -> Self {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let mut state = AppState::new(
            database.store.clone(),
            Arc::new(InProcessBus::new()),
            settings,
            clock.clone(),
        )
        .expect("app state");
        // Meetings' media on an in-process SFU node on loopback, as in `convene serve`.
        let sfu = convene_sfu::SfuNode::start(
            convene_sfu::SfuConfig {
                udp_bind_addr: "127.0.0.1:0".parse().unwrap(),
                advertised_addr: None,
                tcp_bind_addr: None,
                max_rooms: 10,
                max_participants: 50,
            },
            state.shutdown.clone(),
        )
        .await
        .expect("sfu node");
        state.media.local = Some(sfu);
        let tasks = TaskTracker::new();
        state.spawn_background_tasks(&tasks);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = convene_gateway::router(state.clone());
        let shutdown = state.shutdown.clone();
        tasks.spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .unwrap();
        });
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        Self {
            addr,
            state,
            clock,
            http,
            tasks,
            database,
        }
    }

    pub async fn stop(self) {
        self.state.close_connections(Duration::from_secs(5)).await;
        self.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.tasks.wait()).await;
        self.database.cleanup().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn user(&self, username: &str) -> TestUser {
        let reply = self
            .http
            .post(self.url("/api/v1/auth/register"))
            .json(
                &json!({"username": username, "password": PASSWORD, "refresh_token_in_body": true}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 201, "register {username}");
        let body: Value = reply.json().await.unwrap();
        TestUser {
            id: body["user"]["id"].as_str().unwrap().parse().unwrap(),
            token: body["access_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn guest(&self, display_name: &str) -> TestUser {
        let reply = self
            .http
            .post(self.url("/api/v1/auth/guest"))
            .json(&json!({"display_name": display_name}))
            .send()
            .await
            .unwrap();
        let body: Value = reply.json().await.unwrap();
        TestUser {
            id: body["user"]["id"].as_str().unwrap().parse().unwrap(),
            token: body["access_token"].as_str().unwrap().to_owned(),
        }
    }

    /// A REST call as `user`; returns (status, JSON body or Null).
    pub async fn api(
        &self,
        user: &TestUser,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), self.url(path))
            .bearer_auth(&user.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.unwrap();
        let status = reply.status().as_u16();
        let text = reply.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn start_direct(&self, user: &TestUser, peer: &TestUser) -> Uuid {
        let (status, body) = self
            .api(
                user,
                "POST",
                "/api/v1/conversations/direct",
                Some(json!({"user_id": peer.id})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn create_group(
        &self,
        creator: &TestUser,
        title: &str,
        members: &[&TestUser],
    ) -> Uuid {
        let member_ids: Vec<Uuid> = members.iter().map(|member| member.id).collect();
        let (status, body) = self
            .api(
                creator,
                "POST",
                "/api/v1/conversations/groups",
                Some(json!({"title": title, "member_ids": member_ids})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().parse().unwrap()
    }

    /// Opens a WebSocket as `user` (bearer token), reads `ready`, and resumes with
    /// `cursors` (conversation → seq).
    pub async fn connect(&self, user: &TestUser, cursors: &[(Uuid, i64)]) -> WsClient {
        let mut client = self
            .connect_raw(user, None)
            .await
            .expect("websocket connects");
        let ready = client.recv().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        let cursors: Vec<Value> = cursors
            .iter()
            .map(|(conversation_id, seq)| json!({"conversation_id": conversation_id, "seq": seq}))
            .collect();
        client
            .send(json!({"type": "resume", "request_id": "resume", "cursors": cursors}))
            .await;
        client.recv_until("resumed").await;
        client
    }

    /// The handshake alone: `Err` carries the HTTP status of a refused upgrade.
    pub async fn connect_raw(
        &self,
        user: &TestUser,
        origin: Option<&str>,
    ) -> Result<WsClient, u16> {
        let mut request = format!("ws://{}/api/v1/ws", self.addr)
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {}", user.token)).unwrap(),
        );
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", HeaderValue::from_str(origin).unwrap());
        }
        connect_request(request).await
    }

    pub async fn connect_url(&self, path_and_query: &str) -> Result<WsClient, u16> {
        let request = format!("ws://{}{path_and_query}", self.addr)
            .into_client_request()
            .unwrap();
        connect_request(request).await
    }
}

async fn connect_request(
    request: tokio_tungstenite::tungstenite::handshake::client::Request,
) -> Result<WsClient, u16> {
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(WsClient { socket }),
        Err(WsError::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("websocket handshake failed: {other}"),
    }
}

pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    pub async fn send(&mut self, frame: Value) {
        self.socket
            .send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::Text(text.to_owned().into()))
            .await
            .unwrap();
    }

    /// The next JSON frame (pings are skipped); fails the test after a few seconds.
    pub async fn recv(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(FRAME_TIMEOUT, self.socket.next())
                .await
                .expect("a frame within the timeout")
                .expect("the connection is open")
                .expect("a readable frame");
            match message {
                Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
                Message::Close(frame) => panic!("connection closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Reads frames until one of `frame_type`, returning it; the frames skipped are
    /// returned too for assertions.
    pub async fn recv_until(&mut self, frame_type: &str) -> Value {
        loop {
            let frame = self.recv().await;
            if frame["type"] == frame_type {
                return frame;
            }
        }
    }

    /// Asserts that no frame (other than pings) arrives within `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        if let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(wait, self.socket.next()).await
        {
            panic!("expected no frame, got {text}");
        }
    }

    /// Sends a message over the socket and returns its `message_sent` answer.
    pub async fn send_message(
        &mut self,
        conversation_id: Uuid,
        client_id: &str,
        body: &str,
    ) -> Value {
        self.send(json!({"type": "send_message", "request_id": client_id, "conversation_id": conversation_id,
                         "client_id": client_id, "body": body}))
            .await;
        loop {
            let frame = self.recv().await;
            if frame["request_id"] == client_id
                && (frame["type"] == "message_sent" || frame["type"] == "error")
            {
                return frame;
            }
        }
    }
}
