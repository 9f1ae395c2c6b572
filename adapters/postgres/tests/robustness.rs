//! Racing writers and bad input on a real PostgreSQL server.

mod common;

use std::collections::BTreeSet;

use grantflow_core::notices;
use grantflow_core::{
    Command, Engine, EngineConfig, EngineError, EventStore, Money, NoticeId, Outcome, ProgrammeId,
    StageKind, State, StoreError, evolve,
};
use grantflow_postgres::{PgOptions, PostgresStore, SCHEMA_VERSION};
use grantflow_testkit::conformance::{fixtures, race_writer};

const POT: u32 = 6_000; // five awards of £1,200

fn run(engine: &mut Engine<PostgresStore>, command: &Command) -> Result<Outcome, EngineError> {
    loop {
        match engine.execute(command, fixtures::day(5)) {
            Err(EngineError::Contention { .. }) => engine.catch_up()?,
            other => return other,
        }
    }
}

#[test]
fn eight_connections_never_overspend_the_pot() {
    let Some(url) = common::server("eight_connections_never_overspend_the_pot") else {
        return;
    };
    let schema = common::Schema::new(&url, "race");
    let tag = "pg-race";
    let programme = ProgrammeId::new(tag);
    {
        let mut engine = Engine::open(schema.store(), programme.clone()).expect("engine");
        run(&mut engine, &fixtures::open(tag, fixtures::programme(POT)))
            .expect("open the programme");
    }
    const WRITERS: u64 = 8;
    const APPS: u64 = 5;
    let config = EngineConfig {
        max_conflict_retries: 10_000,
        ..EngineConfig::default()
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (schema, programme) = (&schema, programme.clone());
                s.spawn(move || {
                    let store = PostgresStore::connect_with(&schema.url, schema.options())
                        .map_err(|e| e.to_string())?;
                    let mut engine =
                        Engine::with_config(store, programme, config).map_err(|e| e.to_string())?;
                    race_writer(&mut engine, tag, w, APPS).map(|_| ())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .expect("writer thread panicked")
                .unwrap_or_else(|e| panic!("writer failed: {e}"));
        }
    });

    let mut store = schema.store();
    let events = store.load(&programme, 0, usize::MAX).expect("load");
    for (i, r) in events.iter().enumerate() {
        assert_eq!(r.version, i as u64 + 1, "a gap or a duplicate version");
    }
    let row = store
        .client()
        .query_one("SELECT count(*), count(DISTINCT version), coalesce(max(version), 0) FROM events WHERE programme_id = $1", &[&programme.as_str()])
        .expect("count");
    let (count, distinct, max): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert!(
        count == distinct && count == max && count == events.len() as i64,
        "{count} rows, {distinct} versions, max {max}"
    );

    // Replay event by event: the ledger balances and the pot is never overspent.
    let mut state = State::default();
    let mut expected_notices = BTreeSet::new();
    let mut i = 0;
    while i < events.len() {
        let command = events[i].event.command;
        let j = i + events[i..]
            .iter()
            .take_while(|r| r.event.command == command)
            .count();
        let group: Vec<_> = events[i..j].iter().map(|r| r.event.clone()).collect();
        expected_notices.extend(notices(&state, &group).into_iter().map(|n| n.id));
        for e in &group {
            evolve(&mut state, e).expect("replay");
            let committed = state
                .pot()
                .reserved()
                .checked_add(state.pot().paid())
                .expect("sum");
            assert!(
                committed <= state.pot().credits(),
                "overspent at version {}",
                state.version()
            );
        }
        state.check_invariants().expect("invariants");
        i = j;
    }
    assert_eq!(state.applications().len(), (WRITERS * APPS) as usize);
    let held = state
        .applications()
        .values()
        .filter(|a| matches!(a.stage().kind(), StageKind::Offered | StageKind::Awarded))
        .try_fold(Money::ZERO, |s, a| s.checked_add(a.award()))
        .expect("sum");
    assert_eq!(held, state.pot().reserved());
    assert!(held <= Money::pounds(POT));
    let stored: BTreeSet<NoticeId> = store
        .outbox_entries(&programme)
        .expect("outbox")
        .into_iter()
        .map(|e| e.notice.id)
        .collect();
    assert_eq!(
        stored, expected_notices,
        "events and notices were not written together"
    );
}

#[test]
fn a_lost_race_is_a_typed_conflict() {
    let Some(url) = common::server("a_lost_race_is_a_typed_conflict") else {
        return;
    };
    let schema = common::Schema::new(&url, "lost");
    let programme = ProgrammeId::new("pg-lost-race");
    let mut a = schema.store();
    let mut b = schema.store();
    let tag = programme.to_string();
    let open = {
        let mut engine = Engine::open(schema.store(), programme.clone()).expect("engine");
        engine
            .execute(
                &fixtures::open(&tag, fixtures::programme(POT)),
                fixtures::day(0),
            )
            .expect("open");
        engine.store_mut().load(&programme, 0, 1).expect("load")[0]
            .event
            .clone()
    };
    // B holds an uncommitted append of version 2; A appends version 2 and waits on the
    // unique index until B commits, then loses with SQLSTATE 23505.
    let mut tx = b.client().transaction().expect("begin");
    tx.execute(
        "INSERT INTO events (programme_id, version, event_type, schema_version, payload, command_id) VALUES ($1, 2, 'x', 2, $2, 'b')",
        &[&programme.as_str(), &open.to_json()],
    )
    .expect("insert in B");
    std::thread::scope(|s| {
        let racer = s.spawn(|| a.append(&programme, 1, std::slice::from_ref(&open), &[]));
        std::thread::sleep(std::time::Duration::from_millis(300));
        tx.commit().expect("commit B");
        match racer.join().expect("racer") {
            Err(StoreError::Conflict {
                expected: 1,
                actual: 2,
                ..
            }) => {}
            other => panic!("the losing append gave {other:?}"),
        }
    });
    assert_eq!(a.version(&programme).expect("version"), 2);
}

