//! The upcasting check: an event row of an old schema version loads as the
//! current one; a row of a newer version is a typed error.

use super::fixtures::day;
use super::harness::{Check, Ctx, all_events, ensure, ensure_empty, event, fail};
use super::{RawRows, programme_id};
use grantflow_core::EventStore;
use grantflow_core::Money;
use grantflow_core::{EVENT_SCHEMA_VERSION, EventKind};

/// Upcasting: a `claim_paid` event of schema version 1 (field `invoice`)
/// stored as it was written loads as the current version; a row of a newer
/// version is a typed error.
pub fn check_upcasting<S: EventStore>(store: &mut S, raw: &mut impl RawRows<S>) -> Check {
    const C: &str = "upcasting";
    let p = programme_id("upcast");
    ensure_empty(C, store, &p)?;
    let v1 = r#"{"schema_version":1,"command":"00000000-0000-0000-0000-000000000001","at":"2020-10-01T09:00:00Z","type":"claim_paid","application":"00000000-0000-0000-0000-000000000002","item":"certification_fee","invoice":"INV-1","amount":"360.00"}"#;
    let current = event(7, day(3)).to_json();
    let v = raw(store, &p, 0, &[v1.to_string(), current]).ctx(C, "append raw rows")?;
    ensure!(C, v == 2, "two raw rows gave version {v}");
    let loaded = all_events(C, store, &p)?;
    ensure!(
        C,
        loaded.len() == 2,
        "{} events loaded, 2 stored",
        loaded.len()
    );
    let e = &loaded[0].event;
    ensure!(
        C,
        e.schema_version == EVENT_SCHEMA_VERSION,
        "an old event loaded with schema version {}",
        e.schema_version
    );
    ensure!(
        C,
        matches!(&e.kind, EventKind::ClaimPaid { invoice_ref, amount, .. } if invoice_ref == "INV-1" && *amount == Money::from_pence(36_000).unwrap_or(Money::ZERO)),
        "the v1 claim did not upcast: {e:?}"
    );
    ensure!(
        C,
        loaded[1].event == event(7, day(3)),
        "a current event next to an old one changed: {:?}",
        loaded[1].event
    );
    // New events append after raw ones.
    let v = store
        .append(&p, 2, &[event(8, day(4))], &[])
        .ctx(C, "append after raw rows")?;
    ensure!(C, v == 3, "append after raw rows gave version {v}");
    Ok(())
}
