//! [`Session`]: one programme's engine over the chosen store, with the
//! CLI's reference table, and the rules for command ids.

use std::cell::RefCell;

use chrono::{DateTime, SecondsFormat, Utc};
use grantflow_core::{
    ApplicationId, Command, CommandId, Engine, EngineError, EventStore, Outcome, ProgrammeId,
    Recorded, State,
};

use crate::error::{CliError, CliResult, redact};
use crate::report::{Refs, named_rejection};
use crate::store::{self, Backend};

/// The database named when `--db` is absent.
pub const DEFAULT_DB: &str = "grantflow.db";

/// One programme, open for commands and queries.
pub struct Session {
    /// `--db` as given (for messages).
    pub db: String,
    pub engine: Engine<Backend>,
    pub refs: Refs,
    /// References typed on this command line that the database does not
    /// know yet (so that a message about them names what was typed).
    typed: RefCell<Refs>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("db", &redact(&self.db))
            .field("programme", self.engine.programme())
            .finish()
    }
}

fn pick_programme(meta: &mut Backend, db: &str, wanted: Option<&str>) -> CliResult<String> {
    if let Some(p) = wanted {
        return Ok(p.to_string());
    }
    let known = meta.programmes()?;
    match known.len() {
        0 if db == store::MEMORY => Err(CliError::usage(
            "`--db memory:` keeps nothing between runs of grantflow: it holds only what this one run puts in it (e.g. `grantflow --db memory: run commands.jsonl` with a file whose first command opens the programme); use a file (the default, grantflow.db) to keep a programme",
        )),
        0 => Err(CliError::usage(format!(
            "database `{}` holds no programme: run `grantflow init --preset healthcare-ce-2020` first (or pass --db to use another database)",
            redact(db)
        ))),
        1 => Ok(known[0].clone()),
        _ => Err(CliError::usage(format!(
            "database `{}` holds several programmes ({}): pass --programme ID",
            redact(db),
            known.join(", ")
        ))),
    }
}

impl Session {
    /// Opens the store and the programme, which may not be opened yet.
    pub fn open_any(db: &str, programme: Option<&str>) -> CliResult<Session> {
        let mut backend = store::open(db)?;
        let id = pick_programme(&mut backend, db, programme)?;
        let refs = backend.references(&id)?;
        let engine =
            Engine::open(backend, ProgrammeId::new(&id)).map_err(|e| CliError::engine(db, e))?;
        Ok(Session {
            db: db.to_string(),
            engine,
            refs,
            typed: RefCell::new(Refs::new()),
        })
    }

    /// Opens a programme that must have been initialised.
    pub fn open(db: &str, programme: Option<&str>) -> CliResult<Session> {
        store::check_scheme(db)?;
        if db != store::MEMORY && !store::is_postgres(db) && !std::path::Path::new(db).exists() {
            return Err(CliError::usage(format!(
                "database `{db}` does not exist: run `grantflow init --preset healthcare-ce-2020` to create it, or pass --db with an existing file"
            )));
        }
        let s = Session::open_any(db, programme)?;
        if s.engine.state().programme().is_none() {
            return Err(CliError::usage(format!(
                "programme `{}` is not initialised in `{}`: run `grantflow init` first, or check --programme and --db",
                s.engine.programme(),
                redact(db)
            )));
        }
        Ok(s)
    }

    /// The programme's state.
    pub fn state(&self) -> &State {
        self.engine.state()
    }

    /// The programme id.
    pub fn programme(&self) -> &ProgrammeId {
        self.engine.programme()
    }

    /// The id of an application given by reference text or UUID.
    pub fn application(&self, text: &str) -> ApplicationId {
        let text = text.trim();
        let id = ApplicationId::parse_or_name(text);
        if !self.refs.contains_key(&id) && id.to_string() != text.to_ascii_lowercase() {
            self.typed.borrow_mut().insert(id, text.to_string());
        }
        id
    }

    /// The reference of every application the session can name: those of
    /// the database and those typed on this command line.
    pub fn names(&self) -> Refs {
        let mut all = self.refs.clone();
        for (id, text) in self.typed.borrow().iter() {
            all.entry(*id).or_insert_with(|| text.clone());
        }
        all
    }

    /// Refuses to change a database opened for reading only.
    pub fn writable(&mut self) -> CliResult<()> {
        if self.engine.store_mut().is_read_only() {
            return Err(CliError::usage(format!(
                "database `{}` is read-only here (this process may not write the file or its directory): it can be read (status, ledger, history, export) but not changed; nothing was changed",
                redact(&self.db)
            )));
        }
        Ok(())
    }

    /// Records reference texts for display and export.
    pub fn remember(&mut self, refs: &[(ApplicationId, String)]) -> CliResult<()> {
        self.writable()?;
        let fresh: Vec<(ApplicationId, String)> = refs
            .iter()
            .filter(|(id, _)| !self.refs.contains_key(id))
            .cloned()
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        let programme = self.programme().to_string();
        self.engine.store_mut().add_references(&programme, &fresh)?;
        self.refs.extend(fresh);
        Ok(())
    }

    /// Runs one command; a rejection is an error with exit code 1.
    pub fn execute(&mut self, command: &Command, now: DateTime<Utc>) -> CliResult<Outcome> {
        self.writable()?;
        match self.engine.execute(command, now) {
            Ok(outcome) => Ok(outcome),
            Err(EngineError::Rejected(r)) => {
                Err(CliError::rejected(named_rejection(&r, &self.names())))
            }
            Err(e) => Err(CliError::engine(&self.db, e)),
        }
    }

    /// Records that the programme was initialised through the CLI.
    pub fn add_programme(&mut self) -> CliResult<()> {
        let programme = self.programme().to_string();
        self.engine.store_mut().add_programme(&programme)
    }

    /// Every event of the programme.
    pub fn all_events(&mut self) -> CliResult<Vec<Recorded>> {
        let programme = self.programme().clone();
        let mut out = Vec::new();
        loop {
            let page = self
                .engine
                .store_mut()
                .load(&programme, out.len() as u64, 10_000)
                .map_err(|e| CliError::store(&self.db, &e))?;
            let n = page.len();
            out.extend(page);
            if n < 10_000 {
                return Ok(out);
            }
        }
    }

    /// The command id: `--command-id` if given, else derived from the
    /// programme, the verb, its arguments and `now`.
    pub fn command_id(
        &self,
        given: Option<&str>,
        verb: &str,
        args: &[&str],
        now: DateTime<Utc>,
    ) -> CliResult<CommandId> {
        match given {
            Some(text) => given_command_id(text),
            None => Ok(derived_id(self.programme().as_str(), verb, args, Some(now))),
        }
    }
}

/// A `--command-id` as given: a UUID or any non-blank text; blank is bad usage.
pub fn given_command_id(text: &str) -> CliResult<CommandId> {
    CommandId::given(text).map_err(|e| CliError::usage(format!("--command-id: {e}")))
}

/// A command id derived from what the command says (and when, if `now` is given).
pub fn derived_id(
    programme: &str,
    verb: &str,
    args: &[&str],
    now: Option<DateTime<Utc>>,
) -> CommandId {
    let when = now
        .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .unwrap_or_default();
    CommandId::from_name(&format!(
        "cli\u{1f}{programme}\u{1f}{verb}\u{1f}{}\u{1f}{when}",
        args.join("\u{1f}")
    ))
}
