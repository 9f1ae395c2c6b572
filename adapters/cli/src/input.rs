//! Reading what people type and the files they give: times, amounts,
//! application JSON and CSV, JSONL command files. Every error says where
//! (file, line, column) and what to do, on one line.

use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, SecondsFormat, Timelike, Utc};
use grantflow_core::{
    Applicant, ApplicationId, Command, CommandId, Contact, CostRequest, Level, Milestone, Money,
    Organisation, StageKind,
};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::error::{CliError, CliResult};

/// Reads a whole file, with a one-line error naming it.
pub fn read_file(path: &Path) -> CliResult<String> {
    std::fs::read_to_string(path).map_err(|e| {
        let what = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => e.to_string(),
        };
        CliError::usage(format!(
            "cannot read `{}`: {what}; check the path",
            path.display()
        ))
    })
}

/// Parses `--now`/`--on`: RFC 3339 (`2020-09-01T09:00:00Z`) or a date
/// (`2020-09-01`, taken as midnight UTC). A leap second (`23:59:60`) is
/// refused, naming the next second to give instead.
pub fn parse_time(text: &str) -> CliResult<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        let dt = dt.with_timezone(&Utc);
        // chrono holds a leap second as a nanosecond of 10^9 or more.
        if dt.nanosecond() >= 1_000_000_000 {
            let next = dt
                .with_nanosecond(0)
                .and_then(|d| d.checked_add_signed(chrono::Duration::seconds(1)))
                .map_or_else(String::new, |d| {
                    format!(" instead: {}", d.to_rfc3339_opts(SecondsFormat::Secs, true))
                });
            return Err(CliError::usage(format!(
                "`{t}` is a leap second: grantflow does not accept leap seconds; give the next second{next}"
            )));
        }
        return Ok(dt);
    }
    match NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        Ok(d) => Ok(d
            .and_hms_opt(0, 0, 0)
            .map(|n| n.and_utc())
            .unwrap_or_default()),
        Err(_) => {
            let looks_like_date = t.len() >= 10
                && t.as_bytes().get(4) == Some(&b'-')
                && t.as_bytes().get(7) == Some(&b'-');
            if looks_like_date {
                Err(CliError::usage(format!(
                    "`{t}` is not a real date or time: check the day and month (e.g. 2020-02-29, 2020-09-01T09:00:00Z)"
                )))
            } else {
                Err(CliError::usage(format!(
                    "`{t}` is not a time: use a date like 2020-09-01 or RFC 3339 like 2020-09-01T09:00:00Z"
                )))
            }
        }
    }
}

/// The effective `now`: `--now` if given, else the system clock.
pub fn now_or_clock(now: Option<&str>) -> CliResult<DateTime<Utc>> {
    match now {
        Some(t) => parse_time(t),
        None => Ok(Utc::now()),
    }
}

/// Parses an amount of money such as `1400` or `1400.50` with the core's
/// one parser ([`Money`]'s `FromStr`): no currency sign, no exponent.
pub fn parse_money(field: &str, text: &str) -> CliResult<Money> {
    Money::from_str(text).map_err(|e| CliError::usage(format!("{field}: {e}")))
}

/// Parses a milestone name.
pub fn parse_milestone(text: &str) -> CliResult<Milestone> {
    serde_json::from_value(serde_json::Value::String(text.trim().replace('-', "_"))).map_err(|_| {
        let names: Vec<String> = Milestone::ALL
            .iter()
            .filter_map(|m| serde_json::to_value(m).ok())
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        CliError::usage(format!(
            "`{text}` is not a milestone: use one of {}",
            names.join(", ")
        ))
    })
}

/// Parses a covered item name.
pub fn parse_item(text: &str) -> CliResult<grantflow_core::Item> {
    grantflow_core::Item::ALL
        .into_iter()
        .find(|i| i.as_str() == text.trim().replace('-', "_"))
        .ok_or_else(|| {
            CliError::usage(format!(
                "`{text}` is not a covered item: use consultancy, certification_fee or plus_audit"
            ))
        })
}

/// Parses a stage name for `--state`.
pub fn parse_stage(text: &str) -> CliResult<StageKind> {
    StageKind::parse(&text.trim().replace('-', "_")).ok_or_else(|| {
        let names: Vec<&str> = StageKind::ALL.iter().map(|k| k.as_str()).collect();
        CliError::usage(format!(
            "`{text}` is not a stage: use one of {}",
            names.join(", ")
        ))
    })
}

