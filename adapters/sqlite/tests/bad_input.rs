//! Bad input gives typed errors, never a panic, and writes nothing:
//! corrupted payload rows, a database of a newer schema, unopenable paths,
//! files that are not databases, and a database locked by another writer.

use std::path::Path;
use std::time::Duration;

use grantflow_core::{Engine, EngineError, EventStore, ProgrammeId, StoreError};
use grantflow_sqlite::{SCHEMA_VERSION, SqliteOptions, SqliteStore};
use grantflow_testkit::conformance::fixtures;
use rusqlite::Connection;

fn stream(path: &Path, tag: &str) -> ProgrammeId {
    let programme = ProgrammeId::new(tag);
    let mut engine =
        Engine::open(SqliteStore::open(path).expect("open"), programme.clone()).expect("engine");
    engine
        .execute(
            &fixtures::open(tag, fixtures::programme(10_000)),
            fixtures::day(0),
        )
        .expect("open the programme");
    for n in 0..3 {
        engine
            .execute(&fixtures::submit(tag, n), fixtures::day(1))
            .expect("submit");
    }
    assert_eq!(engine.state().version(), 7);
    programme
}

fn event_count(path: &Path) -> i64 {
    let conn = Connection::open(path).expect("raw connection");
    conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .expect("count")
}

#[test]
fn a_corrupted_payload_is_a_typed_error_naming_its_version() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("corrupt.db");
    let cases: [(&str, &str); 4] = [
        ("truncated JSON", "'{\"schema_version\":2,\"command\":'"),
        (
            "JSON that is not an event",
            "'{\"schema_version\":2,\"hello\":\"world\"}'",
        ),
        (
            "a newer event schema",
            "'{\"schema_version\":99,\"type\":\"waitlisted\"}'",
        ),
        ("bytes that are not text", "X'FF00FE'"),
    ];
    for (i, (what, sql_value)) in cases.iter().enumerate() {
        let tag = format!("corrupt-{i}");
        let programme = stream(&path, &tag);
        let conn = Connection::open(&path).expect("raw connection");
        let changed = conn
            .execute(&format!("UPDATE events SET payload = {sql_value} WHERE programme_id = ?1 AND version = 3"), [programme.as_str()])
            .expect("corrupt a row");
        assert_eq!(changed, 1);
        drop(conn);
        let before = event_count(&path);

        let mut store =
            SqliteStore::open(&path).expect("a corrupt row does not stop the file from opening");
        match store.load(&programme, 0, 100) {
            Err(StoreError::Corrupt {
                programme: p,
                version: 3,
                detail,
            }) => {
                assert_eq!(p, programme);
                assert!(!detail.is_empty(), "{what}: the error says nothing");
            }
            other => panic!("{what}: loading a corrupt row gave {other:?}"),
        }
        // Rows before it still load.
        assert_eq!(
            store
                .load(&programme, 0, 2)
                .expect("rows before the corrupt one")
                .len(),
            2
        );
        let err =
            Engine::open(store, programme.clone()).expect_err("an engine over a corrupt stream");
        assert!(
            matches!(
                err,
                EngineError::Store(StoreError::Corrupt { version: 3, .. })
            ),
            "{what}: the engine gave {err:?}"
        );
        assert!(
            err.to_string().contains("event 3"),
            "{what}: the message `{err}` does not name the version"
        );
        assert_eq!(event_count(&path), before, "{what}: something was written");
    }
}

fn file_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read the file")
}

#[test]
fn a_database_of_a_newer_schema_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("newer.db");
    stream(&path, "newer");
    {
        let conn = Connection::open(&path).expect("raw connection");
        conn.execute(
            "UPDATE grantflow_meta SET value = '99' WHERE key = 'schema_version'",
            [],
        )
        .expect("pretend a newer grantflow wrote it");
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .expect("checkpoint");
    }
    let before = file_bytes(&path);
    for _ in 0..2 {
        match SqliteStore::open(&path) {
            Err(StoreError::SchemaTooNew {
                found: 99,
                supported,
            }) => assert_eq!(supported, SCHEMA_VERSION),
            other => panic!("opening a newer database gave {other:?}"),
        }
    }
    let err = SqliteStore::open(&path).expect_err("newer schema");
    assert!(
        err.to_string().contains("upgrade grantflow"),
        "the message `{err}` does not say what to do"
    );
    assert_eq!(file_bytes(&path), before, "the newer database was changed");
    let conn = Connection::open(&path).expect("raw connection");
    let v: String = conn
        .query_row(
            "SELECT value FROM grantflow_meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .expect("meta");
    assert_eq!(v, "99");
}

#[test]
fn unopenable_paths_are_unavailable() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let missing = dir.path().join("no-such-directory").join("grants.db");
    match SqliteStore::open(&missing) {
        Err(StoreError::Unavailable { detail }) => assert!(
            detail.contains("grants.db"),
            "the message `{detail}` does not name the file"
        ),
        other => panic!("a path in a missing directory gave {other:?}"),
    }
    assert!(!missing.exists());
    match SqliteStore::open(dir.path()) {
        Err(StoreError::Unavailable { .. }) => {}
        other => panic!("a directory gave {other:?}"),
    }
}

#[test]
fn a_file_that_is_not_a_database_is_unavailable_and_untouched() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("notes.db");
    let text = b"these are meeting notes, not a database\n".repeat(200);
    std::fs::write(&path, &text).expect("write");
    match SqliteStore::open(&path) {
        Err(StoreError::Unavailable { detail }) => assert!(
            detail.contains("not a SQLite database"),
            "message: {detail}"
        ),
        other => panic!("a text file gave {other:?}"),
    }
    assert_eq!(file_bytes(&path), text);
}

