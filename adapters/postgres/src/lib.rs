//! # grantflow-postgres
//!
//! The shared event store of grantflow: several instances (threads,
//! processes, hosts) write to one PostgreSQL database and the pot still
//! never overspends.
//!
//! - [`PostgresStore`] implements the core's [`EventStore`] and [`Outbox`]
//!   ports over the synchronous `postgres` client. [`PostgresStore::connect`]
//!   takes a connection string (`postgres://user@host:port/db` or
//!   `host=... dbname=...`) and creates or migrates the schema.
//! - Each append writes its events and their notices in one transaction.
//!   The primary key `(programme_id, version)` turns a lost race into a
//!   unique violation (SQLSTATE 23505), reported as [`StoreError::Conflict`];
//!   the engine then reloads and decides again.
//! - [`PgRecords`] keeps the sign-in records of `grantflow-accounts`
//!   (accounts, codes, sessions, throttles) in the same database, in tables
//!   of their own.
//! - [`PgOptions`] can place the tables in their own PostgreSQL schema
//!   (namespace), e.g. one per tenant or per test.
//! - [`SCHEMA_VERSION`] is the schema this crate writes; a database of a
//!   newer one is refused with [`StoreError::SchemaTooNew`] before anything is written.
//!
//! Rows keep the event JSON (`payload`) next to its type, schema version
//! and command id, and are decoded with [`Event::from_json`], so events of
//! older schema versions keep loading.
//!
//! ```no_run
//! use grantflow_core::{Engine, ProgrammeId};
//! use grantflow_postgres::PostgresStore;
//!
//! let store = PostgresStore::connect("postgres://grantflow@db.internal:5432/grants")?;
//! let engine = Engine::open(store, ProgrammeId::new("healthcare-ce-2020"))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations, missing_docs)]

mod records;
pub use records::PgRecords;

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use grantflow_core::CommandRecord;
use grantflow_core::{
    CommandId, Event, EventStore, Notice, NoticeId, Outbox, ProgrammeId, Recorded, StoreError,
};
use grantflow_core::{OutboxEntry, OutboxStatus, Snapshot};
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, Config, NoTls, Row, Statement};

/// The schema version this crate creates and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// How to connect.
#[derive(Clone, Debug, Default)]
pub struct PgOptions {
    /// A PostgreSQL schema (namespace) for grantflow's tables, created if
    /// missing; `None` uses the connection's default (`public`). Letters,
    /// digits and `_` only, at most 63 characters.
    pub schema: Option<String>,
    /// How long to wait for the server when connecting; 5 seconds by default.
    pub connect_timeout: Option<Duration>,
}

const MIGRATIONS: &[&str] = &[
    // 0 -> 1
    "CREATE TABLE events (
        programme_id   text    NOT NULL,
        version        bigint  NOT NULL CHECK (version > 0),
        event_type     text    NOT NULL,
        schema_version integer NOT NULL,
        payload        text    NOT NULL,
        command_id     text    NOT NULL,
        recorded_at    timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT events_programme_version UNIQUE (programme_id, version)
    );
    CREATE INDEX events_by_command ON events (command_id);
    CREATE TABLE outbox (
        seq          bigserial PRIMARY KEY,
        notice_id    text    NOT NULL UNIQUE,
        programme_id text    NOT NULL,
        notice       text    NOT NULL,
        status       text    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead_letter')),
        attempts     integer NOT NULL DEFAULT 0,
        next_attempt bigint  NOT NULL,
        lease_until  bigint,
        last_error   text,
        version      bigint  NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (next_attempt) WHERE status = 'pending';
    CREATE INDEX outbox_dead ON outbox (seq) WHERE status = 'dead_letter';
    CREATE TABLE snapshots (
        programme_id text    PRIMARY KEY,
        version      bigint  NOT NULL,
        format       bigint  NOT NULL,
        data         text    NOT NULL,
        saved_at     timestamptz NOT NULL DEFAULT now()
    );",
];

