//! `/staff/{programme}/dashboard`: the finance dashboard, for finance,
//! auditors and admins. The pot as a picture and as figures (credits,
//! available, reserved, paid, released, recovered, net paid), money
//! available over time (folded from the events, drawn as SVG on the
//! server), applications by stage and by sector, the waiting list, and the
//! awards with money still to claim.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use grantflow_core::{Item, Money, ProgrammeId, evolve};

use super::account::session;
use super::{Message, day, drafts, page, rules};
use crate::AppState;
use crate::roles::{Caller, Role};

/// The most events the chart folds (a page of history holds 10,000).
const MAX_PAGES: usize = 1_000;

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    programme: String,
    /// Whether the caller may download the exports (finance, auditors).
    exports: bool,
    /// Whether the caller may top the pot up (finance).
    finance: bool,
    /// What the last change did, said once.
    notice: String,
    name: String,
    credits: String,
    available: String,
    reserved: String,
    paid: String,
    bar: Vec<(f64, f64, &'static str)>,
    figures: Vec<(&'static str, &'static str, String)>,
    first_day: String,
    last_day: String,
    start_available: String,
    top: String,
    burn: String,
    /// `(stage, in words, how many)`.
    stages: Vec<(String, String, usize)>,
    sectors: Vec<(String, usize)>,
    waitlist: Vec<String>,
    claimable: Vec<(String, String, String)>,
}

fn pounds(m: Money) -> f64 {
    m.to_string().parse::<f64>().unwrap_or(0.0)
}

/// The dashboard of `programme`.
pub(super) async fn dashboard(
    State(state): State<AppState>,
    caller: Caller,
    Path(programme): Path<String>,
) -> Response {
    let here = format!("/staff/{programme}/dashboard");
    let (who, _, _) = match session(&state, &caller, &here, true).await {
        Ok(s) => s,
        Err(to_sign_in) => return to_sign_in,
    };
    if ![Role::Finance, Role::Auditor, Role::Admin].contains(&who.role) {
        return page(
            StatusCode::FORBIDDEN,
            &Message {
                heading: "This page is for finance, auditors and admins",
                detail: format!("You are signed in as {} ({}).", who.name, who.role),
            },
        );
    }
    let p = match rules(&state, &programme).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let kept = drafts::take(&state, drafts::key(&who, &here), drafts::owner(&who)).await;
    let id = ProgrammeId::new(&p.id);
    let refs = {
        let id = id.clone();
        state
            .references(move |r| r.all(&id))
            .await
            .unwrap_or_default()
    };
    let folded = state
        .blocking(move |programmes| {
            // Available money at the end of each day, folded from the events.
            let mut days: BTreeMap<NaiveDate, Money> = BTreeMap::new();
            let mut replay = grantflow_core::State::default();
            let mut after = 0;
            for _ in 0..MAX_PAGES {
                let page = programmes.events(&id, after, 10_000)?;
                let Some(last) = page.last() else { break };
                after = last.version;
                for r in &page {
                    if evolve(&mut replay, &r.event).is_err() {
                        break;
                    }
                    days.insert(r.event.at.date_naive(), replay.pot().available());
                }
            }
            let mut view = None;
            programmes.read(&id, &mut |s| {
                let pot = s.pot();
                let mut stages: BTreeMap<String, usize> = BTreeMap::new();
                let mut sectors: BTreeMap<String, usize> = BTreeMap::new();
                let mut claimable = Vec::new();
                for app in grantflow_export::by_arrival(s) {
                    *stages
                        .entry(app.stage().kind().as_str().to_string())
                        .or_default() += 1;
                    *sectors.entry(app.applicant().sector.clone()).or_default() += 1;
                    let left = Item::ALL
                        .iter()
                        .map(|i| app.payable(*i))
                        .fold(Money::ZERO, |a, b| a.checked_add(b).unwrap_or(a));
                    if !left.is_zero() {
                        claimable.push((
                            grantflow_export::label(&refs, &app.id()),
                            app.applicant().organisation.name.clone(),
                            left.display_pounds(),
                        ));
                    }
                }
                let waitlist = s
                    .waitlist()
                    .iter()
                    .take(50)
                    .map(|(_, a)| grantflow_export::label(&refs, &a))
                    .collect();
                view = Some((
                    [
                        pot.credits(),
                        pot.available(),
                        pot.reserved(),
                        pot.paid(),
                        pot.released(),
                        pot.recovered(),
                        pot.net_paid(),
                    ],
                    stages
                        .into_iter()
                        .map(|(k, n)| (k.clone(), k.replace('_', " "), n))
                        .collect::<Vec<_>>(),
                    sectors.into_iter().collect::<Vec<_>>(),
                    waitlist,
                    claimable,
                ));
            })?;
            Ok((days, view))
        })
        .await;
    let (days, view) = match folded {
        Ok((days, Some(view))) => (days, view),
        Ok((_, None)) => return super::not_found("There is no such programme here."),
        Err(problem) => return super::trouble(problem),
    };
    let (
        [
            credits,
            available,
            reserved,
            paid,
            released,
            recovered,
            net_paid,
        ],
        stages,
        sectors,
        waitlist,
        claimable,
    ) = view;
    // The bar: available, reserved and paid as shares of the credits.
    let total = pounds(credits).max(0.01);
    let mut x = 0.0;
    let mut bar = Vec::new();
    for (m, colour) in [
        (available, "#00703c"),
        (reserved, "#f47738"),
        (paid, "#1d4f91"),
    ] {
        let w = 600.0 * pounds(m) / total;
        bar.push((x, w, colour));
        x += w;
    }
    // The burn-down: one point a day, scaled to the chart.
    let top_money = days.values().copied().max().unwrap_or(credits).max(credits);
    let top = pounds(top_money).max(0.01);
    let (first, last) = (days.keys().next().copied(), days.keys().last().copied());
    let span = match (first, last) {
        (Some(f), Some(l)) => (l - f).num_days().max(1) as f64,
        _ => 1.0,
    };
    let burn = days
        .iter()
        .map(|(d, m)| {
            let dx = first.map_or(0.0, |f| (*d - f).num_days() as f64);
            format!(
                "{:.1},{:.1}",
                40.0 + 550.0 * dx / span,
                220.0 - 210.0 * pounds(*m) / top
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    page(
        StatusCode::OK,
        &Dashboard {
            programme: p.id.clone(),
            exports: matches!(who.role, Role::Finance | Role::Auditor),
            finance: who.role == Role::Finance,
            notice: kept.value("notice").to_string(),
            name: p.name.clone(),
            credits: credits.display_pounds(),
            available: available.display_pounds(),
            reserved: reserved.display_pounds(),
            paid: paid.display_pounds(),
            bar,
            figures: vec![
                (
                    "Credits (the pot and its top-ups)",
                    "",
                    credits.display_pounds(),
                ),
                ("Available", "available", available.display_pounds()),
                (
                    "Reserved (offers and live awards)",
                    "reserved",
                    reserved.display_pounds(),
                ),
                ("Paid (gross)", "paid", paid.display_pounds()),
                ("Released back", "", released.display_pounds()),
                ("Recovered by clawbacks", "", recovered.display_pounds()),
                ("Net paid", "", net_paid.display_pounds()),
            ],
            first_day: first.map(day).unwrap_or_default(),
            last_day: last.map(day).unwrap_or_default(),
            start_available: days
                .values()
                .next()
                .copied()
                .unwrap_or(available)
                .display_pounds(),
            top: top_money.display_pounds(),
            burn,
            stages,
            sectors,
            waitlist,
            claimable,
        },
    )
}
