//! Integration tests of the service: one test binary (one link), one module per feature.

mod demo;
