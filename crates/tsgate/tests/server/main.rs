//! End-to-end tests of the real `tsgate` binary: `tsgate serve` configured against a
//! separate `tsgate sim` process (production mode, `Authorization2F` enforcement `block`),
//! users and workstations added with the CLI, then only the public surfaces: the JSON API,
//! the SOAP proxy, the simulator's `/sim/*` endpoints, the files in the data folder and the
//! processes' output. Every test has its own processes, ports and temporary folder.
//! `mailbox_nodes` also runs a real Dovecot (Debian package `dovecot-imapd`).

mod admin_audit;
mod administration;
mod backup;
mod cli_errors;
mod crash;
mod credentials;
mod faults;
mod flow;
mod hours;
mod limits;
mod mailbox_nodes;
mod nodes;
mod pharmacy;
mod rbe;
mod secrets;
mod support;
mod support_bundle;