#[test]
fn a_corrupted_payload_is_a_typed_error_naming_its_version() {
    let Some(url) = common::server("a_corrupted_payload_is_a_typed_error_naming_its_version")
    else {
        return;
    };
    let schema = common::Schema::new(&url, "corrupt");
    let programme = ProgrammeId::new("pg-corrupt");
    let tag = programme.to_string();
    let mut engine = Engine::open(schema.store(), programme.clone()).expect("engine");
    engine
        .execute(
            &fixtures::open(&tag, fixtures::programme(POT)),
            fixtures::day(0),
        )
        .expect("open");
    engine
        .execute(&fixtures::submit(&tag, 1), fixtures::day(1))
        .expect("submit");
    let mut store = engine.into_store();
    for bad in [
        "{\"schema_version\":2,\"command\":",
        "{\"schema_version\":2}",
        "{\"schema_version\":99,\"type\":\"waitlisted\"}",
        "",
    ] {
        store
            .client()
            .execute(
                "UPDATE events SET payload = $2 WHERE programme_id = $1 AND version = 2",
                &[&programme.as_str(), &bad],
            )
            .expect("corrupt");
        match store.load(&programme, 0, 10) {
            Err(StoreError::Corrupt { version: 2, .. }) => {}
            other => panic!("payload `{bad}` gave {other:?}"),
        }
        let err = Engine::open(schema.store(), programme.clone())
            .expect_err("engine over a corrupt stream");
        assert!(
            err.to_string().contains("event 2"),
            "the message `{err}` does not name the version"
        );
        assert_eq!(
            store.version(&programme).expect("version"),
            3,
            "something was written"
        );
    }
}

#[test]
fn a_database_of_a_newer_schema_is_refused_untouched() {
    let Some(url) = common::server("a_database_of_a_newer_schema_is_refused_untouched") else {
        return;
    };
    let schema = common::Schema::new(&url, "newer");
    let mut store = schema.store();
    store
        .client()
        .execute(
            "UPDATE grantflow_meta SET value = '99' WHERE key = 'schema_version'",
            &[],
        )
        .expect("pretend a newer grantflow wrote it");
    let tables = |store: &mut PostgresStore| -> i64 {
        store
            .client()
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()",
                &[],
            )
            .expect("tables")
            .get(0)
    };
    let before = tables(&mut store);
    match PostgresStore::connect_with(&url, schema.options()) {
        Err(StoreError::SchemaTooNew {
            found: 99,
            supported,
        }) => assert_eq!(supported, SCHEMA_VERSION),
        other => panic!("a newer schema gave {other:?}"),
    }
    assert_eq!(tables(&mut store), before);
    let v: String = store
        .client()
        .query_one(
            "SELECT value FROM grantflow_meta WHERE key = 'schema_version'",
            &[],
        )
        .expect("meta")
        .get(0);
    assert_eq!(v, "99");
}

#[test]
fn wrong_urls_and_refused_connections_are_unavailable() {
    // These need no server: every one fails before anything could be written.
    let cases = [
        (
            "an invalid connection string",
            "postgres://user@host:notaport/db".to_string(),
        ),
        ("an unknown option", "host=127.0.0.1 nonsense=1".to_string()),
        (
            "a refused connection",
            "postgres://postgres@127.0.0.1:1/test".to_string(),
        ),
    ];
    for (what, url) in cases {
        match PostgresStore::connect(&url) {
            Err(StoreError::Unavailable { detail }) => {
                assert!(!detail.is_empty(), "{what}: empty message")
            }
            other => panic!("{what} gave {other:?}"),
        }
    }
    match PostgresStore::connect_with(
        &common::url(),
        PgOptions {
            schema: Some("bad; DROP TABLE x".into()),
            ..PgOptions::default()
        },
    ) {
        Err(StoreError::Unavailable { detail }) => assert!(detail.contains("schema name")),
        other => panic!("an unusable schema name gave {other:?}"),
    }
}

#[test]
fn an_unknown_database_is_unavailable() {
    let Some(url) = common::server("an_unknown_database_is_unavailable") else {
        return;
    };
    let mut config: postgres::Config = url.parse().expect("url");
    config.dbname("grantflow_no_such_database");
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres").to_string();
    let wrong = format!("postgres://{user}@{host}:{port}/grantflow_no_such_database");
    match PostgresStore::connect(&wrong) {
        Err(StoreError::Unavailable { detail }) => assert!(
            detail.contains("grantflow_no_such_database"),
            "message: {detail}"
        ),
        other => panic!("an unknown database gave {other:?}"),
    }
}
