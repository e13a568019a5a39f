//! Several `convene gateway` processes behind one database and one Redis, as on Kubernetes:
//! users connected to different pods chat live (events, typing, receipts and presence cross
//! pods through Redis), and neither a pod killed with SIGKILL nor a Redis restart loses or
//! repeats an acknowledged message (docs/protocol.md: "once and in seq order").
//!
//! Each test gets a fresh database on the machine's PostgreSQL (127.0.0.1:5432) and a Redis
//! server of its own (so that it can be restarted, and keys are isolated), runs
//! `convene migrate`, then two gateways. Every process is stopped by `Drop` on every path;
//! a failing test prints the logs of the gateways and of Redis.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::ws::{ConnectError, Incoming, WsClient};
use support::{ConveneProcess, TestDatabase, ThrowawayRedis, http_client, run_to_exit};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const PASSWORD: &str = "violet-otter-sings-42";
/// A frame that crosses pods through Redis arrives well within this.
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection and its `resume` may take.
const RESUME_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one `send_message` may wait for its `message_sent`. While Redis is away each
/// publish fails after the bus's 2 s command timeout, so acks are slower, not missing.
const ACK_TIMEOUT: Duration = Duration::from_secs(15);
/// docs/protocol.md: a dead pod's users are announced offline "within about ten seconds".
const DEAD_POD_OFFLINE_WITHIN: Duration = Duration::from_secs(15);
/// After the bus reconnects, connections catch up from the store within this.
const CATCH_UP_WITHIN: Duration = Duration::from_secs(15);

// ---- The cluster ------------------------------------------------------------------------

/// A database, a Redis and two gateways sharing them. Fields drop in order: the gateways
/// first, the database (whose drop terminates leftover connections) last.
struct Cluster {
    pods: Vec<ConveneProcess>,
    redis: ThrowawayRedis,
    database: TestDatabase,
    http: reqwest::Client,
}

impl Cluster {
    async fn start(n_pods: usize) -> Self {
        let started = Instant::now();
        let database = TestDatabase::create();
        let migrated = run_to_exit(
            &["migrate"],
            &[("CONVENE_DATABASE_URL", database.url())],
            Duration::from_secs(60),
        );
        assert_eq!(
            migrated.status.code(),
            Some(0),
            "convene migrate: {}\n--- stdout\n{}\n--- stderr\n{}",
            migrated.status,
            migrated.stdout,
            migrated.stderr
        );
        let redis = ThrowawayRedis::start_new();
        let redis_url = redis.url();
        let jwt_keys = format!("k1:{}", STANDARD.encode(random_secret()));
        let env = [
            ("CONVENE_DATABASE_URL", database.url()),
            ("CONVENE_REDIS_URL", redis_url.as_str()),
            ("CONVENE_JWT_KEYS", jwt_keys.as_str()),
        ];
        let pods =
            futures::future::join_all((0..n_pods).map(|_| ConveneProcess::start("gateway", &env)))
                .await;
        let cluster = Cluster {
            pods,
            redis,
            database,
            http: http_client(),
        };
        for pod in &cluster.pods {
            cluster.wait_ready(pod).await;
        }
        eprintln!(
            "cluster of {n_pods} gateways on {} (redis :{}) ready after {:?}",
            cluster.database.name(),
            cluster.redis.port(),
            started.elapsed()
        );
        cluster
    }

    fn pod(&self, index: usize) -> &ConveneProcess {
        &self.pods[index]
    }

    /// Waits until `/readyz` says `ready` (the pod reached the database and Redis).
    async fn wait_ready(&self, pod: &ConveneProcess) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (status, body) = self.get(pod, "/readyz").await;
            if status == StatusCode::OK && body["status"] == "ready" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready within 20 s: {status} {body}",
                pod.addr()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn get(&self, pod: &ConveneProcess, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(pod.url(path))
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {path} on {}: {error}", pod.addr()));
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn register(&self, pod: usize, username: &str) -> TestUser {
        let response = self
            .http
            .post(self.pod(pod).url("/api/v1/auth/register"))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .expect("POST /api/v1/auth/register");
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "register {username}: {body}");
        TestUser {
            name: username.to_owned(),
            id: body["user"]["id"].as_str().unwrap().parse().unwrap(),
            token: body["access_token"].as_str().unwrap().to_owned(),
        }
    }