struct Statements {
    version: Statement,
    load: Statement,
    commands: Statement,
    insert_events: Statement,
    insert_outbox: Statement,
}

impl fmt::Debug for Statements {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Statements")
    }
}

/// An event store in a PostgreSQL database. Each handle is one connection;
/// open one per thread.
pub struct PostgresStore {
    client: Client,
    statements: Statements,
    url: String,
    options: PgOptions,
    target: String,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.target)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// `host:port/dbname` of a configuration, without any password.
fn describe_target(config: &Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().or(config.get_user()).unwrap_or("?");
    format!("{host}:{port}/{db}")
}

fn map_error(target: &str, e: postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let detail = format!(
            "PostgreSQL {target}: {} (SQLSTATE {})",
            db.message(),
            db.code().code()
        );
        let code = db.code();
        if *code == SqlState::ADMIN_SHUTDOWN
            || *code == SqlState::CANNOT_CONNECT_NOW
            || *code == SqlState::TOO_MANY_CONNECTIONS
            || *code == SqlState::LOCK_NOT_AVAILABLE
        {
            return StoreError::Unavailable { detail };
        }
        return StoreError::Backend { detail };
    }
    StoreError::Unavailable {
        detail: format!("PostgreSQL {target} cannot be reached: {e}"),
    }
}