#[test]
fn a_locked_database_is_unavailable_then_works_again() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("locked.db");
    let programme = stream(&path, "locked");
    let options = SqliteOptions {
        busy_timeout: Duration::from_millis(100),
        ..SqliteOptions::default()
    };
    let mut store = SqliteStore::open_with(&path, options).expect("open");
    let holder = Connection::open(&path).expect("raw connection");
    holder
        .execute_batch("BEGIN EXCLUSIVE")
        .expect("take the write lock");

    let event = store
        .load(&programme, 6, 1)
        .expect("reading works while another connection writes")[0]
        .event
        .clone();
    match store.append(&programme, 7, std::slice::from_ref(&event), &[]) {
        Err(StoreError::Unavailable { detail }) => {
            assert!(detail.contains("locked"), "message: {detail}")
        }
        other => panic!("appending under another writer's lock gave {other:?}"),
    }
    holder.execute_batch("COMMIT").expect("release");
    assert_eq!(
        store.version(&programme).expect("version"),
        7,
        "the refused append wrote something"
    );
    assert_eq!(
        store
            .append(&programme, 7, &[event], &[])
            .expect("append once the lock is gone"),
        8
    );
}

/// A long stream: the opening event and 1,400 submissions of two events each.
fn long_stream(path: &Path, tag: &str) -> ProgrammeId {
    let programme = ProgrammeId::new(tag);
    let mut engine =
        Engine::open(SqliteStore::open(path).expect("open"), programme.clone()).expect("engine");
    engine
        .execute(
            &fixtures::open(tag, fixtures::programme(100_000_000)),
            fixtures::day(0),
        )
        .expect("open the programme");
    let submissions: Vec<_> = (0..1_400)
        .map(|n| (fixtures::submit(tag, n), fixtures::day(1)))
        .collect();
    engine.execute_many(&submissions).expect("submit");
    assert_eq!(engine.state().version(), 2_801);
    programme
}

#[test]
fn long_loads_page_the_same_as_one_load() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("long.db");
    let programme = long_stream(&path, "long");
    let mut store = SqliteStore::open(&path).expect("open");
    let all = store.load(&programme, 0, 10_000).expect("load");
    assert_eq!(all.len(), 2_801);
    assert!(all.iter().zip(1..).all(|(r, v)| r.version == v));
    for (after, limit) in [
        (0, 256),
        (0, 257),
        (100, 1_000),
        (2_000, 10_000),
        (2_800, 5),
    ] {
        let page = store.load(&programme, after, limit).expect("page");
        let end = (after as usize + limit).min(all.len());
        assert_eq!(page, all[after as usize..end], "{after}+{limit}");
    }
}

#[test]
fn a_corrupted_row_of_a_long_load_is_the_first_in_order() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("long-corrupt.db");
    let bad = [
        "'{\"schema_version\":2,\"command\":'",
        "X'FF00FE'",
        "NULL",
        "'{\"schema_version\":99,\"type\":\"waitlisted\"}'",
    ];
    // Rows in the first chunk, in chunks decoded elsewhere, in the last
    // one; several at once, where the earliest must be named.
    let cases: [&[u64]; 6] = [
        &[3],
        &[700],
        &[2_800],
        &[1_900, 600],
        &[2_801, 1_025, 1_024],
        &[300, 301, 302, 2_000],
    ];
    for (i, versions) in cases.iter().enumerate() {
        let tag = format!("long-corrupt-{i}");
        let programme = long_stream(&path, &tag);
        let conn = Connection::open(&path).expect("raw connection");
        for (j, version) in versions.iter().enumerate() {
            // NULL breaks the table's NOT NULL rule: a payload of 0 bytes stands in.
            let value = match bad[(i + j) % bad.len()] {
                "NULL" => "X''",
                other => other,
            };
            conn.execute(
                &format!(
                    "UPDATE events SET payload = {value} WHERE programme_id = ?1 AND version = ?2"
                ),
                rusqlite::params![programme.as_str(), version],
            )
            .expect("corrupt a row");
        }
        drop(conn);
        let first = *versions.iter().min().expect("a version");
        let before = event_count(&path);
        let mut store = SqliteStore::open(&path).expect("open");
        match store.load(&programme, 0, 10_000) {
            Err(StoreError::Corrupt {
                programme: p,
                version,
                ..
            }) => {
                assert_eq!(p, programme);
                assert_eq!(version, first, "{versions:?}");
            }
            other => panic!("{versions:?} gave {other:?}"),
        }
        // The rows before the first bad one load.
        let ok = store
            .load(&programme, 0, first as usize - 1)
            .expect("rows before");
        assert_eq!(ok.len() as u64, first - 1);
        let err = Engine::open(store, programme.clone()).expect_err("a corrupt stream");
        assert!(
            matches!(err, EngineError::Store(StoreError::Corrupt { version, .. }) if version == first),
            "{versions:?}: the engine gave {err:?}"
        );
        assert_eq!(
            event_count(&path),
            before,
            "{versions:?}: something was written"
        );
    }
}

#[test]
fn a_long_load_stops_where_its_reader_says() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("long-stop.db");
    let programme = long_stream(&path, "long-stop");
    let mut store = SqliteStore::open(&path).expect("open");
    for stop_at in [1u64, 256, 257, 1_000, 2_801] {
        let mut seen = Vec::new();
        let handed = store
            .load_each(&programme, 0, 10_000, &mut |r| {
                seen.push(r.version);
                r.version < stop_at
            })
            .expect("load");
        assert_eq!(handed as u64, stop_at);
        assert!(seen.iter().copied().eq(1..=stop_at), "{stop_at}");
    }
}
