//! Each module error's API code, by an exhaustive `match` on its own variants: adding a variant
//! to any of these enums is a compile error here until the variant is given a [`Code`] (and so an
//! HTTP status). No `_ =>` arm, no match on an error's text.
//!
//! The rule of thumb: a value the caller sent that cannot be used is a 4xx naming the field; a
//! resource the caller named that is not there is a 404; a store or task failure is `internal`
//! (logged, never shown); an engine that is busy, stopping or slow is a 503 with `Retry-After`.

use std::time::Duration;

use shelfsync_actors::channel::policy::PolicyError;
use shelfsync_actors::channel::ChannelError;
use shelfsync_actors::ids::IdError;
use shelfsync_actors::inventory::ledger::MovementError;
use shelfsync_actors::inventory::messages::LedgerError;
use shelfsync_actors::inventory::InventoryError;
use shelfsync_actors::ratelimit::RateLimitConfigError;
use shelfsync_actors::registry::RegistryError;
use shelfsync_actors::tenant::TenantError;

use super::{Code, ErrorCode};
use crate::auth::store::MemberStoreError;
use crate::clients::ClientStoreError;
use crate::operations::profile::ProfileError;
use crate::operations::queue::QueueError;
use crate::operations::OperationsError;
use crate::platforms::connector::ConnectorError;
use crate::platforms::egress::EgressError;
use crate::replenishment::ReplenishmentError;
use crate::report::ReportError;
use crate::service::checklists::SyncTestError;
use crate::service::{ServiceError, WebhookError};
use crate::vault::VaultError;

impl ErrorCode for ServiceError {
    fn error_code(&self) -> Code {
        match self {
            ServiceError::Store(error) => error.error_code(),
            ServiceError::Connector(error) => error.error_code(),
            ServiceError::Tenant(error) => error.error_code(),
            ServiceError::Registry(error) => error.error_code(),
            ServiceError::Operations(error) => error.error_code(),
            ServiceError::Replenishment(error) => error.error_code(),
            ServiceError::Report(error) => error.error_code(),
            ServiceError::Unavailable(_) => Code::Unavailable,
            ServiceError::Invalid(_) => Code::InvalidField,
            ServiceError::Overloaded(_) => Code::Overloaded,
            ServiceError::TimedOut { .. } => Code::EngineTimeout,
            ServiceError::OutcomeUnknown { .. } => Code::OutcomeUnknown,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ServiceError::Report(error) => error.retry_after(),
            _ => ServiceError::retry_after(self),
        }
    }
}

