//! Every Redis key and channel name the bus uses, and the envelope of a fan-out message.
//! These names are a wire contract between pods of different versions: change them only
//! with a new prefix.

use uuid::Uuid;

use crate::PodId;

/// Names under one prefix (`convene:` by default), so that tests and several deployments can
/// share a Redis without seeing each other.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    prefix: String,
    /// `{prefix}user:`, the start of every fan-out channel.
    user_channel_prefix: String,
    /// `{prefix}presence:`, the start of every presence sorted set.
    presence_prefix: String,
    /// `{prefix}pod:`, the start of every pod liveness key.
    pod_prefix: String,
    /// `{prefix}sweep:`, the start of every sweep lock.
    sweep_lock_prefix: String,
}

impl Keys {
    pub(super) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            user_channel_prefix: format!("{prefix}user:"),
            presence_prefix: format!("{prefix}presence:"),
            pod_prefix: format!("{prefix}pod:"),
            sweep_lock_prefix: format!("{prefix}sweep:"),
        }
    }

    /// The pub/sub channel of one user, subscribed by the pods where the user is connected.
    pub(super) fn user_channel(&self, user_id: Uuid) -> String {
        format!("{}{user_id}", self.user_channel_prefix)
    }

    /// The user whose channel this is, `None` for a channel that is not a user's.
    pub(super) fn user_of_channel(&self, channel: &str) -> Option<Uuid> {
        let user_id = channel.strip_prefix(&self.user_channel_prefix)?;
        Uuid::parse_str(user_id).ok()
    }

    /// Sorted set of the user's connections, `{pod_id}/{connection_id}` scored by expiry
    /// (unix milliseconds).
    pub(super) fn presence(&self, user_id: Uuid) -> String {
        format!("{}{user_id}", self.presence_prefix)
    }

    pub(super) fn presence_prefix(&self) -> &str {
        &self.presence_prefix
    }

    /// Exists (with a TTL) while the pod heartbeats.
    pub(super) fn pod(&self, pod_id: PodId) -> String {
        format!("{}{pod_id}", self.pod_prefix)
    }

    pub(super) fn pod_prefix(&self) -> &str {
        &self.pod_prefix
    }

    /// Hash of SFU node id → its JSON record.
    pub(super) fn sfu_nodes(&self) -> String {
        format!("{}sfu:nodes", self.prefix)
    }

    /// Hash of SFU node id → rooms claimed on it.
    pub(super) fn sfu_claimed(&self) -> String {
        format!("{}sfu:claimed", self.prefix)
    }

    /// The node id a room is claimed on.
    pub(super) fn sfu_claim(&self, room: &str) -> String {
        format!("{}{room}", self.sfu_claim_prefix())
    }

    /// What every room's claim key starts with (for scripts that build claim keys).
    pub(super) fn sfu_claim_prefix(&self) -> String {
        format!("{}sfu:room:", self.prefix)
    }

    /// Set of the rooms claimed on one node, so that a dead node's claims can be released
    /// without scanning every key. An empty `node_id` names a set nothing uses.
    pub(super) fn sfu_node_rooms(&self, node_id: &str) -> String {
        format!("{}sfu:node_rooms:{node_id}", self.prefix)
    }

    /// Set of the names of nodes asked to drain.
    pub(super) fn sfu_drain_requests(&self) -> String {
        format!("{}sfu:drain", self.prefix)
    }

    /// The placement policy the operator set (`packed` or `distributed`).
    pub(super) fn sfu_placement_policy(&self) -> String {
        format!("{}sfu:placement", self.prefix)
    }

    /// Set of every pod id that registered and was not swept yet.
    pub(super) fn pods(&self) -> String {
        format!("{}pods", self.prefix)
    }

    /// Set of the users with a connection (possibly expired) on the pod.
    pub(super) fn pod_users(&self, pod_id: PodId) -> String {
        format!("{}pod-users:{pod_id}", self.prefix)
    }

    /// `{prefix}sweep:{pod_id}` is held by the pod that sweeps a dead pod.
    pub(super) fn sweep_lock_prefix(&self) -> &str {
        &self.sweep_lock_prefix
    }
}

/// A connection's member in a presence set.
pub(super) fn presence_member(pod_id: PodId, connection_id: Uuid) -> String {
    format!("{pod_id}/{connection_id}")
}

/// What every member of one pod starts with.
pub(super) fn pod_member_prefix(pod_id: PodId) -> String {
    format!("{pod_id}/")
}

/// A fan-out message is `{origin pod id} {payload}`: the receiving pod drops its own.
pub(super) fn encode_envelope(origin: PodId, payload: &str) -> String {
    format!("{origin} {payload}")
}

/// The origin pod and the payload, `None` when the message is not an envelope.
pub(super) fn decode_envelope(message: &str) -> Option<(PodId, &str)> {
    let (origin, payload) = message.split_once(' ')?;
    Some((Uuid::parse_str(origin).ok()?, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trips_a_payload_with_spaces() {
        let origin = Uuid::new_v4();
        let envelope = encode_envelope(origin, r#"{"type": "message new"}"#);
        assert_eq!(
            decode_envelope(&envelope),
            Some((origin, r#"{"type": "message new"}"#))
        );
        assert_eq!(decode_envelope("not an envelope"), None);
    }

    #[test]
    fn user_channel_names_its_user() {
        let keys = Keys::new("test:");
        let user_id = Uuid::new_v4();
        assert_eq!(
            keys.user_of_channel(&keys.user_channel(user_id)),
            Some(user_id)
        );
        assert_eq!(keys.user_of_channel(&keys.presence(user_id)), None);
    }
}
