//! The ChannelActor's domain: one marketplace connection of a client. Today it holds the pure
//! parts: the listing policy, the platform table, the `Marketplace` port and the push scheduler;
//! the actor follows (DESIGN §4).

pub mod marketplace;
pub mod platform;
pub mod policy;
pub mod scheduler;
