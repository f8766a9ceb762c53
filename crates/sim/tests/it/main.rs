//! Integration tests: the simulator runs in-process on 127.0.0.1:0 and is driven over HTTP.

mod a2f;
mod common;
mod dem;
mod sim_endpoints;
