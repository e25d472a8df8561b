//! Restart policy of a supervised child: exponential backoff between respawns, and quarantine
//! of a child that keeps dying. Plain data, tested without actix.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// How a supervisor treats a child that died.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// The wait before the first respawn; it doubles with each recent death.
    pub base: Duration,
    /// The longest wait before a respawn.
    pub cap: Duration,
    /// This many deaths within `window` quarantine the child.
    pub quarantine_after: usize,
    /// The window deaths are counted in.
    pub window: Duration,
}

impl Default for RestartPolicy {
    /// 100 ms doubling up to 30 s; quarantined after 5 deaths within 2 minutes.
    fn default() -> Self {
        Self {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(30),
            quarantine_after: 5,
            window: Duration::from_secs(120),
        }
    }
}

/// What to do with a child that died.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Respawn it after this wait.
    RespawnAfter(Duration),
    /// Stop respawning: it is crash-looping. A person must look (and lift the quarantine).
    Quarantine,
}

/// Where a supervised child stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildStatus {
    /// Alive.
    Running,
    /// Dead, waiting for its respawn.
    Restarting,
    /// Dead and not respawned: it died too often.
    Quarantined,
}

/// The death record of one child slot: generations come and go, the record stays.
#[derive(Debug, Clone, Default)]
pub struct DeathRecord {
    recent: VecDeque<Instant>,
    total: u64,
}

impl DeathRecord {
    /// Records a death at `now` and returns the verdict of `policy`.
    pub fn died(&mut self, policy: &RestartPolicy, now: Instant) -> Verdict {
        self.total += 1;
        self.recent.push_back(now);
        while self
            .recent
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) > policy.window)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= policy.quarantine_after {
            return Verdict::Quarantine;
        }
        let doublings = u32::try_from(self.recent.len().saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(20);
        Verdict::RespawnAfter(policy.base.saturating_mul(1 << doublings).min(policy.cap))
    }

    /// Returns every death ever recorded in this slot.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Forgets recent deaths (when a person lifts a quarantine).
    pub fn forgive(&mut self) {
        self.recent.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_then_the_child_is_quarantined() {
        let policy = RestartPolicy::default();
        let start = Instant::now();
        let mut record = DeathRecord::default();
        let verdicts: Vec<Verdict> = (0..5)
            .map(|death| record.died(&policy, start + Duration::from_secs(death)))
            .collect();
        assert_eq!(
            verdicts,
            vec![
                Verdict::RespawnAfter(Duration::from_millis(100)),
                Verdict::RespawnAfter(Duration::from_millis(200)),
                Verdict::RespawnAfter(Duration::from_millis(400)),
                Verdict::RespawnAfter(Duration::from_millis(800)),
                Verdict::Quarantine,
            ]
        );
        assert_eq!(record.total(), 5);
    }

    #[test]
    fn deaths_outside_the_window_are_forgotten() {
        let policy = RestartPolicy::default();
        let start = Instant::now();
        let mut record = DeathRecord::default();
        for death in 0..10u64 {
            let verdict = record.died(&policy, start + Duration::from_secs(death * 60));
            assert_ne!(
                verdict,
                Verdict::Quarantine,
                "one death a minute never crash-loops"
            );
        }
    }

    #[test]
    fn waits_stop_at_the_cap() {
        let policy = RestartPolicy {
            quarantine_after: 100,
            ..RestartPolicy::default()
        };
        let start = Instant::now();
        let mut record = DeathRecord::default();
        let last = (0..30).map(|_| record.died(&policy, start)).last().unwrap();
        assert_eq!(last, Verdict::RespawnAfter(policy.cap));
    }
}
