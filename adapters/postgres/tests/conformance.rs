//! The store conformance suite on a real PostgreSQL server, each check in a
//! schema of its own.

mod common;

use std::cell::RefCell;

use grantflow_postgres::PostgresStore;
use grantflow_testkit::conformance::{assert_conformance, run_full_suite};

#[test]
fn postgres_store_conforms() {
    let Some(url) = common::server("postgres_store_conforms") else {
        return;
    };
    let schemas = RefCell::new(Vec::new());
    let fresh = || {
        let schema = common::Schema::new(&url, "conf");
        let store = schema.store();
        schemas.borrow_mut().push(schema);
        store
    };
    let passed = assert_conformance(run_full_suite(
        fresh,
        |store: PostgresStore| store.reconnect().expect("reconnect"),
        |store: &PostgresStore| store.another_connection().expect("a second connection"),
        |store: &mut PostgresStore, programme, expected, rows| {
            store.append_raw_json(programme, expected, rows)
        },
    ));
    assert_eq!(passed, 13);
}

#[test]
fn the_default_schema_works_too() {
    let Some(url) = common::server("the_default_schema_works_too") else {
        return;
    };
    // The checks that tolerate a shared database run in the connection's default schema.
    let mut store = PostgresStore::connect(&url).expect("connect");
    grantflow_testkit::conformance::check_append_and_load(&mut store)
        .unwrap_or_else(|f| panic!("{f}"));
    grantflow_testkit::conformance::check_idempotency(&mut store).unwrap_or_else(|f| panic!("{f}"));
    grantflow_testkit::conformance::check_group_commit(&mut store)
        .unwrap_or_else(|f| panic!("{f}"));
}

#[test]
fn sign_in_records_conform_and_are_shared_between_connections() {
    let Some(url) = common::server("sign_in_records_conform") else {
        return;
    };
    let schema = common::Schema::new(&url, "records");
    let connect = || {
        grantflow_postgres::PgRecords::connect_with(&url, schema.options())
            .expect("connect the sign-in records")
    };
    grantflow_accounts::conformance::run(&mut connect());
    let (mut a, mut b) = (connect(), connect());
    grantflow_accounts::conformance::check_shared(&mut a, &mut b);
}
