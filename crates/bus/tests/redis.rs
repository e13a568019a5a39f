//! Against the machine's Redis (`CONVENE_TEST_REDIS_URL`, default 127.0.0.1:6379).

use convene_bus::{Bus, RedisBus};

fn redis_url() -> String {
    std::env::var("CONVENE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

#[tokio::test]
async fn redis_bus_pings_a_running_redis() -> anyhow::Result<()> {
    let bus = RedisBus::connect(&redis_url())?;
    // The connection is made in the background: allow it a moment to come up.
    let mut last_error = None;
    for _ in 0..50 {
        match bus.ping().await {
            Ok(()) => {
                bus.close().await;
                return Ok(());
            }
            Err(error) => last_error = Some(error),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    anyhow::bail!("redis never answered: {last_error:?}")
}

#[tokio::test]
async fn redis_bus_reports_unavailable_when_nothing_listens() -> anyhow::Result<()> {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let bus = RedisBus::connect("redis://127.0.0.1:1")?;
    assert!(bus.ping().await.is_err());
    bus.close().await;
    Ok(())
}

#[test]
fn malformed_redis_url_is_rejected() {
    assert!(RedisBus::check_url("not a url").is_err());
    assert!(RedisBus::check_url("redis://127.0.0.1:6379/0").is_ok());
}
