//! Integration tests of the gateway: one binary, one module per area (fast linking).

mod admin_audit;
mod api;
mod connections;
mod edit;
mod events;
mod helpers;
mod limits;
mod logs;
mod openapi;
mod practices;
mod proxy;
mod requests;
mod schedule;
mod stack;
mod support;
mod tls;
mod upstream;
