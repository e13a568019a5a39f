//! Leader election on a `coordination.k8s.io/v1` Lease, so that two operator replicas can
//! run and only one reconciles.
//!
//! The holder renews the Lease every [`LeaderSettings::renew_period`] (default 5 s); another
//! replica takes it over only when it was not renewed for
//! [`LeaderSettings::lease_duration`] (default 15 s). Every write carries the Lease's
//! `resourceVersion`, so two replicas racing for an expired Lease cannot both win: the
//! loser gets a 409 and stays a follower (a merge patch whose `metadata.resourceVersion` is a
//! precondition). A leader that cannot renew within the lease
//! duration steps down on its own ([`LeaderElector::run`] returns), before anyone else can
//! take over, so two leaders never overlap as long as clocks agree to within
//! `lease_duration - renew_period`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

#[derive(Debug, Clone)]
pub struct LeaderSettings {
    pub lease_name: String,
    /// This replica's name in the Lease (its pod name).
    pub identity: String,
    /// How long a Lease holds without renewal.
    pub lease_duration: Duration,
    /// How often the holder renews (and a follower retries).
    pub renew_period: Duration,
}

/// What to do with the Lease as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseAction {
    /// No Lease yet: create it, held by us.
    Create,
    /// Ours: renew it.
    Renew,
    /// Someone else's, expired: take it over.
    TakeOver,
    /// Someone else's and fresh: wait.
    Follow,
}

/// The pure rule: who may hold `lease` at `now`.
pub fn lease_action(lease: Option<&LeaseSpec>, identity: &str, now: Timestamp) -> LeaseAction {
    let Some(spec) = lease else {
        return LeaseAction::Create;
    };
    if spec.holder_identity.as_deref() == Some(identity) {
        return LeaseAction::Renew;
    }
    let held_until = spec
        .renew_time
        .as_ref()
        .or(spec.acquire_time.as_ref())
        .map(|time| {
            time.0 + SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(0)))
        });
    match (spec.holder_identity.as_deref(), held_until) {
        (None | Some(""), _) => LeaseAction::TakeOver,
        (_, Some(until)) if until > now => LeaseAction::Follow,
        _ => LeaseAction::TakeOver,
    }
}

pub struct LeaderElector {
    api: Api<Lease>,
    settings: LeaderSettings,
    leading: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
}

