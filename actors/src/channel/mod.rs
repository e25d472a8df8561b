//! The ChannelActor's domain: one marketplace connection of a client. Today it holds the listing
//! policy; the push scheduler, the `Marketplace` port and the actor itself follow (DESIGN §4).

pub mod policy;
