//! The verbs and their flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const ABOUT: &str = "Run a grant programme that pays for organisations' security certification: \
eligibility, applications, offers, milestones, claims, the pot's ledger and 360Giving exports.";

const LONG_ABOUT: &str = "Run a grant programme that pays for organisations' security certification.

Storage: a SQLite file by default (--db grantflow.db); PostgreSQL with --db postgres://user@host/dbname.
A database may hold several programmes: pick one with --programme ID (default: the only one).

Exit codes: 0 success; 1 the programme refused the command (the rejection code and sentence are
printed); 2 bad usage or input, or the database cannot be used. Nothing is written unless a
command succeeds. With --json every failure prints one object: {\"outcome\": \"rejected\" or
\"error\", \"code\", \"message\"}, where code is the rejection's code or one of bad_usage,
bad_input, database, refused.

Command ids: every verb that changes the programme takes --command-id (a UUID or any text).
Without it, the id is derived from the programme, the verb, its arguments and the effective
--now, so running the same line again with the same --now is a no-op that prints the first
outcome (for `apply`, from the reference and the answers: applying the same application
again is a no-op, other answers under a used reference are refused). Without --now the clock
is used, so each run is a new command. An id recorded for one command and sent with another is
refused (command_id_reused, exit 1), naming the first command and when it was recorded; an
empty or blank id is bad usage (exit 2). A refused command records nothing, so it may be sent
again under the same id once the reason is fixed.

Time: each programme has one clock. Its events are recorded in time order, so a command's
--now (default: the system clock) may not be earlier than the programme's last recorded event:
an earlier one is refused (clock_went_backwards). `init` starts the clock (without --now, today;
for a programme whose application window has closed, give --now inside its dates). To replay a
past programme, give --now on every dated command, in order. The deadlines due at a command's
--now (offers lapsing, windows closing, reminders) fire before the command is decided, as `tick`
would fire them, and are recorded with it; `tick` is for deadlines no other command carries.

Application ids: give any reference text (e.g. ACME-001) or a UUID. A reference is mapped to a
stable UUID and kept in the database, so tables and exports show it.";

const EXAMPLES: &str = "Examples:
  grantflow demo                                   # a seeded 600-applicant run, prints a summary
  grantflow init --preset healthcare-ce-2020 --now 2020-09-01
  grantflow explain examples/application.json --now 2020-09-02
  grantflow apply examples/application.json --now 2020-09-02
  grantflow apply examples/applications.csv --now 2020-09-03
  grantflow accept ACME-001 --now 2020-09-03
  grantflow milestone ACME-001 consultancy_engaged --now 2020-09-10
  grantflow claim ACME-001 --item consultancy --invoice INV-1 --amount 900 --now 2020-10-01
  grantflow tick --now 2020-10-01
  grantflow status --state offered
  grantflow ledger --json
  grantflow export --format 360giving --output grants.json
  grantflow --db postgres://postgres@127.0.0.1:5432/grants --programme healthcare-ce-2020 status";

/// `grantflow`: the command line of grantflow.
#[derive(Debug, Parser)]
#[command(name = "grantflow", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    /// The database: a SQLite file path (default grantflow.db; for `demo`, grantflow-demo.db),
    /// a postgres:// URL, or `memory:` for a store that lasts for this one run of grantflow
    /// (nothing is kept: e.g. `run` a command file whose first command opens the programme).
    /// A file this process may not write is opened for reading only. Given on the command
    /// line to a verb that opens no database (schema, simulate, init --print, token add), it is
    /// refused; GRANTFLOW_DB is not.
    #[arg(long, global = true, env = "GRANTFLOW_DB", value_name = "PATH|URL")]
    pub db: Option<String>,
    /// Whether `--db` was given on the command line (not only by `GRANTFLOW_DB`).
    #[arg(skip)]
    pub db_given: bool,
    /// The programme to act on, when the database holds several (default: the only one).
    /// With `init` or `run`, the id the new programme is given.
    #[arg(long, global = true, value_name = "ID")]
    pub programme: Option<String>,
    /// Print JSON for machines instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub verb: Verb,
}

