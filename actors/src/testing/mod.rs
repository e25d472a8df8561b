//! Test doubles shared by the engine tests and the service tests.

pub mod fake_marketplace;
