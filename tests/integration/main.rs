//! Integration tests of the service: one test binary (one link), one module per feature.

mod api_agency;
mod api_clients;
mod api_members;
mod api_scope;
mod api_support;
mod connector_amazon;
mod connector_ebay;
mod connector_etsy;
mod connector_shopify;
mod connector_walmart;
mod dashboards;
mod demo;
mod durability;
mod mock_amazon;
mod mock_cli;
mod mock_core;
mod mock_ebay;
mod mock_etsy;
mod mock_shopify;
mod mock_support;
mod mock_walmart;
mod serve;
