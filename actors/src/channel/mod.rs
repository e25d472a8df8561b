//! The ChannelActor's domain: one marketplace connection of a client. Today it holds the pure
//! parts: the listing policy, the platform table and the `Marketplace` port; the push scheduler
//! and the actor follow (DESIGN §4).

pub mod marketplace;
pub mod platform;
pub mod policy;