/// An application as a JSON file gives it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationFile {
    /// The caller's reference for the application (any text, or a UUID).
    #[serde(default, alias = "application")]
    pub reference: Option<String>,
    pub applicant: Applicant,
    pub request: CostRequest,
}

/// One application ready to submit: its reference, id and answers.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub reference: String,
    pub id: ApplicationId,
    pub applicant: Applicant,
    pub request: CostRequest,
    /// Where it came from, for messages (`file line 3`).
    pub origin: String,
}

fn check_fields(
    origin: &str,
    applicant: &Applicant,
    request: &CostRequest,
    column_of: &dyn Fn(&str) -> String,
) -> CliResult<()> {
    if let Err(p) = applicant.check().and_then(|()| request.check()) {
        return Err(CliError::usage(format!(
            "{origin}{}: {}; nothing was applied: correct it and run again",
            column_of(p.field),
            p.problem
        )));
    }
    Ok(())
}

/// Reads one application from a JSON file.
pub fn application_json(path: &Path, reference: Option<&str>) -> CliResult<NewApplication> {
    let text = read_file(path)?;
    let file: ApplicationFile = serde_json::from_str(&text)
        .map_err(|e| CliError::usage(format!("`{}` is not an application (line {}, column {}): {e}; see `grantflow apply --help` for the format", path.display(), e.line(), e.column())))?;
    let reference = reference
        .map(str::to_string)
        .or(file.reference)
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            CliError::usage(format!(
                "`{}` has no reference: add a \"reference\" field or pass --ref",
                path.display()
            ))
        })?;
    check_reference(&reference, &path.display().to_string())?;
    let origin = path.display().to_string();
    check_fields(&origin, &file.applicant, &file.request, &|f| {
        format!(" field `{f}`")
    })?;
    Ok(NewApplication {
        id: ApplicationId::parse_or_name(&reference),
        reference,
        applicant: file.applicant,
        request: file.request,
        origin,
    })
}

/// The longest reference of an application, in characters.
const MAX_REFERENCE: usize = 100;

/// Checks a reference with the core's text check: 1 to 100 characters, no
/// control characters. The message does not repeat the reference, which may
/// be unprintable.
fn check_reference(reference: &str, origin: &str) -> CliResult<()> {
    grantflow_core::check_text(reference, 1, MAX_REFERENCE)
        .map_err(|p| CliError::usage(format!("{origin}: the reference {p}; nothing was applied")))
}

/// The columns of an applications CSV: (name, required).
pub const CSV_COLUMNS: &[(&str, bool)] = &[
    ("reference", true),
    ("organisation", true),
    ("company_number", false),
    ("charity_number", false),
    ("ods_code", false),
    ("region", false),
    ("contact_name", true),
    ("contact_email", true),
    ("sector", true),
    ("employees", true),
    ("uk_based", true),
    ("already_certified", true),
    ("vat_registered", true),
    ("level", true),
    ("consultancy_days", true),
    ("day_rate", true),
    ("plus_audit_quote", false),
];