impl ErrorCode for ReportError {
    fn error_code(&self) -> Code {
        match self {
            ReportError::InvalidMonth(_) | ReportError::FutureMonth(_) => Code::InvalidField,
            ReportError::Ledger(error) => error.error_code(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ReportError::Ledger(error) => error.retry_after(),
            ReportError::InvalidMonth(_) | ReportError::FutureMonth(_) => None,
        }
    }
}

impl ErrorCode for ReplenishmentError {
    fn error_code(&self) -> Code {
        match self {
            ReplenishmentError::ReorderPointTooLarge { .. }
            | ReplenishmentError::LeadTimeOutOfRange { .. }
            | ReplenishmentError::SafetyDaysOutOfRange { .. }
            | ReplenishmentError::SafetyWithoutLeadTime
            | ReplenishmentError::NoTrigger => Code::InvalidField,
            ReplenishmentError::Storage(_) | ReplenishmentError::Corrupt { .. } => Code::Internal,
            ReplenishmentError::Ledger(error) => error.error_code(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ReplenishmentError::Ledger(error) => error.retry_after(),
            ReplenishmentError::ReorderPointTooLarge { .. }
            | ReplenishmentError::LeadTimeOutOfRange { .. }
            | ReplenishmentError::SafetyDaysOutOfRange { .. }
            | ReplenishmentError::SafetyWithoutLeadTime
            | ReplenishmentError::NoTrigger
            | ReplenishmentError::Storage(_)
            | ReplenishmentError::Corrupt { .. } => None,
        }
    }
}

impl ErrorCode for ClientStoreError {
    fn error_code(&self) -> Code {
        match self {
            ClientStoreError::Storage(_) | ClientStoreError::Corrupt { .. } => Code::Internal,
            ClientStoreError::Exists(_) => Code::Conflict,
            ClientStoreError::UnknownClient(_) => Code::NotFound,
            // Only a channel's settings name a credential: the field is what is wrong.
            ClientStoreError::UnknownCredential { .. } | ClientStoreError::Invalid(_) => {
                Code::InvalidField
            }
            ClientStoreError::HostMismatch { .. } => Code::CredentialHostMismatch,
            ClientStoreError::Vault(error) => error.error_code(),
        }
    }
}

impl ErrorCode for VaultError {
    fn error_code(&self) -> Code {
        match self {
            // A sealed secret that does not open, or a key that cannot be read, is the
            // deployment's fault, never the caller's: logged whole, shown as a failure.
            VaultError::BadKeyEnv { .. }
            | VaultError::BadKeyFile { .. }
            | VaultError::KeyFileTooOpen { .. }
            | VaultError::KeyFileIo { .. }
            | VaultError::DoesNotOpen { .. } => Code::Internal,
        }
    }
}

impl ErrorCode for ConnectorError {
    fn error_code(&self) -> Code {
        match self {
            ConnectorError::BadBaseUrl { .. }
            | ConnectorError::MissingAccountField { .. }
            | ConnectorError::BadAccountField { .. } => Code::InvalidField,
            ConnectorError::Egress(error) => error.error_code(),
            ConnectorError::Client(_) => Code::Internal,
        }
    }
}

impl ErrorCode for EgressError {
    fn error_code(&self) -> Code {
        match self {
            EgressError::NotHttp
            | EgressError::PlainHttp
            | EgressError::PrivateAddress
            | EgressError::NotOfficial { .. } => Code::BaseUrlNotAllowed,
        }
    }
}

impl ErrorCode for TenantError {
    fn error_code(&self) -> Code {
        match self {
            TenantError::Channel(error) => error.error_code(),
            TenantError::ChannelExists(_) => Code::Conflict,
            TenantError::UnknownChannel(_) => Code::UnknownChannel,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            TenantError::Channel(error) => error.retry_after(),
            TenantError::ChannelExists(_) | TenantError::UnknownChannel(_) => None,
        }
    }
}

impl ErrorCode for ChannelError {
    fn error_code(&self) -> Code {
        match self {
            ChannelError::Policy(error) => error.error_code(),
            ChannelError::RateLimit(error) => error.error_code(),
            ChannelError::Inventory(error) => error.error_code(),
            ChannelError::InventoryUnavailable => Code::Unavailable,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ChannelError::Inventory(error) => error.retry_after(),
            ChannelError::Policy(_)
            | ChannelError::RateLimit(_)
            | ChannelError::InventoryUnavailable => None,
        }
    }
}

impl ErrorCode for PolicyError {
    fn error_code(&self) -> Code {
        match self {
            PolicyError::PercentOutOfRange(_) => Code::InvalidField,
        }
    }
}

impl ErrorCode for RateLimitConfigError {
    fn error_code(&self) -> Code {
        match self {
            RateLimitConfigError::NotFinite { .. }
            | RateLimitConfigError::NotPositive { .. }
            | RateLimitConfigError::OutOfRange { .. }
            | RateLimitConfigError::RefillTooSlow { .. }
            | RateLimitConfigError::BurstOnWindow { .. }
            | RateLimitConfigError::FractionalWindow { .. }
            | RateLimitConfigError::BurstWithoutRate { .. }
            | RateLimitConfigError::AppWideBucket { .. }
            | RateLimitConfigError::ChannelBucket { .. }
            | RateLimitConfigError::SharedBucket { .. }
            | RateLimitConfigError::InOperation { .. } => Code::InvalidField,
        }
    }
}

impl ErrorCode for RegistryError {
    fn error_code(&self) -> Code {
        match self {
            RegistryError::ClientExists(_) => Code::Conflict,
            RegistryError::UnknownClient(_) => Code::NotFound,
            RegistryError::Storage(_) => Code::Internal,
        }
    }
}

impl ErrorCode for InventoryError {
    fn error_code(&self) -> Code {
        match self {
            InventoryError::Ledger(error) => error.error_code(),
            InventoryError::Stopped => Code::Unavailable,
            InventoryError::TaskFailed(_) => Code::Internal,
            // Service::apply_movements turns this into a timeout before it gets here; it is the
            // same 503.
            InventoryError::Expired => Code::EngineTimeout,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            InventoryError::Expired | InventoryError::Stopped => Some(Duration::from_secs(1)),
            InventoryError::Ledger(_) | InventoryError::TaskFailed(_) => None,
        }
    }
}

impl ErrorCode for LedgerError {
    fn error_code(&self) -> Code {
        match self {
            LedgerError::KeyReused { .. } => Code::Conflict,
            LedgerError::Rejected { .. } => Code::MovementRejected,
            LedgerError::InvalidMovement { error, .. } => error.error_code(),
            LedgerError::EmptyBatch
            | LedgerError::BatchTooLarge { .. }
            | LedgerError::CursorTooLong { .. } => Code::InvalidField,
            LedgerError::Storage(_) | LedgerError::Corrupt(_) => Code::Internal,
        }
    }
}

impl ErrorCode for MovementError {
    fn error_code(&self) -> Code {
        match self {
            MovementError::QuantityOutOfRange { .. } => Code::InvalidQuantity,
            MovementError::InvalidId(error) => error.error_code(),
            MovementError::UnknownKind { .. }
            | MovementError::InvalidKey { .. }
            | MovementError::InvalidSource { .. } => Code::InvalidField,
        }
    }
}

impl ErrorCode for IdError {
    fn error_code(&self) -> Code {
        match self {
            IdError::InvalidSku { .. } => Code::InvalidSku,
            IdError::InvalidClientCode { .. } | IdError::InvalidChannelId { .. } => {
                Code::InvalidField
            }
        }
    }
}

impl ErrorCode for MemberStoreError {
    fn error_code(&self) -> Code {
        match self {
            MemberStoreError::Storage(_) | MemberStoreError::Corrupt { .. } => Code::Internal,
            MemberStoreError::UnknownMember { .. } => Code::NotFound,
        }
    }
}

impl ErrorCode for WebhookError {
    fn error_code(&self) -> Code {
        match self {
            WebhookError::Unauthenticated(_) => Code::BadSignature,
            // Nothing was recorded: a 503 so that the platform retries. A busy or slow ledger
            // keeps its own code; anything else (a store can fail before the delivery is
            // authenticated) is `unavailable`, its cause logged by the route, not shown.
            WebhookError::Service(error) => match error.error_code() {
                busy @ (Code::Overloaded | Code::EngineTimeout | Code::OutcomeUnknown) => busy,
                _ => Code::Unavailable,
            },
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            WebhookError::Unauthenticated(_) => None,
            WebhookError::Service(error) => ServiceError::retry_after(error),
        }
    }
}

impl ErrorCode for OperationsError {
    fn error_code(&self) -> Code {
        match self {
            OperationsError::Storage(_) | OperationsError::Corrupt { .. } => Code::Internal,
            OperationsError::UnknownException(_) => Code::NotFound,
            OperationsError::Queue(error) => error.error_code(),
        }
    }
}

impl ErrorCode for QueueError {
    fn error_code(&self) -> Code {
        match self {
            QueueError::InvalidTransition { .. } => Code::InvalidTransition,
            QueueError::NoteTooLong => Code::InvalidField,
        }
    }
}

impl ErrorCode for ProfileError {
    fn error_code(&self) -> Code {
        match self {
            ProfileError::Invalid { .. } => Code::InvalidField,
        }
    }
}

impl ErrorCode for SyncTestError {
    fn error_code(&self) -> Code {
        match self {
            SyncTestError::Running(_) | SyncTestError::NoChannel | SyncTestError::NoSku(_) => {
                Code::Conflict
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shelfsync_actors::ids::ClientCode;

    #[test]
    fn regression_a_client_that_exists_is_a_conflict_not_a_bad_field() {
        // Issue 13: the text mapper's fall-through made the registry's `client_exists` a 400.
        let code = ClientCode::parse("ACME").unwrap();
        let error = ServiceError::Registry(RegistryError::ClientExists(code));
        assert_eq!(error.error_code(), Code::Conflict);
    }

    #[test]
    fn a_credential_that_does_not_open_is_internal_not_the_callers_fault() {
        let error = ServiceError::Store(ClientStoreError::Vault(VaultError::DoesNotOpen {
            client: "ACME".into(),
            name: "shop".into(),
        }));
        assert_eq!(error.error_code(), Code::Internal);
    }
}
