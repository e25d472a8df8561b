//! The amazon mock against the documented request shapes (in progress).
