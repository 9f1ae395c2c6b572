//! # grantflow-export
//!
//! Exports of a programme's awarded grants, from its [`State`] and its
//! events, for the CLI's `export` and the HTTP API's export route alike:
//!
//! - [`package`] — a 360Giving package (schema 1.4) as JSON;
//! - [`csv()`] — the same grants as CSV, every cell through [`safe_cell`] so
//!   that a spreadsheet runs none of them;
//! - [`Format`] — which of the two, read from its name by [`export`].
//!
//! Applications are named by the reference their applicant gave, from a
//! [`Refs`] map the frontend keeps (its UUID where it has none).
//!
//! A grant is an application whose offer was accepted. Its `id` is
//! `<grant_id_prefix>-<reference>` (the prefix starts with `360G-`), its
//! `awardDate` the day the offer was accepted, `amountAwarded` the amount
//! reserved for it and `amountDisbursed` what was paid net of clawbacks.

#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use grantflow_core::{Application, ApplicationId, EventKind, Money, Programme, Recorded, State};
use serde_json::{Value, json};

/// The reference each application was submitted under, by its id.
pub type Refs = HashMap<ApplicationId, String>;

/// The reference of an application, or its UUID.
pub fn label(refs: &Refs, id: &ApplicationId) -> String {
    refs.get(id).cloned().unwrap_or_else(|| id.to_string())
}

/// The applications in the order they arrived.
pub fn by_arrival(state: &State) -> Vec<&Application> {
    let mut apps: Vec<&Application> = state.applications().values().collect();
    apps.sort_by_key(|a| a.arrival());
    apps
}

/// Why an export cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// No programme was opened on this stream.
    #[error("the programme is not initialised")]
    NotInitialised,
    /// No grant to publish.
    #[error(
        "nothing to publish: no application has accepted an award yet (a 360Giving package holds at least one grant)"
    )]
    NothingToPublish,
    /// A format that does not exist.
    #[error("`{0}` is not an export format: use 360giving or csv")]
    UnknownFormat(String),
    /// The CSV writer failed.
    #[error("cannot write CSV: {0}")]
    Csv(String),
}

/// An export format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A 360Giving 1.4 package, JSON.
    ThreeSixtyGiving,
    /// CSV with a header row.
    Csv,
}

impl std::str::FromStr for Format {
    type Err = ExportError;
    fn from_str(s: &str) -> Result<Format, ExportError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "360giving" | "360" | "json" => Ok(Format::ThreeSixtyGiving),
            "csv" => Ok(Format::Csv),
            other => Err(ExportError::UnknownFormat(other.to_string())),
        }
    }
}

/// A grant as exported.
#[derive(Debug, Clone)]
pub struct Grant<'a> {
    /// `<grant_id_prefix>-<reference>`.
    pub id: String,
    /// The application it was awarded to.
    pub app: &'a Application,
    /// The day the offer was accepted.
    pub award_date: NaiveDate,
    /// The day certification must be passed by.
    pub planned_end: Option<NaiveDate>,
}

fn number(m: Money) -> Value {
    // Money has two decimals and at most 13 integer digits: an f64 holds it exactly enough to print back.
    m.to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

fn id_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The awarded grants, in arrival order.
pub fn grants<'a>(
    p: &Programme,
    state: &'a State,
    events: &[Recorded],
    refs: &Refs,
) -> Vec<Grant<'a>> {
    let mut accepted: HashMap<ApplicationId, (DateTime<Utc>, DateTime<Utc>)> = HashMap::new();
    for r in events {
        if let EventKind::Accepted {
            application,
            pass_by,
        } = &r.event.kind
        {
            accepted
                .entry(*application)
                .or_insert((r.event.at, *pass_by));
        }
    }
    by_arrival(state)
        .into_iter()
        .filter_map(|app| {
            let (at, pass_by) = accepted.get(&app.id())?;
            Some(Grant {
                id: format!("{}-{}", p.grant_id_prefix, id_part(&label(refs, &app.id()))),
                app,
                award_date: at.date_naive(),
                planned_end: Some(pass_by.date_naive()),
            })
        })
        .collect()
}

fn recipient_id(p: &Programme, g: &Grant<'_>) -> String {
    g.app
        .applicant()
        .organisation
        .org_id()
        .unwrap_or_else(|| format!("{}-org-{}", p.grant_id_prefix, g.app.id()))
}

