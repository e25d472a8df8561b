//! The shopify mock against the documented request shapes (in progress).
