//! `grantflow init`: the rules from a preset or a rules file, validated, and
//! the programme opened in the database.

use std::path::Path;

use grantflow_core::{Action, Command, Outcome, Programme, Rejection};
use serde_json::Value;

use super::output::{pretty, print_outcome};
use crate::cli::Change;
use crate::error::{CliError, CliResult, redact};
use crate::session::{Session, derived_id};
use crate::{input, store};

fn load_rules(preset: Option<&str>, rules: Option<&Path>) -> CliResult<Programme> {
    match (preset, rules) {
        (Some("healthcare-ce-2020"), None) | (None, None) => {
            Ok(Programme::healthcare_cyber_essentials_2020())
        }
        (Some(other), None) => Err(CliError::usage(format!(
            "`{other}` is not a preset: use healthcare-ce-2020, or --rules FILE"
        ))),
        (_, Some(path)) => {
            let text = input::read_file(path)?;
            let is_json = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"))
                || text.trim_start().starts_with('{');
            let parsed = if is_json {
                Programme::from_json(&text)
            } else {
                Programme::from_toml(&text)
            };
            parsed.map_err(|e| {
                CliError::usage(format!(
                    "`{}`: {e}; fix the rules file (see `grantflow schema rules`)",
                    path.display()
                ))
            })
        }
    }
}

/// Whether `db` exists and holds `p` opened with these very rules (so
/// that `init` again is a no-op). Creates nothing.
fn already_open(db: &str, p: &Programme) -> CliResult<bool> {
    if db != "memory:" && !store::is_postgres(db) && !Path::new(db).exists() {
        return Ok(false);
    }
    let s = Session::open_any(db, Some(&p.id))?;
    Ok(s.state().programme() == Some(p))
}

/// The refusal of `init` without `--now` for a programme whose
/// application window has closed: the programme's one clock would start
/// today, after every date of the programme, and stay there.
fn window_closed(p: &Programme, rules: Option<&Path>) -> CliError {
    let copy = match rules {
        Some(path) => format!(
            "or change `opens` and `closes` in `{}` and run init again",
            path.display()
        ),
        None => "or copy the rules (`grantflow init --print > my-programme.toml`), change `opens` and `closes`, and run `grantflow init --rules my-programme.toml`".to_string(),
    };
    CliError::usage(format!(
        "programme `{}` took applications from {} to {}, and that window has closed: without --now its clock would start today, and every command dated inside the window would then be refused (clock_went_backwards); give --now inside its dates (e.g. --now {}), {copy}; nothing was created",
        p.id, p.opens.value, p.closes.value, p.opens.value
    ))
}

pub(super) fn init(
    db: &str,
    programme: Option<&str>,
    preset: Option<&str>,
    rules: Option<&Path>,
    print: bool,
    change: &Change,
    json: bool,
) -> CliResult<()> {
    let mut p = load_rules(preset, rules)?;
    if let Some(id) = programme {
        p.id = id.to_string();
    }
    p.validate()
        .map_err(|e| CliError::usage(format!("{e}; fix the rules or --programme")))?;
    if print {
        if json {
            outln!(
                "{}",
                pretty(&serde_json::to_value(&p).unwrap_or(Value::Null))
            );
        } else {
            out!("{}", p.to_toml());
        }
        return Ok(());
    }
    let now = input::now_or_clock(change.now.as_deref())?;
    if change.now.is_none() && now.date_naive() > p.closes.value && !already_open(db, &p)? {
        return Err(window_closed(&p, rules));
    }
    let mut s = Session::open_any(db, Some(&p.id))?;
    if s.state().programme().is_some() && s.state().programme() != Some(&p) {
        return Err(CliError::rejected(Rejection::new(
            grantflow_core::RejectionCode::AlreadyOpened,
            format!(
                "programme `{}` is already initialised in `{}` with other rules: choose another id with --programme",
                p.id,
                redact(db)
            ),
            "open",
        )));
    }
    let id = match change.command_id.as_deref() {
        Some(t) => crate::session::given_command_id(t)?,
        None => derived_id(&p.id, "open", &[], None),
    };
    let command = Command::new(
        id,
        Action::Open {
            programme: Box::new(p.clone()),
        },
    );
    let outcome = s.execute(&command, now)?;
    s.add_programme()?;
    if json {
        print_outcome(&s.refs, &command, &outcome, true);
    } else {
        match outcome {
            Outcome::Duplicate { .. } => outln!(
                "programme {} was initialised already in {}; nothing changed",
                p.id,
                redact(db)
            ),
            Outcome::Applied { .. } => {
                outln!("initialised {} ({}) in {}", p.name, p.id, redact(db));
                outln!(
                    "pot {}, applications {} to {}",
                    p.pot.value.display_pounds(),
                    p.opens.value,
                    p.closes.value
                );
            }
        }
    }
    Ok(())
}
