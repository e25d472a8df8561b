//! The Amazon mock: not built yet (issue 4 in progress); starting it is refused.

use std::sync::Arc;

use crate::platforms::mock::{MockError, MockOptions, PlatformMock};

/// Refuses: this mock is not built yet.
pub fn build(_options: &MockOptions) -> Result<Arc<dyn PlatformMock>, MockError> {
    Err(MockError::Start {
        message: "the amazon mock is not built yet".into(),
    })
}
