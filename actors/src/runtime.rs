//! The pool of arbiters the tenants run on: one arbiter (one thread) per core, each client's
//! supervisor, inventory and channels on the same arbiter, chosen by a stable hash of the client
//! code, so a client's messages never cross threads and clients spread evenly.

use actix::{Actor, Addr, Arbiter, ArbiterHandle, Context};

use crate::ids::ClientCode;

/// The arbiters of the engine.
pub struct ArbiterPool {
    arbiters: Vec<Arbiter>,
}

impl std::fmt::Debug for ArbiterPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArbiterPool")
            .field("arbiters", &self.arbiters.len())
            .finish()
    }
}

impl ArbiterPool {
    /// Starts `size` arbiters. A size of 0 runs every client on the caller's own arbiter (tests
    /// under paused time need that: other arbiters run their own, unpaused, runtimes).
    pub fn new(size: usize) -> Self {
        Self {
            arbiters: (0..size).map(|_| Arbiter::new()).collect(),
        }
    }

    /// Starts one arbiter per core.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// Returns the number of arbiters (0: the caller's own).
    pub fn size(&self) -> usize {
        self.arbiters.len()
    }

    /// Returns the arbiter of `client`: the same one for the same code, in every run.
    pub fn shard(&self, client: &ClientCode) -> ArbiterHandle {
        match self.arbiters.len() {
            0 => Arbiter::current(),
            size => self.arbiters[shard_index(client, size)].handle(),
        }
    }

    /// Stops every arbiter and waits for their threads.
    pub fn stop(self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
        for arbiter in self.arbiters {
            let _ = arbiter.join();
        }
    }
}

/// Starting an actor with its mailbox capacity set before any sender can see the default of 16:
/// the capacity is set in the create closure, not in `started()`
/// (`reference/style-anchors.md` §6 (d)).
pub trait BoundedStart: Actor<Context = Context<Self>> + Send {
    /// The capacity of the actor's mailbox.
    fn mailbox_capacity(&self) -> usize;

    /// Starts the actor on the current arbiter.
    fn start_bounded(self) -> Addr<Self> {
        let capacity = self.mailbox_capacity();
        Self::create(move |ctx| {
            ctx.set_mailbox_capacity(capacity);
            self
        })
    }

    /// Starts the actor on `arbiter`.
    fn start_bounded_in(self, arbiter: &ArbiterHandle) -> Addr<Self> {
        let capacity = self.mailbox_capacity();
        Self::start_in_arbiter(arbiter, move |ctx| {
            ctx.set_mailbox_capacity(capacity);
            self
        })
    }
}

/// FNV-1a of the client code, modulo `size`: stable across runs and machines, unlike std's
/// randomly seeded hasher, so a client stays on its arbiter (and, later, its instance).
pub fn shard_index(client: &ClientCode, size: usize) -> usize {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let hash = client.as_str().bytes().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    });
    (hash % size.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        let codes: Vec<ClientCode> = (0..400)
            .map(|index| ClientCode::parse(&format!("C{index}")).unwrap())
            .collect();
        let first: Vec<usize> = codes.iter().map(|code| shard_index(code, 4)).collect();
        let again: Vec<usize> = codes.iter().map(|code| shard_index(code, 4)).collect();
        assert_eq!(first, again);
        for shard in 0..4 {
            let count = first.iter().filter(|index| **index == shard).count();
            assert!(
                (60..=140).contains(&count),
                "shard {shard} got {count} of 400 clients"
            );
        }
        assert_eq!(shard_index(&ClientCode::parse("ACME").unwrap(), 1), 0);
    }
}