impl LeaderElector {
    pub fn new(
        client: Client,
        namespace: &str,
        settings: LeaderSettings,
        leading: Arc<AtomicBool>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            settings,
            leading,
            metrics,
        }
    }

    /// The Lease, or `None` when there is none (by the 404 code: some servers word the
    /// reason differently from the apiserver's `NotFound`).
    async fn read_lease(&self) -> Result<Option<Lease>, kube::Error> {
        match self.api.get(&self.settings.lease_name).await {
            Ok(lease) => Ok(Some(lease)),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// One round: read the Lease and create, renew or take it over when we may. Returns
    /// whether we hold it afterwards.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let existing = self.read_lease().await?;
        let action = lease_action(
            existing.as_ref().and_then(|lease| lease.spec.as_ref()),
            &self.settings.identity,
            now,
        );
        let duration_seconds =
            i32::try_from(self.settings.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let result = match (action, existing) {
            (LeaseAction::Follow, _) => return Ok(false),
            (LeaseAction::Create, _) | (_, None) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.settings.lease_name.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(self.settings.identity.clone()),
                        lease_duration_seconds: Some(duration_seconds),
                        acquire_time: Some(MicroTime(now)),
                        renew_time: Some(MicroTime(now)),
                        lease_transitions: Some(0),
                        ..LeaseSpec::default()
                    }),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            (action, Some(lease)) => {
                let mut spec = lease.spec.unwrap_or_default();
                if action == LeaseAction::TakeOver {
                    spec.holder_identity = Some(self.settings.identity.clone());
                    spec.acquire_time = Some(MicroTime(now));
                    spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
                }
                spec.lease_duration_seconds = Some(duration_seconds);
                spec.renew_time = Some(MicroTime(now));
                // The resourceVersion we read is a precondition of the patch: if another
                // replica wrote the Lease since, we get a 409 instead of overwriting it.
                let patch = json!({
                    "metadata": {"resourceVersion": lease.metadata.resource_version},
                    "spec": spec,
                });
                self.api
                    .patch(
                        &self.settings.lease_name,
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await
            }
        };
        match result {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Waits until this replica leads (or `shutdown`), then keeps renewing. Returns when
    /// leadership is lost (not renewed within the lease duration) or on shutdown; the
    /// caller then stops reconciling.
    pub async fn run(&self, shutdown: CancellationToken, became_leader: impl FnOnce()) {
        let mut became_leader = Some(became_leader);
        let mut last_renewal: Option<tokio::time::Instant> = None;
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    last_renewal = Some(tokio::time::Instant::now());
                    if !self.leading.swap(true, Ordering::SeqCst) {
                        tracing::info!(identity = %self.settings.identity, "leading");
                        self.metrics.set_leader(true);
                    }
                    if let Some(callback) = became_leader.take() {
                        callback();
                    }
                }
                Ok(false) if self.leading.load(Ordering::SeqCst) => {
                    tracing::warn!("another replica holds the lease; stepping down");
                    break;
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "reading or renewing the lease failed"),
            }
            // Step down before the Lease can expire under us.
            let renewal_overdue = last_renewal.is_some_and(|at| {
                at.elapsed() + self.settings.renew_period >= self.settings.lease_duration
            });
            if self.leading.load(Ordering::SeqCst) && renewal_overdue {
                tracing::warn!("could not renew the lease in time; stepping down");
                break;
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(self.settings.renew_period) => {}
            }
        }
        self.leading.store(false, Ordering::SeqCst);
        self.metrics.set_leader(false);
    }

    /// Gives the Lease up at a clean shutdown so the other replica takes over at once
    /// instead of after the lease duration.
    pub async fn release(&self) {
        let Ok(Some(lease)) = self.read_lease().await else {
            return;
        };
        let holder = lease
            .spec
            .as_ref()
            .and_then(|spec| spec.holder_identity.as_deref());
        if holder != Some(self.settings.identity.as_str()) {
            return;
        }
        let patch = json!({
            "metadata": {"resourceVersion": lease.metadata.resource_version},
            "spec": {"holderIdentity": null},
        });
        if let Err(error) = self
            .api
            .patch(
                &self.settings.lease_name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            tracing::warn!(%error, "releasing the lease failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held_by(identity: &str, renewed_seconds_ago: i64, now: Timestamp) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(identity.to_owned()),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(
                now - SignedDuration::from_secs(renewed_seconds_ago),
            )),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn no_lease_is_created_and_our_own_is_renewed() {
        let now = Timestamp::now();
        assert_eq!(lease_action(None, "a", now), LeaseAction::Create);
        assert_eq!(
            lease_action(Some(&held_by("a", 100, now)), "a", now),
            LeaseAction::Renew
        );
    }

    #[test]
    fn a_fresh_lease_of_another_replica_is_followed_and_an_expired_one_taken_over() {
        let now = Timestamp::now();
        assert_eq!(
            lease_action(Some(&held_by("b", 5, now)), "a", now),
            LeaseAction::Follow
        );
        assert_eq!(
            lease_action(Some(&held_by("b", 16, now)), "a", now),
            LeaseAction::TakeOver
        );
    }

    #[test]
    fn a_released_lease_is_taken_over_at_once() {
        let now = Timestamp::now();
        let mut released = held_by("b", 1, now);
        released.holder_identity = None;
        assert_eq!(
            lease_action(Some(&released), "a", now),
            LeaseAction::TakeOver
        );
    }

    /// The Lease traffic of one round against the mock apiserver: the GET's answer, then the
    /// write expected (method) and its answer's status code.
    async fn round(
        lease: Option<Lease>,
        expected_write: Option<(http::Method, u16)>,
    ) -> (Result<bool, kube::Error>, Option<serde_json::Value>) {
        use http::{Request, Response};
        use kube::client::Body;
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = Client::new(service, "convene");
        let elector = LeaderElector::new(
            client,
            "convene",
            LeaderSettings {
                lease_name: "convene-operator".to_owned(),
                identity: "a".to_owned(),
                lease_duration: Duration::from_secs(15),
                renew_period: Duration::from_secs(5),
            },
            Arc::new(AtomicBool::new(false)),
            Arc::new(Metrics::new()),
        );
        let server = tokio::spawn(async move {
            let (request, send) = handle.next_request().await.unwrap();
            assert_eq!(request.method(), http::Method::GET);
            assert!(request.uri().path().ends_with(
                "/apis/coordination.k8s.io/v1/namespaces/convene/leases/convene-operator"
            ));
            let response = match &lease {
                Some(lease) => Response::builder()
                    .body(Body::from(serde_json::to_vec(lease).unwrap()))
                    .unwrap(),
                None => Response::builder()
                    .status(404)
                    .body(Body::from(
                        br#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"not found"}"#.to_vec(),
                    ))
                    .unwrap(),
            };
            send.send_response(response);
            let (method, status) = expected_write?;
            let (request, send) = handle.next_request().await.unwrap();
            assert_eq!(request.method(), method);
            let body: serde_json::Value =
                serde_json::from_slice(&request.into_body().collect_bytes().await.unwrap())
                    .unwrap();
            let response = if status == 409 {
                Response::builder().status(409).body(Body::from(
                    br#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Conflict","code":409,"message":"the object has been modified"}"#.to_vec(),
                ))
            } else {
                let mut written: Lease = lease.clone().unwrap_or_default();
                written.metadata.name = Some("convene-operator".to_owned());
                Response::builder().body(Body::from(serde_json::to_vec(&written).unwrap()))
            };
            send.send_response(response.unwrap());
            Some(body)
        });
        let result = elector.try_acquire_or_renew().await;
        (result, server.await.unwrap())
    }

    fn lease(spec: LeaseSpec) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some("convene-operator".to_owned()),
                resource_version: Some("42".to_owned()),
                ..ObjectMeta::default()
            },
            spec: Some(spec),
        }
    }

    #[tokio::test]
    async fn a_missing_lease_is_created_held_by_us() {
        let (result, written) = round(None, Some((http::Method::POST, 201))).await;
        assert!(result.unwrap());
        let written = written.unwrap();
        assert_eq!(written["spec"]["holderIdentity"], "a");
        assert_eq!(written["spec"]["leaseDurationSeconds"], 15);
    }

    #[tokio::test]
    async fn a_fresh_lease_of_another_replica_is_left_alone() {
        let (result, written) = round(Some(lease(held_by("b", 3, Timestamp::now()))), None).await;
        assert!(!result.unwrap());
        assert!(written.is_none());
    }

    #[tokio::test]
    async fn an_expired_lease_is_taken_over_on_the_version_we_read() {
        let expired = lease(held_by("b", 60, Timestamp::now()));
        let (result, written) =
            round(Some(expired.clone()), Some((http::Method::PATCH, 200))).await;
        assert!(result.unwrap());
        let written = written.unwrap();
        assert_eq!(written["metadata"]["resourceVersion"], "42");
        assert_eq!(written["spec"]["holderIdentity"], "a");
        assert_eq!(written["spec"]["leaseTransitions"], 1);

        // Another replica wrote it first: 409, and we stay a follower.
        let (result, _) = round(Some(expired), Some((http::Method::PATCH, 409))).await;
        assert!(!result.unwrap());
    }
}
