//! The etsy mock against the documented request shapes (in progress).
