//! Prometheus metrics, in an explicit registry owned by the app state (no global recorder).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use convene_store::PoolStats;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    /// The route template (`/api/v1/users/{user_id}`), never the raw path: bounded cardinality.
    pub route: String,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
/// One label, `event`; used by the auth and chat counters.
pub struct EventLabels {
    pub event: &'static str,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    process: crate::process_metrics::ProcessMetrics,
    http_requests: Family<HttpLabels, Counter>,
    http_request_duration: HistogramFamily,
    auth_events: Family<EventLabels, Counter>,
    chat_events: Family<EventLabels, Counter>,
    websocket_connections: Gauge,
    websocket_overflows: Counter,
    db_connections: Gauge,
    db_idle_connections: Gauge,
    db_max_connections: Gauge,
    sfu_rooms: Gauge,
    sfu_participants: Gauge,
    sfu_tracks: Gauge,
    sfu_forwarded_packets: Counter,
    sfu_forwarded_seen: std::sync::atomic::AtomicU64,
}

fn request_duration_histogram() -> Histogram {
    // 1 ms to ~16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("convene");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            http_requests.clone(),
        );
        let http_request_duration: HistogramFamily =
            Family::new_with_constructor(request_duration_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route",
            http_request_duration.clone(),
        );
        let auth_events = Family::<EventLabels, Counter>::default();
        registry.register(
            "auth_events",
            "Authentication outcomes: login_succeeded, login_failed, account_locked, \
             refresh_rotated, refresh_token_reused, ...",
            auth_events.clone(),
        );
        let chat_events = Family::<EventLabels, Counter>::default();
        registry.register(
            "chat_events",
            "Chat actions: message_sent, …",
            chat_events.clone(),
        );
        let websocket_connections = Gauge::default();
        registry.register(
            "websocket_connections",
            "Open WebSocket connections on this pod",
            websocket_connections.clone(),
        );
        let websocket_overflows = Counter::default();
        registry.register(
            "websocket_overflows",
            "Connections closed because the client could not keep up",
            websocket_overflows.clone(),
        );
        let db_connections = Gauge::default();
        registry.register(
            "db_pool_connections",
            "Open database connections",
            db_connections.clone(),
        );
        let db_idle_connections = Gauge::default();
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections",
            db_idle_connections.clone(),
        );
        let db_max_connections = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "Configured maximum of database connections",
            db_max_connections.clone(),
        );
        let sfu_rooms = Gauge::default();
        registry.register(
            "sfu_rooms",
            "Meetings on this process's in-process SFU node (convene serve)",
            sfu_rooms.clone(),
        );
        let sfu_participants = Gauge::default();
        registry.register(
            "sfu_participants",
            "Participants on this process's in-process SFU node",
            sfu_participants.clone(),
        );
        let sfu_tracks = Gauge::default();
        registry.register(
            "sfu_tracks",
            "Published tracks on this process's in-process SFU node",
            sfu_tracks.clone(),
        );
        let sfu_forwarded_packets = Counter::default();
        registry.register(
            "sfu_forwarded_packets",
            "RTP packets the in-process SFU node sent to subscribers",
            sfu_forwarded_packets.clone(),
        );
        Self {
            registry,
            process: crate::process_metrics::ProcessMetrics::new(),
            sfu_rooms,
            sfu_participants,
            sfu_tracks,
            sfu_forwarded_packets,
            sfu_forwarded_seen: std::sync::atomic::AtomicU64::new(0),
            http_requests,
            http_request_duration,
            auth_events,
            chat_events,
            websocket_connections,
            websocket_overflows,
            db_connections,
            db_idle_connections,
            db_max_connections,
        }
    }

    pub fn record_http(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.http_requests
            .get_or_create(&HttpLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.http_request_duration
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    pub fn auth_event(&self, event: &'static str) {
        self.auth_events.get_or_create(&EventLabels { event }).inc();
    }

    pub fn chat_event(&self, event: &'static str) {
        self.chat_events.get_or_create(&EventLabels { event }).inc();
    }

    pub fn websocket_opened(&self) {
        self.websocket_connections.inc();
    }

    pub fn websocket_closed(&self) {
        self.websocket_connections.dec();
    }

    pub fn websocket_overflowed(&self) {
        self.websocket_overflows.inc();
    }

    /// The text exposition, with pool gauges (and the in-process SFU node's load) read at
    /// scrape time.
    pub fn render(
        &self,
        pool: PoolStats,
        sfu: Option<convene_sfu::SfuLoad>,
    ) -> Result<String, std::fmt::Error> {
        if let Some(load) = sfu {
            let as_i64 = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
            self.sfu_rooms.set(as_i64(load.rooms));
            self.sfu_participants.set(as_i64(load.participants));
            self.sfu_tracks.set(as_i64(load.tracks));
            let seen = self
                .sfu_forwarded_seen
                .swap(load.forwarded_packets, std::sync::atomic::Ordering::Relaxed);
            self.sfu_forwarded_packets
                .inc_by(load.forwarded_packets.saturating_sub(seen));
        }
        self.db_connections.set(i64::from(pool.connections));
        self.db_idle_connections
            .set(i64::from(pool.idle_connections));
        self.db_max_connections.set(i64::from(pool.max_connections));
        let mut text = String::new();
        prometheus_client::encoding::text::encode_registry(&mut text, &self.registry)?;
        prometheus_client::encoding::text::encode_registry(&mut text, self.process.refresh())?;
        prometheus_client::encoding::text::encode_eof(&mut text)?;
        Ok(text)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
