//! The end-to-end sync test of the launch checklist (issue 15): a test change is made and must be
//! seen on every channel, then undone and seen again. "Seen" means the marketplace confirmed a
//! push computed from the test's ledger entry or a later one (the listing history's `confirmed`
//! event, `inventory::history`): the whole path (ledger, channel, connector, credential,
//! marketplace) worked for that channel.
//!
//! The change takes one unit away (an `adjustment` of -1), never adds one: a test must not let a
//! marketplace sell a unit that does not exist. The undo (+1) is made whatever happens, also when
//! a channel never showed the change in time; the test then fails, naming the channels.
//!
//! Plain state: the service makes the movements and reads the history; [`SyncTest::step`] says
//! what comes next.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use shelfsync_actors::ids::{ChannelId, Sku};

/// How long each half of the test may take before it fails (a channel waiting on a rate limit
/// pushes within seconds; ten minutes is far past any healthy wait).
pub const SYNC_TEST_TIMEOUT: Duration = Duration::minutes(10);

/// Where a test is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncPhase {
    /// The test change is made; waiting for every channel to show it.
    Lowering,
    /// The undo is made; waiting for every channel to show it.
    Restoring,
    /// Both were seen on every channel.
    Passed,
    /// A channel did not show one of them in time (the undo was made anyway).
    Failed,
}

/// One sync test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncTest {
    /// Its id.
    pub id: u64,
    /// The SKU changed.
    pub sku: Sku,
    /// The channels that must show it.
    pub channels: Vec<ChannelId>,
    /// Who started it (a member id) and their name.
    pub started_by: String,
    /// Their name then.
    pub started_by_name: String,
    /// When.
    pub started_at: DateTime<Utc>,
    /// Where it is.
    pub phase: SyncPhase,
    /// When the current half fails.
    pub deadline: DateTime<Utc>,
    /// The ledger entry of the test change.
    pub lower_seq: u64,
    /// The ledger entry of the undo, once made.
    pub restore_seq: Option<u64>,
    /// When each channel showed the change.
    pub lowered_seen: BTreeMap<ChannelId, DateTime<Utc>>,
    /// When each channel showed the undo.
    pub restored_seen: BTreeMap<ChannelId, DateTime<Utc>>,
    /// Per channel, the last listing-history event id read (the next read starts after it).
    pub history_cursor: BTreeMap<ChannelId, u64>,
    /// When it passed or failed.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed.
    pub why: Option<String>,
}

/// A push of the test's SKU a marketplace confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// On which channel.
    pub channel: ChannelId,
    /// The ledger entry it was computed from.
    pub ledger_seq: u64,
    /// When.
    pub at: DateTime<Utc>,
}

/// What the service does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing yet.
    Wait,
    /// Make the undo, then call [`SyncTest::restoring`].
    Restore,
    /// The test is over.
    Finished,
}

impl SyncTest {
    /// Whether it is still running.
    pub fn running(&self) -> bool {
        matches!(self.phase, SyncPhase::Lowering | SyncPhase::Restoring)
    }

    /// Notes confirmations read from the listing history.
    pub fn observe(&mut self, confirmations: &[Confirmation]) {
        for confirmation in confirmations {
            if !self.channels.contains(&confirmation.channel) {
                continue;
            }
            let (seen, from) = match (self.phase, self.restore_seq) {
                (SyncPhase::Lowering, _) => (&mut self.lowered_seen, self.lower_seq),
                (SyncPhase::Restoring, Some(seq)) => (&mut self.restored_seen, seq),
                _ => continue,
            };
            if confirmation.ledger_seq >= from {
                seen.entry(confirmation.channel.clone())
                    .or_insert(confirmation.at);
            }
        }
    }

    fn missing(&self, seen: &BTreeMap<ChannelId, DateTime<Utc>>) -> Vec<String> {
        self.channels
            .iter()
            .filter(|channel| !seen.contains_key(*channel))
            .map(ToString::to_string)
            .collect()
    }

