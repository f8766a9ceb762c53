//! End-to-end tests of the `sistemats` protocol library against the running Sistema TS
//! simulator (`tsgate-sim`), through public surfaces only: the library's client API and the
//! simulator's HTTP endpoints (`/sim/users`, `/sim/certificate`, `/sim/outbox.json`,
//! `/sim/stats`, `/sim/control`).
//!
//! Every test starts its own simulator on `127.0.0.1:0`, talks to it as a real client
//! would (PIN and patient fiscal code encrypted with the certificate the simulator
//! publishes), asserts typed outcomes, and ends with [`support::Harness::finish`], which
//! checks that no password, PIN, ID-SESSIONE or patient fiscal code leaked into any
//! formatted outcome or error of the test.

mod a2f_create;
mod a2f_token;
mod dem_flow;
mod dem_refusals;
mod enforcement;
mod erogatore;
mod faults;
mod rbe;
mod support;
mod two_codes;