fn csv_column_for_field(field: &str) -> &'static str {
    match field {
        "organisation.name" => "organisation",
        "contact.name" => "contact_name",
        "contact.email" => "contact_email",
        "organisation.company_number" => "company_number",
        "organisation.charity_number" => "charity_number",
        "organisation.ods_code" => "ods_code",
        "organisation.region" => "region",
        "sector" => "sector",
        "consultancy_days" => "consultancy_days",
        _ => "reference",
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Some(true),
        "false" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// The most bad rows of a CSV file one error lists (the others are counted).
pub const MAX_ROW_PROBLEMS: usize = 50;

/// Reads every application of a CSV file with a header. A bad header stops
/// the reading; every row is read, and if any is bad the error lists each
/// bad row (up to [`MAX_ROW_PROBLEMS`]) with its line and column: nothing of
/// the file is applied.
pub fn applications_csv(path: &Path) -> CliResult<Vec<NewApplication>> {
    let text = read_file(path)?;
    let name = path.display().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| CliError::usage(format!("{name} line 1: cannot read the header: {e}")))?
        .clone();
    let mut index = std::collections::HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase();
        if !CSV_COLUMNS.iter().any(|(c, _)| *c == h) {
            let known: Vec<&str> = CSV_COLUMNS.iter().map(|(c, _)| *c).collect();
            return Err(CliError::usage(format!(
                "{name} line 1, column {}: unknown column `{h}`; the columns are {}; nothing was applied",
                i + 1,
                known.join(", ")
            )));
        }
        if index.insert(h.clone(), i).is_some() {
            return Err(CliError::usage(format!(
                "{name} line 1, column {}: column `{h}` appears twice; nothing was applied",
                i + 1
            )));
        }
    }
    if let Some((missing, _)) = CSV_COLUMNS
        .iter()
        .find(|(c, req)| *req && !index.contains_key(*c))
    {
        return Err(CliError::usage(format!(
            "{name} line 1: the required column `{missing}` is missing; nothing was applied"
        )));
    }
    let mut out: Vec<NewApplication> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let mut bad_rows = 0usize;
    for record in reader.records() {
        let row = match record {
            Ok(record) => csv_row(&name, &record, &index, &out),
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                Err(format!("line {line}: {e}"))
            }
        };
        match row {
            Ok(Some(app)) => out.push(app),
            Ok(None) => {}
            Err(problem) => {
                bad_rows += 1;
                if problems.len() < MAX_ROW_PROBLEMS {
                    problems.push(problem);
                }
            }
        }
    }
    if bad_rows > 0 {
        let more = bad_rows - problems.len();
        let more = if more > 0 {
            format!("; and {more} more bad row(s) not listed")
        } else {
            String::new()
        };
        return Err(CliError::usage(format!(
            "{name}: {bad_rows} bad row(s), nothing was applied: {}{more}; correct them and run again",
            problems.join("; ")
        ))
        .with_details(problems));
    }
    if out.is_empty() {
        return Err(CliError::usage(format!(
            "{name} has a header but no applications"
        )));
    }
    Ok(out)
}

/// One row of an applications CSV: the application, `None` for a blank
/// row, or the row's first problem with its line and column.
fn csv_row(
    name: &str,
    record: &csv::StringRecord,
    index: &std::collections::HashMap<String, usize>,
    earlier: &[NewApplication],
) -> Result<Option<NewApplication>, String> {
    let line = record.position().map_or(0, |p| p.line());
    if record.iter().all(|f| f.trim().is_empty()) {
        return Ok(None);
    }
    let at = |col: &str| -> (String, String) {
        let i = index.get(col).copied();
        let where_ = match i {
            Some(i) => format!("line {line}, column {} (`{col}`)", i + 1),
            None => format!("line {line} (`{col}`)"),
        };
        (
            i.and_then(|i| record.get(i))
                .unwrap_or("")
                .trim()
                .to_string(),
            where_,
        )
    };
    let text = |col: &str| -> Result<String, String> {
        let (v, w) = at(col);
        if v.is_empty() {
            Err(format!("{w}: is empty; give a value"))
        } else {
            Ok(v)
        }
    };
    let opt = |col: &str| -> Option<String> { Some(at(col).0).filter(|v| !v.is_empty()) };
    let boolean = |col: &str| -> Result<bool, String> {
        let (v, w) = at(col);
        parse_bool(&v)
            .ok_or_else(|| format!("{w}: `{v}` is not yes/no (use true, false, yes or no)"))
    };
    let money = |col: &str, v: &str| -> Result<Money, String> {
        let (_, w) = at(col);
        Money::from_str(v).map_err(|e| format!("{w}: {e}"))
    };
    let reference = text("reference")?;
    grantflow_core::check_text(&reference, 1, MAX_REFERENCE)
        .map_err(|p| format!("{}: the reference {p}", at("reference").1))?;
    let employees = {
        let (v, w) = at("employees");
        v.parse::<u32>()
            .map_err(|_| format!("{w}: `{v}` is not a whole number of staff"))?
    };
    let level = {
        let (v, w) = at("level");
        match v.to_ascii_lowercase().as_str() {
            "basic" => Level::Basic,
            "plus" => Level::Plus,
            _ => return Err(format!("{w}: `{v}` is not a level: use basic or plus")),
        }
    };
    let days = {
        let (v, w) = at("consultancy_days");
        Decimal::from_str_exact(&v).map_err(|_| format!("{w}: `{v}` is not a number of days"))?
    };
    let day_rate = money("day_rate", &text("day_rate")?)?;
    let plus_audit_quote = match opt("plus_audit_quote") {
        Some(v) => Some(money("plus_audit_quote", &v)?),
        None => None,
    };
    let applicant = Applicant {
        organisation: Organisation {
            name: text("organisation")?,
            company_number: opt("company_number"),
            charity_number: opt("charity_number"),
            ods_code: opt("ods_code"),
            region: opt("region"),
        },
        contact: Contact {
            name: text("contact_name")?,
            email: text("contact_email")?,
        },
        sector: text("sector")?,
        employees,
        uk_based: boolean("uk_based")?,
        already_certified: boolean("already_certified")?,
        vat_registered: boolean("vat_registered")?,
    };
    let request = CostRequest {
        level,
        consultancy_days: days,
        day_rate,
        plus_audit_quote,
    };
    if let Err(p) = applicant.check().and_then(|()| request.check()) {
        return Err(format!(
            "{}: {}",
            at(csv_column_for_field(p.field)).1,
            p.problem
        ));
    }
    let id = ApplicationId::parse_or_name(&reference);
    if let Some(first) = earlier.iter().find(|a| a.id == id) {
        return Err(format!(
            "{}: reference `{reference}` is used twice (first at {})",
            at("reference").1,
            first.origin
        ));
    }
    Ok(Some(NewApplication {
        reference,
        id,
        applicant,
        request,
        origin: format!("{name} line {line}"),
    }))
}

