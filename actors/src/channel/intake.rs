//! Order intake: how a channel's order events (a polled page, or a webhook delivery received by
//! the service) become ledger movements and are applied. Plain functions over the InventoryActor's
//! `ApplyMovements` recipient, shared by the ChannelActor's poll and the service's webhooks so
//! that both paths build the very same idempotency keys and raise the very same exceptions.
//!
//! **Nothing a platform told of is dropped silently.** An event the ledger cannot apply (the same
//! order line again with other content, a quantity the ledger does not take, a cancellation of
//! more than is reserved) and what the connector could not even turn into an event (a line without
//! SKU, an order without lines) become order exceptions ([`crate::inventory::exceptions`]),
//! recorded in the **same ledger command** as the events that do apply and the feed's cursor: one
//! transaction, durable before the caller acknowledges anything. So a webhook that is authentic
//! but unusable can be answered 2xx (it is recorded, a person will see it) instead of 5xx, which
//! would make the platform retry for hours and then drop the subscription.

use actix::Recipient;

use super::marketplace::{OrderEvent, OrderEventKind};
use super::ChannelError;
use crate::ids::{ChannelId, Sku};
use crate::inventory::exceptions::UnapplicableEvent;
use crate::inventory::exceptions::{
    bounded_text, digest_key, UnapplicableReason, MAX_DETAIL_BYTES, MAX_ORDER_REF_BYTES,
};
use crate::inventory::ledger::{
    Change, IdempotencyKey, Movement, MovementError, MovementKind, OrderRef, Rejection,
};
use crate::inventory::messages::{ApplyMovements, CommandTicket};
use crate::inventory::messages::{ApplyOutcome, CursorUpdate, LedgerError, MAX_BATCH};
use crate::inventory::InventoryError;

/// Turns an order event into the ledger movement it stands for, keyed by its natural key, typed
/// end to end (the order line rides along as the movement's [`OrderRef`]). Public because
/// webhook deliveries (handled by the service, not by this actor) must land under the very same
/// keys as the polled feed, so that the two intake paths deduplicate each other. Refused with the
/// ledger's own rules ([`Change::new`], the key's bounds), so that a bad event costs no round.
pub fn movement_of(channel: &ChannelId, event: &OrderEvent) -> Result<Movement, LedgerError> {
    let kind = match event.kind {
        OrderEventKind::Sale => MovementKind::Sale,
        OrderEventKind::Cancel => MovementKind::Cancel,
        OrderEventKind::RefundRestock => MovementKind::RefundRestock,
    };
    let order = OrderRef {
        order_id: event.external_order_id.clone(),
        line: event.line,
        version: event.version.clone(),
    };
    Change::new(kind, i64::from(event.quantity))
        .and_then(|change| Movement::of_order(channel, order, event.sku.clone(), change))
        .map_err(|error| LedgerError::InvalidMovement { index: 0, error })
}

/// An order line, or a whole notification, that a platform told of and that cannot become an
/// order event: found by the connector while parsing (a line without SKU, a quantity that is not
/// a count, an order without lines, a body that is not an order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusableOrder {
    /// The order id as the platform gave it, if it gave one.
    pub order_id: Option<String>,
    /// The line within the order (1-based), when one line is concerned.
    pub line: Option<u32>,
    /// The version the line's event would have had (`placed`, …): with the order id and the line
    /// it keys the exception exactly as the event would have been keyed.
    pub version: Option<String>,
    /// The line's SKU as written.
    pub sku: Option<String>,
    /// The line's quantity as given, when it was an integer.
    pub quantity: Option<i64>,
    /// Why it is unusable.
    pub reason: UnapplicableReason,
    /// What exactly, for a person (never the raw body; bounded when recorded).
    pub detail: String,
}

/// What a platform told of orders at once (a polled page's events, or one webhook delivery): the
/// events to apply, and what could not become an event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderIntake {
    /// Events, in the platform's order.
    pub events: Vec<OrderEvent>,
    /// What the connector could not turn into events.
    pub unusable: Vec<UnusableOrder>,
    /// Names the notification itself (a digest of its signed body, [`digest_key`]), for the
    /// exception of a problem no order line can key (an order without lines, a body that is not
    /// an order): a retry of the same delivery then sees the same exception again. `None` for a
    /// polled page.
    pub delivery: Option<IdempotencyKey>,
}

impl From<Vec<OrderEvent>> for OrderIntake {
    fn from(events: Vec<OrderEvent>) -> Self {
        Self {
            events,
            ..Self::default()
        }
    }
}

