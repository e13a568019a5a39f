//! Against the machine's Redis (`CONVENE_TEST_REDIS_URL`, default 127.0.0.1:6379), each test
//! under its own random key prefix; fault tests run their own throwaway `redis-server`.

mod support;

use std::{
    collections::BTreeSet,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::{TimeDelta, Utc};
use convene_bus::{Bus, BusSignal, RedisBus, RedisBusOptions, WentOffline};
use support::{
    ThrowawayRedis, connected_bus, delete_keys, next_delivery, options, random_prefix, redis_url,
};
use uuid::Uuid;

/// How long a command took to fail; `None` when it succeeded or took more than 3 s.
async fn failure_time<T>(
    command: impl Future<Output = convene_bus::Result<T>>,
) -> Option<Duration> {
    let started = Instant::now();
    match tokio::time::timeout(Duration::from_secs(3), command).await {
        Ok(Err(_)) => Some(started.elapsed()),
        Ok(Ok(_)) | Err(_) => None,
    }
}

const WITHIN: Duration = Duration::from_secs(5);

#[tokio::test]
async fn redis_bus_pings_a_running_redis() -> anyhow::Result<()> {
    let bus = connected_bus(&redis_url(), options(&random_prefix())).await?;
    bus.close().await;
    Ok(())
}

#[test]
fn malformed_redis_url_is_rejected() {
    assert!(RedisBus::check_url("not a url").is_err());
    assert!(RedisBus::check_url("redis://127.0.0.1:6379/0").is_ok());
}

#[tokio::test]
async fn two_pods_deliver_to_each_others_users_without_echo() -> anyhow::Result<()> {
    let (url, prefix) = (redis_url(), random_prefix());
    let pod_a = connected_bus(&url, options(&prefix)).await?;
    let pod_b = connected_bus(&url, options(&prefix)).await?;
    let mut signals_a = pod_a.take_signals().expect("signals");
    let mut signals_b = pod_b.take_signals().expect("signals");
    assert!(pod_a.take_signals().is_none());
    // `user_a` is connected on pod A, `user_b` on B, `shared` on both.
    let (user_a, user_b, shared) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    pod_a.subscribe_user(user_a).await?;
    pod_a.subscribe_user(shared).await?;
    pod_b.subscribe_user(user_b).await?;
    pod_b.subscribe_user(shared).await?;
    pod_b.subscribe_user(shared).await?;

    pod_a
        .publish(&[user_b, shared], Arc::from("from a"))
        .await?;
    let mut received_b = BTreeSet::new();
    received_b.insert(next_delivery(&mut signals_b, WITHIN).await?);
    received_b.insert(next_delivery(&mut signals_b, WITHIN).await?);
    let expected_b = BTreeSet::from([(user_b, "from a".to_owned()), (shared, "from a".to_owned())]);
    assert_eq!(received_b, expected_b);

    // B publishes after A's publication reached it, so A would have seen its own echo first.
    pod_b.publish(&[user_a], Arc::from("from b")).await?;
    assert_eq!(
        next_delivery(&mut signals_a, WITHIN).await?,
        (user_a, "from b".to_owned())
    );

    pod_a.close().await;
    pod_b.close().await;
    delete_keys(&url, &prefix).await
}

#[tokio::test]
async fn unsubscribed_users_get_nothing() -> anyhow::Result<()> {
    let (url, prefix) = (redis_url(), random_prefix());
    let pod_a = connected_bus(&url, options(&prefix)).await?;
    let pod_b = connected_bus(&url, options(&prefix)).await?;
    let mut signals_a = pod_a.take_signals().expect("signals");
    let (leaving, elsewhere, marker) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    pod_a.subscribe_user(leaving).await?;
    pod_a.subscribe_user(marker).await?;

    pod_b.publish(&[elsewhere, leaving], Arc::from("1")).await?;
    assert_eq!(
        next_delivery(&mut signals_a, WITHIN).await?,
        (leaving, "1".to_owned())
    );

    pod_a.unsubscribe_user(leaving).await?;
    pod_a.unsubscribe_user(leaving).await?;
    pod_b.publish(&[leaving], Arc::from("2")).await?;
    pod_b.publish(&[marker], Arc::from("marker")).await?;
    // Redis delivers in publication order: had `leaving` still been subscribed, "2" would
    // arrive before the marker.
    assert_eq!(
        next_delivery(&mut signals_a, WITHIN).await?,
        (marker, "marker".to_owned())
    );

    pod_a.close().await;
    pod_b.close().await;
    delete_keys(&url, &prefix).await
}

#[tokio::test]
async fn presence_online_until_last_connection_closes() -> anyhow::Result<()> {
    let (url, prefix) = (redis_url(), random_prefix());
    let pod = connected_bus(&url, options(&prefix)).await?;
    support::presence::online_until_last_connection_closes(&pod).await?;
    support::presence::heartbeat_keeps_connections_online(&pod).await?;
    pod.close().await;
    delete_keys(&url, &prefix).await
}

#[tokio::test]
async fn presence_is_shared_between_pods() -> anyhow::Result<()> {
    let (url, prefix) = (redis_url(), random_prefix());
    let pod_a = connected_bus(&url, options(&prefix)).await?;
    let pod_b = connected_bus(&url, options(&prefix)).await?;
    let (user_id, on_a, on_b) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let now = Utc::now();

    assert!(pod_a.connection_opened(user_id, on_a, now).await?);
    assert!(
        !pod_b.connection_opened(user_id, on_b, now).await?,
        "online on A already"
    );
    assert_eq!(pod_b.online_users(&[user_id], now).await?, vec![user_id]);
    assert!(
        !pod_a.connection_closed(user_id, on_a, now).await?,
        "still on B"
    );
    assert!(
        pod_b.connection_closed(user_id, on_b, now).await?,
        "B had the last one"
    );
    assert!(pod_a.online_users(&[user_id], now).await?.is_empty());

    pod_a.close().await;
    pod_b.close().await;
    delete_keys(&url, &prefix).await
}

#[tokio::test]
async fn dead_pod_is_swept_once_and_its_users_go_offline() -> anyhow::Result<()> {
    let (url, prefix) = (redis_url(), random_prefix());
    let short_lived = RedisBusOptions {
        pod_ttl: Duration::from_millis(300),
        ..options(&prefix)
    };
    let pod_a = connected_bus(&url, short_lived.clone()).await?;
    let pod_b = connected_bus(
        &url,
        RedisBusOptions {
            pod_id: Uuid::new_v4(),
            ..short_lived.clone()
        },
    )
    .await?;
    let pod_c = connected_bus(
        &url,
        RedisBusOptions {
            pod_id: Uuid::new_v4(),
            ..short_lived
        },
    )
    .await?;
    // `only_b` is connected on B only, `both` on A and B, `only_a` on A only.
    let (only_b, both, only_a) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let connections_b = [(only_b, Uuid::new_v4()), (both, Uuid::new_v4())];
    let connections_a = [(both, Uuid::new_v4()), (only_a, Uuid::new_v4())];
    let now = Utc::now();
    for (user_id, connection_id) in connections_b {
        pod_b.connection_opened(user_id, connection_id, now).await?;
    }
    for (user_id, connection_id) in connections_a {
        pod_a.connection_opened(user_id, connection_id, now).await?;
    }
    pod_b.heartbeat(&connections_b, now).await?;
    pod_a.heartbeat(&connections_a, now).await?;
    assert!(pod_a.sweep_dead_pods(now).await?.is_empty(), "B is alive");

    // B stops heartbeating (it crashed); A keeps going. A and C sweep, as every pod does,
    // until B's liveness runs out.
    let started = Instant::now();
    let mut swept = Vec::new();
    while swept.is_empty() {
        assert!(started.elapsed() < WITHIN, "B was never swept");
        tokio::time::sleep(Duration::from_millis(50)).await;
        pod_a.heartbeat(&connections_a, now).await?;
        let (by_a, by_c) = tokio::join!(pod_a.sweep_dead_pods(now), pod_c.sweep_dead_pods(now));
        swept.extend(by_a?);
        swept.extend(by_c?);
    }
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "swept before B's TTL ran out"
    );
    assert_eq!(
        swept,
        vec![WentOffline {
            user_id: only_b,
            at: now
        }]
    );

    assert!(
        pod_a.sweep_dead_pods(now).await?.is_empty(),
        "B is swept once"
    );
    assert!(
        pod_c.sweep_dead_pods(now).await?.is_empty(),
        "B is swept once"
    );
    assert_eq!(
        pod_c.online_users(&[only_b, both, only_a], now).await?,
        vec![both, only_a],
        "users also connected on A stay online"
    );

    drop(pod_b);
    pod_a.close().await;
    pod_c.close().await;
    delete_keys(&url, &prefix).await
}

