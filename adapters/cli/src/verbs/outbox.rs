//! `grantflow outbox`: the notices waiting, delivered or dead-lettered, and
//! their delivery.

use chrono::Utc;
use serde_json::json;

use super::output::pretty;
use crate::error::{CliError, CliResult, redact};
use crate::report;
use crate::session::Session;

pub(super) fn outbox(
    db: &str,
    programme: Option<&str>,
    deliver: bool,
    limit: usize,
    json: bool,
) -> CliResult<()> {
    use grantflow_core::Outbox as _;
    let mut s = Session::open(db, programme)?;
    if deliver {
        // The outbox dispatcher delivers every due notice to a log notifier (standard output).
        let db_name = s.db.clone();
        let store = s.engine.into_store();
        let mut dispatcher = grantflow_dispatch::Dispatcher::new(
            store,
            grantflow_dispatch::LogNotifier::new(Vec::new()),
            grantflow_dispatch::DispatchConfig::default(),
        )
        .map_err(|e| CliError::usage(format!("cannot start the notice dispatcher: {e}")))?;
        let report = dispatcher.drain().map_err(|e| {
            CliError::usage(format!(
                "database `{}`: delivering notices failed: {e}",
                redact(&db_name)
            ))
        })?;
        let (_, log, _) = dispatcher.into_parts();
        let log = String::from_utf8_lossy(&log.into_inner()).to_string();
        if json {
            let lines: Vec<&str> = log.lines().collect();
            outln!(
                "{}",
                pretty(
                    &json!({"delivered": report.delivered, "retried": report.retried, "dead_lettered": report.dead_lettered, "log": lines})
                )
            );
        } else {
            out!("{log}");
            outln!(
                "{} notice(s) delivered, {} to retry, {} dead-lettered",
                report.delivered,
                report.retried,
                report.dead_lettered
            );
        }
        return Ok(());
    }
    let now = Utc::now();
    let db_name = s.db.clone();
    let store = s.engine.store_mut();
    // A claim whose lease has already ended reads pending notices without hiding them.
    let far = now + chrono::Duration::days(36_500);
    let lease = if deliver {
        far + chrono::Duration::minutes(5)
    } else {
        now - chrono::Duration::minutes(1)
    };
    let pending = store
        .claim(far, lease, limit.max(1))
        .map_err(|e| CliError::store(&db_name, &e))?;
    let dead = store
        .dead_letters(limit.max(1))
        .map_err(|e| CliError::store(&db_name, &e))?;
    let mut delivered = 0usize;
    if deliver {
        for entry in &pending {
            let n = &entry.notice;
            if !json {
                outln!(
                    "notice {} {} to {:?}{}: {:?}",
                    n.id,
                    n.template,
                    n.recipient,
                    n.to.as_deref()
                        .map(|t| format!(" <{t}>"))
                        .unwrap_or_default(),
                    n.data
                );
            }
            store
                .acknowledge(n.id)
                .map_err(|e| CliError::store(&db_name, &e))?;
            delivered += 1;
        }
    }
    if json {
        outln!(
            "{}",
            pretty(
                &json!({"pending": if deliver { Vec::new() } else { pending.clone() }, "delivered": if deliver { pending.clone() } else { Vec::new() }, "dead_letters": dead})
            )
        );
        return Ok(());
    }
    if deliver {
        outln!("{delivered} notice(s) delivered to standard output");
    } else {
        let refs = s.refs.clone();
        let mut t = report::table(&[
            "status",
            "template",
            "to",
            "application",
            "attempts",
            "last error",
        ]);
        for e in pending.iter().chain(dead.iter()) {
            t.add_row(vec![
                format!("{:?}", e.status).to_lowercase(),
                e.notice.template.clone(),
                format!("{:?}", e.notice.recipient).to_lowercase(),
                e.notice
                    .application
                    .map(|a| report::label(&refs, &a))
                    .unwrap_or_default(),
                e.attempts.to_string(),
                e.last_error.clone().unwrap_or_default(),
            ]);
        }
        outln!(
            "{t}\n{} pending (first {limit} shown), {} dead letter(s)",
            pending.len(),
            dead.len()
        );
    }
    Ok(())
}
