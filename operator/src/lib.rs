//! The Convene SFU operator: reconciles `SfuPool` resources (`convene.dev/v1alpha1`) into
//! SFU pods, scales them from the load the pods report in the bus, drains pods before it
//! removes them and releases the room claims of pods that died. The decisions are pure
//! functions ([`decisions`], [`rollout`]) of the pool's spec, the observed pods, the bus's
//! node records and the time, and so is the rollout of a changed pod template; [`controller`] only turns a plan into Kubernetes and bus calls. This is the
//! one crate that links kube and k8s-openapi; it never talks to an SFU pod directly (only
//! through the bus and the Kubernetes API), and it knows nothing of SQL, HTTP APIs of the
//! gateway or media.

pub mod config;
pub mod controller;
pub mod crd;
pub mod decisions;
pub mod leader;
pub mod metrics;
pub mod pods;
pub mod rollout;
pub mod status;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod plan_fixtures;

pub use controller::{Context, run_controller};
pub use crd::{SfuPool, SfuPoolSpec, SfuPoolStatus};

/// What can go wrong in a reconcile. Each variant's [`Error::metric_label`] labels the
/// `reconcile_errors` metric.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes api call failed")]
    Kube(#[source] kube::Error),
    #[error("bus call failed")]
    Bus(#[source] convene_bus::Error),
    #[error("the sfupool has no namespace")]
    MissingNamespace,
    #[error("invalid sfupool spec: {0}")]
    InvalidSpec(String),
    #[error("yaml serialisation failed: {0}")]
    Yaml(String),
    #[error("json serialisation failed")]
    Json(#[source] serde_json::Error),
}

impl Error {
    /// A stable `snake_case` label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kube",
            Error::Bus(_) => "bus",
            Error::MissingNamespace => "missing_namespace",
            Error::InvalidSpec(_) => "invalid_spec",
            Error::Yaml(_) => "yaml",
            Error::Json(_) => "json",
        }
    }
}

impl From<kube::Error> for Error {
    fn from(error: kube::Error) -> Self {
        Error::Kube(error)
    }
}

impl From<convene_bus::Error> for Error {
    fn from(error: convene_bus::Error) -> Self {
        Error::Bus(error)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