/// Flags of every verb that changes the programme.
#[derive(Debug, Clone, Args)]
pub struct Change {
    /// The time of the command: RFC 3339 (2020-09-01T09:00:00Z) or a date (2020-09-01, midnight UTC).
    /// Default: the system clock. Not earlier than the programme's last event (one clock per programme).
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// The command's idempotency id (UUID or any non-blank text). Default: derived from the
    /// verb, its arguments and the effective --now. Reused for another command: refused.
    #[arg(long, value_name = "ID")]
    pub command_id: Option<String>,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Open a programme from the preset or a rules file (TOML or JSON).
    #[command(after_help = "Examples:
  grantflow init --preset healthcare-ce-2020 --now 2020-09-01
  grantflow init --rules my-programme.toml --programme my-programme-2024
  grantflow schema rules     # the rules file format")]
    Init {
        /// A bundled programme: healthcare-ce-2020 (the 2020 UK Cyber Essentials fund).
        #[arg(long, conflicts_with = "rules", value_name = "NAME")]
        preset: Option<String>,
        /// A rules file: .toml or .json.
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
        /// Print the rules as TOML and stop (a starting point for your own rules file).
        #[arg(long)]
        print: bool,
        #[command(flatten)]
        change: Change,
    },
    /// Explain an applicant's eligibility criterion by criterion, without applying.
    #[command(
        after_help = "The file is an application (see `grantflow apply --help`) or just its \"applicant\" object.

Examples:
  grantflow explain examples/application.json --now 2020-09-02
  grantflow explain examples/application.json --on 2021-04-01 --json"
    )]
    Explain {
        /// An application or applicant JSON file.
        file: PathBuf,
        /// Judge as of this date (default: today); `--now` is the same.
        #[arg(long, alias = "now", value_name = "DATE")]
        on: Option<String>,
    },
    /// Submit one application (JSON) or many (CSV with a header).
    #[command(after_help = "JSON: {\"reference\": \"ACME-001\",
       \"applicant\": {\"organisation\": {\"name\": \"Acme Medical Ltd\", \"company_number\": \"01234567\", \"region\": \"North West\"},
                     \"contact\": {\"name\": \"Ann Smith\", \"email\": \"ann@acme.example\"},
                     \"sector\": \"medical-supplier\", \"employees\": 20, \"uk_based\": true,
                     \"already_certified\": false, \"vat_registered\": true},
       \"request\": {\"level\": \"basic\", \"consultancy_days\": 2, \"day_rate\": \"500\"}}
CSV columns (header required; * = optional): reference, organisation, company_number*, charity_number*,
  ods_code*, region*, contact_name, contact_email, sector, employees, uk_based, already_certified,
  vat_registered, level (basic|plus), consultancy_days, day_rate, plus_audit_quote*
Every row is checked before any is applied: a bad row is reported with its line and column and
nothing from the file is applied. Each submission's command id derives from its reference, so
applying the same file twice changes nothing.

Examples:
  grantflow apply examples/application.json --now 2020-09-02
  grantflow apply examples/applications.csv --now 2020-09-03 --json")]
    Apply {
        /// An application JSON file, or a .csv file of applications.
        file: PathBuf,
        /// The application reference, if the JSON file has none.
        #[arg(long = "ref", value_name = "REFERENCE")]
        reference: Option<String>,
        #[command(flatten)]
        change: Change,
    },
    /// Accept an offer on the applicant's behalf.
    #[command(after_help = "Example:\n  grantflow accept ACME-001 --now 2020-09-03")]
    Accept {
        /// The application reference or UUID.
        application: String,
        #[command(flatten)]
        change: Change,
    },
    /// Decline an offer; its money goes back to the pot and the waitlist.
    #[command(after_help = "Example:\n  grantflow decline ACME-001 --now 2020-09-03")]
    Decline {
        /// The application reference or UUID.
        application: String,
        #[command(flatten)]
        change: Change,
    },
    /// Withdraw an application from any stage that is not final.
    #[command(
        after_help = "Example:\n  grantflow withdraw ACME-001 --reason \"closed the business\" --now 2020-10-01"
    )]
    Withdraw {
        /// The application reference or UUID.
        application: String,
        /// Why (kept in the record).
        #[arg(long, default_value = "withdrawn at the applicant's request")]
        reason: String,
        #[command(flatten)]
        change: Change,
    },
    /// Record a certification milestone.
    #[command(
        after_help = "Milestones: consultancy_engaged, self_assessment_submitted, assessment_passed, assessment_failed,
  plus_audit_booked, plus_audit_passed, plus_audit_failed

Example:
  grantflow milestone ACME-001 assessment_passed --now 2020-10-20"
    )]
    Milestone {
        /// The application reference or UUID.
        application: String,
        /// The milestone reached.
        milestone: String,
        #[command(flatten)]
        change: Change,
    },
    /// Pay a supplier invoice for a covered item.
    #[command(
        after_help = "Items: consultancy (after the self-assessment is submitted), certification_fee (after
certification), plus_audit (after the Plus audit passed). Without --amount, what is left to pay
for the item is paid.

