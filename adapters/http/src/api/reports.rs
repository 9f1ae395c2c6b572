//! The read-only routes of the pot and its records: the ledger, the
//! history a page at a time, and the 360Giving and CSV exports.

use super::*;

/// The pot's figures, in pounds and pence.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ledger {
    /// Everything the pot was given: the opening pot, top-ups, recoveries.
    pub credits: String,
    pub available: String,
    pub reserved: String,
    /// Paid out, gross.
    pub paid: String,
    pub released: String,
    pub recovered: String,
    /// Paid less recovered.
    pub net_paid: String,
    /// The stream's version these figures are at.
    pub version: u64,
    /// Applications in the waitlist.
    pub waitlisted: usize,
}

/// The pot's ledger.
#[utoipa::path(get, path = "/programmes/{programme}/ledger", tag = "staff",
    params(("programme" = String, Path, description = "The programme's id")),
    security(("token" = ["finance", "auditor", "admin"])),
    responses(
        (status = 200, description = "The pot", body = Ledger),
        (status = 401, description = "Signed out", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A role that may not read it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such programme", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn ledger(
    State(state): State<AppState>,
    caller: Caller,
    Path(programme): Path<String>,
) -> Result<Json<Ledger>, Problem> {
    caller.require(&[Role::Finance, Role::Auditor, Role::Admin])?;
    let p = programme_id(&programme);
    let ledger = state
        .blocking(move |programmes| {
            let mut ledger = None;
            programmes.read(&p, &mut |s| {
                if s.programme().is_none() {
                    return;
                }
                let pot = s.pot();
                ledger = Some(Ledger {
                    credits: pot.credits().to_string(),
                    available: pot.available().to_string(),
                    reserved: pot.reserved().to_string(),
                    paid: pot.paid().to_string(),
                    released: pot.released().to_string(),
                    recovered: pot.recovered().to_string(),
                    net_paid: pot.net_paid().to_string(),
                    version: s.version(),
                    waitlisted: s.waitlist().len(),
                });
            })?;
            Ok(ledger)
        })
        .await?;
    ledger
        .map(Json)
        .ok_or_else(|| Problem::not_found(format!("no programme `{programme}` has been opened")))
}

/// A page of the history.
#[derive(Debug, Deserialize, IntoParams)]
pub struct Page {
    /// Events after this version (0: from the start).
    #[serde(default)]
    pub after: u64,
    /// At most this many (1–1000, 100 by default).
    pub limit: Option<usize>,
}

/// The most events one page of history holds.
pub const MAX_PAGE: usize = 1_000;

/// The programme's events, in order, a page at a time.
#[utoipa::path(get, path = "/programmes/{programme}/history", tag = "staff",
    params(("programme" = String, Path, description = "The programme's id"), Page),
    security(("token" = ["auditor", "admin"])),
    responses(
        (status = 200, description = "The events after `after`", body = Recorded),
        (status = 401, description = "Signed out", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A role that may not read it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(programme): Path<String>,
    Query(page): Query<Page>,
) -> Result<Json<Recorded>, Problem> {
    caller.require(&[Role::Auditor, Role::Admin])?;
    let limit = page.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let p = programme_id(&programme);
    let events = state
        .blocking(move |programmes| Ok(programmes.events(&p, page.after, limit)?))
        .await?;
    Ok(Json(recorded_events(&events)))
}

/// Which export.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ExportQuery {
    /// `360giving` (JSON, the default) or `csv`.
    pub format: Option<String>,
}

/// The most pages of events an export reads (a page holds 10,000).
const MAX_EXPORT_PAGES: usize = 10_000;

/// The awarded grants: a 360Giving 1.4 package (JSON) or CSV, applications
/// named by the reference they were submitted under.
#[utoipa::path(get, path = "/programmes/{programme}/export", tag = "staff",
    params(("programme" = String, Path, description = "The programme's id"), ExportQuery),
    security(("token" = ["finance", "auditor"])),
    responses(
        (status = 200, description = "The export: `application/json` (360Giving) or `text/csv`", body = Object),
        (status = 400, description = "Not a format", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Signed out", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A role that may not read it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such programme", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing to publish yet: no award accepted", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(programme): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, Problem> {
    caller.require(&[Role::Finance, Role::Auditor])?;
    let format: grantflow_export::Format = q
        .format
        .as_deref()
        .unwrap_or("360giving")
        .parse()
        .map_err(|e: grantflow_export::ExportError| Problem::bad_request(e.to_string()))?;
    let p = programme_id(&programme);
    let refs = {
        let p = p.clone();
        state.references(move |r| r.all(&p)).await?
    };
    let now = (state.clock)();
    let text = state
        .blocking(move |programmes| {
            let mut events = Vec::new();
            for _ in 0..MAX_EXPORT_PAGES {
                let after = events
                    .last()
                    .map_or(0, |r: &grantflow_core::Recorded| r.version);
                let page = programmes.events(&p, after, 10_000)?;
                if page.is_empty() {
                    break;
                }
                events.extend(page);
            }
            let mut made = None;
            programmes.read(&p, &mut |s| {
                made = Some(grantflow_export::export(format, s, &events, &refs, now));
            })?;
            match made {
                Some(Ok(text)) => Ok(text),
                Some(Err(grantflow_export::ExportError::NotInitialised)) | None => Err(
                    Problem::not_found(format!("no programme `{p}` is open here")),
                ),
                Some(Err(e @ grantflow_export::ExportError::NothingToPublish)) => Err(
                    Problem::new(StatusCode::CONFLICT, "nothing_to_publish", e.to_string()),
                ),
                Some(Err(e)) => Err(Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "export",
                    e.to_string(),
                )),
            }
        })
        .await?;
    let content_type = match format {
        grantflow_export::Format::ThreeSixtyGiving => "application/json",
        grantflow_export::Format::Csv => "text/csv; charset=utf-8",
    };
    Ok(([(axum::http::header::CONTENT_TYPE, content_type)], text).into_response())
}