fn valid_schema(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

impl PostgresStore {
    /// Connects with [`PgOptions::default`] and creates or migrates the schema.
    pub fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        Self::connect_with(url, PgOptions::default())
    }

    /// Connects with explicit options. The session is named `grantflow` in
    /// `pg_stat_activity` unless the URL gives an `application_name`.
    ///
    /// Errors: [`StoreError::Unavailable`] for an invalid connection string,
    /// a refused or timed-out connection, an unknown database or role;
    /// [`StoreError::SchemaTooNew`] for a database written by a newer
    /// grantflow (nothing is changed in it).
    pub fn connect_with(url: &str, options: PgOptions) -> Result<PostgresStore, StoreError> {
        let mut config: Config = url.parse().map_err(|e| StoreError::Unavailable {
            detail: format!("the PostgreSQL connection string is invalid: {e}"),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout.unwrap_or(Duration::from_secs(5)));
        }
        // An application name in the URL names the instance (operators
        // tell their instances apart by it in `pg_stat_activity`).
        if config.get_application_name().is_none() {
            config.application_name("grantflow");
        }
        let target = describe_target(&config);
        if let Some(schema) = &options.schema {
            if !valid_schema(schema) {
                return Err(StoreError::Unavailable {
                    detail: format!(
                        "`{schema}` is not a usable schema name (letters, digits and _, at most 63)"
                    ),
                });
            }
        }
        // Whatever stops the connection (refused, timed out, unknown database or role) is unavailability.
        let mut client = config.connect(NoTls).map_err(|e| StoreError::Unavailable {
            detail: match e.as_db_error() {
                Some(db) => format!(
                    "cannot connect to PostgreSQL {target}: {} (SQLSTATE {})",
                    db.message(),
                    db.code().code()
                ),
                None => format!("cannot connect to PostgreSQL {target}: {e}"),
            },
        })?;
        let err = |e| map_error(&target, e);
        if let Some(schema) = &options.schema {
            client
                .batch_execute(&format!("SET search_path TO \"{schema}\""))
                .map_err(err)?;
        }
        let found = Self::schema_version(&mut client, &target)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found < SCHEMA_VERSION {
            Self::migrate(&mut client, &target, options.schema.as_deref())?;
        }
        let statements = Statements {
            version: client.prepare("SELECT coalesce(max(version), 0) FROM events WHERE programme_id = $1").map_err(err)?,
            load: client
                .prepare("SELECT version, payload FROM events WHERE programme_id = $1 AND version > $2 ORDER BY version LIMIT $3")
                .map_err(err)?,
            commands: client
                .prepare(
                    "SELECT command_id, min(version), count(*) FROM events
                     WHERE programme_id = $1 AND command_id = ANY($2::text[])
                     GROUP BY command_id",
                )
                .map_err(err)?,
            insert_events: client
                .prepare(
                    "INSERT INTO events (programme_id, version, event_type, schema_version, payload, command_id)
                     SELECT $1, v, t, s, p, c FROM unnest($2::bigint[], $3::text[], $4::integer[], $5::text[], $6::text[]) AS u(v, t, s, p, c)",
                )
                .map_err(err)?,
            insert_outbox: client
                .prepare(
                    "INSERT INTO outbox (notice_id, programme_id, notice, next_attempt, version)
                     SELECT n, $1, j, $4, $5 FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(n, j, ord) ORDER BY ord
                     ON CONFLICT (notice_id) DO NOTHING",
                )
                .map_err(err)?,
        };
        Ok(PostgresStore {
            client,
            statements,
            url: url.to_string(),
            options,
            target,
        })
    }

    /// Closes this connection and connects again with the same settings.
    pub fn reconnect(self) -> Result<PostgresStore, StoreError> {
        let PostgresStore {
            client,
            url,
            options,
            ..
        } = self;
        drop(client);
        Self::connect_with(&url, options)
    }

    /// A second connection with the same settings, to the same database
    /// and schema (this one stays open).
    pub fn another_connection(&self) -> Result<PostgresStore, StoreError> {
        Self::connect_with(&self.url, self.options.clone())
    }

    /// The options this store was opened with.
    pub fn options(&self) -> &PgOptions {
        &self.options
    }

    /// The underlying client, for inspection and tooling. Writing through it
    /// bypasses the store's checks.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    fn schema_version(client: &mut Client, target: &str) -> Result<u32, StoreError> {
        let row = client
            .query_one("SELECT to_regclass('grantflow_meta') IS NOT NULL", &[])
            .map_err(|e| map_error(target, e))?;
        if !row.get::<_, bool>(0) {
            return Ok(0);
        }
        let value: Option<String> = client
            .query_opt(
                "SELECT value FROM grantflow_meta WHERE key = 'schema_version'",
                &[],
            )
            .map_err(|e| map_error(target, e))?
            .map(|r| r.get(0));
        match value {
            None => Ok(0),
            Some(v) => v.trim().parse::<u32>().map_err(|_| StoreError::Backend {
                detail: format!(
                    "PostgreSQL {target} records schema version `{v}`, which is not a number"
                ),
            }),
        }
    }

    fn migrate(client: &mut Client, target: &str, schema: Option<&str>) -> Result<(), StoreError> {
        let err = |e| map_error(target, e);
        let mut tx = client.transaction().map_err(err)?;
        // Several instances may start at once: one migrates, the others wait.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('grantflow-schema:' || $1))",
            &[&schema.unwrap_or("")],
        )
        .map_err(err)?;
        if let Some(schema) = schema {
            tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .map_err(err)?;
        }
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS grantflow_meta (key text PRIMARY KEY, value text NOT NULL)",
        )
        .map_err(err)?;
        let found: u32 = tx
            .query_opt(
                "SELECT value FROM grantflow_meta WHERE key = 'schema_version'",
                &[],
            )
            .map_err(err)?
            .and_then(|r| r.get::<_, String>(0).trim().parse().ok())
            .unwrap_or(0);
        if found > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        for (i, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            tx.batch_execute(step).map_err(err)?;
            tx.execute(
                "INSERT INTO grantflow_meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&(i + 1).to_string()],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    fn decode(programme: &ProgrammeId, version: u64, payload: &str) -> Result<Event, StoreError> {
        // Current rows decode directly, older ones are upcast, newer refused.
        Event::from_json(payload).map_err(|e| StoreError::Corrupt {
            programme: programme.clone(),
            version,
            detail: e.to_string(),
        })
    }

    /// Appends event rows exactly as given (JSON of any schema version),
    /// without the encoder: for importing streams written elsewhere or by
    /// older versions. Rows are decoded only when loaded.
    pub fn append_raw_json(
        &mut self,
        programme: &ProgrammeId,
        expected: u64,
        rows: &[String],
    ) -> Result<u64, StoreError> {
        let mut versions = Vec::with_capacity(rows.len());
        let mut types = Vec::with_capacity(rows.len());
        let mut schemas = Vec::with_capacity(rows.len());
        let mut commands = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let value: serde_json::Value =
                serde_json::from_str(row).unwrap_or(serde_json::Value::Null);
            let field = |k: &str| {
                value
                    .get(k)
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            versions.push(to_i64(expected + i as u64 + 1));
            // The type sits under `event` from schema version 3, beside the envelope before.
            types.push(
                value
                    .pointer("/event/type")
                    .or_else(|| value.get("type"))
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            );
            schemas.push(
                value
                    .get("schema_version")
                    .and_then(serde_json::Value::as_i64)
                    .and_then(|v| i32::try_from(v).ok())
                    .unwrap_or(0),
            );
            commands.push(field("command"));
        }
        self.write(
            programme,
            expected,
            &versions,
            &types,
            &schemas,
            rows,
            &commands,
            &[],
            &[],
            0,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn write(
        &mut self,
        programme: &ProgrammeId,
        expected: u64,
        versions: &[i64],
        types: &[String],
        schemas: &[i32],
        payloads: &[String],
        commands: &[String],
        notice_ids: &[String],
        notices: &[String],
        next_attempt: i64,
    ) -> Result<u64, StoreError> {
        let target = self.target.clone();
        let err = |e| map_error(&target, e);
        let new_version = expected + versions.len() as u64;
        let result = (|| -> Result<Result<(), u64>, postgres::Error> {
            let mut tx = self.client.transaction()?;
            let actual: i64 = tx
                .query_one(&self.statements.version, &[&programme.as_str()])?
                .get(0);
            let actual = u64::try_from(actual).unwrap_or(0);
            if actual != expected {
                return Ok(Err(actual));
            }
            if !versions.is_empty() {
                tx.execute(
                    &self.statements.insert_events,
                    &[
                        &programme.as_str(),
                        &versions,
                        &types,
                        &schemas,
                        &payloads,
                        &commands,
                    ],
                )?;
            }
            if !notice_ids.is_empty() {
                tx.execute(
                    &self.statements.insert_outbox,
                    &[
                        &programme.as_str(),
                        &notice_ids,
                        &notices,
                        &next_attempt,
                        &to_i64(new_version),
                    ],
                )?;
            }
            tx.commit()?;
            Ok(Ok(()))
        })();
        match result {
            Ok(Ok(())) => Ok(new_version),
            Ok(Err(actual)) => Err(StoreError::Conflict {
                programme: programme.clone(),
                expected,
                actual,
            }),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                // Another writer committed the same versions first.
                let actual = self.current_version(programme).unwrap_or(expected + 1);
                Err(StoreError::Conflict {
                    programme: programme.clone(),
                    expected,
                    actual,
                })
            }
            Err(e) => Err(err(e)),
        }
    }

    fn current_version(&mut self, programme: &ProgrammeId) -> Result<u64, StoreError> {
        let row = self
            .client
            .query_one(&self.statements.version, &[&programme.as_str()])
            .map_err(|e| map_error(&self.target, e))?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    fn entry(&self, row: &Row) -> Result<OutboxEntry, StoreError> {
        let programme = ProgrammeId::new(row.get::<_, String>("programme_id"));
        let notice: Notice = serde_json::from_str(row.get::<_, &str>("notice")).map_err(|e| {
            StoreError::Backend {
                detail: format!(
                    "an outbox row of programme `{programme}` in PostgreSQL {} is unreadable: {e}",
                    self.target
                ),
            }
        })?;
        let status = match row.get::<_, &str>("status") {
            "pending" => OutboxStatus::Pending,
            "delivered" => OutboxStatus::Delivered,
            "dead_letter" => OutboxStatus::DeadLetter,
            other => {
                return Err(StoreError::Backend {
                    detail: format!("outbox notice {} has unknown status `{other}`", notice.id),
                });
            }
        };
        Ok(OutboxEntry {
            programme,
            notice,
            status,
            attempts: u32::try_from(row.get::<_, i32>("attempts")).unwrap_or(0),
            next_attempt: from_micros(row.get("next_attempt")),
            last_error: row.get("last_error"),
        })
    }

    fn update_one(
        &mut self,
        id: NoticeId,
        sql: &str,
        args: &[&(dyn ToSql + Sync)],
    ) -> Result<(), StoreError> {
        let id_text = id.to_string();
        let mut all: Vec<&(dyn ToSql + Sync)> = vec![&id_text];
        all.extend_from_slice(args);
        let changed = self
            .client
            .execute(sql, &all)
            .map_err(|e| map_error(&self.target, e))?;
        if changed == 0 {
            Err(StoreError::UnknownNotice(id))
        } else {
            Ok(())
        }
    }

    /// Every outbox entry of `programme` in the order queued (for inspection and tests).
    pub fn outbox_entries(
        &mut self,
        programme: &ProgrammeId,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT programme_id, notice, status, attempts, next_attempt, last_error FROM outbox WHERE programme_id = $1 ORDER BY seq",
                &[&programme.as_str()],
            )
            .map_err(|e| map_error(&self.target, e))?;
        rows.iter().map(|r| self.entry(r)).collect()
    }
}

impl EventStore for PostgresStore {
    fn load(
        &mut self,
        programme: &ProgrammeId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Recorded>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .client
            .query(
                &self.statements.load,
                &[&programme.as_str(), &to_i64(after), &limit],
            )
            .map_err(|e| map_error(&self.target, e))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let version = u64::try_from(row.get::<_, i64>(0)).unwrap_or(0);
            let payload: &str = row.get(1);
            out.push(Recorded {
                version,
                event: Self::decode(programme, version, payload)?,
            });
        }
        Ok(out)
    }

    fn version(&mut self, programme: &ProgrammeId) -> Result<u64, StoreError> {
        self.current_version(programme)
    }

    fn append(
        &mut self,
        programme: &ProgrammeId,
        expected: u64,
        events: &[Event],
        notices: &[Notice],
    ) -> Result<u64, StoreError> {
        let mut versions = Vec::with_capacity(events.len());
        let mut types = Vec::with_capacity(events.len());
        let mut schemas = Vec::with_capacity(events.len());
        let mut payloads = Vec::with_capacity(events.len());
        let mut commands = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            versions.push(to_i64(expected + i as u64 + 1));
            types.push(e.kind.name().to_string());
            schemas.push(i32::from(e.schema_version));
            payloads.push(serde_json::to_string(e).map_err(|err| StoreError::Backend {
                detail: format!("cannot encode a {} event: {err}", e.kind.name()),
            })?);
            commands.push(e.command.to_string());
        }
        let mut ids = Vec::with_capacity(notices.len());
        let mut notes = Vec::with_capacity(notices.len());
        for n in notices {
            ids.push(n.id.to_string());
            notes.push(serde_json::to_string(n).map_err(|err| StoreError::Backend {
                detail: format!("cannot encode notice {}: {err}", n.id),
            })?);
        }
        let next_attempt = micros(events.last().map_or(DateTime::<Utc>::MIN_UTC, |e| e.at));
        self.write(
            programme,
            expected,
            &versions,
            &types,
            &schemas,
            &payloads,
            &commands,
            &ids,
            &notes,
            next_attempt,
        )
    }

    fn command_records(
        &mut self,
        programme: &ProgrammeId,
        commands: &[CommandId],
    ) -> Result<Vec<(CommandId, CommandRecord)>, StoreError> {
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = commands.iter().map(ToString::to_string).collect();
        let rows = self
            .client
            .query(&self.statements.commands, &[&programme.as_str(), &ids])
            .map_err(|e| map_error(&self.target, e))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: &str = row.get(0);
            let first_version = u64::try_from(row.get::<_, i64>(1)).unwrap_or(0);
            let count: i64 = row.get(2);
            let id = id.parse::<CommandId>().map_err(|e| StoreError::Corrupt {
                programme: programme.clone(),
                version: first_version,
                detail: format!("the command id `{id}` is not a UUID: {e}"),
            })?;
            out.push((
                id,
                CommandRecord::located(first_version, u32::try_from(count).unwrap_or(u32::MAX)),
            ));
        }
        Ok(out)
    }

    fn load_snapshot(&mut self, programme: &ProgrammeId) -> Result<Option<Snapshot>, StoreError> {
        let row = self
            .client
            .query_opt(
                "SELECT version, format, data FROM snapshots WHERE programme_id = $1",
                &[&programme.as_str()],
            )
            .map_err(|e| map_error(&self.target, e))?;
        Ok(row.map(|r| Snapshot {
            version: u64::try_from(r.get::<_, i64>(0)).unwrap_or(0),
            format: u32::try_from(r.get::<_, i64>(1)).unwrap_or(u32::MAX),
            data: r.get(2),
        }))
    }

    fn save_snapshot(
        &mut self,
        programme: &ProgrammeId,
        snapshot: &Snapshot,
    ) -> Result<(), StoreError> {
        self.client
            .execute(
                "INSERT INTO snapshots (programme_id, version, format, data) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (programme_id) DO UPDATE SET version = excluded.version, format = excluded.format, data = excluded.data, saved_at = now()
                 WHERE excluded.version >= snapshots.version",
                &[&programme.as_str(), &to_i64(snapshot.version), &i64::from(snapshot.format), &snapshot.data],
            )
            .map(|_| ())
            .map_err(|e| map_error(&self.target, e))
    }
}

