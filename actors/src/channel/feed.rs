//! The order events a channel has already taken from its feed, so that a sale the marketplace
//! made is noted on the push queue once, not once per delivery.
//!
//! Connectors re-deliver events on purpose: Etsy's receipts cursor reads the last second again
//! (a receipt of that second may still change), a token that Amazon no longer takes restarts its
//! window, a poll after a restart reads from the durable cursor. The ledger ignores a repeat (same
//! idempotency key), but the channel lowers its belief of what the marketplace shows for every
//! sale it notes ([`super::scheduler::PushQueue::note_marketplace_sale`]): a repeat noted again
//! cancelled a pending decrease (the listing kept showing 4 with 3 available and nothing pending)
//! or pushed the same quantity again every other poll (issue 12, found on Etsy).
//!
//! Plain data, no actix. Bounded: a repeat is always recent (the overlap of one page), so the
//! oldest keys are forgotten first. The memory is not durable on purpose: a new generation of the
//! channel notes nothing from the first page it reads (it cannot tell when those sales happened),
//! and remembers its events from then on.

use std::collections::{HashSet, VecDeque};

use super::marketplace::{OrderEvent, OrderEventKind};

/// How many events are remembered: far more than any page or overlap of a page.
pub const REMEMBERED_EVENTS: usize = 16_384;

/// The natural key of an order event (DESIGN §3), as the ledger's idempotency key is built from
/// it, plus its kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct EventKey {
    order: String,
    line: u32,
    version: String,
    kind: OrderEventKind,
}

impl EventKey {
    fn of(event: &OrderEvent) -> Self {
        Self {
            order: event.external_order_id.clone(),
            line: event.line,
            version: event.version.clone(),
            kind: event.kind,
        }
    }
}

/// The events a channel has taken from its feed, newest last.
#[derive(Debug)]
pub struct SeenEvents {
    keys: HashSet<EventKey>,
    order: VecDeque<EventKey>,
    capacity: usize,
}

impl Default for SeenEvents {
    fn default() -> Self {
        Self::with_capacity(REMEMBERED_EVENTS)
    }
}

impl SeenEvents {
    /// Remembers at most `capacity` events (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            keys: HashSet::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Remembers `event` and tells whether it is the first time the channel sees it.
    pub fn first_sight(&mut self, event: &OrderEvent) -> bool {
        let key = EventKey::of(event);
        if self.keys.contains(&key) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.keys.remove(&oldest);
            }
        }
        self.keys.insert(key.clone());
        self.order.push_back(key);
        true
    }

    /// How many events are remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Tells whether no event is remembered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Sku;

    fn sale(order: &str, line: u32, version: &str) -> OrderEvent {
        OrderEvent {
            external_order_id: order.into(),
            line,
            version: version.into(),
            sku: Sku::parse("MUG").unwrap(),
            kind: OrderEventKind::Sale,
            quantity: 1,
        }
    }

    #[test]
    fn a_repeated_event_is_seen_once_and_a_new_version_is_new() {
        let mut seen = SeenEvents::default();
        assert!(seen.first_sight(&sale("R1", 1, "100")));
        assert!(!seen.first_sight(&sale("R1", 1, "100")));
        assert!(seen.first_sight(&sale("R1", 2, "100")));
        assert!(seen.first_sight(&sale("R1", 1, "101")));
        let cancel = OrderEvent {
            kind: OrderEventKind::Cancel,
            ..sale("R1", 1, "100")
        };
        assert!(seen.first_sight(&cancel));
        assert_eq!(seen.len(), 4);
    }

    #[test]
    fn the_oldest_events_are_forgotten_first() {
        let mut seen = SeenEvents::with_capacity(2);
        assert!(seen.first_sight(&sale("A", 1, "1")));
        assert!(seen.first_sight(&sale("B", 1, "1")));
        assert!(seen.first_sight(&sale("C", 1, "1")));
        assert_eq!(seen.len(), 2);
        assert!(!seen.first_sight(&sale("C", 1, "1")));
        assert!(seen.first_sight(&sale("A", 1, "1")), "A was forgotten");
    }
}
