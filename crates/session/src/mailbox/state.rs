//! What the watcher has already read, for the caller to persist across restarts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Progress in one folder: IMAP guarantees that UIDs only grow while UIDVALIDITY stays
/// the same, so "last UID read" is enough to read nothing twice and miss nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderState {
    /// UIDVALIDITY of the folder when `last_uid` was recorded.
    pub uid_validity: u32,
    /// Highest UID already handled.
    pub last_uid: u32,
}

/// Progress in every watched folder, by folder name. Serialize it and give it back to
/// [`crate::Watcher::spawn`] after a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchState {
    /// Folder name → progress.
    #[serde(default)]
    pub folders: BTreeMap<String, FolderState>,
}

impl WatchState {
    /// The last UID handled in `folder`; a changed UIDVALIDITY restarts from zero (the
    /// age check then keeps old mails out). Returns whether the state changed.
    pub fn last_uid(&mut self, folder: &str, uid_validity: u32) -> (u32, bool) {
        let entry = self.folders.entry(folder.to_owned()).or_default();
        if entry.uid_validity != uid_validity {
            *entry = FolderState {
                uid_validity,
                last_uid: 0,
            };
            return (0, true);
        }
        (entry.last_uid, false)
    }

    /// Records that `uid` was handled. Returns whether the state changed.
    pub fn advance(&mut self, folder: &str, uid_validity: u32, uid: u32) -> bool {
        let entry = self.folders.entry(folder.to_owned()).or_default();
        if entry.uid_validity == uid_validity && uid > entry.last_uid {
            entry.last_uid = uid;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_validity_change_restarts() {
        let mut s = WatchState::default();
        assert_eq!(s.last_uid("INBOX", 7), (0, true));
        assert!(s.advance("INBOX", 7, 5));
        assert!(!s.advance("INBOX", 7, 3));
        assert_eq!(s.last_uid("INBOX", 7), (5, false));
        assert_eq!(s.last_uid("INBOX", 8), (0, true));
        let json = serde_json::to_string(&s).unwrap();
        let back: WatchState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }
}
