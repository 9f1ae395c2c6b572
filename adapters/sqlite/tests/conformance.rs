//! The store conformance suite on real SQLite files.

use grantflow_core::conformance::{assert_conformance, run_all_with_reopen};
use grantflow_sqlite::{SqliteOptions, SqliteStore, Synchronous};

fn suite(options: SqliteOptions) -> usize {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut n = 0;
    let fresh = || {
        n += 1;
        SqliteStore::open_with(dir.path().join(format!("conformance-{n}.db")), options)
            .expect("open a new SQLite store")
    };
    assert_conformance(run_all_with_reopen(
        fresh,
        |store: SqliteStore| store.reopen().expect("reopen the SQLite store"),
        |store: &mut SqliteStore, programme, expected, rows| {
            store.append_raw_json(programme, expected, rows)
        },
    ))
}

#[test]
fn sqlite_store_conforms_with_full_sync() {
    assert_eq!(suite(SqliteOptions::default()), 12);
}

#[test]
fn sqlite_store_conforms_with_normal_sync() {
    assert_eq!(
        suite(SqliteOptions {
            synchronous: Synchronous::Normal,
            ..SqliteOptions::default()
        }),
        12
    );
}
