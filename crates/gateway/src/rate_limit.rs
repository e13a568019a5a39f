//! Request rate limits (GCRA, from `governor`): per client IP on the auth endpoints, per
//! user on everything authenticated. Limits are per pod: with N gateway pods a client can
//! reach N times the rate in the worst case, which still bounds password guessing per pod
//! together with the per-account lockout (which is global, in the store).

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

pub struct RateLimits {
    auth_by_ip: DefaultKeyedRateLimiter<IpAddr>,
    api_by_user: DefaultKeyedRateLimiter<Uuid>,
    messages_by_user: DefaultKeyedRateLimiter<Uuid>,
    clock: DefaultClock,
    trust_forwarded_for: bool,
}

impl RateLimits {
    pub fn new(
        auth_per_minute: NonZeroU32,
        api_per_minute: NonZeroU32,
        messages_per_minute: NonZeroU32,
        trust_forwarded_for: bool,
    ) -> Self {
        Self {
            auth_by_ip: RateLimiter::keyed(Quota::per_minute(auth_per_minute)),
            api_by_user: RateLimiter::keyed(Quota::per_minute(api_per_minute)),
            messages_by_user: RateLimiter::keyed(Quota::per_minute(messages_per_minute)),
            clock: DefaultClock::default(),
            trust_forwarded_for,
        }
    }

    pub fn check_user(&self, user_id: Uuid) -> Result<(), ApiError> {
        self.api_by_user.check_key(&user_id).map_err(|not_until| {
            ApiError::rate_limited(not_until.wait_time_from(self.clock.now()).as_secs() + 1)
        })
    }

    pub fn check_messages(&self, user_id: Uuid) -> Result<(), ApiError> {
        self.messages_by_user
            .check_key(&user_id)
            .map_err(|not_until| {
                let seconds = not_until.wait_time_from(self.clock.now()).as_secs() + 1;
                ApiError::new(
                    axum::http::StatusCode::TOO_MANY_REQUESTS,
                    "message_rate_limited",
                    "You are sending messages too fast; wait a moment.",
                )
                .with_retry_after(seconds)
            })
    }

    pub fn check_auth_ip(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.auth_by_ip.check_key(&ip).map_err(|not_until| {
            ApiError::rate_limited(not_until.wait_time_from(self.clock.now()).as_secs() + 1)
        })
    }

    /// Forgets keys whose limits have fully recovered, so memory follows active clients.
    pub fn forget_idle_keys(&self) {
        self.auth_by_ip.retain_recent();
        self.auth_by_ip.shrink_to_fit();
        self.api_by_user.retain_recent();
        self.api_by_user.shrink_to_fit();
        self.messages_by_user.retain_recent();
        self.messages_by_user.shrink_to_fit();
    }

    /// The client's address: the socket peer, or behind a trusted ingress the last hop it
    /// appended to `X-Forwarded-For` (earlier hops are client-controlled and spoofable).
    pub fn client_ip(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
        if self.trust_forwarded_for
            && let Some(forwarded) = headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(','))
                .next_back()
                .and_then(|hop| hop.trim().parse::<IpAddr>().ok())
        {
            return Some(forwarded);
        }
        peer.map(|peer| peer.ip())
    }
}

/// Middleware for the auth routes: one bucket per client IP.
pub async fn limit_auth_by_ip(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer);
    // Without a peer address (in-process tests) everyone shares one bucket.
    let ip = state
        .rate_limits
        .client_ip(request.headers(), peer)
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    state.rate_limits.check_auth_ip(ip)?;
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_limit_answers_429_with_retry_after() {
        let limits = RateLimits::new(
            NonZeroU32::MIN,
            NonZeroU32::new(2).unwrap(),
            NonZeroU32::MIN,
            false,
        );
        let user = Uuid::new_v4();
        assert!(limits.check_user(user).is_ok());
        assert!(limits.check_user(user).is_ok());
        let error = limits.check_user(user).unwrap_err();
        assert_eq!(error.code, "rate_limited");
        assert!(error.retry_after.unwrap() >= 1);
        // Another user has a bucket of their own.
        assert!(limits.check_user(Uuid::new_v4()).is_ok());
    }

    #[test]
    fn forwarded_for_is_used_only_when_trusted() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        let peer: SocketAddr = "10.0.0.5:4000".parse().unwrap();
        let untrusted = RateLimits::new(NonZeroU32::MIN, NonZeroU32::MIN, NonZeroU32::MIN, false);
        assert_eq!(untrusted.client_ip(&headers, Some(peer)), Some(peer.ip()));
        let trusted = RateLimits::new(NonZeroU32::MIN, NonZeroU32::MIN, NonZeroU32::MIN, true);
        assert_eq!(
            trusted.client_ip(&headers, Some(peer)),
            Some("198.51.100.7".parse().unwrap())
        );
    }
}
