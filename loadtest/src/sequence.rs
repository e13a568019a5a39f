//! Per recipient and conversation, which seqs arrived: the gap and duplicate accounting of the
//! chat scenarios. Pure: the scenario feeds it seqs and, at the end, the conversation's last
//! seq from history.

use std::collections::BTreeSet;

/// What one observed seq was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// First time this seq arrived.
    New,
    /// The seq arrived before (or is at or below the starting cursor).
    Duplicate,
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
}

impl SequenceTracker {
    pub fn new(base_seq: i64) -> Self {
        Self {
            base_seq,
            ahead: BTreeSet::new(),
            contiguous_seq: base_seq,
            duplicates: 0,
        }
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
}
