//! Convene's own protocol: users registered over REST (`refresh_token_in_body` API-client
//! sessions), group conversations over REST, and `/api/v1/ws` with a Bearer token, speaking
//! `convene_proto::{ClientFrame, ServerFrame}`.

use std::time::{Duration, Instant};

use convene_proto::{EventKindView, EventView, ServerFrame};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use uuid::Uuid;

mod socket;

use super::{
    CONNECT_TIMEOUT, Connection, ConversationRef, HistoryEntry, INCOMING_CAPACITY,
    OUTGOING_CAPACITY, REQUEST_TIMEOUT, Target, TargetKind, UserAccount,
};
use crate::{Error, Result};

/// How long setup waits in total for the per-IP auth rate limit (429) before giving up.
const AUTH_RATE_LIMIT_PATIENCE: Duration = Duration::from_secs(180);

pub struct ConveneTarget {
    base_urls: Vec<String>,
    http: reqwest::Client,
}

#[derive(Debug, Deserialize)]
struct SessionResponse {
    user: SessionUser,
    access_token: String,
}

#[derive(Debug, Deserialize)]
struct SessionUser {
    id: String,
}

#[derive(Debug, Deserialize)]
struct EventList {
    events: Vec<EventView>,
    complete: bool,
}

#[derive(Debug, Deserialize)]
struct CreatedConversation {
    id: String,
    last_seq: i64,
}

/// The answer of one REST call: its status, and the body when it succeeded.
pub struct ApiAnswer {
    pub status: u16,
    pub body: String,
}

/// Builds the HTTP client every target uses: no proxy from the environment (the targets are
/// on loopback), bounded requests.
pub fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(64)
        .build()
        .map_err(|source| Error::Http {
            url: "(client)".to_owned(),
            source,
        })
}

fn retry_after(response: &reqwest::Response) -> Duration {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .map_or(Duration::from_secs(2), |seconds| {
            Duration::from_secs(seconds.clamp(1, 60))
        })
}

impl ConveneTarget {
    pub fn new(base_urls: Vec<String>) -> Result<Self> {
        Ok(Self {
            base_urls,
            http: http_client()?,
        })
    }

    fn base_url(&self, gateway_index: usize) -> &str {
        &self.base_urls[gateway_index % self.base_urls.len()]
    }

    /// POSTs to an auth endpoint, waiting out the per-IP rate limit (429 with `Retry-After`)
    /// for at most [`AUTH_RATE_LIMIT_PATIENCE`].
    async fn post_auth(&self, url: &str, body: serde_json::Value) -> Result<SessionResponse> {
        let started = Instant::now();
        loop {
            let response = self
                .http
                .post(url)
                .json(&body)
                .send()
                .await
                .map_err(|source| Error::Http {
                    url: url.to_owned(),
                    source,
                })?;
            let status = response.status();
            if status.as_u16() == 429 && started.elapsed() < AUTH_RATE_LIMIT_PATIENCE {
                tokio::time::sleep(retry_after(&response)).await;
                continue;
            }
            if !status.is_success() {
                let body = response.text().await.unwrap_or_default();
                return Err(Error::HttpStatus {
                    url: url.to_owned(),
                    status: status.as_u16(),
                    body,
                });
            }
            return response.json().await.map_err(|source| Error::Http {
                url: url.to_owned(),
                source,
            });
        }
    }

    /// `POST /api/v1/auth/login` once, without waiting out rate limits: the `api` scenario
    /// counts every status.
    pub async fn login_once(
        &self,
        gateway_index: usize,
        username: &str,
        password: &str,
    ) -> Result<ApiAnswer> {
        let url = format!("{}/api/v1/auth/login", self.base_url(gateway_index));
        let request = self.http.post(&url).json(&json!({
            "username": username,
            "password": password,
            "refresh_token_in_body": true,
        }));
        self.answer(&url, request).await
    }

    /// `GET …/messages?limit=` once: one history page.
    pub async fn history_page_once(
        &self,
        gateway_index: usize,
        user: &UserAccount,
        conversation_id: &str,
        limit: u32,
    ) -> Result<ApiAnswer> {
        let url = format!(
            "{}/api/v1/conversations/{conversation_id}/messages?limit={limit}",
            self.base_url(gateway_index)
        );
        let request = self
            .http
            .get(&url)
            .bearer_auth(user.access_token.as_deref().unwrap_or_default());
        self.answer(&url, request).await
    }

    /// `POST …/messages` once (REST send), to put something in history.
    pub async fn send_over_rest(
        &self,
        user: &UserAccount,
        conversation_id: &str,
        text: &str,
    ) -> Result<ApiAnswer> {
        let url = format!(
            "{}/api/v1/conversations/{conversation_id}/messages",
            self.base_url(0)
        );
        let request = self
            .http
            .post(&url)
            .bearer_auth(user.access_token.as_deref().unwrap_or_default())
            .json(&json!({"client_id": Uuid::new_v4().to_string(), "body": text}));
        self.answer(&url, request).await
    }

    async fn answer(&self, url: &str, request: reqwest::RequestBuilder) -> Result<ApiAnswer> {
        let response = request.send().await.map_err(|source| Error::Http {
            url: url.to_owned(),
            source,
        })?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        Ok(ApiAnswer { status, body })
    }
}

/// A password the server accepts (10+ characters, not guessable, unrelated to the name).
fn random_password() -> String {
    format!("Lt-{}", Uuid::new_v4().simple())
}

#[async_trait::async_trait]
impl Target for ConveneTarget {
    fn kind(&self) -> TargetKind {
        TargetKind::Convene
    }

    fn base_urls(&self) -> &[String] {
        &self.base_urls
    }

