//! What a run is told: [`DriveOptions`] (its ticks, end and ids) and the
//! programme's [`opening`] and [`horizon`].

use chrono::{DateTime, Duration, NaiveTime, Utc};
use grantflow_core::Programme;
use serde::{Deserialize, Serialize};

/// How often the driver ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TickEvery {
    /// At 00:00 UTC every day: deadlines fire on the day they fall due.
    #[default]
    Daily,
    /// At 00:00 UTC every seventh day: faster, deadlines fire up to six days late.
    Weekly,
}

/// Driver settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DriveOptions {
    pub tick: TickEvery,
    /// Nothing happens at or after this instant; the last tick is here.
    pub end: DateTime<Utc>,
    /// Distinguishes the ids of one run from another's in a shared store
    /// (application ids are `(salt, index)` UUIDs, command ids `(!salt, counter)`).
    pub id_salt: u64,
    /// Send the `open` command first (false when the executor's stream is open already).
    pub open: bool,
}

impl DriveOptions {
    /// Daily ticks from `start` until the programme's last possible activity:
    /// its closing day, plus the pass window, plus the Plus window, plus a month.
    pub fn for_programme(p: &Programme) -> DriveOptions {
        DriveOptions {
            tick: TickEvery::Daily,
            end: horizon(p),
            id_salt: 0,
            open: true,
        }
    }
}

/// 00:00 UTC on the programme's opening day.
pub fn opening(p: &Programme) -> DateTime<Utc> {
    p.opens.value.and_time(NaiveTime::MIN).and_utc()
}

/// The default end of a run: closing day + pass window + Plus window + 1 month.
pub fn horizon(p: &Programme) -> DateTime<Utc> {
    let months = p
        .windows
        .pass_months
        .value
        .saturating_add(p.windows.plus_months.value)
        .saturating_add(1);
    let close = p.closes.value.and_time(NaiveTime::MIN).and_utc() + Duration::days(1);
    close
        .checked_add_months(chrono::Months::new(months))
        .unwrap_or(close)
}
