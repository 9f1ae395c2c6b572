//! How a store is opened: [`SqliteOptions`] and its durability setting,
//! [`Synchronous`].

use std::time::Duration;

/// SQLite's `synchronous` setting: how hard a commit waits for the disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// No syncing: fast, loses recent commits on power loss (never corrupts in WAL mode on a process crash).
    Off,
    /// Syncs at checkpoints: a power loss may lose the last commits, never corrupt the file.
    Normal,
    /// Syncs the WAL on every commit: a committed append survives power loss (the default).
    #[default]
    Full,
    /// `FULL` plus a sync of the directory after deleting the journal.
    Extra,
}

impl Synchronous {
    pub(crate) fn pragma(self) -> &'static str {
        match self {
            Synchronous::Off => "OFF",
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
            Synchronous::Extra => "EXTRA",
        }
    }
}

/// How to open a store.
#[derive(Clone, Copy, Debug)]
pub struct SqliteOptions {
    /// Durability of commits; [`Synchronous::Full`] by default.
    pub synchronous: Synchronous,
    /// How long to wait for another connection's lock before giving up with
    /// [`StoreError::Unavailable`]. 5 seconds by default.
    ///
    /// [`StoreError::Unavailable`]: grantflow_core::StoreError::Unavailable
    pub busy_timeout: Duration,
    /// Page cache per connection, in KiB (SQLite's default is 2,000).
    pub cache_kib: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
            cache_kib: 16 * 1024,
        }
    }
}
