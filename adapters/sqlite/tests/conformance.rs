//! The store conformance suite on real SQLite files.

use grantflow_sqlite::{SqliteOptions, SqliteStore, Synchronous};
use grantflow_testkit::conformance::{assert_conformance, run_full_suite};

fn suite(options: SqliteOptions) -> usize {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut n = 0;
    let fresh = || {
        n += 1;
        SqliteStore::open_with(dir.path().join(format!("conformance-{n}.db")), options)
            .expect("open a new SQLite store")
    };
    assert_conformance(run_full_suite(
        fresh,
        |store: SqliteStore| store.reopen().expect("reopen the SQLite store"),
        |store: &SqliteStore| {
            SqliteStore::open_with(store.path(), store.options())
                .expect("a second handle on the SQLite file")
        },
        |store: &mut SqliteStore, programme, expected, rows| {
            store.append_raw_json(programme, expected, rows)
        },
    ))
}

#[test]
fn sqlite_store_conforms_with_full_sync() {
    assert_eq!(suite(SqliteOptions::default()), 13);
}

#[test]
fn sqlite_store_conforms_with_normal_sync() {
    assert_eq!(
        suite(SqliteOptions {
            synchronous: Synchronous::Normal,
            ..SqliteOptions::default()
        }),
        13
    );
}

#[test]
fn sign_in_records_conform_and_are_shared_between_connections() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("records.db");
    let open = || grantflow_sqlite::SqliteRecords::open(&path).expect("open the sign-in records");
    grantflow_accounts::conformance::run(&mut open());
    let (mut a, mut b) = (open(), open());
    grantflow_accounts::conformance::check_shared(&mut a, &mut b);
    // The events in the same file are untouched, and still open.
    SqliteStore::open(&path).expect("the event store opens beside the records");
}