    /// What comes next at `now`.
    pub fn step(&mut self, now: DateTime<Utc>) -> Step {
        match self.phase {
            SyncPhase::Passed | SyncPhase::Failed => Step::Finished,
            SyncPhase::Lowering => {
                let missing = self.missing(&self.lowered_seen);
                if missing.is_empty() {
                    Step::Restore
                } else if now >= self.deadline {
                    self.why = Some(format!(
                        "the test change was not seen on {} within {} minutes",
                        missing.join(", "),
                        SYNC_TEST_TIMEOUT.num_minutes()
                    ));
                    Step::Restore
                } else {
                    Step::Wait
                }
            }
            SyncPhase::Restoring => {
                let missing = self.missing(&self.restored_seen);
                if missing.is_empty() {
                    self.finish(now);
                    Step::Finished
                } else if now >= self.deadline {
                    self.why.get_or_insert(format!(
                        "the undo was not seen on {} within {} minutes",
                        missing.join(", "),
                        SYNC_TEST_TIMEOUT.num_minutes()
                    ));
                    self.finish(now);
                    Step::Finished
                } else {
                    Step::Wait
                }
            }
        }
    }

    /// The undo was made as ledger entry `seq` at `now`.
    pub fn restoring(&mut self, seq: u64, now: DateTime<Utc>) {
        self.phase = SyncPhase::Restoring;
        self.restore_seq = Some(seq);
        self.deadline = now + SYNC_TEST_TIMEOUT;
    }

    fn finish(&mut self, now: DateTime<Utc>) {
        self.phase = if self.why.is_some() {
            SyncPhase::Failed
        } else {
            SyncPhase::Passed
        };
        self.finished_at = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn channel(id: &str) -> ChannelId {
        ChannelId::parse(id).unwrap()
    }

    fn test() -> SyncTest {
        let start = at("2026-12-01T10:00:00Z");
        SyncTest {
            id: 1,
            sku: Sku::parse("ACME-MUG").unwrap(),
            channels: vec![channel("shop"), channel("etsy")],
            started_by: "m1".into(),
            started_by_name: "Ana".into(),
            started_at: start,
            phase: SyncPhase::Lowering,
            deadline: start + SYNC_TEST_TIMEOUT,
            lower_seq: 10,
            restore_seq: None,
            lowered_seen: BTreeMap::new(),
            restored_seen: BTreeMap::new(),
            history_cursor: BTreeMap::new(),
            finished_at: None,
            why: None,
        }
    }

    fn confirmed(id: &str, seq: u64) -> Confirmation {
        Confirmation {
            channel: channel(id),
            ledger_seq: seq,
            at: at("2026-12-01T10:00:05Z"),
        }
    }

    #[test]
    fn passes_when_every_channel_shows_the_change_and_then_the_undo() {
        let mut test = test();
        let now = at("2026-12-01T10:00:10Z");
        // A push computed before the test change does not count.
        test.observe(&[confirmed("shop", 9), confirmed("shop", 10)]);
        assert_eq!(test.step(now), Step::Wait, "etsy has not shown it");
        test.observe(&[confirmed("etsy", 11)]);
        assert_eq!(test.step(now), Step::Restore);
        test.restoring(12, now);
        test.observe(&[
            confirmed("shop", 11),
            confirmed("shop", 12),
            confirmed("etsy", 12),
        ]);
        assert_eq!(test.restored_seen.len(), 2);
        assert_eq!(test.step(now), Step::Finished);
        assert_eq!(test.phase, SyncPhase::Passed);
    }

    #[test]
    fn a_channel_that_never_shows_it_fails_the_test_after_the_undo() {
        let mut test = test();
        test.observe(&[confirmed("shop", 10)]);
        assert_eq!(test.step(at("2026-12-01T10:09:59Z")), Step::Wait);
        assert_eq!(
            test.step(at("2026-12-01T10:10:00Z")),
            Step::Restore,
            "undone anyway"
        );
        test.restoring(11, at("2026-12-01T10:10:00Z"));
        test.observe(&[confirmed("shop", 11), confirmed("etsy", 11)]);
        assert_eq!(test.step(at("2026-12-01T10:10:01Z")), Step::Finished);
        assert_eq!(test.phase, SyncPhase::Failed);
        assert!(test.why.as_deref().unwrap().contains("etsy"));
    }
}