    async fn create_user(&self, run_id: &str, index: usize) -> Result<UserAccount> {
        let username = format!("{run_id}_u{index}");
        let password = random_password();
        let url = format!("{}/api/v1/auth/register", self.base_url(index));
        let session = self
            .post_auth(
                &url,
                json!({
                    "username": username,
                    "password": password,
                    "refresh_token_in_body": true,
                }),
            )
            .await?;
        Ok(UserAccount {
            username,
            user_id: session.user.id,
            access_token: Some(session.access_token),
            password: Some(password),
        })
    }

    async fn create_conversation(
        &self,
        run_id: &str,
        index: usize,
        members: &[UserAccount],
    ) -> Result<ConversationRef> {
        let Some((creator, others)) = members.split_first() else {
            return Err(Error::Protocol {
                peer: "load tester".to_owned(),
                detail: "a conversation needs at least one member".to_owned(),
            });
        };
        let url = format!("{}/api/v1/conversations/groups", self.base_url(index));
        let member_ids: Vec<&str> = others.iter().map(|user| user.user_id.as_str()).collect();
        let response = self
            .http
            .post(&url)
            .bearer_auth(creator.access_token.as_deref().unwrap_or_default())
            .json(&json!({"title": format!("{run_id} {index}"), "member_ids": member_ids}))
            .send()
            .await
            .map_err(|source| Error::Http {
                url: url.clone(),
                source,
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(Error::HttpStatus {
                url,
                status: status.as_u16(),
                body: response.text().await.unwrap_or_default(),
            });
        }
        let created: CreatedConversation = response
            .json()
            .await
            .map_err(|source| Error::Http { url, source })?;
        Ok(ConversationRef {
            conversation_id: created.id,
            base_seq: created.last_seq,
        })
    }

    async fn connect(&self, user: &UserAccount, gateway_index: usize) -> Result<Connection> {
        let base_url = self.base_url(gateway_index);
        let ws_url = format!(
            "{}/api/v1/ws",
            base_url
                .replacen("https://", "wss://", 1)
                .replacen("http://", "ws://", 1)
        );
        let started = Instant::now();
        let websocket_error = |source| Error::WebSocket {
            url: ws_url.clone(),
            source: Box::new(source),
        };
        let mut request = ws_url
            .as_str()
            .into_client_request()
            .map_err(websocket_error)?;
        let header = |value: String| {
            HeaderValue::from_str(&value).map_err(|error| Error::Protocol {
                peer: ws_url.clone(),
                detail: format!("invalid header value: {error}"),
            })
        };
        let token = user.access_token.as_deref().unwrap_or_default();
        request
            .headers_mut()
            .insert("authorization", header(format!("Bearer {token}"))?);
        // The origin Convene allows by default: its own.
        request
            .headers_mut()
            .insert("origin", header(base_url.to_owned())?);
        let handshake = tokio_tungstenite::connect_async(request);
        let (mut websocket, _) = tokio::time::timeout(CONNECT_TIMEOUT, handshake)
            .await
            .map_err(|_| Error::Timeout {
                what: format!("the websocket handshake with {ws_url}"),
            })?
            .map_err(websocket_error)?;
        // The connection is usable once `ready` arrived.
        let heartbeat_interval = tokio::time::timeout(CONNECT_TIMEOUT, async {
            while let Some(message) = websocket.next().await {
                let message = message.map_err(websocket_error)?;
                if let Message::Text(text) = message
                    && let Ok(ServerFrame::Ready {
                        heartbeat_interval_ms,
                        ..
                    }) = serde_json::from_str::<ServerFrame>(&text)
                {
                    return Ok(Duration::from_millis(u64::from(heartbeat_interval_ms)));
                }
            }
            Err(Error::ConnectionClosed)
        })
        .await
        .map_err(|_| Error::Timeout {
            what: format!("`ready` from {ws_url}"),
        })??;
        let connect_latency = started.elapsed();
        let (outgoing_tx, outgoing_rx) = mpsc::channel(OUTGOING_CAPACITY);
        let (incoming_tx, incoming_rx) = mpsc::channel(INCOMING_CAPACITY);
        let driver = tokio::spawn(socket::drive(
            websocket,
            outgoing_rx,
            incoming_tx,
            heartbeat_interval,
        ));
        Ok(Connection::new(
            outgoing_tx,
            incoming_rx,
            connect_latency,
            driver,
        ))
    }

    async fn history(
        &self,
        user: &UserAccount,
        conversation: &ConversationRef,
        after_seq: i64,
    ) -> Result<Vec<HistoryEntry>> {
        let mut seqs = Vec::new();
        let mut after_seq = after_seq;
        loop {
            let url = format!(
                "{}/api/v1/conversations/{}/events?after_seq={after_seq}",
                self.base_url(0),
                conversation.conversation_id
            );
            let response = self
                .http
                .get(&url)
                .bearer_auth(user.access_token.as_deref().unwrap_or_default())
                .send()
                .await
                .map_err(|source| Error::Http {
                    url: url.clone(),
                    source,
                })?;
            if !response.status().is_success() {
                return Err(Error::HttpStatus {
                    url,
                    status: response.status().as_u16(),
                    body: response.text().await.unwrap_or_default(),
                });
            }
            let page: EventList = response
                .json()
                .await
                .map_err(|source| Error::Http { url, source })?;
            seqs.extend(page.events.iter().map(|event| HistoryEntry {
                seq: event.seq,
                client_id: match &event.change {
                    EventKindView::MessageCreated { message } => Some(message.client_id.clone()),
                    _ => None,
                },
            }));
            match page.events.last() {
                Some(last) if !page.complete => after_seq = last.seq,
                _ => return Ok(seqs),
            }
        }
    }
}
