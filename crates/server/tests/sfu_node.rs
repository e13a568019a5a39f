//! `convene sfu`, the media node, as a real process against a throwaway Redis: it registers
//! in the SFU registry, guards its control API with the shared secret, and on SIGTERM
//! drains (no new meetings) until its last participant has left.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use chrono::Utc;
use convene_bus::{Bus, NodeState, RedisBus};
use futures::StreamExt;
use serde_json::{Value, json};
use support::ConveneProcess;
use support::redis::ThrowawayRedis;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

const SECRET: &str = "control-secret-0123456789";

async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn session_url(node: &ConveneProcess, room: &str) -> String {
    format!(
        "ws://{}/internal/v1/rooms/{room}/sessions?user_id={}&display_name=Ada",
        node.addr(),
        Uuid::new_v4()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_node_registers_guards_its_control_api_and_drains_on_sigterm() {
    let redis = ThrowawayRedis::start_new();
    let redis_url = redis.url();
    let mut node = ConveneProcess::start(
        "sfu",
        &[
            ("CONVENE_REDIS_URL", redis_url.as_str()),
            ("CONVENE_SFU_CONTROL_SECRET", SECRET),
            ("CONVENE_SFU_DRAIN_TIMEOUT_SECONDS", "60"),
        ],
    )
    .await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let ready = http.get(node.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    // The registry lists it, ready, within a heartbeat.
    let bus = RedisBus::connect(&redis_url).unwrap();
    let record = eventually("the node registers", async || {
        bus.sfu_nodes(Utc::now()).await.ok()?.into_iter().next()
    })
    .await
    .0;
    assert_eq!(record.state, NodeState::Ready);
    assert_eq!(record.control_url, format!("http://{}", node.addr()));

    // Without the secret, or with a wrong one, the control API refuses.
    for secret in [None, Some("wrong-secret-0123456789")] {
        let mut request = session_url(&node, "room-1").into_client_request().unwrap();
        if let Some(secret) = secret {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {secret}").parse().unwrap());
        }
        let refused = tokio_tungstenite::connect_async(request).await;
        assert!(
            matches!(&refused, Err(tokio_tungstenite::tungstenite::Error::Http(response)) if response.status() == 401),
            "{refused:?}"
        );
    }

    // A gateway's session: joined, then the roster.
    let mut request = session_url(&node, "room-1").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {SECRET}").parse().unwrap());
    let (mut session, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut next_frame = async || -> Value {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), session.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => return serde_json::from_str(&text).unwrap(),
                Ok(Some(Ok(_))) => continue,
                other => panic!("control connection ended: {other:?}"),
            }
        }
    };
    let joined = next_frame().await;
    assert_eq!(joined["type"], "joined", "{joined}");
    assert_eq!(joined["admitted"], true);
    let roster = next_frame().await;
    assert_eq!(roster["event"]["type"], "roster", "{roster}");
    assert_eq!(roster["event"]["participants"][0]["display_name"], "Ada");

    // SIGTERM: draining. Not ready, no new meetings, but the meeting in progress goes on.
    node.signal_terminate();
    eventually("the node drains", async || {
        let status = http.get(node.url("/readyz")).send().await.ok()?.status();
        (status == 503).then_some(())
    })
    .await;
    eventually("the registry says draining", async || {
        let (record, _) = bus.sfu_nodes(Utc::now()).await.ok()?.into_iter().next()?;
        (record.state == NodeState::Draining).then_some(())
    })
    .await;
    let mut request = session_url(&node, "room-2").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {SECRET}").parse().unwrap());
    let (mut late, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let refused = late.next().await.unwrap().unwrap();
    let refused: Value = serde_json::from_str(refused.to_text().unwrap()).unwrap();
    assert_eq!(refused, json!({"type": "refused", "reason": "draining"}));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        node.try_wait().is_none(),
        "a draining node waits for its meetings"
    );

    // The last participant leaves: the node deregisters and stops.
    session.close(None).await.unwrap();
    let status = node.terminate(Duration::from_secs(15)).await;
    assert!(status.success(), "{status:?}");
    assert!(bus.sfu_nodes(Utc::now()).await.unwrap().is_empty());
    bus.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_node_drains_when_the_operator_asks_and_returns_to_service_when_it_withdraws() {
    let redis = ThrowawayRedis::start_new();
    let redis_url = redis.url();
    let mut node = ConveneProcess::start(
        "sfu",
        &[
            ("CONVENE_REDIS_URL", redis_url.as_str()),
            ("CONVENE_SFU_CONTROL_SECRET", SECRET),
            ("CONVENE_SFU_NODE_NAME", "main-x7k2p"),
        ],
    )
    .await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let bus = RedisBus::connect(&redis_url).unwrap();
    let state_of_node = async || -> Option<NodeState> {
        let nodes = bus.sfu_all_nodes().await.ok()?;
        let (record, _) = nodes
            .into_iter()
            .find(|(node, _)| node.name == "main-x7k2p")?;
        Some(record.state)
    };
    eventually("the node registers under its name", async || {
        (state_of_node().await == Some(NodeState::Ready)).then_some(())
    })
    .await;

    bus.sfu_request_drain("main-x7k2p", true).await.unwrap();
    eventually("the node reports draining", async || {
        (state_of_node().await == Some(NodeState::Draining)).then_some(())
    })
    .await;
    let ready = http.get(node.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let mut request = session_url(&node, "room-1").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {SECRET}").parse().unwrap());
    let (mut refused, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let answer = refused.next().await.unwrap().unwrap();
    let answer: Value = serde_json::from_str(answer.to_text().unwrap()).unwrap();
    assert_eq!(answer, json!({"type": "refused", "reason": "draining"}));

    // Withdrawn: back in service, unlike a SIGTERM drain.
    bus.sfu_request_drain("main-x7k2p", false).await.unwrap();
    eventually("the node is back in service", async || {
        (state_of_node().await == Some(NodeState::Ready)).then_some(())
    })
    .await;
    let ready = http.get(node.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let status = node.terminate(Duration::from_secs(15)).await;
    assert!(status.success(), "{status:?}");
    bus.close().await;
}
