//! The ebay mock against the documented request shapes (in progress).
