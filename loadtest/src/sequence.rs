//! Per recipient and conversation, which seqs arrived: the gap and duplicate accounting of the
//! chat scenarios. Pure: the scenario feeds it events and, at the end, the conversation's last
//! seq from history.
//!
//! Three things are counted apart, because they mean different failures:
//! - a *live-stream gap*: a seq that never arrived on the live stream (events pushed by the
//!   server, including a resume's replay) and that the recipient only got by asking history
//!   after a stall or a `resync_required`;
//! - a *final gap*: a seq that history has but the recipient never got at all, even by asking
//!   (a lost message, [`SequenceTracker::missing_up_to`]);
//! - a *duplicate*: a seq that arrived twice, or one message (its sender's client id) that
//!   arrived again under a new seq, i.e. the server stored a retried send twice.

use std::collections::{BTreeSet, HashSet};

/// What one observed seq was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// First time this seq arrived.
    New,
    /// The seq arrived before (or is at or below the starting cursor).
    Duplicate,
    /// A new seq carrying a message (client id) that already arrived under another seq.
    RepeatedMessage,
}

/// The seqs one recipient received in one conversation, above the cursor it started from.
#[derive(Debug, Clone)]
pub struct SequenceTracker {
    /// The recipient had everything up to here before the run.
    base_seq: i64,
    /// Seqs above `contiguous_seq` that arrived out of order.
    ahead: BTreeSet<i64>,
    /// Everything in `base_seq+1..=contiguous_seq` arrived.
    contiguous_seq: i64,
    duplicates: u64,
    /// The client ids of every message received (client ids carry the sender's name, so they
    /// are unique per sender and message).
    client_ids: HashSet<String>,
    repeated_messages: u64,
    live_stream_gaps: u64,
}

impl SequenceTracker {
    pub fn new(base_seq: i64) -> Self {
        Self {
            base_seq,
            ahead: BTreeSet::new(),
            contiguous_seq: base_seq,
            duplicates: 0,
            client_ids: HashSet::new(),
            repeated_messages: 0,
            live_stream_gaps: 0,
        }
    }

    /// One event as it arrived: its seq, the client id of its message (if it is one), and
    /// whether it came in a history answer rather than on the live stream.
    pub fn observe_event(
        &mut self,
        seq: i64,
        client_id: Option<&str>,
        via_fetch: bool,
    ) -> Observation {
        if self.observe(seq) == Observation::Duplicate {
            return Observation::Duplicate;
        }
        if via_fetch {
            self.live_stream_gaps += 1;
        }
        if let Some(client_id) = client_id
            && !self.client_ids.insert(client_id.to_owned())
        {
            self.repeated_messages += 1;
            return Observation::RepeatedMessage;
        }
        Observation::New
    }

    /// New seqs that carried a message already received under another seq.
    pub fn repeated_messages(&self) -> u64 {
        self.repeated_messages
    }

    /// New seqs that arrived only in a history answer, never on the live stream.
    pub fn live_stream_gaps(&self) -> u64 {
        self.live_stream_gaps
    }

    pub fn observe(&mut self, seq: i64) -> Observation {
        if seq <= self.contiguous_seq || !self.ahead.insert(seq) {
            self.duplicates += 1;
            return Observation::Duplicate;
        }
        while self.ahead.remove(&(self.contiguous_seq + 1)) {
            self.contiguous_seq += 1;
        }
        Observation::New
    }

    /// The newest seq up to which nothing is missing: what a reconnecting client resumes from.
    pub fn cursor(&self) -> i64 {
        self.contiguous_seq
    }

    pub fn base_seq(&self) -> i64 {
        self.base_seq
    }

    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// The seqs in `base_seq+1..=last_seq` that never arrived. `last_seq` is the conversation's
    /// newest seq read from history after the run, so a message that exists but never reached
    /// this recipient counts, even when it was the last one.
    pub fn missing_up_to(&self, last_seq: i64) -> Vec<i64> {
        ((self.contiguous_seq + 1)..=last_seq)
            .filter(|seq| !self.ahead.contains(seq))
            .collect()
    }
}

