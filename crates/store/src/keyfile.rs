//! The master key file and the files of a key rotation next to it.
//!
//! ```text
//! master.key                 the key in use (32 bytes, mode 0600)
//! master.key.next            a rotation's new key, before the rotation is settled
//! master.key.retired-<id>    a key replaced by a rotation: backups made before it need it
//! ```
//!
//! Which of `master.key` and `master.key.next` is right after a crash is decided by the data,
//! never by the files: see [`crate::crypto`] (Rotation) and [`crate::AnyStore::open_keyed`].

use std::ffi::OsString;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::crypto::{KeyId, MasterKey};
use crate::error::{Error, Result};

/// The master key file at a path, and its rotation files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFile {
    path: PathBuf,
}

/// What opening the store found of an interrupted rotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// No rotation was interrupted.
    Nothing,
    /// The data was already under the new key: its file replaced the old one, which was kept.
    Completed {
        /// The key in use now.
        key: KeyId,
        /// Where the old key is kept.
        retired: PathBuf,
    },
    /// The data was still under the old key: the new key's file was deleted.
    RolledBack {
        /// The key in use (unchanged).
        key: KeyId,
    },
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name: OsString = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::KeyFile {
        path: path.to_owned(),
        source,
    }
}

/// Makes the renames and deletions in the folder of `path` durable.
pub(crate) fn sync_folder(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        fs::File::open(folder)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

impl KeyFile {
    /// The key file at `path` (`<data_dir>/master.key` by default).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The key file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where a rotation writes the new key before the data is under it.
    pub fn next_path(&self) -> PathBuf {
        with_suffix(&self.path, ".next")
    }

    /// Where a rotation keeps the key of `id` it replaced.
    pub fn retired_path(&self, id: KeyId) -> PathBuf {
        with_suffix(&self.path, &format!(".retired-{id}"))
    }

    /// The key, creating the file with a fresh key on first run.
    pub fn load_or_create(&self) -> Result<MasterKey> {
        MasterKey::load_or_create(&self.path)
    }

    /// The key of an existing file ([`Error::MissingKeyFile`] when there is none).
    pub fn load(&self) -> Result<MasterKey> {
        if !self.path.exists() {
            return Err(Error::MissingKeyFile(self.path.clone()));
        }
        MasterKey::load(&self.path)
    }

    /// The new key of a rotation that has not been settled, if any.
    pub fn pending(&self) -> Result<Option<MasterKey>> {
        let next = self.next_path();
        match fs::symlink_metadata(&next) {
            Ok(_) => MasterKey::load(&next).map(Some),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&next)(e)),
        }
    }

    /// Writes `new` as the pending key: a temporary file, synced, renamed into place, so that
    /// `master.key.next` is either absent or whole.
    pub(crate) fn stage(&self, new: &MasterKey) -> Result<()> {
        let next = self.next_path();
        if next.exists() {
            return Err(io(&next)(std::io::Error::new(
                ErrorKind::AlreadyExists,
                "a rotation that was not settled left this file",
            )));
        }
        let partial = with_suffix(&self.path, ".next.partial");
        match fs::remove_file(&partial) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io(&partial)(e)),
        }
        new.write_new(&partial)?;
        fs::rename(&partial, &next).map_err(io(&next))?;
        sync_folder(&next).map_err(io(&next))
    }

    /// Makes the pending key `new` the key in use: `old` is kept as
    /// [`KeyFile::retired_path`], then `master.key.next` replaces `master.key` (one rename).
    /// Done already (by another process) counts as done.
    pub(crate) fn promote(&self, old: &MasterKey, new: &MasterKey) -> Result<PathBuf> {
        let retired = self.retired_path(old.id());
        match old.write_new(&retired) {
            Ok(()) => {}
            Err(Error::KeyFile { source, .. })
                if source.kind() == ErrorKind::AlreadyExists && old.is_in_file(&retired) => {}
            Err(e) => return Err(e),
        }
        match fs::rename(self.next_path(), &self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound && new.is_in_file(&self.path) => {}
            Err(e) => return Err(io(&self.path)(e)),
        }
        sync_folder(&self.path).map_err(io(&self.path))?;
        Ok(retired)
    }

    /// Deletes the pending key of a rotation that never reached the data.
    pub(crate) fn discard_pending(&self) -> Result<()> {
        let next = self.next_path();
        match fs::remove_file(&next) {
            Ok(()) => sync_folder(&next).map_err(io(&next)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&next)(e)),
        }
    }

    /// Settles a pending rotation by the key the data is under (`data`): completes it when
    /// that is the pending key, rolls it back otherwise. Returns the key to use from now on.
    pub(crate) fn settle(
        &self,
        current: MasterKey,
        pending: MasterKey,
        data: Option<KeyId>,
    ) -> Result<(MasterKey, Settled)> {
        if data == Some(pending.id()) {
            let retired = self.promote(&current, &pending)?;
            tracing::warn!(key = %pending.id(), retired = %retired.display(),
                "an interrupted master key rotation was completed");
            let key = pending.id();
            Ok((pending, Settled::Completed { key, retired }))
        } else {
            self.discard_pending()?;
            tracing::warn!(key = %current.id(), "an interrupted master key rotation was rolled back");
            let key = current.id();
            Ok((current, Settled::RolledBack { key }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_promoting_and_discarding() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::new(dir.path().join("master.key"));
        let old = file.load_or_create().unwrap();
        assert!(file.pending().unwrap().is_none());

        let new = MasterKey::generate();
        file.stage(&new).unwrap();
        assert_eq!(file.pending().unwrap().unwrap().id(), new.id());
        assert!(file.stage(&MasterKey::generate()).is_err(), "one at a time");

        // Data still under the old key: rolled back.
        let (key, settled) = file
            .settle(old.clone(), new.clone(), Some(old.id()))
            .unwrap();
        assert_eq!(key.id(), old.id());
        assert_eq!(settled, Settled::RolledBack { key: old.id() });
        assert!(file.pending().unwrap().is_none());
        assert_eq!(file.load().unwrap().id(), old.id());

        // Data under the new key: completed, the old key kept, twice is harmless.
        file.stage(&new).unwrap();
        let (key, settled) = file
            .settle(old.clone(), new.clone(), Some(new.id()))
            .unwrap();
        assert_eq!(key.id(), new.id());
        let retired = file.retired_path(old.id());
        assert_eq!(
            settled,
            Settled::Completed {
                key: new.id(),
                retired: retired.clone()
            }
        );
        assert_eq!(file.load().unwrap().id(), new.id());
        assert_eq!(MasterKey::load(&retired).unwrap().id(), old.id());
        assert!(file.pending().unwrap().is_none());
        file.promote(&old, &new).unwrap();
        assert_eq!(file.load().unwrap().id(), new.id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for path in [file.path(), retired.as_path()] {
                let mode = fs::metadata(path).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", path.display());
            }
        }
    }

    #[test]
    fn a_missing_key_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::new(dir.path().join("master.key"));
        assert!(matches!(file.load(), Err(Error::MissingKeyFile(p)) if p == file.path()));
    }
}