impl Outbox for PostgresStore {
    fn claim(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = self
            .client
            .query(
                "UPDATE outbox SET lease_until = $2 WHERE seq IN (
                     SELECT seq FROM outbox
                     WHERE status = 'pending' AND next_attempt <= $1 AND (lease_until IS NULL OR lease_until <= $1)
                     ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED)
                 RETURNING seq, programme_id, notice, status, attempts, next_attempt, last_error",
                &[&micros(now), &micros(lease_until), &limit],
            )
            .map_err(|e| map_error(&self.target, e))?;
        rows.sort_by_key(|r| r.get::<_, i64>("seq"));
        rows.iter().map(|r| self.entry(r)).collect()
    }

    fn acknowledge(&mut self, id: NoticeId) -> Result<(), StoreError> {
        self.update_one(id, "UPDATE outbox SET status = 'delivered', attempts = attempts + 1, lease_until = NULL WHERE notice_id = $1", &[])
    }

    fn retry_later(
        &mut self,
        id: NoticeId,
        next_attempt: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.update_one(
            id,
            "UPDATE outbox SET attempts = attempts + 1, next_attempt = $2, last_error = $3, lease_until = NULL WHERE notice_id = $1",
            &[&micros(next_attempt), &error],
        )
    }

    fn dead_letter(&mut self, id: NoticeId, error: &str) -> Result<(), StoreError> {
        self.update_one(id, "UPDATE outbox SET status = 'dead_letter', attempts = attempts + 1, last_error = $2, lease_until = NULL WHERE notice_id = $1", &[&error])
    }

    fn dead_letters(&mut self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .client
            .query("SELECT programme_id, notice, status, attempts, next_attempt, last_error FROM outbox WHERE status = 'dead_letter' ORDER BY seq LIMIT $1", &[&limit])
            .map_err(|e| map_error(&self.target, e))?;
        rows.iter().map(|r| self.entry(r)).collect()
    }

    fn requeue(&mut self, id: NoticeId, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.update_one(id, "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt = $2, lease_until = NULL WHERE notice_id = $1", &[&micros(now)])
    }
}
