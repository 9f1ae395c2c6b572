//! SQLite errors as the store's typed [`StoreError`], naming the file and
//! telling a busy or unusable database from a backend failure.

use std::path::Path;

use grantflow_core::StoreError;
use rusqlite::ErrorCode;

use crate::SqliteOptions;

pub(crate) fn describe(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(f, Some(msg)) => format!("{msg} ({:?})", f.code),
        other => other.to_string(),
    }
}

pub(crate) fn code(e: &rusqlite::Error) -> Option<ErrorCode> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        _ => None,
    }
}

/// Maps a SQLite error to the store's typed error, naming the file.
pub(crate) fn error_of(path: &Path, options: SqliteOptions, e: rusqlite::Error) -> StoreError {
    let path = path.display();
    match code(&e) {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Unavailable {
            detail: format!(
                "the SQLite database `{path}` is locked by another connection (waited {} ms): {}",
                options.busy_timeout.as_millis(),
                describe(&e)
            ),
        },
        Some(ErrorCode::NotADatabase) => StoreError::Unavailable {
            detail: format!("`{path}` is not a SQLite database: {}", describe(&e)),
        },
        Some(
            ErrorCode::CannotOpen
            | ErrorCode::PermissionDenied
            | ErrorCode::ReadOnly
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::FileLockingProtocolFailed,
        ) => StoreError::Unavailable {
            detail: format!(
                "the SQLite database `{path}` cannot be used: {}",
                describe(&e)
            ),
        },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Unavailable {
            detail: format!("the SQLite database `{path}` is damaged: {}", describe(&e)),
        },
        _ => StoreError::Backend {
            detail: format!("SQLite `{path}`: {}", describe(&e)),
        },
    }
}
