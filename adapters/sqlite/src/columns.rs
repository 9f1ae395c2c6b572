//! How values are written in columns: instants as microseconds since the
//! epoch, versions as `i64`, outbox statuses by name.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use grantflow_core::OutboxStatus;

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

pub(crate) fn wall_clock_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn status_name(s: OutboxStatus) -> &'static str {
    match s {
        OutboxStatus::Pending => "pending",
        OutboxStatus::Delivered => "delivered",
        OutboxStatus::DeadLetter => "dead_letter",
    }
}

pub(crate) fn parse_status(s: &str) -> Option<OutboxStatus> {
    match s {
        "pending" => Some(OutboxStatus::Pending),
        "delivered" => Some(OutboxStatus::Delivered),
        "dead_letter" => Some(OutboxStatus::DeadLetter),
        _ => None,
    }
}
