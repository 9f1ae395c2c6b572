//! Checks that a [`RecordStore`] keeps records as [`Accounts`] expects:
//! run [`run`] on a fresh store, and [`check_shared`] on two handles to
//! one store (two connections, two servers). Each check panics with what
//! it found.
//!
//! [`Accounts`]: crate::Accounts

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use crate::records::{Kind, RecordStore};

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 6, 1, 9, 0, 0)
        .single()
        .unwrap_or_default()
        + TimeDelta::minutes(minutes)
}

/// Every single-handle check, on an empty store.
pub fn run<S: RecordStore>(store: &mut S) {
    put_get_replace(store);
    kinds_are_apart(store);
    take_is_once(store);
    list_is_bounded_and_ordered(store);
    purge_removes_only_the_expired(store);
    events_come_newest_first(store);
}

fn put_get_replace<S: RecordStore>(s: &mut S) {
    assert_eq!(s.get(Kind::Account, "ann@example.org").unwrap(), None);
    s.put(Kind::Account, "ann@example.org", r#"{"v":1}"#, None)
        .unwrap();
    s.put(Kind::Account, "ann@example.org", r#"{"v":2}"#, None)
        .unwrap();
    assert_eq!(
        s.get(Kind::Account, "ann@example.org").unwrap().as_deref(),
        Some(r#"{"v":2}"#),
        "a put replaces the body under its key"
    );
    let odd = "quote' \" ; -- ünïcode";
    s.put(Kind::Throttle, odd, odd, None).unwrap();
    assert_eq!(s.get(Kind::Throttle, odd).unwrap().as_deref(), Some(odd));
    s.take(Kind::Throttle, odd).unwrap();
}

fn kinds_are_apart<S: RecordStore>(s: &mut S) {
    s.put(Kind::Code, "same", "code", None).unwrap();
    s.put(Kind::Session, "same", "session", None).unwrap();
    assert_eq!(s.get(Kind::Code, "same").unwrap().as_deref(), Some("code"));
    assert_eq!(
        s.get(Kind::Session, "same").unwrap().as_deref(),
        Some("session")
    );
    s.take(Kind::Code, "same").unwrap();
    assert_eq!(
        s.get(Kind::Session, "same").unwrap().as_deref(),
        Some("session"),
        "taking a record of one kind leaves another kind's record with its key"
    );
    s.take(Kind::Session, "same").unwrap();
}

fn take_is_once<S: RecordStore>(s: &mut S) {
    s.put(Kind::Code, "bob@example.org", "123", Some(at(10)))
        .unwrap();
    assert_eq!(
        s.take(Kind::Code, "bob@example.org").unwrap().as_deref(),
        Some("123")
    );
    assert_eq!(
        s.take(Kind::Code, "bob@example.org").unwrap(),
        None,
        "a record is taken once"
    );
    assert_eq!(s.get(Kind::Code, "bob@example.org").unwrap(), None);
}

fn list_is_bounded_and_ordered<S: RecordStore>(s: &mut S) {
    for key in ["c@x.org", "a@x.org", "b@x.org"] {
        s.put(Kind::Setup, key, key, None).unwrap();
    }
    assert_eq!(
        s.list(Kind::Setup, 10).unwrap(),
        ["a@x.org", "b@x.org", "c@x.org"]
    );
    assert_eq!(s.list(Kind::Setup, 2).unwrap(), ["a@x.org", "b@x.org"]);
    for key in ["a@x.org", "b@x.org", "c@x.org"] {
        s.take(Kind::Setup, key).unwrap();
    }
}

fn purge_removes_only_the_expired<S: RecordStore>(s: &mut S) {
    s.put(Kind::Session, "old", "old", Some(at(0))).unwrap();
    s.put(Kind::Session, "new", "new", Some(at(20))).unwrap();
    s.put(Kind::Session, "kept", "kept", None).unwrap();
    assert_eq!(s.purge(at(10)).unwrap(), 1, "one record had expired");
    assert_eq!(s.get(Kind::Session, "old").unwrap(), None);
    assert!(s.get(Kind::Session, "new").unwrap().is_some());
    assert!(s.get(Kind::Session, "kept").unwrap().is_some());
    s.take(Kind::Session, "new").unwrap();
    s.take(Kind::Session, "kept").unwrap();
}

fn events_come_newest_first<S: RecordStore>(s: &mut S) {
    for i in 0..5 {
        s.append_event(&format!("event {i}")).unwrap();
    }
    assert_eq!(
        s.events(3).unwrap(),
        ["event 4", "event 3", "event 2"],
        "the newest events, newest first"
    );
}

/// Two handles to one store see each other's records, and a record taken
/// through one is gone for the other.
pub fn check_shared<S: RecordStore>(a: &mut S, b: &mut S) {
    a.put(Kind::Code, "shared@example.org", "1", Some(at(10)))
        .unwrap();
    assert_eq!(
        b.get(Kind::Code, "shared@example.org").unwrap().as_deref(),
        Some("1"),
        "a record put through one handle is seen through the other"
    );
    assert!(b.take(Kind::Code, "shared@example.org").unwrap().is_some());
    assert_eq!(
        a.take(Kind::Code, "shared@example.org").unwrap(),
        None,
        "a record taken through one handle cannot be taken through the other"
    );
}

#[cfg(test)]
mod tests {
    use crate::MemoryRecords;

    #[test]
    fn memory_records_conform() {
        super::run(&mut MemoryRecords::new());
    }
}