Example:
  grantflow claim ACME-001 --item certification_fee --invoice IASME-2020-0042 --amount 300 --now 2020-10-21"
    )]
    Claim {
        /// The application reference or UUID.
        application: String,
        /// consultancy, certification_fee or plus_audit.
        #[arg(long)]
        item: String,
        /// The supplier's invoice reference (each is paid once).
        #[arg(long, value_name = "REF")]
        invoice: String,
        /// The amount in pounds, e.g. 300 or 412.50 (no currency sign).
        #[arg(long, allow_hyphen_values = true)]
        amount: Option<String>,
        #[command(flatten)]
        change: Change,
    },
    /// Fire every deadline due (offer lapses, failed windows, reminders).
    #[command(after_help = "Example:\n  grantflow tick --now 2020-10-01")]
    Tick {
        #[command(flatten)]
        change: Change,
    },
    /// Add money to the pot.
    #[command(
        name = "top-up",
        after_help = "Example:\n  grantflow top-up 50000 --note \"second tranche\" --now 2021-01-04"
    )]
    TopUp {
        /// The amount in pounds, e.g. 50000.
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// Why (kept in the record).
        #[arg(long, default_value = "top-up")]
        note: String,
        #[command(flatten)]
        change: Change,
    },
    /// Recover a paid amount into the pot (after completion, failure or withdrawal).
    #[command(
        after_help = "Example:\n  grantflow clawback ACME-001 --amount 100 --reason \"invoice overstated\" --now 2021-02-01"
    )]
    Clawback {
        /// The application reference or UUID.
        application: String,
        /// The amount in pounds.
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        /// Why (kept in the record).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        change: Change,
    },
    /// Close a certified award; what was reserved and not paid goes back to the pot.
    #[command(after_help = "Example:\n  grantflow complete ACME-001 --now 2020-11-01")]
    Complete {
        /// The application reference or UUID.
        application: String,
        #[command(flatten)]
        change: Change,
    },
    /// Show one application, or all of them (optionally in one stage).
    #[command(
        after_help = "Examples:\n  grantflow status\n  grantflow status --state waitlisted\n  grantflow status ACME-001 --json"
    )]
    Status {
        /// The application reference or UUID (default: all).
        application: Option<String>,
        /// Only applications in this stage, e.g. offered, waitlisted, completed (not with one application).
        #[arg(long, value_name = "STAGE", conflicts_with = "application")]
        state: Option<String>,
    },
    /// Show the pot: credits, available, reserved, paid, released, recovered, by sector.
    #[command(after_help = "Example:\n  grantflow ledger --json")]
    Ledger,
    /// Show one application's events, in order.
    #[command(after_help = "Example:\n  grantflow history ACME-001")]
    History {
        /// The application reference or UUID.
        application: String,
    },
    /// Apply a file of commands in their JSON form, one per line.
    #[command(
        after_help = "Each line is a command as `grantflow schema commands` describes, with an optional \"now\":
  {\"id\": \"c1\", \"command\": \"tick\", \"now\": \"2020-10-01T09:00:00Z\"}
  {\"id\": \"c2\", \"command\": \"accept\", \"application\": \"ACME-001\", \"now\": \"2020-09-03\"}
`id` and `application` may be any text (mapped to stable UUIDs) or UUIDs. Lines without \"now\" use
--now (default: the clock). Blank lines and lines starting with # are skipped. Every line is read
before any is applied: a malformed line is reported with its number and nothing is applied. Then
the commands run in order, in group commits; a rejected line does not stop the others, and the
exit code is 1 if any was rejected. An `open` command takes the programme id of --programme.

Example:
  grantflow run examples/commands.jsonl --json"
    )]
    Run {
        /// The JSONL file.
        file: PathBuf,
        /// The time of lines without their own "now".
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
    },
    /// Export the awarded grants: a 360Giving package (schema 1.4) or CSV.
    #[command(
        after_help = "A grant is a funded application (its offer was accepted). amountAwarded (amount_awarded in
CSV) is the award reserved for it; amountDisbursed (amount_disbursed) is its net paid: paid
(gross) less recovered, as `grantflow status` shows them.

Examples:
  grantflow export --format 360giving --output grants.json
  grantflow export --format csv > grants.csv"
    )]
    Export {
        /// 360giving or csv.
        #[arg(long, default_value = "360giving")]
        format: String,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print the JSON Schema of commands, events, rules files or application files.
    #[command(
        after_help = "Examples:\n  grantflow schema commands\n  grantflow schema rules > rules.schema.json\n  grantflow schema application"
    )]
    Schema {
        /// commands, events, rules or application.
        what: String,
    },
    /// List notices waiting in the outbox and dead letters; --deliver prints and acknowledges pending ones.
    #[command(after_help = "Examples:\n  grantflow outbox\n  grantflow outbox --deliver")]
    Outbox {
        /// Deliver pending notices to standard output (a log notifier) and mark them delivered.
        #[arg(long)]
        deliver: bool,
        /// Show at most this many of each list.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Monte Carlo budget scenarios: many seeded trials of a programme, as percentiles.
    #[command(
        disable_help_flag = true,
        after_help = "Arguments are those of the scenario runner; see `grantflow simulate --help`.

Examples:
  grantflow simulate --trials 200 --seed 7
  grantflow simulate --vary allocation.policy=skip_ahead,strict --json"
    )]
    Simulate {
        /// The scenario runner's arguments (`grantflow simulate --help` lists them).
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<String>,
    },
    /// Serve the JSON API over HTTP on this database, with the notice dispatcher running.
    #[command(
        after_help = "Every route but /health, /openapi.json, sign-in, a programme's rules and its eligibility check
