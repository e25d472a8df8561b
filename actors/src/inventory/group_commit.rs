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
//!
//! A caller may bound its wait (issue 12, DESIGN §2: a full mailbox or a timeout is a 503 at the
//! edge, never a hang). Its command then carries a [`CommandTicket`]: the round claims the ticket
//! when it takes the command up, the caller expires it when it stops waiting, and a command whose
//! caller stopped first is answered `Expired` and never written. So a caller told "not applied"
//! can rely on it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;

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
    /// `max_weight` (always at least one, so no command can starve). A command that `claim`
    /// refuses (its caller stopped waiting, see [`CommandTicket`]) is not written: it goes to
    /// [`RoundStart::expired`] for its answer and weighs nothing. Returns `None` when a round is
    /// already running or nothing waits; a round whose every command was refused does not run.
    pub fn start_round(
        &mut self,
        max_weight: usize,
        weight: impl Fn(&W) -> usize,
        mut claim: impl FnMut(&W) -> bool,
    ) -> Option<RoundStart<W>> {
        if self.round_running {
            return None;
        }
        // Cleared even when nothing waits: a scheduled round that finds nothing must not keep
        // later commands from scheduling the next one.
        self.round_scheduled = false;
        if self.waiting.is_empty() {
            return None;
        }
        let mut start = RoundStart {
            commands: Vec::new(),
            expired: Vec::new(),
        };
        let mut total = 0;
        while let Some(next) = self.waiting.front() {
            let next_weight = weight(next);
            if !start.commands.is_empty() && total + next_weight > max_weight {
                break;
            }
            let Some(next) = self.waiting.pop_front() else {
                break;
            };
            if claim(&next) {
                total += next_weight;
                start.commands.push(next);
            } else {
                start.expired.push(next);
            }
        }
        self.in_round = start.commands.len();
        self.round_running = !start.commands.is_empty();
        Some(start)
    }

    /// Takes out every waiting command for which `expired` holds (their callers stopped
    /// waiting), so that they are answered now and hold no room in the queue until the next round.
    pub fn take_expired(&mut self, expired: impl Fn(&W) -> bool) -> Vec<W> {
        let mut gone = Vec::new();
        for waiter in std::mem::take(&mut self.waiting) {
            if expired(&waiter) {
                gone.push(waiter);
            } else {
                self.waiting.push_back(waiter);
            }
        }
        gone
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

/// What [`GroupCommit::start_round`] took from the queue.
#[derive(Debug)]
pub struct RoundStart<W> {
    /// The commands the round writes (claimed), oldest first.
    pub commands: Vec<W>,
    /// Commands whose callers had stopped waiting: never written, answered at once.
    pub expired: Vec<W>,
}

/// A caller's hold on one command, shared by the caller and the ledger so that exactly one of them
/// decides what becomes of it (issue 12: a command whose caller was told "not applied" must never
/// be applied later behind its back). The ledger [`claim`](Self::claim)s the command when a round
/// takes it up; the caller [`expire`](Self::expire)s it when its wait ends. The first one wins: a
/// claimed command is written and its caller waits for the definitive answer; an expired one is
/// never written. One atomic compare-and-swap decides, so no clock is compared across threads.
///
/// A ticket may also hold an admission permit of the caller's (the edge's bound on queued
/// commands): it is released when the caller and the ledger have both let the command go, so the
/// bound counts every command that still takes room in the ledger's mailbox or queue.
#[derive(Debug, Clone, Default)]
pub struct CommandTicket {
    inner: Arc<TicketInner>,
}

#[derive(Debug, Default)]
struct TicketInner {
    state: AtomicU8,
    _permit: Option<OwnedSemaphorePermit>,
}

const PENDING: u8 = 0;
const CLAIMED: u8 = 1;
const EXPIRED: u8 = 2;

impl CommandTicket {
    /// A ticket holding `permit` until the caller and the ledger both drop the command.
    pub fn holding(permit: OwnedSemaphorePermit) -> Self {
        Self {
            inner: Arc::new(TicketInner {
                state: AtomicU8::new(PENDING),
                _permit: Some(permit),
            }),
        }
    }

    /// The ledger takes the command up: true unless the caller expired it first (then it must
    /// not be written). Claiming a claimed ticket succeeds.
    pub fn claim(&self) -> bool {
        match self.inner.state.compare_exchange(
            PENDING,
            CLAIMED,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => true,
            Err(state) => state == CLAIMED,
        }
    }

    /// The ledger refused the claimed command and wrote nothing: the caller may expire it again
    /// (a caller that retries without the refused part sends the rest under the same ticket).
    /// Must happen before the refusal is answered, so the caller never sees a stale claim.
    pub fn release(&self) {
        let _ = self.inner.state.compare_exchange(
            CLAIMED,
            PENDING,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// The caller stops waiting: true when the command is (now or already) expired, so it will
    /// never be written; false when the ledger claimed it first, so its answer is on the way.
    pub fn expire(&self) -> bool {
        match self.inner.state.compare_exchange(
            PENDING,
            EXPIRED,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => true,
            Err(state) => state == EXPIRED,
        }
    }

    /// Tells whether the caller expired the command.
    pub fn is_expired(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) == EXPIRED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(_: &u32) -> usize {
        1
    }

    /// Starts a round in which every command is claimed; returns what it writes.
    fn round(
        commit: &mut GroupCommit<u32>,
        max_weight: usize,
        weight: impl Fn(&u32) -> usize,
    ) -> Option<Vec<u32>> {
        commit
            .start_round(max_weight, weight, |_| true)
            .map(|start| start.commands)
    }

    #[test]
    fn first_command_starts_a_round_and_later_ones_wait_for_the_next() {
        let mut commit = GroupCommit::default();
        assert!(commit.enqueue(1));
        assert!(
            !commit.enqueue(4),
            "a round is already scheduled: 4 joins it"
        );
        assert_eq!(round(&mut commit, 100, unit), Some(vec![1, 4]));
        assert!(
            !commit.enqueue(2),
            "a round is running: 2 must wait for the next"
        );
        assert!(!commit.enqueue(3));
        assert_eq!(round(&mut commit, 100, unit), None, "one round at a time");
        assert_eq!(commit.pending(), 4);
        assert!(commit.finish_round(), "2 and 3 are waiting");
        assert!(
            !commit.enqueue(5),
            "the next round is already scheduled: 5 joins it"
        );
        assert_eq!(round(&mut commit, 100, unit), Some(vec![2, 3, 5]));
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
        assert_eq!(round(&mut commit, 1000, identity), Some(vec![600, 300]));
        commit.finish_round();
        assert_eq!(round(&mut commit, 1000, identity), Some(vec![200]));
        commit.finish_round();
        assert_eq!(
            round(&mut commit, 1000, identity),
            Some(vec![5000]),
            "an oversize command goes alone"
        );
    }

    #[test]
    fn nothing_waiting_starts_nothing() {
        let mut commit: GroupCommit<u32> = GroupCommit::default();
        assert_eq!(round(&mut commit, 10, unit), None);
    }

    #[test]
    fn an_expired_command_is_answered_not_written_and_weighs_nothing() {
        let mut commit = GroupCommit::default();
        for command in [1, 2, 3, 4] {
            let _ = commit.enqueue(command);
        }
        let start = commit
            .start_round(2, unit, |command| command % 2 == 0)
            .unwrap();
        assert_eq!(
            start.commands,
            vec![2, 4],
            "1 and 3 do not count against the weight"
        );
        assert_eq!(start.expired, vec![1, 3]);
        assert!(commit.round_running());
        assert!(!commit.finish_round());
        assert!(commit.enqueue(5));
        let start = commit.start_round(10, unit, |_| false).unwrap();
        assert!(start.commands.is_empty() && start.expired == vec![5]);
        assert!(
            !commit.round_running(),
            "a round with nothing to write does not run"
        );
        assert!(
            commit.enqueue(6),
            "and the next command schedules a round again"
        );
    }

    #[test]
    fn expired_commands_leave_the_queue_at_once() {
        let mut commit = GroupCommit::default();
        for command in [1, 2, 3] {
            let _ = commit.enqueue(command);
        }
        assert_eq!(commit.take_expired(|command| *command != 2), vec![1, 3]);
        assert_eq!(commit.pending(), 1);
        assert_eq!(round(&mut commit, 10, unit), Some(vec![2]));
    }

    #[test]
    fn a_scheduled_round_that_finds_nothing_lets_the_next_command_schedule() {
        let mut commit = GroupCommit::default();
        assert!(commit.enqueue(1));
        assert_eq!(commit.take_expired(|_| true), vec![1]);
        assert!(commit.start_round(10, unit, |_| true).is_none());
        assert!(
            commit.enqueue(2),
            "the empty round must not leave a schedule behind"
        );
    }

    #[test]
    fn the_first_of_claim_and_expire_decides() {
        let ticket = CommandTicket::default();
        assert!(ticket.claim());
        assert!(ticket.claim(), "claiming twice is fine");
        assert!(
            !ticket.expire(),
            "claimed first: the caller must wait for the answer"
        );
        ticket.release();
        assert!(ticket.expire(), "a refused command may expire");
        assert!(ticket.expire() && ticket.is_expired());
        assert!(!ticket.claim(), "an expired command is never written");
    }

    #[test]
    fn a_ticket_keeps_its_permit_until_both_sides_let_go() {
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(1));
        let ticket = CommandTicket::holding(gate.clone().try_acquire_owned().unwrap());
        let ledger_side = ticket.clone();
        drop(ticket);
        assert_eq!(gate.available_permits(), 0);
        drop(ledger_side);
        assert_eq!(gate.available_permits(), 1);
    }
}
