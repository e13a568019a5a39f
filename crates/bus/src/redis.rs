use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{Builder, Client, ClientLike, Config, ReconnectPolicy};

use crate::{Bus, Error, Result};

/// The bus shared by gateway pods, on Redis.
pub struct RedisBus {
    client: Client,
}

impl RedisBus {
    /// Checks the URL and starts connecting in the background. It does not wait for Redis:
    /// a pod must start (and answer `/healthz`) while Redis is down, and the client keeps
    /// reconnecting with backoff for as long as the process runs.
    pub fn connect(url: &str) -> Result<Self> {
        let config = Config::from_url(url).map_err(Error::InvalidUrl)?;
        let client = Builder::from_config(config)
            .with_connection_config(|connection| {
                connection.connection_timeout = Duration::from_secs(2);
                connection.internal_command_timeout = Duration::from_secs(2);
            })
            .with_performance_config(|performance| {
                // A command must fail fast while Redis is away, not queue forever.
                performance.default_command_timeout = Duration::from_secs(2);
            })
            // 0 = retry forever; 100 ms doubling to 2 s.
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build()
            .map_err(Error::InvalidUrl)?;
        // The handle resolves when the client stops for good; we never wait on it.
        drop(client.connect());
        Ok(Self { client })
    }

    /// Validates a Redis URL without connecting (configuration checks at start-up).
    pub fn check_url(url: &str) -> Result<()> {
        Config::from_url(url).map(drop).map_err(Error::InvalidUrl)
    }
}

#[async_trait]
impl Bus for RedisBus {
    async fn ping(&self) -> Result<()> {
        self.client
            .ping::<String>(None)
            .await
            .map(drop)
            .map_err(Error::Unavailable)
    }

    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn close(&self) {
        if let Err(error) = self.client.quit().await {
            tracing::debug!(%error, "closing the redis connection failed");
        }
    }
}