needs a service token (`grantflow token add`) or a session: staff sign in with a password and a
second factor (accounts from `grantflow user add`), applicants with a code sent by e-mail
(--smtp). The OpenAPI document at /openapi.json lists each route's roles. Commands take their id from an Idempotency-Key header. Audit lines (one per
command) go to --audit or standard error; notices are delivered to standard output.

Examples:
  grantflow user add --role admin it.lead@trust.example
  grantflow serve --addr 127.0.0.1:8080 --smtp mail.trust.example:587
  grantflow --db postgres://postgres@127.0.0.1:5432/grants serve --tokens /etc/grantflow/tokens.toml"
    )]
    Serve {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// The service tokens file that `grantflow token add` writes.
        #[arg(long, default_value = "grantflow-tokens.toml")]
        tokens: std::path::PathBuf,
        /// Append audit lines to this file instead of standard error.
        #[arg(long)]
        audit: Option<std::path::PathBuf>,
        /// The SMTP server that sign-in codes are sent through, as HOST:PORT
        /// (without it, applicants cannot sign in by e-mail).
        #[arg(long, value_name = "HOST:PORT")]
        smtp: Option<String>,
        /// How to reach the SMTP server: starttls, tls, or none (a relay on this host).
        #[arg(long, default_value = "starttls", value_parser = ["starttls", "tls", "none"])]
        smtp_security: String,
        /// The sender of sign-in codes.
        #[arg(long, default_value = "grantflow <grantflow@localhost>")]
        mail_from: String,
        /// A proxy whose X-Forwarded-For and X-Forwarded-Proto are believed (repeat for each; an IP address).
        #[arg(long = "trusted-proxy", value_name = "IP")]
        trusted_proxies: Vec<std::net::IpAddr>,
    },
    /// Manage the service tokens `serve` accepts.
    #[command(subcommand)]
    Token(TokenVerb),
    /// Manage the staff accounts people sign in to `serve` with.
    #[command(subcommand)]
    User(UserVerb),
    /// Run the 2020 programme with a seeded population of applicants and print a summary.
    #[command(
        after_help = "Writes a fresh SQLite file (default grantflow-demo.db in the current directory, replaced if
present; --db overrides) and a 360Giving file beside it.

Examples:
  grantflow demo
  grantflow demo --applicants 200 --seed 7 --db small-demo.db"
    )]
    Demo {
        /// How many applicants.
        #[arg(long, default_value_t = 600)]
        applicants: usize,
        /// The random seed: the same seed gives the same run.
        #[arg(long, default_value_t = 2020)]
        seed: u64,
    },
}

/// `grantflow user …`.
#[derive(Debug, Subcommand)]
pub enum UserVerb {
    /// Make a staff account and print its one-time setup link (there are no default accounts).
    #[command(
        after_help = "The link works once, for 3 days: its owner chooses a password (at least 12 characters, not easy
to guess) and adds a second factor to an authenticator app. Run it again for a new link while the
account is not set up.

Examples:
  grantflow user add --role admin it.lead@trust.example
  grantflow --db postgres://postgres@127.0.0.1:5432/grants user add --role finance --base-url https://grants.example.org finance@trust.example"
    )]
    Add {
        /// The address the person signs in with.
        email: String,
        /// assessor, finance, auditor or admin (applicants need no account).
        #[arg(long)]
        role: String,
        /// Where `serve` is reached, for the link.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base_url: String,
    },
}

/// `grantflow token …`.
#[derive(Debug, Subcommand)]
pub enum TokenVerb {
    /// Make a token with a role and print its secret once (the file keeps only its SHA-256).
    #[command(after_help = "Examples:
  grantflow token add --role finance ledger-bot
  grantflow token add --role applicant --email office@supplier.example supplier-portal")]
    Add {
        /// A name for the token, shown in the audit log.
        name: String,
        /// applicant, assessor, finance, auditor or admin.
        #[arg(long)]
        role: String,
        /// For an applicant token: the applicant's e-mail address, which limits it to their applications.
        #[arg(long)]
        email: Option<String>,
        /// The tokens file (created if missing).
        #[arg(long, default_value = "grantflow-tokens.toml")]
        tokens: std::path::PathBuf,
    },
}