/// In one conversation's history, how many entries repeat a client id stored under an
/// earlier seq (a retried send stored twice).
pub fn client_ids_stored_twice<'a>(client_ids: impl IntoIterator<Item = Option<&'a str>>) -> u64 {
    let mut seen = HashSet::new();
    client_ids
        .into_iter()
        .flatten()
        .filter(|client_id| !seen.insert(*client_id))
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_seqs_leave_no_gap_and_no_duplicate() {
        let mut tracker = SequenceTracker::new(3);
        for seq in 4..=10 {
            assert_eq!(tracker.observe(seq), Observation::New);
        }
        assert_eq!(tracker.cursor(), 10);
        assert!(tracker.missing_up_to(10).is_empty());
        assert_eq!(tracker.duplicates(), 0);
    }

    #[test]
    fn a_hole_is_missing_and_the_cursor_stops_before_it() {
        let mut tracker = SequenceTracker::new(0);
        tracker.observe(1);
        tracker.observe(3);
        tracker.observe(4);
        assert_eq!(tracker.cursor(), 1);
        assert_eq!(tracker.missing_up_to(4), vec![2]);
        tracker.observe(2);
        assert_eq!(tracker.cursor(), 4);
        assert!(tracker.missing_up_to(4).is_empty());
    }

    #[test]
    fn messages_after_the_last_received_count_as_missing() {
        let mut tracker = SequenceTracker::new(0);
        tracker.observe(1);
        assert_eq!(tracker.missing_up_to(3), vec![2, 3]);
    }

    #[test]
    fn a_repeated_or_old_seq_is_a_duplicate() {
        let mut tracker = SequenceTracker::new(5);
        assert_eq!(tracker.observe(5), Observation::Duplicate);
        assert_eq!(tracker.observe(6), Observation::New);
        assert_eq!(tracker.observe(6), Observation::Duplicate);
        assert_eq!(tracker.observe(8), Observation::New);
        assert_eq!(tracker.observe(8), Observation::Duplicate);
        assert_eq!(tracker.duplicates(), 3);
    }

    #[test]
    fn a_message_again_under_a_new_seq_is_a_repeat() {
        let mut tracker = SequenceTracker::new(0);
        assert_eq!(
            tracker.observe_event(1, Some("alice-1"), false),
            Observation::New
        );
        assert_eq!(
            tracker.observe_event(2, Some("bob-1"), false),
            Observation::New
        );
        assert_eq!(
            tracker.observe_event(3, Some("alice-1"), false),
            Observation::RepeatedMessage
        );
        assert_eq!(
            tracker.observe_event(3, Some("alice-1"), false),
            Observation::Duplicate
        );
        assert_eq!(tracker.repeated_messages(), 1);
        assert_eq!(tracker.duplicates(), 1);
        assert!(tracker.missing_up_to(3).is_empty());
    }

    #[test]
    fn only_new_seqs_from_a_fetch_are_live_stream_gaps() {
        let mut tracker = SequenceTracker::new(0);
        tracker.observe_event(1, Some("a-1"), false);
        tracker.observe_event(3, Some("a-3"), false);
        // The fetch answers 2 and 3; 3 already arrived live.
        tracker.observe_event(2, Some("a-2"), true);
        tracker.observe_event(3, Some("a-3"), true);
        tracker.observe_event(4, Some("a-4"), false);
        assert_eq!(tracker.live_stream_gaps(), 1);
        assert!(tracker.missing_up_to(4).is_empty());
    }

    #[test]
    fn history_with_a_client_id_twice_is_counted() {
        let ids = [Some("a-1"), None, Some("a-2"), Some("a-1"), Some("a-1")];
        assert_eq!(client_ids_stored_twice(ids), 2);
        assert_eq!(client_ids_stored_twice([Some("a-1"), Some("b-1")]), 0);
    }
}
