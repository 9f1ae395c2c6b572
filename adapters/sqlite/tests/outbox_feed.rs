//! An append's notices ride on its last event row and move to the outbox
//! table when the outbox is next read: in append order, once, across
//! handles and restarts, from files of schema 1 too; unreadable notices are
//! a typed error that moves nothing.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Duration, TimeZone, Utc};
use grantflow_core::{Engine, EventStore, Notice, NoticeId, Outbox, ProgrammeId, Role, StoreError};
use grantflow_core::{OutboxEntry, OutboxStatus};
use grantflow_sqlite::{SCHEMA_VERSION, SqliteOptions, SqliteStore, Synchronous};
use grantflow_testkit::conformance::fixtures;
use rusqlite::Connection;

fn fast(path: &Path) -> SqliteStore {
    let options = SqliteOptions {
        synchronous: Synchronous::Off,
        ..SqliteOptions::default()
    };
    SqliteStore::open_with(path, options).expect("open")
}

/// Opens programme `tag` and submits `n` applications (one notice each).
fn submissions(store: SqliteStore, tag: &str, n: u64) -> SqliteStore {
    let mut engine = Engine::open(store, ProgrammeId::new(tag)).expect("engine");
    engine
        .execute(
            &fixtures::open(tag, fixtures::programme(10_000_000)),
            fixtures::day(0),
        )
        .expect("open the programme");
    for i in 0..n {
        engine
            .execute(&fixtures::submit(tag, i), fixtures::day(1))
            .expect("submit");
    }
    engine.into_store()
}

fn count(path: &Path, sql: &str) -> i64 {
    Connection::open(path)
        .expect("raw connection")
        .query_row(sql, [], |r| r.get(0))
        .expect("count")
}

fn applications(entries: &[OutboxEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| {
            e.notice
                .application
                .map_or_else(String::new, |a| a.to_string())
        })
        .collect()
}

fn expected_applications(tag: &str, n: u64) -> Vec<String> {
    (0..n)
        .map(|i| fixtures::application(tag, i).to_string())
        .collect()
}

#[test]
fn notices_wait_on_their_event_row_until_the_outbox_is_read() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("feed.db");
    let mut store = submissions(fast(&path), "feed", 3);
    // Written with the events, not yet in the outbox table.
    assert_eq!(
        count(
            &path,
            "SELECT count(*) FROM events WHERE notices IS NOT NULL"
        ),
        3
    );
    assert_eq!(count(&path, "SELECT count(*) FROM outbox"), 0);

    // Another handle (as another process would) claims them.
    let mut other = fast(&path);
    let now = fixtures::day(2);
    let claimed = other
        .claim(now, now + Duration::minutes(5), 10)
        .expect("claim");
    assert_eq!(
        applications(&claimed),
        expected_applications("feed", 3),
        "claimed in the order appended"
    );
    assert_eq!(count(&path, "SELECT count(*) FROM outbox"), 3);
    for e in &claimed {
        other.acknowledge(e.notice.id).expect("acknowledge");
    }
    // Reading again moves nothing twice.
    let entries = store
        .outbox_entries(&ProgrammeId::new("feed"))
        .expect("entries");
    assert_eq!(entries.len(), 3);
    assert!(entries.iter().all(|e| e.status == OutboxStatus::Delivered));
    assert!(
        store
            .claim(now, now + Duration::minutes(5), 10)
            .expect("claim")
            .is_empty()
    );
    assert_eq!(count(&path, "SELECT count(*) FROM outbox"), 3);

    // A notice can be acknowledged before anyone claimed it.
    let store = submissions(store, "feed-2", 1);
    let id = other
        .outbox_entries(&ProgrammeId::new("feed-2"))
        .map(|e| e[0].notice.id)
        .expect("entries");
    let mut store = store.reopen().expect("reopen");
    store
        .acknowledge(id)
        .expect("acknowledge a notice not yet claimed");
    assert_eq!(count(&path, "SELECT count(*) FROM outbox"), 4);
    // With its record of how far it got lost, the feed starts over and
    // still queues nothing twice.
    Connection::open(&path)
        .expect("raw connection")
        .execute("DELETE FROM grantflow_meta WHERE key = 'outbox_fed'", [])
        .expect("forget the feed's place");
    assert!(
        store
            .claim(now, now + Duration::minutes(5), 10)
            .expect("claim")
            .is_empty()
    );
    assert_eq!(count(&path, "SELECT count(*) FROM outbox"), 4);
    assert_eq!(
        count(
            &path,
            "SELECT CAST(value AS INTEGER) FROM grantflow_meta WHERE key = 'outbox_fed'"
        ),
        count(&path, "SELECT max(rowid) FROM events")
    );
    assert_eq!(
        store.acknowledge(NoticeId::from_name("no such notice")),
        Err(StoreError::UnknownNotice(NoticeId::from_name(
            "no such notice"
        )))
    );
}

#[test]
fn more_appends_than_one_feed_step_keep_their_order() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("many.db");
    // More than the 1,024 rows the feed moves per step.
    let n = 2_100;
    let mut store = submissions(fast(&path), "many", n);
    let entries = store
        .outbox_entries(&ProgrammeId::new("many"))
        .expect("entries");
    assert_eq!(applications(&entries), expected_applications("many", n));
    assert_eq!(count(&path, "SELECT count(*) FROM outbox"), n as i64);
}

fn notice(name: &str) -> Notice {
    Notice {
        id: NoticeId::from_name(name),
        template: "offer_made".into(),
        recipient: Role::Finance,
        to: None,
        application: None,
        data: BTreeMap::from([("name".to_string(), name.to_string())]),
    }
}