    /// `POST /api/v1/conversations/direct` as `user` on pod `pod`.
    async fn start_direct(&self, pod: usize, user: &TestUser, peer: &TestUser) -> Uuid {
        let response = self
            .http
            .post(self.pod(pod).url("/api/v1/conversations/direct"))
            .bearer_auth(&user.token)
            .json(&json!({"user_id": peer.id}))
            .send()
            .await
            .expect("POST /api/v1/conversations/direct");
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "start a direct chat: {body}");
        body["id"].as_str().unwrap().parse().unwrap()
    }

    /// A WebSocket to pod `pod` as `user`, resumed with `cursors`.
    async fn connect(&self, pod: usize, user: &TestUser, cursors: &[(Uuid, i64)]) -> Socket {
        let (client, before_resumed) = WsClient::connect_and_resume(
            self.pod(pod).addr(),
            &user.token,
            cursors,
            RESUME_TIMEOUT,
        )
        .await
        .unwrap_or_else(|error| panic!("{} connecting to pod {pod}: {error:?}", user.name));
        Socket {
            client,
            before_resumed,
        }
    }
}

#[derive(Debug, Clone)]
struct TestUser {
    name: String,
    id: Uuid,
    token: String,
}

/// A resumed connection and what came before `resumed`.
struct Socket {
    client: WsClient,
    before_resumed: Vec<Value>,
}

fn random_secret() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    bytes
}

fn is_type(frame: &Value, frame_type: &str) -> bool {
    frame["type"] == frame_type
}

fn is_presence(frame: &Value, user: &TestUser, online: bool) -> bool {
    is_type(frame, "presence")
        && frame["user_id"] == user.id.to_string()
        && frame["online"] == online
}

/// Sends a message and waits for its `message_sent`; returns its seq. An `error` answer
/// fails the test.
async fn send_and_ack(
    client: &mut WsClient,
    conversation_id: Uuid,
    client_id: &str,
    body: &str,
) -> i64 {
    client
        .send(json!({"type": "send_message", "request_id": client_id,
                     "conversation_id": conversation_id, "client_id": client_id, "body": body}))
        .await
        .unwrap_or_else(|error| panic!("sending {client_id}: {error}"));
    let answer = client
        .recv_where(
            &format!("the answer to {client_id}"),
            ACK_TIMEOUT,
            |frame| {
                frame["request_id"] == client_id
                    && (is_type(frame, "message_sent") || is_type(frame, "error"))
            },
        )
        .await;
    assert_eq!(answer["type"], "message_sent", "{client_id}: {answer}");
    assert_eq!(answer["duplicate"], false, "{answer}");
    answer["message"]["seq"].as_i64().expect("a seq")
}

// ---- A client that follows one conversation and reconnects ------------------------------

/// What a [`Follower`] saw.
#[derive(Debug, Default)]
struct Followed {
    /// Every event of the conversation, in arrival order, over every connection.
    events: Vec<Value>,
    /// The highest seq applied: the `resume` cursor of the next connection.
    cursor: i64,
    /// The pods it was connected to, in order.
    connections: Vec<SocketAddr>,
    /// How each connection ended.
    closes: Vec<String>,
    /// Per connection, the events that came with `resume` (before `resumed`).
    replayed_on_resume: Vec<usize>,
    /// `resync_required`, `error` and other frames a healthy run never sends.
    anomalies: Vec<Value>,
}

impl Followed {
    fn report(&self) -> String {
        format!(
            "seqs in arrival order: {:?}\nconnections: {:?} (events replayed on resume: \
             {:?})\ncloses: {:?}\nanomalies: {:?}",
            self.seqs(),
            self.connections,
            self.replayed_on_resume,
            self.closes,
            self.anomalies
        )
    }

    fn seqs(&self) -> Vec<i64> {
        self.events
            .iter()
            .map(|event| event["seq"].as_i64().unwrap())
            .collect()
    }

    /// client_id → how many times a `message_created` with it arrived.
    fn client_ids(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for event in &self.events {
            if event["change"]["kind"] == "message_created"
                && let Some(client_id) = event["change"]["message"]["client_id"].as_str()
            {
                *counts.entry(client_id.to_owned()).or_default() += 1;
            }
        }
        counts
    }
}