#[tokio::test]
async fn connection_left_out_of_heartbeats_expires_and_is_swept_once() -> anyhow::Result<()> {
    let (url, prefix) = (redis_url(), random_prefix());
    let pod = connected_bus(&url, options(&prefix)).await?;
    let (forgotten, kept) = (
        (Uuid::new_v4(), Uuid::new_v4()),
        (Uuid::new_v4(), Uuid::new_v4()),
    );
    let start = Utc::now();
    pod.connection_opened(forgotten.0, forgotten.1, start)
        .await?;
    pod.connection_opened(kept.0, kept.1, start).await?;

    // The pod lost track of `forgotten` (its close never reached Redis): the heartbeats
    // leave it out until it expires.
    let later = start + TimeDelta::seconds(4);
    pod.heartbeat(&[kept], later).await?;
    let expired = start + TimeDelta::seconds(7);
    assert_eq!(
        pod.online_users(&[forgotten.0, kept.0], expired).await?,
        vec![kept.0]
    );
    assert_eq!(
        pod.sweep_dead_pods(expired).await?,
        vec![WentOffline {
            user_id: forgotten.0,
            at: expired
        }]
    );
    assert!(pod.sweep_dead_pods(expired).await?.is_empty());

    pod.close().await;
    delete_keys(&url, &prefix).await
}