/// One command of a JSONL file.
#[derive(Debug, Clone)]
pub struct Line {
    /// 1-based line number.
    pub line: usize,
    pub command: Command,
    /// The line's own `now`, if it gave one.
    pub now: Option<DateTime<Utc>>,
    /// Reference text of an application named by text rather than UUID.
    pub reference: Option<(ApplicationId, String)>,
    /// The command's `id` as the line gave it.
    pub given_id: Option<String>,
}

/// Reads a JSONL command file. Each line is a command in its JSON form
/// (`{"id": "...", "command": "accept", "application": "..."}`) with an
/// optional `"now"`. `id` and `application` may be any text: a non-UUID is
/// mapped to a stable id. Blank lines and lines starting with `#` are
/// skipped. The first malformed line stops the reading: nothing is applied.
pub fn command_lines(path: &Path) -> CliResult<Vec<Line>> {
    let text = read_file(path)?;
    let name = path.display().to_string();
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let bad = |why: String| {
            CliError::usage(format!(
                "{name} line {line}: {why}; nothing was applied: fix the line and run again"
            ))
        };
        let mut value: serde_json::Value =
            serde_json::from_str(t).map_err(|e| bad(format!("not JSON ({e})")))?;
        let Some(obj) = value.as_object_mut() else {
            return Err(bad("a command must be a JSON object".into()));
        };
        let now = match obj.remove("now") {
            None => None,
            Some(serde_json::Value::String(s)) => Some(parse_time(&s).map_err(|e| bad(e.message))?),
            Some(_) => {
                return Err(bad(
                    "`now` must be a string such as \"2020-09-01T09:00:00Z\"".into(),
                ));
            }
        };
        let mut given_id = None;
        if let Some(serde_json::Value::String(text)) = obj.get("id") {
            let id = CommandId::given(text).map_err(|e| bad(e.to_string()))?;
            given_id = Some(text.clone());
            obj.insert("id".into(), serde_json::Value::String(id.to_string()));
        }
        let mut reference = None;
        if let Some(serde_json::Value::String(app)) = obj.get("application") {
            check_reference(app, &format!("{name} line {line}"))?;
            let id = ApplicationId::parse_or_name(app);
            if id.to_string() != app.to_ascii_lowercase() {
                reference = Some((id, app.clone()));
            }
            obj.insert(
                "application".into(),
                serde_json::Value::String(id.to_string()),
            );
        }
        let keys: Vec<String> = obj.keys().cloned().collect();
        let command: Command = serde_json::from_value(value).map_err(|e| {
            bad(format!(
                "not a command ({e}); see `grantflow schema commands`"
            ))
        })?;
        // serde takes a command without members (`tick`) whatever else the
        // line holds; a member the command does not write back is unknown.
        let taken = serde_json::to_value(&command).unwrap_or_default();
        if let Some(extra) = keys.iter().find(|k| taken.get(k.as_str()).is_none()) {
            return Err(bad(format!(
                "not a command (unknown field `{extra}`); see `grantflow schema commands`"
            )));
        }
        out.push(Line {
            line,
            command,
            now,
            reference,
            given_id,
        });
    }
    Ok(out)
}
