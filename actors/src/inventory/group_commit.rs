//! Group commit: many writers, one flush. A plain state machine over waiters, tested without
//! actix; the InventoryActor drives it.
//!
//! A waiter is enqueued only after its transaction has committed. A flush covers exactly the
//! waiters that were enqueued before it started, because sled's flush makes durable every write
//! made before the call. Waiters that arrive while a flush is running wait for the next one, which
//! starts as soon as the running one ends, so at most one flush runs at a time and a busy ledger
//! pays one flush per round rather than one per writer (`reference/reliability.md` §2.4 measures
//! why: 6.5 k flushed writes/s one by one, 160 k/s a thousand at a time).

/// The state of group commit for one ledger.
#[derive(Debug)]
pub struct GroupCommit<W> {
    waiting: Vec<W>,
    in_flight: Option<Vec<W>>,
    completed_flushes: u64,
}

impl<W> Default for GroupCommit<W> {
    fn default() -> Self {
        Self {
            waiting: Vec::new(),
            in_flight: None,
            completed_flushes: 0,
        }
    }
}

impl<W> GroupCommit<W> {
    /// Enqueues a waiter whose write has committed. Returns true when the caller must start a
    /// flush now (none is running).
    #[must_use]
    pub fn enqueue(&mut self, waiter: W) -> bool {
        self.waiting.push(waiter);
        self.in_flight.is_none()
    }

    /// Marks a flush as started, covering every waiter enqueued so far; returns how many it
    /// covers. Returns `None` when a flush is already running or nobody is waiting.
    pub fn start_flush(&mut self) -> Option<usize> {
        if self.in_flight.is_some() || self.waiting.is_empty() {
            return None;
        }
        let batch = std::mem::take(&mut self.waiting);
        let size = batch.len();
        self.in_flight = Some(batch);
        Some(size)
    }

    /// Marks the running flush as finished; returns the waiters it covered (to be answered) and
    /// whether another flush must start for waiters that arrived meanwhile.
    pub fn finish_flush(&mut self) -> (Vec<W>, bool) {
        let covered = self.in_flight.take().unwrap_or_default();
        self.completed_flushes += 1;
        (covered, !self.waiting.is_empty())
    }

    /// Returns the number of waiters not yet answered (waiting or in flight).
    pub fn pending(&self) -> usize {
        self.waiting.len() + self.in_flight.as_ref().map_or(0, Vec::len)
    }

    /// Tells whether a flush is running.
    pub fn flushing(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Returns the number of flushes finished so far.
    pub fn completed_flushes(&self) -> u64 {
        self.completed_flushes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_waiter_starts_a_flush_and_later_ones_wait_for_the_next() {
        let mut commit = GroupCommit::default();
        assert!(commit.enqueue(1));
        assert_eq!(commit.start_flush(), Some(1));
        assert!(
            !commit.enqueue(2),
            "a flush is running: 2 must wait for the next"
        );
        assert!(!commit.enqueue(3));
        assert_eq!(commit.start_flush(), None, "one flush at a time");
        assert_eq!(commit.pending(), 3);
        let (covered, again) = commit.finish_flush();
        assert_eq!(
            covered,
            vec![1],
            "a flush never answers a waiter that came after it started"
        );
        assert!(again);
        assert_eq!(commit.start_flush(), Some(2));
        let (covered, again) = commit.finish_flush();
        assert_eq!(covered, vec![2, 3]);
        assert!(!again);
        assert_eq!(commit.completed_flushes(), 2);
        assert_eq!(commit.pending(), 0);
        assert!(!commit.flushing());
    }

    #[test]
    fn nothing_to_flush_starts_nothing() {
        let mut commit: GroupCommit<u8> = GroupCommit::default();
        assert_eq!(commit.start_flush(), None);
    }
}
