//! What the parser checks beyond a value's type, as JSON Schema keywords:
//! the core's text check (`check_text`: lengths in characters, no control
//! characters), the shapes of e-mail addresses and registration numbers,
//! the bounds of amounts, counts and windows, and the rules file's own
//! checks (`Programme::validate`) that a schema can say. Checks that
//! compare two fields (a contingency below the pot, a reminder before its
//! window closes) or need the programme's state are left to the parser.

use grantflow_core::{MAX_EMAIL, MAX_NAME, MAX_REGION, MAX_SECTOR};
use serde_json::{Value, json};

/// The largest amount, in pounds (`Money::MAX`).
pub const MONEY_MAX: u64 = 1_000_000_000_000;

/// An amount as a string: digits with at most two decimals, at most
/// `MONEY_MAX` (leading zeros are read as the parser reads them).
pub const MONEY_PATTERN: &str = "^0*([0-9]{1,12}(\\.[0-9]{1,2})?|1000000000000(\\.0{1,2})?)$";

/// Control characters (`char::is_control`: C0, DEL and C1).
const CONTROL: &str = "\\x00-\\x1F\\x7F-\\x9F";

/// The longest application reference, in characters (as `grantflow apply` and `run` take it).
pub const MAX_REFERENCE: usize = 100;
/// The longest id, name, prefix or funder text of a rules file (`Programme::validate`).
const MAX_RULES_TEXT: usize = 200;
/// The longest command note or reason (`decide`).
pub const MAX_NOTE: usize = 500;
/// The longest invoice reference (`decide`).
const MAX_INVOICE: usize = 64;
/// The largest whole number the parser reads for a count (`u32`).
const MAX_COUNT: u64 = u32::MAX as u64;

/// A text of `min` (0 or 1, not counting surrounding whitespace) to `max`
/// characters without control characters, as `check_text` takes it.
pub fn text(min: usize, max: usize) -> Value {
    let pattern = if min == 0 {
        format!("^[^{CONTROL}]*$")
    } else {
        format!("^[^{CONTROL}]*[^\\s{CONTROL}][^{CONTROL}]*$")
    };
    json!({"type": "string", "maxLength": max, "pattern": pattern})
}

/// A whole number from `min` to `max`.
fn count(min: u64, max: u64) -> Value {
    json!({"type": "integer", "minimum": min, "maximum": max})
}

/// Whole days from 0 to 364, as a pattern.
const DAYS_BELOW_365: &str = "([0-9]{1,2}|[12][0-9]{2}|3[0-5][0-9]|36[0-4])";

/// A decimal from 0 to `max` written as a string (`pattern`) or a number.
fn decimal_up_to(pattern: &str, max: u32) -> Value {
    json!({
        "description": format!("a decimal number from 0 to {max}, written as a string or a number"),
        "anyOf": [
            {"type": "string", "pattern": pattern},
            {"type": "number", "minimum": 0, "maximum": max}
        ]
    })
}

/// An amount of more than zero.
fn positive_money() -> Value {
    json!({
        "description": "an amount in pounds of more than zero: at most two decimals, at most 1000000000000, no exponent; written as a string, or whole pounds as a number",
        "anyOf": [
            {"type": "string", "pattern": MONEY_PATTERN, "not": {"pattern": "^0*(\\.0*)?$"}},
            {"type": "integer", "minimum": 1, "maximum": MONEY_MAX}
        ]
    })
}

/// `path` as it is in a rules file or an application: without the
/// `event.` an event's kind is under, nor the `programme.` of an `open`.
pub fn rules_path(path: &str) -> &str {
    let path = path.strip_prefix("event.").unwrap_or(path);
    path.strip_prefix("programme.").unwrap_or(path)
}

/// The schema of the value at `path` (a property path such as
/// `applicant.organisation.name` or `windows.offer_days.value`; a rules
/// file's paths are the same at its root, under a command's `programme`
/// and under an event), if the parser checks more than its type.
pub fn constraint(path: &str) -> Option<Value> {
    let path = rules_path(path);
    let registration = json!({
        "description": "1 to 16 letters or digits (a text: OC123456 is a company number)",
        "type": "string",
        "pattern": "^[A-Za-z0-9]{1,16}$"
    });
    let rule = match path {
        // An applicant (`Applicant::check`).
        "applicant.organisation.name" | "applicant.contact.name" => text(1, MAX_NAME),
        "applicant.organisation.region" => text(1, MAX_REGION),
        "applicant.sector" => text(0, MAX_SECTOR),
        "applicant.contact.email" => json!({
            "description": "an e-mail address: something before the first @, a domain holding a dot, neither starting nor ending with one; no spaces",
            "type": "string",
            "maxLength": MAX_EMAIL,
            "pattern": "^\\s*[^@\\s]+@[^.\\s]\\S*\\.\\S*[^.\\s]\\s*$"
        }),
        "applicant.organisation.company_number"
        | "applicant.organisation.charity_number"
        | "applicant.organisation.ods_code" => registration,
        "applicant.employees" => count(0, MAX_COUNT),
        // A request (`CostRequest::check`).
        "request.consultancy_days" => json!({
            "description": "days of consultancy: 0 to 365, at most two decimals; written as a string or a number",
            "anyOf": [
                {"type": "string", "pattern": format!("^{DAYS_BELOW_365}(\\.[0-9]{{1,2}})?$|^365(\\.0{{1,2}})?$")},
                {"type": "number", "minimum": 0, "maximum": 365, "multipleOf": 0.01}
            ]
        }),
        // A command's texts (`decide`); a clawback's reason is not empty.
        "note" | "reason" => text(0, MAX_NOTE),
        "invoice_ref" => text(1, MAX_INVOICE),
        // A rules file (`Programme::validate`).
        "id" => json!({
            "description": "at most 64 letters, digits, '-', '_' or '.'",
            "type": "string",
            "pattern": "^[A-Za-z0-9._-]{1,64}$"
        }),
        "name" | "funder.id" | "funder.name" | "funder.reference" | "funder.assumed"
        | "sectors[].id" => text(1, MAX_RULES_TEXT),
        "grant_id_prefix" => json!({
            "description": "a 360Giving prefix: `360G-` then at most 195 more characters",
            "type": "string",
            "maxLength": MAX_RULES_TEXT,
            "pattern": format!("^360G-[^{CONTROL}]*$")
        }),
        "currency" => json!({"description": "grantflow handles pounds sterling", "const": "GBP"}),
        "pot.value" | "coverage.award_cap.value" => positive_money(),
        "eligibility.max_employees_exclusive.value" => count(1, MAX_COUNT),
        "coverage.vat_rate.value" => decimal_up_to("^(0(\\.[0-9]+)?|1(\\.0+)?)$", 1),
        "coverage.consultancy_days_cap.value" => decimal_up_to(
            &format!("^{DAYS_BELOW_365}(\\.[0-9]+)?$|^365(\\.0+)?$"),
            365,
        ),
        "windows.offer_days.value" | "windows.plus_retest_days.value" => count(1, 366),
        "windows.feedback_working_days.value"
        | "windows.pass_months.value"
        | "windows.validity_months.value"
        | "windows.plus_months.value" => count(1, 60),
        "windows.offer_reminder_days.value" | "windows.plus_reminder_days.value" => {
            count(0, MAX_COUNT)
        }
        "windows.expiry_reminder_days.value[]" => count(1, 366),
        _ => return None,
    };
    Some(rule)
}

/// Lists the parser wants at least one entry of.
pub fn non_empty(path: &str) -> bool {
    matches!(rules_path(path), "sectors" | "coverage.certification_fee")
}