/// What [`apply_order_intake`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedEvents {
    /// The ledger's answer for the events it took (durable when returned).
    pub outcome: ApplyOutcome,
    /// The events left out and the problems recorded, described (for a channel's last error).
    pub skipped: Vec<String>,
    /// The order exceptions recorded with the events, each raised or seen again (durable when
    /// returned).
    pub exceptions: Vec<UnapplicableEvent>,
}

/// Applies a channel's order events (a polled page) to the ledger in one command, with the feed's
/// cursor when there is one; see [`apply_order_intake`].
pub async fn apply_order_events(
    channel: &ChannelId,
    events: Vec<OrderEvent>,
    cursor: Option<CursorUpdate>,
    ledger: &Recipient<ApplyMovements>,
) -> Result<AppliedEvents, ChannelError> {
    apply_order_intake(channel, OrderIntake::from(events), cursor, ledger, None).await
}

/// Applies what a platform told of (a polled page, or a webhook delivery) in one ledger command:
/// the events that apply, an order exception for each event or line that cannot, and the feed's
/// cursor when there is one. An event the ledger refuses (it names it by index) is taken out and
/// recorded as an exception instead, and the command sent again, so one bad event can neither
/// stall the feed nor be lost. Returns once the command is durable; an error only when nothing
/// could be recorded (the ledger is unavailable or its storage failed), so that the caller does
/// not acknowledge. Each command carries `ticket` when the caller bounds its wait (a webhook at
/// the HTTP edge): what the caller expired before the ledger took it up is never written
/// (`crate::inventory::group_commit::CommandTicket`).
pub async fn apply_order_intake(
    channel: &ChannelId,
    intake: OrderIntake,
    cursor: Option<CursorUpdate>,
    ledger: &Recipient<ApplyMovements>,
    ticket: Option<CommandTicket>,
) -> Result<AppliedEvents, ChannelError> {
    let OrderIntake {
        events,
        unusable,
        delivery,
    } = intake;
    let mut exceptions: Vec<UnapplicableEvent> = unusable
        .iter()
        .map(|unusable| unusable_exception(channel, unusable, delivery.as_ref()))
        .collect();
    let mut accepted: Vec<(OrderEvent, Movement)> = Vec::with_capacity(events.len());
    for event in events {
        match movement_of(channel, &event) {
            Ok(movement) => accepted.push((event, movement)),
            Err(error) => exceptions.push(refused_exception(channel, &event, &error)),
        }
    }
    loop {
        let command = ApplyMovements {
            movements: accepted
                .iter()
                .map(|(_, movement)| movement.clone())
                .collect(),
            cursor: cursor.clone(),
            unapplicable: capped(&exceptions),
            ticket: ticket.clone(),
        };
        match ledger.send(command).await? {
            Ok(outcome) => {
                let exceptions = capped(&exceptions);
                let skipped = exceptions.iter().map(describe).collect();
                return Ok(AppliedEvents {
                    outcome,
                    skipped,
                    exceptions,
                });
            }
            Err(InventoryError::Ledger(error)) if error.is_caller_error() => {
                let Some(index) = refused_index(&error).filter(|index| *index < accepted.len())
                else {
                    return Err(InventoryError::Ledger(error).into());
                };
                let (event, _) = accepted.remove(index);
                exceptions.push(refused_exception(channel, &event, &error));
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// The index of the movement a refused batch names, if any.
fn refused_index(error: &LedgerError) -> Option<usize> {
    match error {
        LedgerError::InvalidMovement { index, .. }
        | LedgerError::Rejected { index, .. }
        | LedgerError::KeyReused { index, .. } => Some(*index),
        _ => None,
    }
}

/// The key that makes one exception of a problem: the event's natural ledger key when the order,
/// line and version are known (a digest of them when the order id cannot be part of a key), else
/// the delivery's key. See [`crate::inventory::exceptions`].
fn exception_key(
    channel: &ChannelId,
    order_id: Option<&str>,
    line: Option<u32>,
    version: Option<&str>,
    delivery: Option<&IdempotencyKey>,
) -> IdempotencyKey {
    if let (Some(order), Some(line), Some(version)) = (order_id, line, version) {
        return IdempotencyKey::order_event(channel, order, line, version).unwrap_or_else(|_| {
            digest_key(
                "order",
                channel,
                &[order.as_bytes(), &line.to_be_bytes(), version.as_bytes()],
            )
        });
    }
    delivery.cloned().unwrap_or_else(|| {
        let order = order_id.unwrap_or_default();
        let line = line.unwrap_or_default().to_be_bytes();
        digest_key("order", channel, &[order.as_bytes(), &line])
    })
}

/// The exception of something the connector could not turn into an event.
fn unusable_exception(
    channel: &ChannelId,
    unusable: &UnusableOrder,
    delivery: Option<&IdempotencyKey>,
) -> UnapplicableEvent {
    UnapplicableEvent {
        key: exception_key(
            channel,
            unusable.order_id.as_deref(),
            unusable.line,
            unusable.version.as_deref(),
            delivery,
        ),
        channel: channel.clone(),
        order_id: unusable
            .order_id
            .as_deref()
            .map(|order| bounded_text(order, MAX_ORDER_REF_BYTES)),
        line: unusable.line,
        sku: unusable.sku.as_deref().and_then(|sku| Sku::parse(sku).ok()),
        units: unusable.quantity.unwrap_or(0),
        reason: unusable.reason,
        detail: bounded_text(&unusable.detail, MAX_DETAIL_BYTES),
    }
}

/// The exception of an event the ledger's rules refuse (checked before sending, or refused by the
/// ledger itself).
fn refused_exception(
    channel: &ChannelId,
    event: &OrderEvent,
    error: &LedgerError,
) -> UnapplicableEvent {
    let (reason, detail) = match error {
        LedgerError::KeyReused { seq, .. } => (
            UnapplicableReason::OrderChanged,
            format!(
                "this order line was applied before with other content (journal entry {seq});                  the first one stands"
            ),
        ),
        LedgerError::Rejected {
            reason: reason @ Rejection::ExceedsReserved { .. },
            ..
        } => (UnapplicableReason::ExceedsReserved, reason.to_string()),
        LedgerError::Rejected {
            reason: reason @ Rejection::OutOfRange,
            ..
        } => (UnapplicableReason::BalanceOutOfRange, reason.to_string()),
        LedgerError::InvalidMovement { error, .. } => match error {
            MovementError::QuantityOutOfRange { .. } => {
                (UnapplicableReason::QuantityOutOfRange, error.to_string())
            }
            MovementError::InvalidKey { reason, .. } => (
                UnapplicableReason::InvalidOrderId,
                format!("the order id cannot key a ledger entry: {reason}"),
            ),
            MovementError::InvalidId(_) => (UnapplicableReason::InvalidSku, error.to_string()),
            _ => (UnapplicableReason::Refused, error.to_string()),
        },
        _ => (UnapplicableReason::Refused, error.to_string()),
    };
    UnapplicableEvent {
        key: exception_key(
            channel,
            Some(&event.external_order_id),
            Some(event.line),
            Some(&event.version),
            None,
        ),
        channel: channel.clone(),
        order_id: Some(bounded_text(&event.external_order_id, MAX_ORDER_REF_BYTES)),
        line: Some(event.line),
        sku: Some(event.sku.clone()),
        units: i64::from(event.quantity),
        reason,
        detail: bounded_text(&detail, MAX_DETAIL_BYTES),
    }
}

/// At most [`MAX_BATCH`] exceptions (what one ledger command takes): past it, the rest are summed
/// up in one, keyed by the first of them, so that an order with thousands of unusable lines is
/// still recorded (and acknowledged) rather than refused, and its retries find the same records.
fn capped(exceptions: &[UnapplicableEvent]) -> Vec<UnapplicableEvent> {
    if exceptions.len() <= MAX_BATCH {
        return exceptions.to_vec();
    }
    let (kept, rest) = exceptions.split_at(MAX_BATCH - 1);
    let first = &rest[0];
    let summary = UnapplicableEvent {
        key: digest_key("more", &first.channel, &[first.key.as_str().as_bytes()]),
        sku: None,
        units: 0,
        detail: bounded_text(
            &format!(
                "{} more cannot be applied either; the first: {}",
                rest.len(),
                first.detail
            ),
            MAX_DETAIL_BYTES,
        ),
        ..first.clone()
    };
    let mut capped = kept.to_vec();
    capped.push(summary);
    capped
}

/// One line of a channel's last error for a recorded exception.
fn describe(exception: &UnapplicableEvent) -> String {
    let order = exception.order_id.as_deref().unwrap_or("?");
    match exception.line {
        Some(line) => format!("order {order} line {line}: {}", exception.detail),
        None => format!("order {order}: {}", exception.detail),
    }
}

#[cfg(test)]
#[path = "intake_tests.rs"]
mod tests;
