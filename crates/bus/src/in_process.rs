use async_trait::async_trait;

use crate::{Bus, Result};

/// The bus of a single `convene serve` process: every connection is local, so there is
/// nothing to share and nothing that can be unreachable.
#[derive(Debug, Default, Clone)]
pub struct InProcessBus {}

impl InProcessBus {
    pub fn new() -> Self {
        Self {}
    }
}

#[async_trait]
impl Bus for InProcessBus {
    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "in_process"
    }

    async fn close(&self) {}
}