#[tokio::test]
async fn closed_pod_is_offline_at_once_and_announced_by_another_pod() -> anyhow::Result<()> {
    let (url, prefix) = (redis_url(), random_prefix());
    let pod_a = connected_bus(&url, options(&prefix)).await?;
    let pod_b = connected_bus(&url, options(&prefix)).await?;
    let (only_a, both) = (Uuid::new_v4(), Uuid::new_v4());
    let now = Utc::now();
    pod_a.connection_opened(only_a, Uuid::new_v4(), now).await?;
    pod_a.connection_opened(both, Uuid::new_v4(), now).await?;
    pod_b.connection_opened(both, Uuid::new_v4(), now).await?;

    pod_a.close().await;
    assert_eq!(pod_b.online_users(&[only_a, both], now).await?, vec![both]);
    assert_eq!(
        pod_b.sweep_dead_pods(now).await?,
        vec![WentOffline {
            user_id: only_a,
            at: now
        }]
    );
    assert!(pod_b.sweep_dead_pods(now).await?.is_empty());

    pod_b.close().await;
    delete_keys(&url, &prefix).await
}

#[tokio::test]
async fn lagging_consumer_gets_resync_not_silent_loss() -> anyhow::Result<()> {
    const N_PUBLISHED: usize = 100;
    const CAPACITY: usize = 4;
    let (url, prefix) = (redis_url(), random_prefix());
    let slow = RedisBusOptions {
        signal_capacity: CAPACITY,
        ..options(&prefix)
    };
    let pod_a = connected_bus(&url, slow).await?;
    let pod_b = connected_bus(&url, options(&prefix)).await?;
    let mut signals_a = pod_a.take_signals().expect("signals");
    let user_id = Uuid::new_v4();
    pod_a.subscribe_user(user_id).await?;

    for i in 0..N_PUBLISHED {
        pod_b.publish(&[user_id], Arc::from(i.to_string())).await?;
    }
    // Not reading: the channel fills, the rest must be dropped for a resync.
    let started = Instant::now();
    while signals_a.len() < CAPACITY {
        assert!(started.elapsed() < WITHIN, "the signals never filled up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Let the forwarder go through the rest of the flood.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut received = Vec::new();
    while let Ok(Some(signal)) =
        tokio::time::timeout(Duration::from_millis(300), signals_a.recv()).await
    {
        received.push(signal);
    }
    let n_delivered = received
        .iter()
        .filter(|signal| matches!(signal, BusSignal::Delivery { .. }))
        .count();
    assert!(
        n_delivered < N_PUBLISHED,
        "nothing was dropped: {received:?}"
    );
    // Every gap in the sequence (and a loss at the end) is followed by a `Resync` before the
    // next delivery.
    let mut expected_next = 0;
    let mut resync_since_last_delivery = false;
    for signal in &received {
        match signal {
            BusSignal::Resync => resync_since_last_delivery = true,
            BusSignal::Delivery { payload, .. } => {
                let index: usize = payload.parse()?;
                assert!(
                    index == expected_next || resync_since_last_delivery,
                    "deliveries {expected_next}..{index} were lost silently: {received:?}"
                );
                expected_next = index + 1;
                resync_since_last_delivery = false;
            }
        }
    }
    assert!(
        expected_next == N_PUBLISHED || resync_since_last_delivery,
        "deliveries from {expected_next} were lost silently: {received:?}"
    );

    pod_a.close().await;
    pod_b.close().await;
    delete_keys(&url, &prefix).await
}

#[tokio::test]
async fn a_bus_started_before_redis_connects_once_redis_is_up() -> anyhow::Result<()> {
    // Pods start in any order: a gateway, SFU node or operator whose Redis comes up after
    // it must not stay disconnected for good (liveness does not depend on Redis).
    let mut redis = ThrowawayRedis::not_started()?;
    let prefix = random_prefix();
    let bus = RedisBus::connect_with(&redis.url(), options(&prefix))?;
    let user_id = Uuid::new_v4();
    assert!(bus.ping().await.is_err(), "nothing listens yet");
    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.restart()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while bus.ping().await.is_err() {
        assert!(Instant::now() < deadline, "the bus never connected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Commands and the subscriber connection both work.
    let mut signals = bus.take_signals().expect("signals");
    let other = connected_bus(&redis.url(), options(&prefix)).await?;
    bus.subscribe_user(user_id).await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        other.publish(&[user_id], Arc::from("hello")).await?;
        if let Ok(delivery) = next_delivery(&mut signals, Duration::from_millis(300)).await {
            assert_eq!(delivery, (user_id, "hello".to_owned()));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the late subscriber never received"
        );
    }
    bus.close().await;
    other.close().await;
    Ok(())
}

#[tokio::test]
async fn redis_restart_resubscribes_and_signals_resync() -> anyhow::Result<()> {
    let mut redis = ThrowawayRedis::start()?;
    let prefix = random_prefix();
    let pod_a = connected_bus(&redis.url(), options(&prefix)).await?;
    let pod_b = connected_bus(&redis.url(), options(&prefix)).await?;
    let mut signals_a = pod_a.take_signals().expect("signals");
    let user_id = Uuid::new_v4();
    pod_a.subscribe_user(user_id).await?;
    pod_b.publish(&[user_id], Arc::from("before")).await?;
    assert_eq!(
        next_delivery(&mut signals_a, WITHIN).await?,
        (user_id, "before".to_owned())
    );
    support::drain(&mut signals_a);

    redis.restart()?;
    let restarted = Instant::now();
    support::next_resync(&mut signals_a, Duration::from_secs(10)).await?;
    let resynced_after = restarted.elapsed();

    // B reconnects on its own schedule; its first publications may fail meanwhile.
    let mut delivered = None;
    while delivered.is_none() {
        assert!(
            restarted.elapsed() < Duration::from_secs(15),
            "no delivery after the restart"
        );
        if pod_b.publish(&[user_id], Arc::from("after")).await.is_ok() {
            delivered = next_delivery(&mut signals_a, Duration::from_millis(500))
                .await
                .ok();
        }
    }
    assert_eq!(delivered, Some((user_id, "after".to_owned())));
    eprintln!(
        "resync {resynced_after:?} after the restart, delivery after {:?}",
        restarted.elapsed()
    );

    pod_a.close().await;
    pod_b.close().await;
    Ok(())
}

#[tokio::test]
async fn unavailable_redis_fails_fast() -> anyhow::Result<()> {
    let url = format!("redis://127.0.0.1:{}", support::free_port()?);
    let started = Instant::now();
    let bus = RedisBus::connect_with(&url, options(&random_prefix()))?;
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "connecting does not wait"
    );
    let (user_id, connection_id, now) = (Uuid::new_v4(), Uuid::new_v4(), Utc::now());

    let (users, connections) = ([user_id], [(user_id, connection_id)]);
    let results = tokio::join!(
        failure_time(bus.ping()),
        failure_time(bus.publish(&users, Arc::from("x"))),
        failure_time(bus.subscribe_user(user_id)),
        failure_time(bus.unsubscribe_user(user_id)),
        failure_time(bus.connection_opened(user_id, connection_id, now)),
        failure_time(bus.connection_closed(user_id, connection_id, now)),
        failure_time(bus.heartbeat(&connections, now)),
        failure_time(bus.online_users(&users, now)),
        failure_time(bus.sweep_dead_pods(now)),
    );
    let results = [
        results.0, results.1, results.2, results.3, results.4, results.5, results.6, results.7,
        results.8,
    ];
    for (index, failed_after) in results.into_iter().enumerate() {
        let failed_after =
            failed_after.with_context(|| format!("command {index} did not fail within 3 s"))?;
        eprintln!("command {index} failed after {failed_after:?}");
    }

    let closing = Instant::now();
    bus.close().await;
    assert!(
        closing.elapsed() < Duration::from_millis(500),
        "close waits for nothing while redis is down: {:?}",
        closing.elapsed()
    );
    Ok(())
}

#[tokio::test]
async fn sfu_rooms_are_spread_claimed_once_and_replaced_when_their_node_dies() -> anyhow::Result<()>
{
    let (url, prefix) = (redis_url(), random_prefix());
    let pod_a = connected_bus(&url, options(&prefix)).await?;
    let pod_b = connected_bus(&url, options(&prefix)).await?;
    support::registry::rooms_are_spread_claimed_once_and_replaced_when_their_node_dies(&[
        &pod_a, &pod_b,
    ])
    .await?;
    pod_a.close().await;
    pod_b.close().await;
    delete_keys(&url, &prefix).await
}

#[tokio::test]
async fn sfu_the_operator_forgets_dead_nodes_drains_by_name_and_sets_placement()
-> anyhow::Result<()> {
    let (url, prefix) = (redis_url(), random_prefix());
    let gateway = connected_bus(&url, options(&prefix)).await?;
    let operator = connected_bus(&url, options(&prefix)).await?;
    support::registry::the_operator_forgets_dead_nodes_drains_by_name_and_sets_placement(&[
        &gateway, &operator,
    ])
    .await?;
    gateway.close().await;
    operator.close().await;
    delete_keys(&url, &prefix).await
}
