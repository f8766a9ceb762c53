//! The gateway's ports implemented over the domain and the store.
//!
//! The binary wires, for a `SessionManager` `m` and a `SqliteStore` `s`:
//! `Backends { workstations: s.clone(), sessions: m.clone(), codes: m.clone(), audit: s.clone(),
//! admin: Some(s.clone()) }` (each an `Arc`).

mod session;
mod store;
