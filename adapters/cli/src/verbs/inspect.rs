//! The read-only verbs: `status` (of the programme or one application) and
//! `history` (an application's events).

use serde_json::Value;

use super::output::pretty;
use crate::error::{CliError, CliResult};
use crate::session::Session;
use crate::{input, report};

pub(super) fn status(
    db: &str,
    programme: Option<&str>,
    application: Option<&str>,
    stage: Option<&str>,
    json: bool,
) -> CliResult<()> {
    let filter = stage.map(input::parse_stage).transpose()?;
    let s = Session::open(db, programme)?;
    if let Some(text) = application {
        let id = s.application(text);
        let app = s.state().application(&id).ok_or_else(|| {
            CliError::refused(format!("no application `{text}` in programme {}: check the reference with `grantflow status`", s.programme()))
        })?;
        if json {
            outln!("{}", pretty(&report::status_json(&s.refs, app)));
        } else {
            outln!("{}", report::status_detail(&s.refs, app));
        }
        return Ok(());
    }
    let apps: Vec<_> = report::by_arrival(s.state())
        .into_iter()
        .filter(|a| filter.is_none_or(|k| a.stage().kind() == k))
        .collect();
    if json {
        outln!(
            "{}",
            pretty(&Value::Array(
                apps.iter()
                    .map(|a| report::status_json(&s.refs, a))
                    .collect()
            ))
        );
    } else {
        outln!("{}", report::status_table(&s.refs, &apps));
    }
    Ok(())
}

pub(super) fn history(
    db: &str,
    programme: Option<&str>,
    application: &str,
    json: bool,
) -> CliResult<()> {
    let mut s = Session::open(db, programme)?;
    let id = s.application(application);
    if s.state().application(&id).is_none() {
        return Err(CliError::refused(format!(
            "no application `{application}` in programme {}: check the reference with `grantflow status`",
            s.programme()
        )));
    }
    let events: Vec<_> = s
        .all_events()?
        .into_iter()
        .filter(|r| r.event.kind.application() == Some(id))
        .collect();
    if json {
        outln!(
            "{}",
            pretty(&serde_json::to_value(&events).unwrap_or(Value::Null))
        );
    } else {
        outln!("{}", report::events_table(&s.refs, &events));
    }
    Ok(())
}
