//! Bounded calls into the engine (issue 12; DESIGN §2 and §6: "a full mailbox or a timeout is a
//! 503 with `Retry-After`, never a hang"). Every call the API makes to an actor goes through here:
//!
//! - **Admission.** Each client's ledger admits at most as many calls from the edge as its mailbox
//!   holds ([`LedgerGates`]); one more is refused at once with [`ServiceError::Overloaded`] and
//!   nothing is enqueued. actix's own bound cannot say this: every `Addr` clone may always enqueue
//!   one message past the capacity before it is parked (`actix/src/address/channel.rs`,
//!   `AddressSender::send`), and every request holds its own clone, so `try_send` on a fresh clone
//!   never reports a full mailbox. A command keeps its permit inside its
//!   [`CommandTicket`] until the ledger lets it go, so the bound counts what really takes room.
//! - **A bounded wait.** A read or control call waits at most the request timeout
//!   ([`within`]); a caller that gives up drops its request, and actix skips a message whose
//!   requester is gone.
//! - **Commands never applied behind the caller's back.** A ledger command waits the request
//!   timeout, then expires its ticket ([`command_within`]): if no round claimed it first, it is
//!   never written and the caller is told so (503 `engine_timeout`); the request timeout counts
//!   from the start of the call, so this comes within it. If a round took it up, its
//!   definitive answer is on its way; the caller waits for it up to the request timeout again, and
//!   only a ledger that cannot finish one round (transaction and flush) in that time leaves the
//!   caller with [`ServiceError::OutcomeUnknown`] (retry with the same idempotency keys to learn
//!   the outcome).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shelfsync_actors::ids::ClientCode;
use shelfsync_actors::inventory::messages::CommandTicket;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ServiceError;

/// What a caller is waiting for, for the error's message.
pub(crate) type What<'a> = &'a str;

/// Per client, the calls the edge may have in a ledger at once.
#[derive(Debug)]
pub(crate) struct LedgerGates {
    capacity: usize,
    gates: Mutex<HashMap<ClientCode, Arc<Semaphore>>>,
}

impl LedgerGates {
    /// Gates of `capacity` calls each (the InventoryActor's mailbox capacity).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            gates: Mutex::new(HashMap::new()),
        }
    }

    /// Admits one call to `client`'s ledger, or refuses it at once when the ledger already holds
    /// as many as its mailbox does.
    pub(crate) fn admit(&self, client: &ClientCode) -> Result<OwnedSemaphorePermit, ServiceError> {
        let gate = self
            .gates
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(client.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(self.capacity)))
            .clone();
        gate.try_acquire_owned()
            .map_err(|_| ServiceError::Overloaded(format!("the ledger of {client}")))
    }
}

/// Waits for `call` at most `wait`. For reads and control calls: dropping `call` cancels it (actix
/// skips a message whose requester is gone), and a read changes nothing either way.
pub(crate) async fn within<F: Future>(
    wait: Duration,
    what: What<'_>,
    call: F,
) -> Result<F::Output, ServiceError> {
    tokio::time::timeout(wait, call)
        .await
        .map_err(|_| ServiceError::TimedOut {
            what: what.to_string(),
            retry_after: wait,
        })
}

/// Waits for a ledger command sent under `ticket`: up to `wait`; then expires the ticket, and
/// when the ledger had not claimed it, answers [`ServiceError::TimedOut`] (the command will never
/// be written). When it had, waits up to `grace` more for the definitive answer, then answers
/// [`ServiceError::OutcomeUnknown`]. Both tell the caller to come back after `grace`.
pub(crate) async fn command_within<F: Future>(
    wait: Duration,
    grace: Duration,
    what: What<'_>,
    ticket: &CommandTicket,
    command: F,
) -> Result<F::Output, ServiceError> {
    let mut command = std::pin::pin!(command);
    if let Ok(answer) = tokio::time::timeout(wait, command.as_mut()).await {
        return Ok(answer);
    }
    if ticket.expire() {
        return Err(ServiceError::TimedOut {
            what: format!("{what}; the command was not applied and never will be"),
            retry_after: grace,
        });
    }
    tokio::time::timeout(grace, command)
        .await
        .map_err(|_| ServiceError::OutcomeUnknown {
            what: what.to_string(),
            retry_after: grace,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(5);

    #[tokio::test(start_paused = true)]
    async fn an_answer_within_the_wait_is_returned() {
        let ticket = CommandTicket::default();
        let answer = command_within(WAIT, WAIT, "x", &ticket, async { 7 }).await;
        assert_eq!(answer.unwrap(), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unclaimed_command_expires_at_the_end_of_the_wait() {
        let ticket = CommandTicket::default();
        let started = tokio::time::Instant::now();
        let error = command_within(
            WAIT,
            WAIT,
            "the ledger",
            &ticket,
            std::future::pending::<()>(),
        )
        .await
        .unwrap_err();
        assert_eq!(error.kind(), "engine_timeout");
        assert_eq!(started.elapsed(), WAIT);
        assert!(!ticket.claim(), "the ledger can no longer take it up");
    }

    #[tokio::test(start_paused = true)]
    async fn a_claimed_command_is_waited_for_until_its_answer() {
        let ticket = CommandTicket::default();
        let ledger = ticket.clone();
        let started = tokio::time::Instant::now();
        let command = async move {
            assert!(ledger.claim());
            tokio::time::sleep(WAIT + Duration::from_secs(2)).await;
            "written"
        };
        let answer = command_within(WAIT, WAIT, "x", &ticket, command).await;
        assert_eq!(answer.unwrap(), "written");
        assert_eq!(started.elapsed(), WAIT + Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_claimed_command_that_never_answers_is_reported_unknown_within_twice_the_wait() {
        let ticket = CommandTicket::default();
        assert!(ticket.claim());
        let started = tokio::time::Instant::now();
        let error = command_within(WAIT, WAIT, "x", &ticket, std::future::pending::<()>())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), "outcome_unknown");
        assert_eq!(started.elapsed(), 2 * WAIT);
    }

    #[test]
    fn a_full_gate_refuses_at_once_and_a_returned_permit_admits_again() {
        let gates = LedgerGates::new(2);
        let acme = ClientCode::parse("ACME").unwrap();
        let other = ClientCode::parse("OTHER").unwrap();
        let first = gates.admit(&acme).unwrap();
        let _second = gates.admit(&acme).unwrap();
        assert_eq!(gates.admit(&acme).unwrap_err().kind(), "overloaded");
        assert!(
            gates.admit(&other).is_ok(),
            "one client's full ledger does not refuse another's"
        );
        drop(first);
        assert!(gates.admit(&acme).is_ok());
    }
}
