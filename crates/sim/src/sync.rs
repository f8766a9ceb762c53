//! The one locking helper every part of the simulator uses.
//!
//! It lives on its own, below everything else, so that the state and the stores it holds
//! (prescriptions, mail) can all use it without importing each other.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, recovering from poisoning: the protected maps stay consistent because
/// no handler panics while holding a lock (and a poisoned simulator is still a simulator).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
