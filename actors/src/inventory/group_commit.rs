//! Group commit: many commands, one transaction and one flush per round. A plain state machine
//! over waiting commands, tested without actix; the InventoryActor drives it.
//!
//! A round takes the commands waiting when it starts, writes them in one sled transaction, flushes,
//! and only then answers them. Commands that arrive while a round runs wait for the next one,
//! which starts as soon as the running one ends, so at most one round runs per ledger and a busy
//! ledger pays one transaction and one flush per round rather than per command. A round is first
//! *scheduled* and started a moment later (the actor lets its thread's other tasks run once), so
//! that commands sent at the same instant, such as the next commands of the callers the last round
//! just answered, share one round instead of splitting into alternating halves. Both costs matter
//! with sled 0.34.7: its flush batches (`reference/reliability.md` §2.4: 6.5 k flushed writes/s
//! one by one, 160 k/s a thousand at a time), and every transaction writes its log buffer to disk
//! by itself (`bench/RESULTS.md`).

use std::collections::VecDeque;

/// The state of group commit for one ledger.
#[derive(Debug)]
pub struct GroupCommit<W> {
    waiting: VecDeque<W>,
    in_round: usize,
    round_running: bool,
    round_scheduled: bool,
    completed_rounds: u64,
}

impl<W> Default for GroupCommit<W> {
    fn default() -> Self {
        Self {
            waiting: VecDeque::new(),
            in_round: 0,
            round_running: false,
            round_scheduled: false,
            completed_rounds: 0,
        }
    }
}

impl<W> GroupCommit<W> {
    /// Enqueues a command. Returns true when the caller must schedule a round (none is running
    /// or scheduled); the round is then counted as scheduled.
    #[must_use]
    pub fn enqueue(&mut self, waiter: W) -> bool {
        self.waiting.push_back(waiter);
        if self.round_running || self.round_scheduled {
            return false;
        }
        self.round_scheduled = true;
        true
    }

    /// Starts a round with the oldest waiting commands whose total `weight` stays within
    /// `max_weight` (always at least one, so no command can starve). Returns `None` when a round
    /// is already running or nothing waits.
    pub fn start_round(
        &mut self,
        max_weight: usize,
        weight: impl Fn(&W) -> usize,
    ) -> Option<Vec<W>> {
        if self.round_running || self.waiting.is_empty() {
            return None;
        }
        self.round_scheduled = false;
        let mut taken = Vec::new();
        let mut total = 0;
        while let Some(next) = self.waiting.front() {
            let next_weight = weight(next);
            if !taken.is_empty() && total + next_weight > max_weight {
                break;
            }
            total += next_weight;
            taken.extend(self.waiting.pop_front());
        }
        self.in_round = taken.len();
        self.round_running = true;
        Some(taken)
    }

    /// Marks the running round as finished. Returns true when commands are waiting: the caller
    /// must schedule the next round, which is then counted as scheduled.
    pub fn finish_round(&mut self) -> bool {
        self.in_round = 0;
        self.round_running = false;
        self.completed_rounds += 1;
        self.round_scheduled = !self.waiting.is_empty();
        self.round_scheduled
    }

    /// Returns the number of commands not yet answered (waiting or in the running round).
    pub fn pending(&self) -> usize {
        self.waiting.len() + self.in_round
    }

    /// Tells whether a round is running.
    pub fn round_running(&self) -> bool {
        self.round_running
    }

    /// Returns the number of rounds finished so far.
    pub fn completed_rounds(&self) -> u64 {
        self.completed_rounds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(_: &u32) -> usize {
        1
    }

    #[test]
    fn first_command_starts_a_round_and_later_ones_wait_for_the_next() {
        let mut commit = GroupCommit::default();
        assert!(commit.enqueue(1));
        assert!(
            !commit.enqueue(4),
            "a round is already scheduled: 4 joins it"
        );
        assert_eq!(commit.start_round(100, unit), Some(vec![1, 4]));
        assert!(
            !commit.enqueue(2),
            "a round is running: 2 must wait for the next"
        );
        assert!(!commit.enqueue(3));
        assert_eq!(commit.start_round(100, unit), None, "one round at a time");
        assert_eq!(commit.pending(), 4);
        assert!(commit.finish_round(), "2 and 3 are waiting");
        assert!(
            !commit.enqueue(5),
            "the next round is already scheduled: 5 joins it"
        );
        assert_eq!(commit.start_round(100, unit), Some(vec![2, 3, 5]));
        assert!(!commit.finish_round());
        assert_eq!(commit.completed_rounds(), 2);
        assert_eq!(commit.pending(), 0);
        assert!(!commit.round_running());
    }

    #[test]
    fn a_round_stays_within_its_weight_but_always_takes_one() {
        let mut commit = GroupCommit::default();
        for weight in [600, 300, 200, 5000] {
            let _ = commit.enqueue(weight);
        }
        let identity = |weight: &u32| *weight as usize;
        assert_eq!(commit.start_round(1000, identity), Some(vec![600, 300]));
        commit.finish_round();
        assert_eq!(commit.start_round(1000, identity), Some(vec![200]));
        commit.finish_round();
        assert_eq!(
            commit.start_round(1000, identity),
            Some(vec![5000]),
            "an oversize command goes alone"
        );
    }

    #[test]
    fn nothing_waiting_starts_nothing() {
        let mut commit: GroupCommit<u32> = GroupCommit::default();
        assert_eq!(commit.start_round(10, unit), None);
    }
}
