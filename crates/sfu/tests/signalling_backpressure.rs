//! A session whose events are not read for a while: the gateway's connection to a browser
//! that stalls (a background tab, a slow link). The node must not block on it, but what it
//! drops must not leave the session stuck once it reads again.

use std::time::Duration;

use convene_sfu::testing::{Participant, ParticipantOptions, eventually};
use convene_sfu::{
    JoinRequest, ParticipantState, SessionCommand, SessionEvent, SfuConfig, SfuNode, SfuSession,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const PATIENCE: Duration = Duration::from_secs(30);

async fn join(node: &SfuNode, display_name: &str) -> anyhow::Result<SfuSession> {
    Ok(node
        .join(JoinRequest {
            room: "standup".to_owned(),
            user_id: Uuid::new_v4(),
            display_name: display_name.to_owned(),
            host: false,
            guest: false,
        })
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_session_still_gets_its_subscribe_offer() -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let node = SfuNode::start(
        SfuConfig {
            udp_bind_addr: "127.0.0.1:0".parse()?,
            advertised_addr: None,
            tcp_bind_addr: None,
            max_rooms: 10,
            max_participants: 50,
        },
        shutdown.clone(),
    )
    .await?;
    // Nothing reads this session's events for now.
    let mut lagging = join(&node, "lagging").await?;
    // Every state change is a roster for everyone: more than a session's queue (256) holds.
    let chatty = join(&node, "chatty").await?;
    for change in 0..300 {
        chatty
            .send(SessionCommand::State(ParticipantState {
                hand_raised: change % 2 == 0,
                ..ParticipantState::default()
            }))
            .await?;
    }
    // Someone publishes: the node subscribes the lagging session and offers it the tracks.
    let publisher =
        Participant::join(&node, "standup", ParticipantOptions::publishing("ada")).await?;
    eventually(
        "ada's microphone and camera are published",
        PATIENCE,
        || node.load().tracks == 2,
    )
    .await?;
    // The node answers a join between two turns of its loop, so once this one is in, the
    // offer that followed the tracks was attempted while the queue was full (without this,
    // the drain below could race it and make room first).
    let _later = join(&node, "later").await?;

    // The session catches up: what is queued, then what comes next.
    let mut offered = false;
    while let Ok(event) = lagging.events.try_recv() {
        offered |= matches!(event, SessionEvent::SubscribeOffer { .. });
    }
    if !offered {
        offered = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(event) = lagging.events.recv().await {
                if matches!(event, SessionEvent::SubscribeOffer { .. }) {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap_or(false);
    }
    assert!(
        offered,
        "the lagging session never got an offer for ada's tracks, so it can never receive them"
    );
    publisher.close().await;
    drop((lagging, chatty));
    shutdown.cancel();
    Ok(())
}
