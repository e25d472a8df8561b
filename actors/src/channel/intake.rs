//! Order intake: how a channel's order events (a polled page, or a webhook delivery received by
//! the service) become ledger movements and are applied. Plain functions over the InventoryActor's
//! `ApplyMovements` recipient, shared by the ChannelActor's poll and the service's webhooks so
//! that both paths build the very same idempotency keys.

use actix::Recipient;

use super::marketplace::{OrderEvent, OrderEventKind};
use super::ChannelError;
use crate::ids::ChannelId;
use crate::inventory::ledger::{IdempotencyKey, MovementInput};
use crate::inventory::messages::ApplyMovements;
use crate::inventory::store::{ApplyOutcome, CursorUpdate, LedgerError};
use crate::inventory::InventoryError;

/// Turns an order event into the ledger movement it stands for, keyed by its natural key. Public
/// because webhook deliveries (handled by the service, not by this actor) must land under the very
/// same keys as the polled feed, so that the two intake paths deduplicate each other.
pub fn movement_of(channel: &ChannelId, event: &OrderEvent) -> Result<MovementInput, LedgerError> {
    let key = IdempotencyKey::order_event(
        channel,
        &event.external_order_id,
        event.line,
        &event.version,
    )
    .map_err(|error| LedgerError::InvalidMovement { index: 0, error })?;
    let kind = match event.kind {
        OrderEventKind::Sale => "sale",
        OrderEventKind::Cancel => "cancel",
        OrderEventKind::RefundRestock => "refund_restock",
    };
    Ok(MovementInput {
        key: key.as_str().to_string(),
        source: format!("channel:{channel}"),
        sku: event.sku.as_str().to_string(),
        kind: kind.to_string(),
        quantity: i64::from(event.quantity),
    })
}

/// What [`apply_order_events`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedEvents {
    /// The ledger's answer for the events it took (durable when returned).
    pub outcome: ApplyOutcome,
    /// The events the ledger refused and that were left out, described.
    pub skipped: Vec<String>,
}

/// Applies a channel's order events (a polled page, or a webhook delivery) to the ledger in one
/// command, with the feed's cursor when there is one. An event the ledger refuses (a cancel of a
/// sale it never saw, say) is left out and the rest applied again, so one bad event cannot stall
/// the feed; what was skipped is reported. Returns once the batch is durable.
pub async fn apply_order_events(
    channel: &ChannelId,
    mut events: Vec<OrderEvent>,
    cursor: Option<CursorUpdate>,
    ledger: &Recipient<ApplyMovements>,
) -> Result<AppliedEvents, ChannelError> {
    let mut skipped = Vec::new();
    loop {
        let mut movements = Vec::with_capacity(events.len());
        let mut unusable = None;
        for (index, event) in events.iter().enumerate() {
            match movement_of(channel, event) {
                Ok(movement) => movements.push(movement),
                Err(_) => {
                    unusable = Some(index);
                    break;
                }
            }
        }
        if let Some(index) = unusable {
            let event = events.remove(index);
            skipped.push(format!(
                "order {} line {}: unusable key",
                event.external_order_id, event.line
            ));
            continue;
        }
        let command = ApplyMovements {
            movements,
            cursor: cursor.clone(),
        };
        match ledger.send(command).await? {
            Ok(outcome) => return Ok(AppliedEvents { outcome, skipped }),
            Err(InventoryError::Ledger(error)) if error.is_caller_error() => {
                let Some(index) = refused_index(&error).filter(|index| *index < events.len())
                else {
                    return Err(InventoryError::Ledger(error).into());
                };
                let event = events.remove(index);
                skipped.push(format!(
                    "order {} line {}: {error}",
                    event.external_order_id, event.line
                ));
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