/// The 360Giving package for the programme.
pub fn package(
    state: &State,
    events: &[Recorded],
    refs: &Refs,
    now: DateTime<Utc>,
) -> Result<Value, ExportError> {
    let p = state.programme().ok_or(ExportError::NotInitialised)?;
    let list = grants(p, state, events, refs);
    if list.is_empty() {
        return Err(ExportError::NothingToPublish);
    }
    let months = p.windows.pass_months.value;
    let grants: Vec<Value> = list
        .iter()
        .map(|g| {
            let org = &g.app.applicant().organisation;
            let mut recipient = json!({"id": recipient_id(p, g), "name": org.name});
            if let Some(n) = &org.company_number {
                recipient["companyNumber"] = json!(n);
            }
            if let Some(n) = &org.charity_number {
                recipient["charityNumber"] = json!(n);
            }
            let mut planned = json!({"startDate": g.award_date.to_string(), "duration": months});
            if let Some(end) = g.planned_end {
                planned["endDate"] = json!(end.to_string());
            }
            let covered = g.app.coverage().map(|c| {
                grantflow_core::Item::ALL
                    .iter()
                    .filter(|i| !c.item(**i).is_zero())
                    .map(|i| format!("{} {}", i.as_str().replace('_', " "), c.item(*i).display_pounds()))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            json!({
                "id": g.id,
                "title": format!("Cyber Essentials certification for {}", org.name),
                "description": format!("{} Covered: {}.", p.description.trim(), covered.unwrap_or_default()),
                "currency": p.currency,
                "amountAwarded": number(g.app.award()),
                "amountDisbursed": number(g.app.account().net_paid()),
                "awardDate": g.award_date.to_string(),
                "plannedDates": [planned],
                "recipientOrganization": [recipient],
                "fundingOrganization": [{"id": p.funder.id, "name": p.funder.name}],
                "grantProgramme": [{"code": p.id, "title": p.name}],
                "dateModified": now.to_rfc3339_opts(SecondsFormat::Secs, true),
            })
        })
        .collect();
    Ok(json!({
        "version": "1.4",
        "title": format!("{}: grants awarded", p.name),
        "description": format!("Grants awarded by {} under {}, exported by grantflow.", p.funder.name, p.name),
        "identifier": format!("{}-package-{}", p.grant_id_prefix, now.format("%Y%m%d")),
        "issued": now.date_naive().to_string(),
        "modified": now.to_rfc3339_opts(SecondsFormat::Secs, true),
        "publisher": {"identifier": p.funder.id, "name": p.funder.name},
        "license": "https://creativecommons.org/licenses/by/4.0/",
        "grants": grants,
    }))
}

/// A CSV cell a spreadsheet will not run: a text starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return (which a spreadsheet reads as a
/// formula) is prefixed with a single quote, so it shows as written.
pub fn safe_cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// The grants as CSV with a header. Every cell goes through [`safe_cell`].
pub fn csv(state: &State, events: &[Recorded], refs: &Refs) -> Result<String, ExportError> {
    let p = state.programme().ok_or(ExportError::NotInitialised)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| ExportError::Csv(e.to_string());
    w.write_record([
        "id",
        "reference",
        "title",
        "recipient_id",
        "recipient_name",
        "sector",
        "region",
        "currency",
        "amount_awarded",
        "amount_disbursed",
        "award_date",
        "planned_end",
        "stage",
        "funder_id",
        "programme",
    ])
    .map_err(err)?;
    for g in grants(p, state, events, refs) {
        let org = &g.app.applicant().organisation;
        w.write_record(
            [
                g.id.clone(),
                label(refs, &g.app.id()),
                format!("Cyber Essentials certification for {}", org.name),
                recipient_id(p, &g),
                org.name.clone(),
                g.app.applicant().sector.clone(),
                org.region.clone().unwrap_or_default(),
                p.currency.clone(),
                g.app.award().to_string(),
                g.app.account().net_paid().to_string(),
                g.award_date.to_string(),
                g.planned_end.map(|d| d.to_string()).unwrap_or_default(),
                g.app.stage().kind().as_str().to_string(),
                p.funder.id.clone(),
                p.id.clone(),
            ]
            .map(|cell| safe_cell(&cell)),
        )
        .map_err(err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ExportError::Csv(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| ExportError::Csv(e.to_string()))
}

/// The export in `format`: a 360Giving package (pretty JSON) or CSV.
pub fn export(
    format: Format,
    state: &State,
    events: &[Recorded],
    refs: &Refs,
    now: DateTime<Utc>,
) -> Result<String, ExportError> {
    match format {
        Format::ThreeSixtyGiving => Ok(serde_json::to_string_pretty(&package(
            state, events, refs, now,
        )?)
        .unwrap_or_default()),
        Format::Csv => csv(state, events, refs),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_cell;

    #[test]
    fn given_a_cell_a_spreadsheet_would_run_when_written_then_it_is_quoted_as_text() {
        for lead in ["=", "+", "-", "@", "\t", "\r"] {
            let cell = format!("{lead}HYPERLINK(\"http://x.example\")");
            assert_eq!(safe_cell(&cell), format!("'{cell}"), "{lead:?}");
        }
    }

    #[test]
    fn given_an_ordinary_cell_when_written_then_it_is_unchanged() {
        for cell in ["Acme Ltd", "1300.00", "360G-x-ACME-001", "", "a=b", " =x"] {
            assert_eq!(safe_cell(cell), cell);
        }
    }
}