#[test]
fn notices_without_events_queue_after_those_before_them() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("direct.db");
    let mut store = submissions(fast(&path), "direct", 2);
    let p = ProgrammeId::new("direct");
    let version = store.version(&p).expect("version");
    let alone = notice("alone");
    assert_eq!(
        store
            .append(&p, version, &[], std::slice::from_ref(&alone))
            .expect("append notices alone"),
        version
    );
    let entries = store.outbox_entries(&p).expect("entries");
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[2].notice, alone);
    assert_eq!(
        applications(&entries[..2]),
        expected_applications("direct", 2)
    );
}

#[test]
fn unreadable_notices_are_a_typed_error_and_move_nothing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("corrupt.db");
    let mut store = submissions(fast(&path), "corrupt", 3);
    let conn = Connection::open(&path).expect("raw connection");
    let version: i64 = conn
        .query_row(
            "SELECT version FROM events WHERE notices IS NOT NULL ORDER BY rowid LIMIT 1 OFFSET 1",
            [],
            |r| r.get(0),
        )
        .expect("second row with notices");
    conn.execute(
        "UPDATE events SET notices = '[{\"id\":' WHERE version = ?1",
        [version],
    )
    .expect("corrupt the notices");
    let now = fixtures::day(2);
    match store.claim(now, now + Duration::minutes(5), 10) {
        Err(StoreError::Corrupt {
            programme,
            version: v,
            detail,
        }) => {
            assert_eq!(programme, ProgrammeId::new("corrupt"));
            assert_eq!(v, u64::try_from(version).expect("positive"));
            assert!(detail.contains("notices"), "{detail}");
        }
        other => panic!("expected a corrupt-row error, got {other:?}"),
    }
    assert_eq!(count(&path, "SELECT count(*) FROM outbox"), 0);
    assert_eq!(
        count(
            &path,
            "SELECT CAST(value AS INTEGER) FROM grantflow_meta WHERE key = 'outbox_fed'"
        ),
        0
    );
}

/// The schema of version 1, as that crate created it.
const SCHEMA_1: &str = "
    CREATE TABLE grantflow_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO grantflow_meta (key, value) VALUES ('schema_version', '1');
    CREATE TABLE events (
        programme_id   TEXT    NOT NULL,
        version        INTEGER NOT NULL CHECK (version > 0),
        event_type     TEXT    NOT NULL,
        schema_version INTEGER NOT NULL,
        payload        TEXT    NOT NULL,
        command_id     TEXT    NOT NULL,
        recorded_at    INTEGER NOT NULL,
        UNIQUE (programme_id, version)
    );
    CREATE INDEX events_by_command ON events (command_id);
    CREATE TABLE outbox (
        seq          INTEGER PRIMARY KEY,
        notice_id    TEXT    NOT NULL UNIQUE,
        programme_id TEXT    NOT NULL,
        notice       TEXT    NOT NULL,
        status       TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead_letter')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL,
        lease_until  INTEGER,
        last_error   TEXT,
        version      INTEGER NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (next_attempt) WHERE status = 'pending';
    CREATE INDEX outbox_dead ON outbox (seq) WHERE status = 'dead_letter';
    CREATE TABLE snapshots (
        programme_id TEXT    PRIMARY KEY,
        version      INTEGER NOT NULL,
        format       INTEGER NOT NULL,
        data         TEXT    NOT NULL,
        saved_at     INTEGER NOT NULL
    );";

#[test]
fn a_schema_1_file_migrates_and_keeps_its_outbox() {
    let dir = tempfile::tempdir().expect("temporary directory");
    // The rows a schema-1 store held: events, and their notices already in
    // the outbox table, one of them delivered.
    let source = dir.path().join("source.db");
    let mut store = submissions(fast(&source), "old", 3);
    let p = ProgrammeId::new("old");
    let before = store.outbox_entries(&p).expect("entries");
    store
        .acknowledge(before[0].notice.id)
        .expect("deliver the first");
    let before = store.outbox_entries(&p).expect("entries");
    drop(store);

    let path = dir.path().join("v1.db");
    let old = Connection::open(&path).expect("raw connection");
    old.execute_batch(SCHEMA_1).expect("schema 1");
    old.execute(
        "ATTACH DATABASE ?1 AS source",
        [source.to_str().expect("utf-8 path")],
    )
    .expect("attach");
    old.execute_batch(
        "INSERT INTO events SELECT programme_id, version, event_type, schema_version, payload, command_id, recorded_at FROM source.events ORDER BY rowid;
         INSERT INTO outbox SELECT seq, notice_id, programme_id, notice, status, attempts, next_attempt, lease_until, last_error, version FROM source.outbox ORDER BY seq;
         DETACH DATABASE source;",
    )
    .expect("copy the rows");
    drop(old);

    let mut store = fast(&path);
    assert_eq!(
        count(
            &path,
            "SELECT CAST(value AS INTEGER) FROM grantflow_meta WHERE key = 'schema_version'"
        ),
        i64::from(SCHEMA_VERSION)
    );
    // Nothing queued twice, nothing lost, the delivered one still delivered.
    assert_eq!(store.outbox_entries(&p).expect("entries"), before);
    // New appends queue after them.
    let mut engine = Engine::open(store, p.clone()).expect("engine");
    engine
        .execute(&fixtures::submit("old", 3), fixtures::day(1))
        .expect("submit");
    let mut store = engine.into_store();
    let after = store.outbox_entries(&p).expect("entries");
    assert_eq!(after[..3], before[..]);
    assert_eq!(applications(&after), expected_applications("old", 4));
    let now = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
    let claimed = store
        .claim(now, now + Duration::minutes(5), 10)
        .expect("claim");
    assert_eq!(
        applications(&claimed),
        expected_applications("old", 4)[1..].to_vec()
    );
}
