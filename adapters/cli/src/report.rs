//! What the CLI shows: status rows, the ledger, an application's history
//! and one-line descriptions of events, as tables for people and JSON for
//! machines.

use std::collections::{BTreeMap, HashSet};

use comfy_table::{ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};
use grantflow_core::Reminder;
use grantflow_core::{
    Application, ApplicationId, EventKind, Item, Money, Recorded, StageKind, State,
};
use serde_json::{Value, json};

/// Reference text per application, when the caller gave one.
pub use grantflow_export::{Refs, by_arrival, label};

/// `text` with every application UUID that has a reference in `refs`
/// replaced by that reference (the core's messages name applications by
/// id; people typed the reference).
pub fn name_applications(text: &str, refs: &Refs) -> String {
    const LEN: usize = 36;
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let named = text
            .get(i..i + LEN)
            .filter(|s| s.as_bytes().get(8) == Some(&b'-'))
            .and_then(|s| s.parse::<ApplicationId>().ok())
            .and_then(|id| refs.get(&id));
        match named {
            Some(reference) => {
                out.push_str(reference);
                i += LEN;
            }
            None => {
                let c = text[i..].chars().next().unwrap_or_default();
                out.push(c);
                i += c.len_utf8().max(1);
            }
        }
    }
    out
}

/// A rejection with its message naming applications by reference.
pub fn named_rejection(r: &grantflow_core::Rejection, refs: &Refs) -> grantflow_core::Rejection {
    let mut r = r.clone();
    r.message = name_applications(&r.message, refs);
    r
}

/// The applications that were **funded**: those whose offer was accepted,
/// so that they hold or held an award, whatever happened after (certified,
/// completed, failed or withdrawn). The one meaning of "funded" in the
/// demo, `ledger` and `status`.
///
/// The money words go with it: **paid** is what was paid on claims, gross;
/// **recovered** what clawbacks took back; **net paid** is paid less
/// recovered.
pub fn funded(events: &[Recorded]) -> HashSet<ApplicationId> {
    events
        .iter()
        .filter_map(|r| match &r.event.kind {
            EventKind::Accepted { application, .. } => Some(*application),
            _ => None,
        })
        .collect()
}

/// A table with the house style.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    if t.width().is_none() {
        // Not a terminal (a pipe or a file): wrap long cells at a readable width.
        t.set_width(140);
    }
    t
}

fn pounds(m: Money) -> String {
    m.display_pounds()
}