/// A user's client as the protocol asks it to be: it applies the events of one
/// conversation, remembers the newest seq, and when the connection ends reconnects (to the
/// first of `pods` that answers, once `may_reconnect` is true) and resumes from that seq.
struct Follower {
    seen: Arc<Mutex<Followed>>,
    may_reconnect: watch::Sender<bool>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Follower {
    /// Connects to `pods[0]` and resumes `conversation_id` from seq 0 (so every event of the
    /// conversation is expected); returns once `resumed` arrived.
    async fn start(user: &TestUser, conversation_id: Uuid, pods: Vec<SocketAddr>) -> Self {
        let seen = Arc::new(Mutex::new(Followed::default()));
        let (may_reconnect, mut reconnect_allowed) = watch::channel(false);
        let stop = CancellationToken::new();
        let (first, before) = WsClient::connect_and_resume(
            pods[0],
            &user.token,
            &[(conversation_id, 0)],
            RESUME_TIMEOUT,
        )
        .await
        .unwrap_or_else(|error| panic!("{} connecting: {error:?}", user.name));
        {
            let mut seen = seen.lock().unwrap();
            seen.connections.push(pods[0]);
            seen.replayed_on_resume.push(count_events(&before));
            for frame in before {
                apply(&mut seen, conversation_id, frame);
            }
        }
        let task = tokio::spawn({
            let seen = seen.clone();
            let stop = stop.clone();
            let token = user.token.clone();
            async move {
                let mut client = first;
                loop {
                    // Read until the connection ends.
                    let end = loop {
                        let incoming = tokio::select! {
                            () = stop.cancelled() => return,
                            incoming = client.next_until(Instant::now() + Duration::from_secs(3600)) => incoming,
                        };
                        match incoming {
                            Some(Incoming::Frame(frame)) => {
                                apply(&mut seen.lock().unwrap(), conversation_id, frame);
                            }
                            Some(Incoming::Closed(reason)) => break reason,
                            None => {}
                        }
                    };
                    seen.lock().unwrap().closes.push(end);
                    drop(client);
                    // Reconnect when allowed, with backoff, to the first pod that answers.
                    tokio::select! {
                        () = stop.cancelled() => return,
                        allowed = reconnect_allowed.wait_for(|allowed| *allowed) => {
                            if allowed.is_err() { return; }
                        }
                    }
                    let mut backoff = Duration::from_millis(50);
                    client = 'connect: loop {
                        for pod in &pods {
                            let cursor = seen.lock().unwrap().cursor;
                            match WsClient::connect_and_resume(
                                *pod,
                                &token,
                                &[(conversation_id, cursor)],
                                RESUME_TIMEOUT,
                            )
                            .await
                            {
                                Ok((client, before)) => {
                                    let mut seen = seen.lock().unwrap();
                                    seen.connections.push(*pod);
                                    seen.replayed_on_resume.push(count_events(&before));
                                    for frame in before {
                                        apply(&mut seen, conversation_id, frame);
                                    }
                                    break 'connect client;
                                }
                                Err(ConnectError::Refused(status)) => {
                                    seen.lock().unwrap().closes.push(format!(
                                        "reconnecting to {pod}: refused with {status}"
                                    ));
                                }
                                Err(ConnectError::Io(_)) => {}
                            }
                        }
                        tokio::select! {
                            () = stop.cancelled() => return,
                            () = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                    };
                }
            }
        });
        Follower {
            seen,
            may_reconnect,
            stop,
            task,
        }
    }

    fn allow_reconnect(&self) {
        self.may_reconnect.send_replace(true);
    }

    fn cursor(&self) -> i64 {
        self.seen.lock().unwrap().cursor
    }

    /// Waits until the follower applied `seq`; fails the test with what it saw otherwise.
    async fn wait_for_seq(&self, seq: i64, within: Duration, what: &str) -> Duration {
        let started = Instant::now();
        let deadline = started + within;
        loop {
            if self.cursor() >= seq {
                return started.elapsed();
            }
            assert!(
                Instant::now() < deadline,
                "{what}: the follower's newest seq is {} after {within:?}, expected {seq}\n{}",
                self.cursor(),
                self.report()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn report(&self) -> String {
        self.seen.lock().unwrap().report()
    }

    async fn stop(mut self) -> Followed {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.cancel();
        self.task.abort();
    }
}

fn count_events(frames: &[Value]) -> usize {
    frames
        .iter()
        .filter(|frame| is_type(frame, "event"))
        .count()
}

fn apply(seen: &mut Followed, conversation_id: Uuid, frame: Value) {
    match frame["type"].as_str() {
        Some("event") if frame["event"]["conversation_id"] == conversation_id.to_string() => {
            let seq = frame["event"]["seq"].as_i64().expect("an event has a seq");
            seen.cursor = seen.cursor.max(seq);
            seen.events.push(frame["event"].clone());
        }
        Some("resync_required" | "error" | "conversation_removed" | "_unparsable") => {
            seen.anomalies.push(frame);
        }
        _ => {}
    }
}

/// The follower got every event of the conversation from 1 to `last_seq` exactly once and in
/// order, and every acknowledged message (client_id → seq) exactly once, with its seq.
fn assert_complete_once_in_order(seen: &Followed, last_seq: i64, acked: &[(String, i64)]) {
    let report = seen.report();
    assert!(
        seen.anomalies.is_empty(),
        "unexpected frames: {:?}\n{report}",
        seen.anomalies
    );
    let expected: Vec<i64> = (1..=last_seq).collect();
    assert_eq!(
        seen.seqs(),
        expected,
        "events must arrive once each, in seq order, without gaps\n{report}"
    );
    let counts = seen.client_ids();
    for (client_id, seq) in acked {
        assert_eq!(
            counts.get(client_id).copied(),
            Some(1),
            "acknowledged message {client_id} (seq {seq}) must arrive exactly once\n{report}"
        );
        let event = seen
            .events
            .iter()
            .find(|event| event["change"]["message"]["client_id"] == client_id.as_str())
            .unwrap();
        assert_eq!(event["seq"], *seq, "{client_id}: {event}");
    }
}

// ---- Tests -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_on_different_pods_chat_with_typing_presence_and_receipts() {
    let test_started = Instant::now();
    let cluster = Cluster::start(2).await;
    let (pod_a, pod_b) = (0, 1);
    let alice = cluster.register(pod_a, "alice").await;
    let bob = cluster.register(pod_b, "bob").await;

    let mut alice_ws = cluster.connect(pod_a, &alice, &[]).await.client;
    let mut bob_ws = cluster.connect(pod_b, &bob, &[]).await.client;

    // Alice starts the chat on A: both sockets hear of it, bob's through Redis.
    let conversation_id = cluster.start_direct(pod_a, &alice, &bob).await;
    let is_added = |frame: &Value| {
        is_type(frame, "conversation_added")
            && frame["conversation"]["conversation"]["id"] == conversation_id.to_string()
    };
    let added = alice_ws
        .recv_where("alice's conversation_added", FRAME_TIMEOUT, is_added)
        .await;
    assert_eq!(
        added["conversation"]["peer_id"],
        bob.id.to_string(),
        "{added}"
    );
    let added = bob_ws
        .recv_where(
            "bob's conversation_added (from pod A)",
            FRAME_TIMEOUT,
            is_added,
        )
        .await;
    assert_eq!(
        added["conversation"]["peer_id"],
        alice.id.to_string(),
        "{added}"
    );
    assert_eq!(
        added["conversation"]["conversation"]["kind"], "direct",
        "{added}"
    );

    // A message from A reaches B.
    let seq = send_and_ack(&mut alice_ws, conversation_id, "a1", "Hi Bob, from pod A").await;
    let is_event = |seq: i64| {
        move |frame: &Value| {
            is_type(frame, "event")
                && frame["event"]["conversation_id"] == conversation_id.to_string()
                && frame["event"]["seq"] == seq
        }
    };
    let event = bob_ws
        .recv_where(
            "bob's event of alice's message",
            FRAME_TIMEOUT,
            is_event(seq),
        )
        .await;
    let change = &event["event"]["change"];
    assert_eq!(change["kind"], "message_created", "{event}");
    assert_eq!(change["message"]["body"], "Hi Bob, from pod A", "{event}");
    assert_eq!(
        change["message"]["sender_id"],
        alice.id.to_string(),
        "{event}"
    );
    assert_eq!(event["event"]["actor_id"], alice.id.to_string(), "{event}");
    // …and one from B reaches A.
    let seq = send_and_ack(
        &mut bob_ws,
        conversation_id,
        "b1",
        "Hello Alice, from pod B",
    )
    .await;
    let event = alice_ws
        .recv_where(
            "alice's event of bob's message",
            FRAME_TIMEOUT,
            is_event(seq),
        )
        .await;
    assert_eq!(
        event["event"]["change"]["message"]["body"], "Hello Alice, from pod B",
        "{event}"
    );

    // Typing on B shows on A.
    bob_ws
        .send(json!({"type": "typing", "conversation_id": conversation_id}))
        .await
        .unwrap();
    let typing = alice_ws
        .recv_where("alice's typing", FRAME_TIMEOUT, |frame| {
            is_type(frame, "typing")
        })
        .await;
    assert_eq!(
        typing["conversation_id"],
        conversation_id.to_string(),
        "{typing}"
    );
    assert_eq!(typing["user_id"], bob.id.to_string(), "{typing}");
    assert!(typing["expires_in_ms"].as_u64().unwrap() > 0, "{typing}");

    // Bob reads alice's message on B: alice's tick turns blue on A.
    let read_seq = seq;
    bob_ws
        .send(json!({"type": "mark_read", "request_id": "r1",
                     "conversation_id": conversation_id, "seq": read_seq}))
        .await
        .unwrap();
    let answer = bob_ws
        .recv_where("the answer to mark_read", FRAME_TIMEOUT, |frame| {
            frame["request_id"] == "r1"
        })
        .await;
    assert_eq!(answer["type"], "ok", "{answer}");
    let receipt = alice_ws
        .recv_where("alice's receipt", FRAME_TIMEOUT, |frame| {
            is_type(frame, "receipt") && frame["user_id"] == bob.id.to_string()
        })
        .await;
    assert_eq!(
        receipt["conversation_id"],
        conversation_id.to_string(),
        "{receipt}"
    );
    assert_eq!(receipt["read_seq"], read_seq, "{receipt}");

    // Presence: bob, now a contact, leaves B…
    bob_ws.close().await;
    let offline = alice_ws
        .recv_where("bob offline", FRAME_TIMEOUT, |frame| {
            is_presence(frame, &bob, false)
        })
        .await;
    assert!(offline["last_seen_at"].is_string(), "{offline}");

    // …alice writes while he is away…
    let missed_seq = send_and_ack(&mut alice_ws, conversation_id, "a2", "Are you there?").await;

    // …and he comes back to B: alice sees him online, and he gets what he missed on resume.
    let bob_again = cluster
        .connect(pod_b, &bob, &[(conversation_id, read_seq)])
        .await;
    let replayed: Vec<i64> = bob_again
        .before_resumed
        .iter()
        .filter(|frame| is_type(frame, "event"))
        .map(|frame| frame["event"]["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        replayed,
        (read_seq + 1..=missed_seq).collect::<Vec<_>>(),
        "resume replays what bob missed: {:?}",
        bob_again.before_resumed
    );
    alice_ws
        .recv_where("bob online", FRAME_TIMEOUT, |frame| {
            is_presence(frame, &bob, true)
        })
        .await;
    // GET /api/v1/presence on A agrees with the bus.
    let response = cluster
        .http
        .get(
            cluster
                .pod(pod_a)
                .url(&format!("/api/v1/presence?user_ids={}", bob.id)),
        )
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["presence"][0]["online"], true, "{body}");

    bob_again.client.close().await;
    alice_ws
        .recv_where("bob offline again", FRAME_TIMEOUT, |frame| {
            is_presence(frame, &bob, false)
        })
        .await;
    alice_ws.close().await;
    eprintln!("test took {:?}", test_started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_pod_loses_nothing_acknowledged() {
    const N: usize = 40;
    const KILL_AFTER: usize = 15;
    /// Acks alice gets after the kill before bob's client may reconnect, so that some
    /// messages are only in the store when he resumes.
    const SENT_WHILE_AWAY: usize = 5;

    let test_started = Instant::now();
    let mut cluster = Cluster::start(2).await;
    let (pod_a, pod_b) = (0, 1);
    let (addr_a, addr_b) = (cluster.pod(pod_a).addr(), cluster.pod(pod_b).addr());
    let alice = cluster.register(pod_a, "alice").await;
    let bob = cluster.register(pod_b, "bob").await;
    let carol = cluster.register(pod_b, "carol").await;
    let with_bob = cluster.start_direct(pod_a, &alice, &bob).await;
    cluster.start_direct(pod_a, &alice, &carol).await;

    let mut alice_ws = cluster.connect(pod_a, &alice, &[]).await.client;
    // Carol is connected to B only: she must be announced offline when B dies.
    let carol_ws = cluster.connect(pod_b, &carol, &[]).await.client;
    alice_ws
        .recv_where("carol online", FRAME_TIMEOUT, |frame| {
            is_presence(frame, &carol, true)
        })
        .await;
    // Bob's client prefers B; after B dies it reconnects to A.
    let bob_client = Follower::start(&bob, with_bob, vec![addr_b, addr_a]).await;
    alice_ws
        .recv_where("bob online", FRAME_TIMEOUT, |frame| {
            is_presence(frame, &bob, true)
        })
        .await;

    let mut acked: Vec<(String, i64)> = Vec::new();
    let mut killed_at = None;
    let mut history_at_kill = 0;
    for i in 1..=N {
        let client_id = format!("m{i:02}");
        let seq = send_and_ack(&mut alice_ws, with_bob, &client_id, &format!("message {i}")).await;
        acked.push((client_id, seq));
        if i == KILL_AFTER {
            // Bob has been reading along: he is not simply catching up at the end.
            bob_client
                .wait_for_seq(seq, FRAME_TIMEOUT, "before the kill")
                .await;
            history_at_kill = alice_ws.history_len();
            let status = cluster.pods[pod_b].kill();
            killed_at = Some(Instant::now());
            eprintln!("pod B killed ({status}) after {i} acknowledged messages");
        }
        if i == KILL_AFTER + SENT_WHILE_AWAY {
            bob_client.allow_reconnect();
        }
    }
    let killed_at = killed_at.unwrap();
    let last_seq = acked.last().unwrap().1;
    eprintln!(
        "{N} messages acknowledged, the last {:?} after the kill",
        killed_at.elapsed()
    );

    let took = bob_client
        .wait_for_seq(last_seq, CATCH_UP_WITHIN, "after the last ack")
        .await;
    eprintln!("bob had everything {took:?} after the last ack");

    // Carol's only connection died with B: alice hears she went offline once A swept B.
    let offline = alice_ws
        .wait_in_history(
            history_at_kill,
            DEAD_POD_OFFLINE_WITHIN.saturating_sub(killed_at.elapsed()),
            |frame| is_presence(frame, &carol, false),
        )
        .await
        .unwrap_or_else(|| {
            panic!(
                "alice did not see carol go offline within {DEAD_POD_OFFLINE_WITHIN:?} of the \
                 kill; frames since the kill: {:?}",
                alice_ws.history().get(history_at_kill..)
            )
        });
    assert!(offline["last_seen_at"].is_string(), "{offline}");
    eprintln!(
        "carol offline for alice {:?} after the kill",
        killed_at.elapsed()
    );
    // Bob moved to A before B's connections expired: the sweep of B must not announce him
    // offline (he never was).
    assert_eq!(
        alice_ws.find_in_history(history_at_kill, |frame| is_presence(frame, &bob, false)),
        None,
        "bob reconnected to pod A, yet alice was told he went offline"
    );

    let seen = bob_client.stop().await;
    assert_eq!(
        seen.connections,
        vec![addr_b, addr_a],
        "bob's client must have moved from B to A; closes: {:?}",
        seen.closes
    );
    assert!(
        seen.replayed_on_resume[1] >= SENT_WHILE_AWAY,
        "the messages sent while bob was away come with his resume on A\n{}",
        seen.report()
    );
    assert_complete_once_in_order(&seen, last_seq, &acked);
    eprintln!(
        "events replayed on resume, per connection: {:?}",
        seen.replayed_on_resume
    );
    drop(carol_ws);
    alice_ws.close().await;
    eprintln!("test took {:?}", test_started.elapsed());
}

/// `/healthz` and `/readyz` of every pod, polled while Redis goes away and comes back.
#[derive(Debug, Clone)]
struct Probe {
    at: Instant,
    pod: SocketAddr,
    path: &'static str,
    status: Option<StatusCode>,
    body: Value,
}

/// Polls `/healthz` and `/readyz` of every pod every 200 ms until stopped.
struct Prober {
    probes: Arc<Mutex<Vec<Probe>>>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Prober {
    fn start(pods: Vec<(SocketAddr, String)>) -> Self {
        let probes = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let probes = probes.clone();
            let stop = stop.clone();
            async move {
                let http = http_client();
                while !stop.is_cancelled() {
                    for (addr, base) in &pods {
                        for path in ["/healthz", "/readyz"] {
                            let at = Instant::now();
                            let (status, body) =
                                match http.get(format!("{base}{path}")).send().await {
                                    Ok(response) => {
                                        let status = response.status();
                                        let body = response.json().await.unwrap_or(Value::Null);
                                        (Some(status), body)
                                    }
                                    Err(error) => (None, Value::String(error.to_string())),
                                };
                            probes.lock().unwrap().push(Probe {
                                at,
                                pod: *addr,
                                path,
                                status,
                                body,
                            });
                        }
                    }
                    tokio::select! {
                        () = stop.cancelled() => {}
                        () = tokio::time::sleep(Duration::from_millis(200)) => {}
                    }
                }
            }
        });
        Prober { probes, stop, task }
    }

    /// The pods (of `pods`) whose `/readyz`, asked at `since` or later, answered 200
    /// `degraded`.
    fn degraded_since(&self, since: Instant, pods: &[SocketAddr]) -> Vec<SocketAddr> {
        let probes = self.probes.lock().unwrap();
        pods.iter()
            .copied()
            .filter(|addr| {
                probes.iter().any(|probe| {
                    probe.at >= since
                        && probe.pod == *addr
                        && probe.path == "/readyz"
                        && probe.status == Some(StatusCode::OK)
                        && probe.body["status"] == "degraded"
                })
            })
            .collect()
    }

    async fn stop(self) -> Vec<Probe> {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        std::mem::take(&mut *self.probes.lock().unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_loses_nothing_acknowledged() {
    const N: usize = 30;
    const KILL_AFTER: usize = 10;
    /// Messages acknowledged while Redis is down before it comes back.
    const ACKED_WHILE_DOWN: usize = 3;

    let test_started = Instant::now();
    let mut cluster = Cluster::start(2).await;
    let (pod_a, pod_b) = (0, 1);
    let (addr_a, addr_b) = (cluster.pod(pod_a).addr(), cluster.pod(pod_b).addr());
    let alice = cluster.register(pod_a, "alice").await;
    let bob = cluster.register(pod_b, "bob").await;
    let conversation_id = cluster.start_direct(pod_a, &alice, &bob).await;

    let mut alice_ws = cluster.connect(pod_a, &alice, &[]).await.client;
    let bob_client = Follower::start(&bob, conversation_id, vec![addr_b]).await;

    let prober = Prober::start(
        cluster
            .pods
            .iter()
            .map(|pod| (pod.addr(), pod.url("")))
            .collect(),
    );

    let mut acked: Vec<(String, i64)> = Vec::new();
    let mut down_at = None;
    let mut up_at = None;
    for i in 1..=N {
        let client_id = format!("m{i:02}");
        let sent = Instant::now();
        let seq = send_and_ack(
            &mut alice_ws,
            conversation_id,
            &client_id,
            &format!("message {i}"),
        )
        .await;
        acked.push((client_id, seq));
        if down_at.is_some() && up_at.is_none() {
            eprintln!(
                "ack of message {i} while Redis is down took {:?}",
                sent.elapsed()
            );
        }
        if i == KILL_AFTER {
            bob_client
                .wait_for_seq(seq, FRAME_TIMEOUT, "before Redis goes away")
                .await;
            cluster.redis.kill();
            down_at = Some(Instant::now());
            eprintln!("redis killed after {i} acknowledged messages");
        }
        if i == KILL_AFTER + ACKED_WHILE_DOWN {
            // Keep Redis away until both pods reported themselves degraded.
            let down = down_at.unwrap();
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                let degraded = prober.degraded_since(down, &[addr_a, addr_b]);
                if degraded.len() == 2 {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "/readyz did not answer 200 degraded on both pods within 15 s of the Redis \
                     outage (degraded: {degraded:?})"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            cluster.redis.start();
            let up = Instant::now();
            up_at = Some(up);
            eprintln!("redis back after {:?} down", down.elapsed());
            // Nothing new is sent until bob has what was acknowledged during the outage:
            // only the catch-up from the store that follows the bus's reconnection can
            // bring it (no later event reveals a gap).
            let took = bob_client
                .wait_for_seq(seq, CATCH_UP_WITHIN, "catching up after Redis came back")
                .await;
            eprintln!("bob caught up {took:?} after Redis came back");
        }
    }
    let (down_at, up_at) = (down_at.unwrap(), up_at.unwrap());
    let last_seq = acked.last().unwrap().1;
    eprintln!(
        "{N} messages acknowledged, the last {:?} after Redis came back",
        up_at.elapsed()
    );

    // Bob never left pod B; live delivery through the new Redis works again.
    let took = bob_client
        .wait_for_seq(last_seq, FRAME_TIMEOUT, "after Redis came back")
        .await;
    eprintln!(
        "bob had everything {took:?} after the last ack ({:?} after Redis came back)",
        up_at.elapsed()
    );

    let probes = prober.stop().await;
    let failed_health: Vec<&Probe> = probes
        .iter()
        .filter(|probe| probe.path == "/healthz" && probe.status != Some(StatusCode::OK))
        .collect();
    assert!(
        failed_health.is_empty(),
        "/healthz must answer 200 throughout: {failed_health:?}"
    );
    let during_outage: Vec<&Probe> = probes
        .iter()
        .filter(|probe| probe.at >= down_at && probe.at < up_at)
        .collect();
    assert!(
        during_outage.iter().any(|probe| probe.path == "/healthz"),
        "no /healthz probe during the outage"
    );
    for addr in [addr_a, addr_b] {
        assert!(
            during_outage.iter().any(|probe| {
                probe.pod == addr
                    && probe.path == "/readyz"
                    && probe.status == Some(StatusCode::OK)
                    && probe.body["status"] == "degraded"
            }),
            "{addr}: /readyz never answered 200 degraded while Redis was down: {during_outage:?}"
        );
    }
    let not_ok: Vec<&&Probe> = during_outage
        .iter()
        .filter(|probe| probe.path == "/readyz" && probe.status != Some(StatusCode::OK))
        .collect();
    assert!(
        not_ok.is_empty(),
        "a Redis outage must not take pods out of rotation: {not_ok:?}"
    );

    let seen = bob_client.stop().await;
    assert_eq!(
        seen.connections,
        vec![addr_b],
        "bob's connection must have survived the Redis restart; closes: {:?}",
        seen.closes
    );
    assert_complete_once_in_order(&seen, last_seq, &acked);
    alice_ws.close().await;
    eprintln!("test took {:?}", test_started.elapsed());
}

/// Presence changes while Redis is away (a user leaving on one pod, another arriving) reach
/// contacts on the other pod once Redis is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_changes_during_a_redis_outage_reach_contacts_when_it_returns() {
    let mut cluster = Cluster::start(2).await;
    let (pod_a, pod_b) = (0, 1);
    let alice = cluster.register(pod_a, "alice").await;
    let bob = cluster.register(pod_b, "bob").await;
    let carol = cluster.register(pod_b, "carol").await;
    cluster.start_direct(pod_a, &alice, &bob).await;
    cluster.start_direct(pod_a, &alice, &carol).await;
    let mut alice_ws = cluster.connect(pod_a, &alice, &[]).await.client;
    let bob_ws = cluster.connect(pod_b, &bob, &[]).await.client;
    alice_ws
        .recv_where("bob online", FRAME_TIMEOUT, |frame| {
            is_presence(frame, &bob, true)
        })
        .await;

    cluster.redis.kill();
    let outage_starts = alice_ws.history_len();
    bob_ws.close().await;
    let carol_ws = cluster.connect(pod_b, &carol, &[]).await.client;
    // Let pod B notice both while Redis is down.
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.redis.start();

    let patience = Duration::from_secs(20);
    let bob_offline = alice_ws
        .wait_in_history(outage_starts, patience, |frame| {
            is_presence(frame, &bob, false)
        })
        .await;
    assert!(
        bob_offline.is_some(),
        "alice never heard bob leave: {:?}",
        alice_ws.history()
    );
    assert!(bob_offline.unwrap()["last_seen_at"].is_string());
    let carol_online = alice_ws
        .wait_in_history(outage_starts, patience, |frame| {
            is_presence(frame, &carol, true)
        })
        .await;
    assert!(
        carol_online.is_some(),
        "alice never heard carol arrive: {:?}",
        alice_ws.history()
    );
    carol_ws.close().await;
}
