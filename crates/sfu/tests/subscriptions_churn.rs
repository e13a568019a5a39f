//! Subscribe connections that change over a meeting: tracks removed when someone leaves,
//! then added when someone joins, through a real SFU node and headless webrtc-rs peers.

use std::time::Duration;

use convene_sfu::forwarding::MediaKind;
use convene_sfu::testing::{Participant, ParticipantOptions, eventually};
use convene_sfu::{SfuConfig, SfuNode};
use tokio_util::sync::CancellationToken;

const PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_joining_after_someone_left_is_received_by_everyone() -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
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
    let ada = Participant::join(&node, "standup", ParticipantOptions::publishing("ada")).await?;
    let grace =
        Participant::join(&node, "standup", ParticipantOptions::publishing("grace")).await?;
    eventually("ada receives grace", PATIENCE, || {
        ada.packets_from(&grace, MediaKind::Video) >= 60
    })
    .await?;
    // Grace leaves: her tracks are removed from ada's subscribe connection...
    grace.leave().await;
    eventually("ada's roster drops grace", PATIENCE, || {
        ada.signalling().roster.len() == 1
    })
    .await?;
    // ...and whoever joins next is added to it, and keeps flowing.
    let edsger =
        Participant::join(&node, "standup", ParticipantOptions::publishing("edsger")).await?;
    eventually(
        "ada receives edsger's video for more than a moment",
        PATIENCE,
        || ada.packets_from(&edsger, MediaKind::Video) >= 300,
    )
    .await
    .map_err(|error| {
        anyhow::anyhow!(
            "{error}: ada got {} video packets from edsger",
            ada.packets_from(&edsger, MediaKind::Video)
        )
    })?;
    eventually("edsger receives ada", PATIENCE, || {
        edsger.packets_from(&ada, MediaKind::Video) >= 60
    })
    .await?;
    ada.close().await;
    edsger.close().await;
    Ok(())
}