fn date(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// One application as JSON (the `status --json` row).
pub fn status_json(refs: &Refs, app: &Application) -> Value {
    json!({
        "application": app.id(),
        "reference": refs.get(&app.id()),
        "organisation": app.applicant().organisation.name,
        "sector": app.applicant().sector,
        "stage": app.stage().kind().as_str(),
        "stage_detail": app.stage(),
        "submitted_at": app.submitted_at(),
        "award": app.award(),
        "coverage": app.coverage().map(|c| json!({
            "consultancy": c.item(Item::Consultancy),
            "certification_fee": c.item(Item::CertificationFee),
            "plus_audit": c.item(Item::PlusAudit),
            "total": c.total,
            "award": c.award,
        })),
        "reserved": app.account().outstanding(),
        "paid": app.account().paid(),
        "recovered": app.account().recovered(),
        "net_paid": app.account().net_paid(),
        "released": app.account().released(),
        "certificate_expires": app.certificate_expires(),
    })
}

/// The table of applications for `status`.
pub fn status_table(refs: &Refs, apps: &[&Application]) -> String {
    let mut t = table(&[
        "reference",
        "organisation",
        "sector",
        "stage",
        "award",
        "net paid",
        "submitted",
    ]);
    for a in apps {
        t.add_row(vec![
            label(refs, &a.id()),
            a.applicant().organisation.name.clone(),
            a.applicant().sector.clone(),
            a.stage().kind().as_str().to_string(),
            pounds(a.award()),
            pounds(a.account().net_paid()),
            date(a.submitted_at()),
        ]);
    }
    format!("{t}\n{} application(s)", apps.len())
}

/// The detail of one application for `status APP`.
pub fn status_detail(refs: &Refs, app: &Application) -> String {
    let mut t = table(&["", ""]);
    let stage = serde_json::to_value(app.stage())
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let deadlines: Vec<String> = stage
        .iter()
        .filter(|(k, _)| *k != "stage")
        .map(|(k, v)| {
            format!(
                "{k} {}",
                v.as_str().map_or(v.to_string(), |s| s.to_string())
            )
        })
        .collect();
    let rows: Vec<(&str, String)> = vec![
        ("reference", label(refs, &app.id())),
        ("application id", app.id().to_string()),
        ("organisation", app.applicant().organisation.name.clone()),
        (
            "organisation id",
            app.applicant()
                .organisation
                .org_id()
                .unwrap_or_else(|| "-".into()),
        ),
        ("sector", app.applicant().sector.clone()),
        ("staff", app.applicant().employees.to_string()),
        ("stage", app.stage().kind().as_str().to_string()),
        (
            "deadlines",
            if deadlines.is_empty() {
                "-".into()
            } else {
                deadlines.join(", ")
            },
        ),
        ("submitted", app.submitted_at().to_rfc3339()),
        (
            "covered consultancy",
            app.coverage()
                .map_or("-".into(), |c| pounds(c.item(Item::Consultancy))),
        ),
        (
            "covered certification fee",
            app.coverage()
                .map_or("-".into(), |c| pounds(c.item(Item::CertificationFee))),
        ),
        (
            "covered Plus audit",
            app.coverage()
                .map_or("-".into(), |c| pounds(c.item(Item::PlusAudit))),
        ),
        ("award", pounds(app.award())),
        ("reserved now", pounds(app.account().outstanding())),
        ("paid (gross)", pounds(app.account().paid())),
        ("recovered", pounds(app.account().recovered())),
        ("net paid", pounds(app.account().net_paid())),
        ("released", pounds(app.account().released())),
        (
            "certificate expires",
            app.certificate_expires().map_or("-".into(), date),
        ),
    ];
    for (k, v) in rows {
        t.add_row(vec![k.to_string(), v]);
    }
    t.to_string()
}

/// Money and counts for one sector.
#[derive(Debug, Default, Clone)]
struct SectorRow {
    name: String,
    applications: u64,
    funded: u64,
    certified: u64,
    waitlisted: u64,
    reserved: Money,
    paid: Money,
    released: Money,
    recovered: Money,
}

fn add(a: Money, b: Money) -> Money {
    a.checked_add(b).unwrap_or(Money::MAX)
}

fn sector_rows(state: &State, funded: &HashSet<ApplicationId>) -> BTreeMap<String, SectorRow> {
    let mut rows: BTreeMap<String, SectorRow> = BTreeMap::new();
    if let Some(p) = state.programme() {
        for s in &p.sectors {
            rows.insert(
                s.id.clone(),
                SectorRow {
                    name: s.name.clone(),
                    ..SectorRow::default()
                },
            );
        }
    }
    for app in state.applications().values() {
        let r = rows
            .entry(app.applicant().sector.clone())
            .or_insert_with(|| SectorRow {
                name: "(not a declared sector)".into(),
                ..SectorRow::default()
            });
        let kind = app.stage().kind();
        r.applications += 1;
        r.funded += u64::from(funded.contains(&app.id()));
        r.certified += u64::from(reached_certificate(kind));
        r.waitlisted += u64::from(kind == StageKind::Waitlisted);
        r.reserved = add(r.reserved, app.account().outstanding());
        r.paid = add(r.paid, app.account().paid());
        r.released = add(r.released, app.account().released());
        r.recovered = add(r.recovered, app.account().recovered());
    }
    rows
}

/// Whether a stage means the organisation was certified (now or before completion).
pub fn reached_certificate(kind: StageKind) -> bool {
    kind.is_certified() || kind == StageKind::Completed
}

/// The ledger as JSON: pot figures, the balance check, counts and sectors
/// (`funded` as [`funded`] says).
pub fn ledger_json(state: &State, funded: &HashSet<ApplicationId>) -> Value {
    let pot = &state.pot();
    let balanced = pot
        .available()
        .checked_add(pot.reserved())
        .and_then(|s| s.checked_add(pot.paid()))
        .is_ok_and(|s| s == pot.credits());
    let mut stages: BTreeMap<&str, u64> = BTreeMap::new();
    for app in state.applications().values() {
        *stages.entry(app.stage().kind().as_str()).or_default() += 1;
    }
    let sectors: Vec<Value> = sector_rows(state, funded)
        .into_iter()
        .map(|(id, r)| {
            json!({
                "sector": id, "name": r.name, "applications": r.applications, "funded": r.funded, "certified": r.certified,
                "waitlisted": r.waitlisted, "reserved": r.reserved, "paid": r.paid, "recovered": r.recovered,
                "net_paid": r.paid.saturating_sub(r.recovered), "released": r.released,
            })
        })
        .collect();
    json!({
        "programme": state.programme().map(|p| p.id.clone()),
        "currency": state.programme().map(|p| p.currency.clone()),
        "credits": pot.credits(),
        "available": pot.available(),
        "reserved": pot.reserved(),
        "paid": pot.paid(),
        "released": pot.released(),
        "recovered": pot.recovered(),
        "net_paid": pot.paid().saturating_sub(pot.recovered()),
        "contingency": state.programme().map(|p| p.allocation.contingency.value),
        "balanced": balanced,
        "applications": state.applications().len(),
        "funded": funded.iter().filter(|id| state.application(id).is_some()).count(),
        "waitlist": state.waitlist().len(),
        "stages": stages,
        "by_sector": sectors,
    })
}

/// The ledger for people (`funded` as [`funded`] says).
pub fn ledger_text(state: &State, funded: &HashSet<ApplicationId>) -> String {
    let pot = &state.pot();
    let mut out = String::new();
    if let Some(p) = state.programme() {
        out.push_str(&format!("{} ({})\n", p.name, p.id));
    }
    let mut t = table(&["account", "amount"]);
    for (k, v) in [
        ("credits (pot, top-ups, recoveries)", pot.credits()),
        ("available", pot.available()),
        ("reserved (offers and live awards)", pot.reserved()),
        ("paid (gross)", pot.paid()),
        ("recovered by clawback", pot.recovered()),
        ("net paid (paid less recovered)", pot.net_paid()),
        ("released back (cumulative)", pot.released()),
    ] {
        t.add_row(vec![k.to_string(), pounds(v)]);
    }
    out.push_str(&t.to_string());
    let balanced = pot
        .available()
        .checked_add(pot.reserved())
        .and_then(|s| s.checked_add(pot.paid()))
        .is_ok_and(|s| s == pot.credits());
    out.push_str(&format!(
        "\ncredits = available + reserved + paid: {}\n",
        if balanced {
            "balanced"
        } else {
            "NOT BALANCED: report this, the stream is inconsistent"
        }
    ));
    let mut s = table(&[
        "sector",
        "apps",
        "funded",
        "certified",
        "waitlist",
        "reserved",
        "paid",
        "recovered",
        "net paid",
        "released",
    ]);
    for (id, r) in sector_rows(state, funded) {
        s.add_row(vec![
            id,
            r.applications.to_string(),
            r.funded.to_string(),
            r.certified.to_string(),
            r.waitlisted.to_string(),
            pounds(r.reserved),
            pounds(r.paid),
            pounds(r.recovered),
            pounds(r.paid.saturating_sub(r.recovered)),
            pounds(r.released),
        ]);
    }
    out.push_str(&s.to_string());
    out.push_str(
        "\nfunded: offer accepted (holds or held an award); paid: gross; net paid: paid less recovered",
    );
    out
}

/// One event in a sentence.
pub fn describe(refs: &Refs, kind: &EventKind) -> String {
    let who = kind
        .application()
        .map(|a| label(refs, &a))
        .unwrap_or_default();
    match kind {
        EventKind::ProgrammeOpened { programme } => format!(
            "programme {} opened with a pot of {}",
            programme.id,
            pounds(programme.pot.value)
        ),
        EventKind::PotToppedUp { amount, note } => {
            format!("pot topped up by {} ({note})", pounds(*amount))
        }
        EventKind::Submitted {
            applicant,
            coverage,
            ..
        } => match coverage {
            Some(c) => format!(
                "{who} submitted by {}: award {}",
                applicant.organisation.name,
                pounds(c.award)
            ),
            None => format!("{who} submitted by {}", applicant.organisation.name),
        },
        EventKind::FoundIneligible { failed, .. } => {
            format!(
                "{who} is not eligible: {}",
                failed
                    .iter()
                    .map(|c| c.sentence.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        }
        EventKind::Waitlisted { .. } => format!("{who} waitlisted: no room in the pot yet"),
        EventKind::Offered {
            amount, expires, ..
        } => format!("{who} offered {} until {}", pounds(*amount), date(*expires)),
        EventKind::Accepted { pass_by, .. } => format!(
            "{who} accepted the offer; certification must pass by {}",
            date(*pass_by)
        ),
        EventKind::Declined { released, .. } => {
            format!("{who} declined; {} released", pounds(*released))
        }
        EventKind::Lapsed { released, .. } => {
            format!("{who}'s offer lapsed; {} released", pounds(*released))
        }
        EventKind::Withdrawn {
            released, reason, ..
        } => format!("{who} withdrew ({reason}); {} released", pounds(*released)),
        EventKind::ConsultancyEngaged { .. } => format!("{who} engaged a consultant"),
        EventKind::SelfAssessmentSubmitted { attempt, .. } => {
            format!("{who} submitted the self-assessment (attempt {attempt})")
        }
        EventKind::AssessmentFailed { respond_by, .. } => format!(
            "{who} failed the assessment; may answer feedback until {}",
            date(*respond_by)
        ),
        EventKind::CertificationFailed {
            reason, released, ..
        } => {
            let why = serde_json::to_value(reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            format!(
                "{who} certification failed ({why}); {} released",
                pounds(*released)
            )
        }
        EventKind::Certified {
            expires, plus_by, ..
        } => match plus_by {
            Some(p) => format!(
                "{who} certified until {}; Plus audit due by {}",
                date(*expires),
                date(*p)
            ),
            None => format!("{who} certified until {}", date(*expires)),
        },
        EventKind::PlusAuditBooked { attempt, .. } => {
            format!("{who} booked the Plus audit (attempt {attempt})")
        }
        EventKind::PlusAuditFailed { retest_by, .. } => format!(
            "{who} failed the Plus audit; re-test by {}",
            date(*retest_by)
        ),
        EventKind::PlusCertified { .. } => format!("{who} certified to Cyber Essentials Plus"),
        EventKind::PlusNotAchieved { .. } => format!("{who} did not achieve Plus"),
        EventKind::ClaimPaid {
            item,
            invoice_ref,
            amount,
            ..
        } => format!(
            "{who} claim paid: {} for {item} (invoice {invoice_ref})",
            pounds(*amount)
        ),
        EventKind::Completed { released, .. } => {
            format!("{who} completed; {} released", pounds(*released))
        }
        EventKind::ClawedBack { amount, reason, .. } => {
            format!("{who} clawback of {} ({reason})", pounds(*amount))
        }
        EventKind::ReminderDue { reminder, .. } => match reminder {
            Reminder::OfferExpiring { expires } => {
                format!("{who} reminded: offer expires {}", date(*expires))
            }
            Reminder::FeedbackClosing { closes } => {
                format!("{who} reminded: feedback window closes {}", date(*closes))
            }
            Reminder::PlusWindowClosing { closes } => {
                format!("{who} reminded: Plus window closes {}", date(*closes))
            }
            Reminder::CertificateExpiring { expires, days } => format!(
                "{who} reminded: certificate expires in {days} days ({})",
                date(*expires)
            ),
            _ => format!("{who} reminded"),
        },
        other => format!("{who} {}", other.name()),
    }
}

/// Events as a table.
pub fn events_table(refs: &Refs, events: &[Recorded]) -> String {
    let mut t = table(&["#", "at", "event", "what happened"]);
    for r in events {
        t.add_row(vec![
            r.version.to_string(),
            r.event.at.format("%Y-%m-%d %H:%M").to_string(),
            r.event.kind.name().to_string(),
            describe(refs, &r.event.kind),
        ]);
    }
    t.to_string()
}
