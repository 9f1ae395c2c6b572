//! The snapshot format: [`State::to_snapshot`] writes a state as a
//! [`Snapshot`] of format [`SNAPSHOT_FORMAT`], [`State::from_snapshot`] reads
//! one back and checks it. The format is a type of its own, not the state's
//! fields: it holds the data (rules, ledger, applications, pending deadlines,
//! claimed invoices) and leaves out what is rebuilt on reading (the
//! waitlist, from the applications' stages) or is history rather than
//! state (the command index).
//!
//! Formats: 1 held the command index and is no longer read (the stream is
//! replayed instead); 2 was the state's own fields, a superset of format 3,
//! and still reads; 3 is written now.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::ports::Snapshot;
use crate::ledger::pot::Pot;
use crate::rules::programme::Programme;
use crate::state::lifecycle::Stage;
use crate::state::{Applications, Deadlines, Invoices, SectorTotals, State};

/// The snapshot format this version writes.
pub const SNAPSHOT_FORMAT: u32 = 3;

/// The oldest format this version still reads.
const OLDEST_READ: u32 = 2;

/// Why a snapshot could not be read. The stream is replayed instead, so
/// none of these loses anything; they say why opening took longer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    #[error(
        "snapshot format {format} is not read by this version (it reads {OLDEST_READ} to {SNAPSHOT_FORMAT}); the stream is replayed instead"
    )]
    UnknownFormat { format: u32 },
    #[error("the snapshot cannot be read: {detail}")]
    Unreadable { detail: String },
    #[error("the snapshot says version {said} but holds a state at version {held}")]
    WrongVersion { said: u64, held: u64 },
    #[error("the snapshot does not hold together: {detail}")]
    Inconsistent { detail: String },
}

/// Format 3, as written.
#[derive(Serialize)]
struct Written<'s> {
    programme: &'s Option<Box<Programme>>,
    version: u64,
    last_at: Option<DateTime<Utc>>,
    pot: &'s Pot,
    sectors: &'s [SectorTotals],
    applications: &'s Applications,
    deadlines: &'s Deadlines,
    invoices: &'s Invoices,
}

/// Formats 2 and 3, as read (format 2's waitlist fields are ignored and
/// rebuilt).
#[derive(Deserialize)]
struct Read {
    programme: Option<Box<Programme>>,
    version: u64,
    last_at: Option<DateTime<Utc>>,
    pot: Pot,
    sectors: Vec<SectorTotals>,
    applications: Applications,
    deadlines: Deadlines,
    invoices: Invoices,
}

impl State {
    /// The state in the current snapshot format.
    pub fn to_snapshot(&self) -> Result<Snapshot, SnapshotError> {
        let written = Written {
            programme: &self.programme,
            version: self.version,
            last_at: self.last_at,
            pot: &self.pot,
            sectors: &self.sectors,
            applications: &self.applications,
            deadlines: &self.deadlines,
            invoices: &self.invoices,
        };
        let data = serde_json::to_string(&written).map_err(|e| SnapshotError::Unreadable {
            detail: e.to_string(),
        })?;
        Ok(Snapshot {
            version: self.version,
            format: SNAPSHOT_FORMAT,
            data,
        })
    }

    /// Reads a snapshot back, rebuilding the waitlist, and checks every
    /// ledger invariant. The command index starts empty: it holds only the
    /// commands folded in after this.
    pub fn from_snapshot(snapshot: &Snapshot) -> Result<State, SnapshotError> {
        if !(OLDEST_READ..=SNAPSHOT_FORMAT).contains(&snapshot.format) {
            return Err(SnapshotError::UnknownFormat {
                format: snapshot.format,
            });
        }
        let read: Read =
            serde_json::from_str(&snapshot.data).map_err(|e| SnapshotError::Unreadable {
                detail: e.to_string(),
            })?;
        if read.version != snapshot.version {
            return Err(SnapshotError::WrongVersion {
                said: snapshot.version,
                held: read.version,
            });
        }
        let mut state = State {
            programme: read.programme,
            version: read.version,
            last_at: read.last_at,
            pot: read.pot,
            sectors: read.sectors,
            applications: read.applications,
            deadlines: read.deadlines,
            invoices: read.invoices,
            ..State::default()
        };
        for app in state.applications.values() {
            if app.stage == Stage::Waitlisted {
                state.waitlist.join(app.arrival, app.id, app.award());
            }
        }
        state
            .check_invariants()
            .map_err(|e| SnapshotError::Inconsistent { detail: e.0 })?;
        Ok(state)
    }
}
