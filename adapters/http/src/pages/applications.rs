//! `/staff/{programme}/applications`: every application of a programme in
//! the order it arrived, for any staff role (assessors find the awards to
//! record milestones on, auditors any application's history), a page of
//! [`PAGE`] at a time, narrowed to one stage by `?stage=`.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use grantflow_core::ProgrammeId;

use super::account::{encode, session};
use super::staff::staff_only;
use super::{page, rules};
use crate::AppState;
use crate::roles::Caller;

/// How many applications a page lists.
const PAGE: usize = 100;

/// One application in the list.
struct Row {
    reference: String,
    /// Its staff page.
    href: String,
    organisation: String,
    sector: String,
    stage: String,
    award: String,
}

#[derive(Template)]
#[template(path = "applications.html")]
struct Listing {
    programme: String,
    name: String,
    rows: Vec<Row>,
    stage: String,
    stages: Vec<(String, String)>,
    total: usize,
    first: usize,
    last: usize,
    previous: Option<String>,
    next: Option<String>,
}

/// The list, page `?page=` (from 1) of the applications at `?stage=`.
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(programme): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let here = format!("/staff/{programme}/applications");
    let (who, _, _) = match session(&state, &caller, &here, true).await {
        Ok(s) => s,
        Err(to_sign_in) => return to_sign_in,
    };
    if let Some(refused) = staff_only(&who) {
        return refused;
    }
    let p = match rules(&state, &programme).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let id = ProgrammeId::new(&p.id);
    let refs = {
        let id = id.clone();
        state
            .references(move |r| r.all(&id))
            .await
            .unwrap_or_default()
    };
    let stage = q.get("stage").cloned().unwrap_or_default();
    let number = q
        .get("page")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1);
    let wanted = stage.clone();
    let app_programme = p.id.clone();
    let found = state
        .blocking(move |programmes| {
            let mut seen = None;
            programmes.read(&id, &mut |s| {
                let mut stages: BTreeMap<String, usize> = BTreeMap::new();
                let mut matching = Vec::new();
                for app in grantflow_export::by_arrival(s) {
                    let kind = app.stage().kind().as_str();
                    *stages.entry(kind.to_string()).or_default() += 1;
                    if wanted.is_empty() || wanted == kind {
                        matching.push(app);
                    }
                }
                let total = matching.len();
                let rows = matching
                    .into_iter()
                    .skip((number - 1).saturating_mul(PAGE))
                    .take(PAGE)
                    .map(|app| {
                        let reference = grantflow_export::label(&refs, &app.id());
                        Row {
                            href: format!(
                                "/staff/{}/applications/{}",
                                app_programme,
                                encode(&reference)
                            ),
                            reference,
                            organisation: app.applicant().organisation.name.clone(),
                            sector: app.applicant().sector.clone(),
                            stage: app.stage().kind().as_str().replace('_', " "),
                            award: app.award().display_pounds(),
                        }
                    })
                    .collect::<Vec<_>>();
                seen = Some((stages, total, rows));
            })?;
            Ok(seen)
        })
        .await;
    let (stages, total, rows) = match found {
        Ok(Some(seen)) => seen,
        Ok(None) => return super::not_found("There is no such programme here."),
        Err(problem) => return super::trouble(problem),
    };
    let first = (number - 1).saturating_mul(PAGE) + 1;
    let last = (first + rows.len()).saturating_sub(1);
    let at = |n: usize| {
        let mut query = vec![("page", n.to_string())];
        if !stage.is_empty() {
            query.push(("stage", stage.clone()));
        }
        format!(
            "{here}?{}",
            serde_urlencoded::to_string(&query).unwrap_or_default()
        )
    };
    page(
        StatusCode::OK,
        &Listing {
            programme: p.id.clone(),
            name: p.name.clone(),
            stages: stages
                .into_iter()
                .map(|(k, n)| (k.clone(), format!("{} ({n})", k.replace('_', " "))))
                .collect(),
            previous: (number > 1).then(|| at(number - 1)),
            next: (last < total).then(|| at(number + 1)),
            stage,
            total,
            first: if rows.is_empty() { 0 } else { first },
            last,
            rows,
        },
    )
}
