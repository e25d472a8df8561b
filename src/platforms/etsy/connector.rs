//! The etsy connector: not built yet (issue 5 in progress); building it is refused.

use std::sync::Arc;

use shelfsync_actors::channel::marketplace::Marketplace;

use crate::platforms::connector::{ConnectorConfig, ConnectorError};

/// Refuses: this connector is not built yet.
pub fn build(_config: ConnectorConfig) -> Result<Arc<dyn Marketplace>, ConnectorError> {
    Err(ConnectorError::Client(
        "the etsy connector is not built yet".into(),
    ))
}
