//! What every ledger test throws at the rules (the ledger's unit properties, the store, the
//! policy, the model test, the API test): the quantities of issue 12 and the movement kinds' wire
//! names, kept in one list each so that an edge found later reaches all of them at once.

use crate::inventory::ledger::{BALANCE_LIMIT, MAX_QUANTITY};

/// The ends of i64, the powers of two (and one below them) where 32-bit arithmetic wraps, and the
/// ledger's own bounds ±1.
pub const EDGE_QUANTITIES: [i64; 26] = [
    i64::MIN,
    i64::MIN + 1,
    -BALANCE_LIMIT - 1,
    -BALANCE_LIMIT,
    -BALANCE_LIMIT + 1,
    -(1 << 32),
    -(1 << 31) - 1,
    -(1 << 31),
    -MAX_QUANTITY - 1,
    -MAX_QUANTITY,
    -MAX_QUANTITY + 1,
    -1,
    0,
    1,
    MAX_QUANTITY - 1,
    MAX_QUANTITY,
    MAX_QUANTITY + 1,
    (1 << 31) - 1,
    1 << 31,
    (1 << 32) - 1,
    1 << 32,
    BALANCE_LIMIT - 1,
    BALANCE_LIMIT,
    BALANCE_LIMIT + 1,
    i64::MAX - 1,
    i64::MAX,
];

/// Every movement kind's wire name, spelled out apart from `MovementKind::as_str` so that the
/// tests also check the parse.
pub const MOVEMENT_KINDS: [&str; 7] = [
    "sale",
    "ship",
    "cancel",
    "refund_restock",
    "receipt",
    "adjustment",
    "count",
];
