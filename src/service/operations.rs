//! The service's side of the operations layer (`crate::operations`): the store, the exceptions
//! imported from each client's ledger, the response target of a client, and the sweep started on
//! the engine's thread.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use shelfsync_actors::ids::ClientCode;
use shelfsync_actors::inventory::messages::{GetExceptionsPage, MAX_EXCEPTION_PAGE};

use super::{Service, ServiceError};
use crate::operations::queue::{response_target, QueueEntry};
use crate::operations::OperationsStore;
use crate::platforms::egress::EgressPolicy;

impl Service {
    /// The operations store (exception queue, escalation, audit, profiles).
    pub fn operations(&self) -> &OperationsStore {
        &self.operations
    }

    /// Where connectors and escalations may connect.
    pub fn egress(&self) -> EgressPolicy {
        self.options.egress
    }

    /// Whether [`Service::shutdown`] has begun.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// How long the agency has to respond to `client`'s exceptions: its profile's target, else
    /// its tier's ([`response_target`]).
    pub fn response_target(&self, client: &ClientCode) -> Result<chrono::Duration, ServiceError> {
        if let Some(hours) = self
            .operations
            .profile(client)?
            .and_then(|profile| profile.profile.response_target_hours)
        {
            return Ok(chrono::Duration::hours(i64::from(hours)));
        }
        let tier = self
            .clients
            .get(client)?
            .map(|record| record.tier)
            .unwrap_or_default();
        Ok(response_target(tier))
    }

    /// Brings `client`'s queue up to date with its ledger's exceptions (each imported once; see
    /// `operations::queue`). Called by the sweep and before the queue is listed, so that a list
    /// shows an exception as soon as the ledger holds it. Answers the entries raised.
    pub async fn import_exceptions(
        &self,
        client: &ClientCode,
    ) -> Result<Vec<QueueEntry>, ServiceError> {
        let target = self.response_target(client)?;
        let mut raised = Vec::new();
        loop {
            let after_id = self.operations.ledger_cursor(client)?;
            let page = self
                .ask_ledger(
                    client,
                    GetExceptionsPage {
                        after_id,
                        limit: MAX_EXCEPTION_PAGE,
                    },
                )
                .await?
                .map_err(|error| ServiceError::Unavailable(format!("the ledger ({error})")))?;
            let full = page.len() >= MAX_EXCEPTION_PAGE;
            raised.extend(self.operations.import_ledger(client, &page, target)?);
            if !full {
                return Ok(raised);
            }
        }
    }

    /// Whether `client`'s reorder alerts are due for an assessment (none within `interval`);
    /// answering yes starts the interval again.
    pub fn reorder_assessment_due(
        &self,
        client: &ClientCode,
        interval: std::time::Duration,
    ) -> bool {
        let mut last = self
            .reorders_assessed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        match last.get(client) {
            Some(at) if now.duration_since(*at) < interval => false,
            _ => {
                last.insert(client.clone(), now);
                true
            }
        }
    }

    /// Adds what a channel's throttled-call counter moved since the sweep last read it to the
    /// client's daily tally (the monthly report reads the tally, never the counter, which starts
    /// again at 0 with each generation). A counter lower than last read is a new generation's:
    /// all of it is new. What a crash loses is what the last pass had not yet read (one tick).
    pub fn record_throttles(
        &self,
        client: &ClientCode,
        channel: &str,
        counter: u64,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ServiceError> {
        let new = {
            let mut seen = self
                .throttles_seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let last = seen.insert((client.clone(), channel.to_string()), counter);
            match last {
                Some(last) if counter >= last => counter - last,
                _ => counter,
            }
        };
        Ok(self
            .operations()
            .add_throttled(client, channel, now.date_naive(), new)?)
    }

    /// Starts the operations sweep on the engine's thread, once (later calls do nothing). It ends
    /// when the service stops or is dropped.
    pub fn start_operations(self: &Arc<Self>) {
        if self.operations_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let weak = Arc::downgrade(self);
        let options = self.options.operations;
        let engine = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(engine) = engine.as_ref() {
            engine
                .system
                .arbiter()
                .spawn(crate::operations::sweep::run(weak, options));
        }
    }
}
