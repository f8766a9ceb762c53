//! Which processes use a SQLite database: an advisory lock (`flock`) on `<database>.lock`.
//!
//! Every process that opens the database holds it shared for as long as the store lives
//! (`tsgate serve`, `demo`, every command). `tsgate restore` and `tsgate rotate-key` take it
//! exclusive: they are refused while any other tsgate process has the database open, and
//! while they run, no other process can open it. The kernel drops the lock when its process
//! ends, however it ends (even `kill -9`), so a crash never leaves a stale lock behind.
//!
//! The lock is on a file of its own, not on the database: `restore` replaces the database
//! file by a rename, and the lock has to outlive that.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::any::Access;
use crate::error::{Error, Holder, Result};

/// A held lock on a database. Cheap to clone; released when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct DbLock {
    _file: Arc<File>,
    access: Access,
}

impl DbLock {
    /// The lock file of the database at `db`: `<db>.lock` in the same folder.
    pub fn path_of(db: &Path) -> PathBuf {
        let mut name = db.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        db.with_file_name(name)
    }

    /// Takes the lock of the database at `db` without waiting: [`Error::InUse`] when
    /// `Exclusive` is asked while another process holds it, [`Error::Maintenance`] when
    /// `Shared` is asked during a restore or a key rotation.
    pub fn acquire(db: &Path, access: Access) -> Result<Self> {
        let path = Self::path_of(db);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path).map_err(|source| Error::File {
            path: path.clone(),
            source,
        })?;
        let taken = match access {
            Access::Shared => file.try_lock_shared(),
            Access::Exclusive => file.try_lock(),
        };
        match taken {
            Ok(()) => Ok(Self {
                _file: Arc::new(file),
                access,
            }),
            Err(TryLockError::WouldBlock) => Err(match access {
                Access::Shared => Error::Maintenance {
                    database: db.display().to_string(),
                },
                Access::Exclusive => Error::InUse {
                    database: db.display().to_string(),
                    by: Holder::Process,
                },
            }),
            Err(TryLockError::Error(source)) => Err(Error::File { path, source }),
        }
    }

    /// How it is held.
    pub fn access(&self) -> Access {
        self.access
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_with_shared_exclusive_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("tsgate.db");
        assert_eq!(DbLock::path_of(&db), dir.path().join("tsgate.db.lock"));
        let a = DbLock::acquire(&db, Access::Shared).unwrap();
        let b = DbLock::acquire(&db, Access::Shared).unwrap();
        assert!(matches!(
            DbLock::acquire(&db, Access::Exclusive),
            Err(Error::InUse { .. })
        ));
        drop((a, b));
        let x = DbLock::acquire(&db, Access::Exclusive).unwrap();
        let e = DbLock::acquire(&db, Access::Shared).unwrap_err();
        assert!(matches!(e, Error::Maintenance { .. }), "{e}");
        let clone = x.clone();
        drop(x);
        assert!(
            DbLock::acquire(&db, Access::Shared).is_err(),
            "a clone holds it"
        );
        drop(clone);
        DbLock::acquire(&db, Access::Shared).unwrap();
    }
}
