//! What a newcomer meets in a first hour with `grantflow`: `init` and the
//! programme's one clock, messages that name what the user typed, and
//! exports that are safe to open.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Out, SMALL_SIMULATION, gf, write};
use serde_json::Value;

fn ok(dir: &Path, args: &[&str]) -> Out {
    let out = gf(dir, args);
    assert_eq!(
        out.code, 0,
        "grantflow {args:?} failed:\nstdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    out
}

/// Expects exit `code` and one `error:` line on stderr; returns that line.
fn fails(dir: &Path, args: &[&str], code: i32) -> (Out, String) {
    let out = gf(dir, args);
    assert_eq!(
        out.code, code,
        "grantflow {args:?}: expected exit {code}:\nstdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    let first = out.stderr.lines().next().unwrap_or_default().to_string();
    assert!(first.starts_with("error: "), "{}", out.stderr);
    (out, first)
}

/// The preset's rules with other dates, as a TOML file.
fn rules_with_window(dir: &Path, name: &str, opens: &str, closes: &str) -> PathBuf {
    let printed = ok(dir, &["init", "--print"]).stdout;
    let text = printed
        .replace(
            "[opens]\nvalue = \"2020-09-01\"",
            &format!("[opens]\nvalue = \"{opens}\""),
        )
        .replace(
            "[closes]\nvalue = \"2021-03-31\"",
            &format!("[closes]\nvalue = \"{closes}\""),
        );
    assert!(text.contains(closes), "the printed rules changed shape");
    write(dir, name, &text)
}

#[test]
fn given_a_programme_whose_window_has_closed_when_init_runs_without_now_then_it_is_refused_with_the_way_out_and_creates_nothing()
 {
    let d = tempfile::tempdir().expect("tempdir");
    let (_, line) = fails(d.path(), &["init", "--preset", "healthcare-ce-2020"], 2);
    for needle in [
        "2020-09-01 to 2021-03-31",
        "window has closed",
        "--now inside its dates",
        "--now 2020-09-01",
        "grantflow init --print > my-programme.toml",
        "grantflow init --rules my-programme.toml",
    ] {
        assert!(line.contains(needle), "expected `{needle}` in: {line}");
    }
    assert!(
        !d.path().join("grantflow.db").exists(),
        "a refused init created the database"
    );
}

#[test]
fn given_a_closed_window_in_a_rules_file_when_init_runs_without_now_then_the_way_out_names_the_file()
 {
    let d = tempfile::tempdir().expect("tempdir");
    rules_with_window(d.path(), "old.toml", "2019-01-01", "2019-06-30");
    let (_, line) = fails(d.path(), &["init", "--rules", "old.toml"], 2);
    assert!(line.contains("2019-01-01 to 2019-06-30"), "{line}");
    assert!(line.contains("`old.toml`"), "{line}");
    assert!(!d.path().join("grantflow.db").exists());
}

#[test]
fn given_a_closed_window_when_init_runs_with_now_inside_it_then_the_clock_starts_there_and_later_dated_commands_are_taken()
 {
    let d = tempfile::tempdir().expect("tempdir");
    ok(
        d.path(),
        &[
            "init",
            "--preset",
            "healthcare-ce-2020",
            "--now",
            "2020-09-01",
        ],
    );
    let out = ok(d.path(), &["tick", "--now", "2020-09-02"]);
    assert!(out.stdout.contains("tick"), "{}", out.stdout);
}

#[test]
fn given_an_initialised_programme_when_init_runs_again_without_now_then_nothing_changes() {
    let d = tempfile::tempdir().expect("tempdir");
    ok(
        d.path(),
        &[
            "init",
            "--preset",
            "healthcare-ce-2020",
            "--now",
            "2020-09-01",
        ],
    );
    let out = ok(d.path(), &["init", "--preset", "healthcare-ce-2020"]);
    assert!(out.stdout.contains("nothing changed"), "{}", out.stdout);
}

#[test]
fn given_a_window_still_open_when_init_runs_without_now_then_the_clock_starts_today() {
    let d = tempfile::tempdir().expect("tempdir");
    rules_with_window(d.path(), "open.toml", "2020-01-01", "2999-12-31");
    let out = ok(d.path(), &["init", "--rules", "open.toml"]);
    assert!(out.stdout.contains("initialised"), "{}", out.stdout);
}

#[test]
fn given_the_help_when_read_then_it_explains_the_one_clock_per_programme() {
    let d = tempfile::tempdir().expect("tempdir");
    let long = ok(d.path(), &["--help"]).stdout;
    assert!(long.contains("each programme has one clock"), "{long}");
    assert!(long.contains("clock_went_backwards"), "{long}");
    let init = ok(d.path(), &["init", "--help"]).stdout;
    assert!(init.contains("one clock per programme"), "{init}");
}

#[test]
fn given_no_database_when_explain_runs_then_it_says_it_used_the_preset() {
    let d = tempfile::tempdir().expect("tempdir");
    let app = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/application.json"),
    )
    .expect("examples/application.json");
    write(d.path(), "app.json", &app);
    let out = ok(d.path(), &["explain", "app.json", "--now", "2020-09-02"]);
    assert!(
        out.stdout
            .starts_with("rules: the preset healthcare-ce-2020"),
        "{}",
        out.stdout
    );
    let v = ok(
        d.path(),
        &["--json", "explain", "app.json", "--now", "2020-09-02"],
    )
    .json();
    assert_eq!(v["rules"], "preset");
    assert_eq!(v["eligible"], true);
    assert!(!d.path().join("grantflow.db").exists());
}

/// A fresh directory with the preset opened on its first day and the
/// walkthrough's first application applied.
fn opened() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    let app = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/application.json"),
    )
    .expect("examples/application.json");
    write(d.path(), "app.json", &app);
    ok(d.path(), &["init", "--now", "2020-09-01"]);
    ok(d.path(), &["apply", "app.json", "--now", "2020-09-02"]);
    d
}

fn has_uuid(text: &str) -> bool {
    (0..text.len()).any(|i| {
        text.get(i..i + 36)
            .is_some_and(|s| s.as_bytes()[8] == b'-' && uuid_like(s))
    })
}

fn uuid_like(s: &str) -> bool {
    s.char_indices().all(|(i, c)| {
        if [8, 13, 18, 23].contains(&i) {
            c == '-'
        } else {
            c.is_ascii_hexdigit()
        }
    })
}

#[test]
fn given_a_missing_argument_when_parsed_then_the_error_names_it_with_the_usage_and_the_verbs_help()
{
    let d = tempfile::tempdir().expect("tempdir");
    let (out, line) = fails(d.path(), &["accept"], 2);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    for needle in [
        "the following required arguments were not provided: <APPLICATION>",
        "usage: grantflow accept",
        "see `grantflow accept --help`",
    ] {
        assert!(line.contains(needle), "expected `{needle}` in: {line}");
    }
}

#[test]
fn given_a_mistyped_verb_or_flag_when_parsed_then_clap_tips_are_kept() {
    let d = tempfile::tempdir().expect("tempdir");
    let (_, line) = fails(d.path(), &["acept", "X"], 2);
    assert!(line.contains("unrecognized subcommand 'acept'"), "{line}");
    assert!(line.contains("tip:") && line.contains("'accept'"), "{line}");
    let (_, line) = fails(d.path(), &["tick", "--nwo", "2020-09-01"], 2);
    assert!(line.contains("'--nwo'"), "{line}");
    assert!(line.contains("see `grantflow tick --help`"), "{line}");
}

#[test]
fn given_json_when_the_usage_is_bad_then_the_error_is_json_too() {
    let d = tempfile::tempdir().expect("tempdir");
    let (out, _) = fails(d.path(), &["--json", "accept"], 2);
    let v = out.json();
    assert_eq!(v["outcome"], "error");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("<APPLICATION>")),
        "{v}"
    );
}

#[test]
fn given_an_unknown_reference_when_a_verb_names_it_then_the_rejection_names_the_reference_not_an_id()
 {
    let d = opened();
    let (out, line) = fails(d.path(), &["accept", "ACME-009", "--now", "2020-09-03"], 1);
    assert!(line.contains("unknown_application"), "{line}");
    assert!(line.contains("ACME-009"), "{line}");
    assert!(!has_uuid(&out.stderr), "{}", out.stderr);
    let (out, _) = fails(
        d.path(),
        &["--json", "accept", "ACME-009", "--now", "2020-09-03"],
        1,
    );
    let v = out.json();
    assert_eq!(v["code"], "unknown_application");
    assert!(!has_uuid(&v["message"].to_string()), "{v}");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("ACME-009"))
    );
}

#[test]
fn given_a_known_reference_when_its_command_is_refused_then_the_rejection_names_the_reference() {
    let d = opened();
    // ACME-001 is offered, not awarded: a claim on it is refused.
    let (out, line) = fails(
        d.path(),
        &[
            "claim",
            "ACME-001",
            "--item",
            "consultancy",
            "--invoice",
            "INV-1",
            "--amount",
            "10",
            "--now",
            "2020-09-03",
        ],
        1,
    );
    assert!(line.contains("application ACME-001 is offered"), "{line}");
    assert!(!has_uuid(&out.stderr), "{}", out.stderr);
}

#[test]
fn given_a_command_file_when_run_then_each_row_names_its_application_and_id_as_given() {
    let d = opened();
    write(
        d.path(),
        "c.jsonl",
        "{\"id\": \"acme-accept\", \"command\": \"accept\", \"application\": \"ACME-001\", \"now\": \"2020-09-03\"}\n\
         {\"id\": \"ghost\", \"command\": \"accept\", \"application\": \"GHOST-1\", \"now\": \"2020-09-03\"}\n",
    );
    let (out, _) = fails(d.path(), &["--json", "run", "c.jsonl"], 1);
    let rows = out.json();
    assert_eq!(rows[0]["id"], "acme-accept");
    assert_eq!(rows[0]["application"], "ACME-001");
    assert_eq!(rows[0]["outcome"], "applied");
    assert_eq!(rows[1]["id"], "ghost");
    assert_eq!(rows[1]["application"], "GHOST-1");
    assert_eq!(rows[1]["outcome"], "rejected");
    let message = rows[1]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("GHOST-1") && !has_uuid(message),
        "{message}"
    );
    let text = gf(d.path(), &["run", "c.jsonl"]);
    assert!(
        text.stdout.contains("line 1: accept ACME-001 duplicate"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("line 2: accept GHOST-1 rejected (unknown_application)"),
        "{}",
        text.stdout
    );
}

const HEADER: &str = "reference,organisation,contact_name,contact_email,sector,employees,uk_based,already_certified,vat_registered,level,consultancy_days,day_rate";

fn row(reference: &str, employees: &str, uk: &str, rate: &str) -> String {
    format!(
        "{reference},{reference} Ltd,A B,a@b.example,primary-care,{employees},{uk},no,yes,basic,1,{rate}"
    )
}

fn applications(d: &Path) -> usize {
    ok(d, &["status", "--json"])
        .json()
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn given_a_csv_with_several_bad_rows_when_applied_then_each_is_reported_with_line_and_column_and_nothing_is_applied()
 {
    let d = opened();
    let text = [
        HEADER.to_string(),
        row("B-1", "ten", "yes", "500"),
        row("B-2", "5", "yes", "500"),
        row("B-3", "5", "maybe", "500"),
        row("B-4", "5", "yes", "£5"),
    ]
    .join("\n");
    write(d.path(), "bad.csv", &text);
    let (out, line) = fails(d.path(), &["apply", "bad.csv", "--now", "2020-09-03"], 2);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    for needle in [
        "bad.csv: 3 bad row(s), nothing was applied",
        "line 2, column 6 (`employees`): `ten` is not a whole number",
        "line 4, column 7 (`uk_based`): `maybe` is not yes/no",
        "line 5, column 12 (`day_rate`)",
    ] {
        assert!(line.contains(needle), "expected `{needle}` in: {line}");
    }
    assert!(
        !line.contains("line 3"),
        "a good row is not reported: {line}"
    );
    let (out, _) = fails(
        d.path(),
        &["--json", "apply", "bad.csv", "--now", "2020-09-03"],
        2,
    );
    let errors = out.json()["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(applications(d.path()), 1, "nothing of the file was applied");
}

#[test]
fn given_a_csv_with_more_than_fifty_bad_rows_when_applied_then_fifty_are_listed_and_the_rest_counted()
 {
    let d = opened();
    let mut lines = vec![HEADER.to_string()];
    lines.extend((1..=60).map(|i| row(&format!("B-{i}"), "many", "yes", "500")));
    write(d.path(), "many.csv", &lines.join("\n"));
    let (out, line) = fails(
        d.path(),
        &["--json", "apply", "many.csv", "--now", "2020-09-03"],
        2,
    );
    assert!(line.contains("60 bad row(s)"), "{line}");
    assert!(line.contains("and 10 more bad row(s) not listed"), "{line}");
    assert!(line.contains("line 51, column 6"), "{line}");
    assert!(!line.contains("line 52,"), "{line}");
    assert_eq!(out.json()["errors"].as_array().map(Vec::len), Some(50));
    assert_eq!(applications(d.path()), 1);
}

#[test]
fn given_a_csv_whose_rows_the_programme_refuses_when_applied_then_each_refused_row_is_named_and_nothing_is_applied()
 {
    let d = opened();
    // ACME-001 is in use already, with other answers: its row is refused.
    let text = [
        HEADER.to_string(),
        row("C-1", "5", "yes", "500"),
        row("ACME-001", "5", "yes", "500"),
        row("C-3", "5", "yes", "500"),
    ]
    .join("\n");
    write(d.path(), "refused.csv", &text);
    let (out, line) = fails(
        d.path(),
        &["apply", "refused.csv", "--now", "2020-09-03"],
        1,
    );
    assert!(line.contains("1 row(s) refused"), "{line}");
    assert!(line.contains("line 3: rejected"), "{line}");
    assert!(line.contains("ACME-001"), "{line}");
    assert!(!has_uuid(&out.stderr), "{}", out.stderr);
    assert_eq!(applications(d.path()), 1);
}

#[test]
fn given_texts_a_spreadsheet_would_run_when_exported_as_csv_then_each_cell_is_neutralised() {
    let d = tempfile::tempdir().expect("tempdir");
    let mut app: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/application.json"),
        )
        .expect("examples/application.json"),
    )
    .expect("JSON");
    app["reference"] = "@SUM-1".into();
    app["applicant"]["organisation"]["name"] =
        "=HYPERLINK(\"http://evil.example\",\"click\")".into();
    app["applicant"]["organisation"]["region"] = "+44 North".into();
    write(d.path(), "evil.json", &app.to_string());
    ok(d.path(), &["init", "--now", "2020-09-01"]);
    ok(d.path(), &["apply", "evil.json", "--now", "2020-09-02"]);
    ok(d.path(), &["accept", "@SUM-1", "--now", "2020-09-03"]);
    let csv = ok(d.path(), &["export", "--format", "csv"]).stdout;
    for cell in ["'=HYPERLINK(", "'+44 North", ",'@SUM-1,"] {
        assert!(csv.contains(cell), "expected `{cell}` in:\n{csv}");
    }
    for raw in [",=", ",\"=", ",+", ",@"] {
        assert!(!csv.contains(raw), "a raw `{raw}` cell in:\n{csv}");
    }
}

#[test]
fn given_the_preset_when_exported_then_the_funder_is_dcms_by_its_org_id_and_the_id_says_where_it_comes_from()
 {
    let d = opened();
    ok(d.path(), &["accept", "ACME-001", "--now", "2020-09-03"]);
    let package = ok(d.path(), &["export", "--format", "360giving"]).json();
    assert_eq!(package["publisher"]["identifier"], "GB-GOR-D5");
    assert_eq!(
        package["grants"][0]["fundingOrganization"][0]["id"],
        "GB-GOR-D5"
    );
    let rules = ok(d.path(), &["init", "--print"]).stdout;
    assert!(
        rules.contains("id = \"GB-GOR-D5\"") && rules.contains("org-id.guide list GB-GOR"),
        "{rules}"
    );
    assert!(!rules.contains("GB-GOV-DCMS"), "{rules}");
}

#[test]
fn given_a_url_of_another_database_when_any_verb_runs_then_its_scheme_is_refused_by_name_and_nothing_is_created()
 {
    let d = opened();
    write(
        d.path(),
        "a.json",
        &std::fs::read_to_string(d.path().join("app.json")).expect("app.json"),
    );
    for args in [
        vec!["--db", "mysql://u@h/db", "status"],
        vec!["--db", "mysql://u@h/db", "init", "--now", "2020-09-01"],
        vec![
            "--db",
            "mysql://u@h/db",
            "explain",
            "a.json",
            "--now",
            "2020-09-02",
        ],
        vec!["--db", "sqlite://x.db", "ledger"],
    ] {
        let (_, line) = fails(d.path(), &args, 2);
        assert!(line.contains("is not supported"), "{line}");
        assert!(line.contains("postgres://"), "{line}");
    }
    assert!(!d.path().join("mysql:").exists());
    assert!(!d.path().join("sqlite:").exists());
}

#[test]
fn given_memory_when_a_later_run_reads_it_then_the_error_says_memory_keeps_nothing_between_runs() {
    let d = tempfile::tempdir().expect("tempdir");
    let (_, line) = fails(d.path(), &["--db", "memory:", "status"], 2);
    assert!(line.contains("keeps nothing between runs"), "{line}");
    assert!(line.contains("use a file"), "{line}");
}

#[test]
fn given_memory_when_one_run_opens_and_uses_a_programme_then_it_works_for_that_run() {
    let d = tempfile::tempdir().expect("tempdir");
    let rules: Value =
        serde_json::from_str(&ok(d.path(), &["init", "--print", "--json"]).stdout).expect("JSON");
    let open = serde_json::json!({"id": "open", "command": "open", "programme": rules, "now": "2020-09-01"});
    let tick = serde_json::json!({"id": "t", "command": "tick", "now": "2020-09-02"});
    write(d.path(), "c.jsonl", &format!("{open}\n{tick}\n"));
    let out = ok(d.path(), &["--db", "memory:", "run", "c.jsonl"]);
    assert!(
        out.stdout.contains("line 1: open applied"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("line 2: tick applied"),
        "{}",
        out.stdout
    );
    let files: Vec<_> = std::fs::read_dir(d.path())
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert_eq!(files, ["c.jsonl"], "memory: wrote a file");
}

/// Makes `dir` and `file` unwritable for this process: by permissions, or,
/// for a process that ignores them (root), by the immutable attribute.
/// `None` when neither works here (the caller skips, saying so).
struct ReadOnly {
    paths: Vec<PathBuf>,
    immutable: bool,
}

impl ReadOnly {
    fn make(dir: &Path, file: &Path) -> Option<ReadOnly> {
        use std::os::unix::fs::PermissionsExt as _;
        let set = |p: &Path, mode: u32| {
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
        };
        let writable = || {
            std::fs::write(dir.join("probe"), "x").is_ok_and(|()| {
                let _ = std::fs::remove_file(dir.join("probe"));
                true
            })
        };
        set(file, 0o444);
        set(dir, 0o555);
        let mut guard = ReadOnly {
            paths: vec![file.to_path_buf(), dir.to_path_buf()],
            immutable: false,
        };
        if !writable() {
            return Some(guard);
        }
        let chattr = Command::new("chattr")
            .arg("+i")
            .args([file, dir])
            .status()
            .is_ok_and(|s| s.success());
        guard.immutable = chattr;
        if chattr && !writable() {
            return Some(guard);
        }
        None
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt as _;
        if self.immutable {
            let _ = Command::new("chattr").arg("-i").args(&self.paths).status();
        }
        for p in &self.paths {
            let mode = if p.is_dir() { 0o755 } else { 0o644 };
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
        }
    }
}

#[test]
fn given_a_database_this_process_may_not_write_when_read_then_it_opens_for_reading_and_a_change_is_refused()
 {
    let d = opened();
    let ro = d.path().join("ro");
    std::fs::create_dir(&ro).expect("mkdir");
    let db = ro.join("grantflow.db");
    std::fs::copy(d.path().join("grantflow.db"), &db).expect("copy the database");
    let Some(_guard) = ReadOnly::make(&ro, &db) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "cannot make a directory read-only here (neither permissions nor chattr bite); CI must be able to"
        );
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!(
                "SKIPPED: cannot make a directory read-only here (neither permissions nor chattr bite; under CI this fails)\n"
            ),
        );
        return;
    };
    let db = db.display().to_string();
    let status = ok(d.path(), &["--db", &db, "status", "--json"]).json();
    assert_eq!(status[0]["reference"], "ACME-001");
    ok(d.path(), &["--db", &db, "ledger"]);
    ok(d.path(), &["--db", &db, "history", "ACME-001"]);
    let (_, line) = fails(
        d.path(),
        &["--db", &db, "accept", "ACME-001", "--now", "2020-09-03"],
        2,
    );
    assert!(line.contains("is read-only here"), "{line}");
    assert!(line.contains("nothing was changed"), "{line}");
}

#[test]
fn given_json_when_anything_fails_then_one_object_gives_outcome_code_and_message() {
    let d = opened();
    let cases: Vec<(Vec<&str>, i32, &str, &str)> = vec![
        (vec!["--json", "accept"], 2, "error", "bad_usage"),
        (
            vec!["--json", "apply", "missing.json", "--now", "2020-09-03"],
            2,
            "error",
            "bad_input",
        ),
        (
            vec!["--json", "accept", "NOPE-1", "--now", "2020-09-03"],
            1,
            "rejected",
            "unknown_application",
        ),
        (vec!["--json", "status", "NOPE-1"], 1, "error", "refused"),
        (
            vec!["--json", "--db", "mysql://u@h/x", "status"],
            2,
            "error",
            "bad_input",
        ),
    ];
    for (args, code, outcome, kind) in cases {
        let (out, _) = fails(d.path(), &args, code);
        let v = out.json();
        assert_eq!(v["outcome"], outcome, "{args:?}: {v}");
        assert_eq!(v["code"], kind, "{args:?}: {v}");
        assert!(
            v["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{args:?}: {v}"
        );
    }
}

#[test]
fn given_a_flag_the_verb_would_ignore_when_given_then_it_is_refused() {
    let d = opened();
    ok(d.path(), &["accept", "ACME-001", "--now", "2020-09-03"]);
    let (_, line) = fails(d.path(), &["--json", "export", "--format", "csv"], 2);
    assert!(line.contains("--json does not apply to `export`"), "{line}");
    let (_, line) = fails(d.path(), &["--programme", "x", "schema", "rules"], 2);
    assert!(
        line.contains("--programme does not apply to `schema`"),
        "{line}"
    );
    let (_, line) = fails(d.path(), &["--programme", "x", "demo"], 2);
    assert!(
        line.contains("--programme does not apply to `demo`"),
        "{line}"
    );
    assert!(!d.path().join("grantflow-demo.db").exists());
}

#[test]
fn given_a_flag_that_means_nothing_to_the_verb_when_given_then_it_is_refused_by_name_and_nothing_runs()
 {
    let d = opened();
    let token = ["token", "add", "--role", "admin", "setup"];
    // An address serve cannot listen on, so that a flag let through fails here, not hangs.
    let serve = ["serve", "--addr", "no-such-address"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--db", "other.db", "schema", "rules"],
            "--db does not apply to `schema`",
        ),
        (
            vec!["--db", "other.db", "simulate", "--trials", "1"],
            "--db does not apply to `simulate`",
        ),
        (
            vec!["init", "--print", "--db", "other.db"],
            "--db does not apply to `init --print`",
        ),
        (
            vec!["init", "--print", "--now", "2020-09-01"],
            "--now does not apply to `init --print`",
        ),
        (
            vec!["init", "--print", "--command-id", "c-1"],
            "--command-id does not apply to `init --print`",
        ),
        (
            [&["--programme", "healthcare-ce-2020"][..], &serve].concat(),
            "--programme does not apply to `serve`",
        ),
        (
            [&["--json"][..], &serve].concat(),
            "--json does not apply to `serve`",
        ),
        (
            [&["--db", "other.db"][..], &token].concat(),
            "--db does not apply to `token add`",
        ),
        (
            [&["--programme", "healthcare-ce-2020"][..], &token].concat(),
            "--programme does not apply to `token add`",
        ),
        (
            [&["--json"][..], &token].concat(),
            "--json does not apply to `token add`",
        ),
        (
            vec!["--json", "user", "add", "--role", "admin", "a@b.example"],
            "--json does not apply to `user add`",
        ),
        (
            vec![
                "--programme",
                "healthcare-ce-2020",
                "user",
                "add",
                "--role",
                "admin",
                "a@b.example",
            ],
            "--programme does not apply to `user add`",
        ),
        (
            vec!["status", "ACME-001", "--state", "offered"],
            "cannot be used with",
        ),
    ];
    for (args, says) in cases {
        let (out, line) = fails(d.path(), &args, 2);
        assert!(line.contains(says), "{args:?}: {line}");
        if args.contains(&"--json") {
            assert_eq!(out.json()["code"], "bad_usage", "{args:?}: {}", out.stdout);
        } else {
            assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
        }
    }
    assert!(!d.path().join("other.db").exists());
    assert!(!d.path().join("grantflow-tokens.toml").exists());
    // With --json the refusal is the one error object.
    let (out, _) = fails(
        d.path(),
        &["--json", "--db", "other.db", "schema", "rules"],
        2,
    );
    assert_eq!(out.json()["code"], "bad_usage", "{}", out.stdout);
    // GRANTFLOW_DB from the environment is not a flag given: it is not refused.
    let schema = Command::new(env!("CARGO_BIN_EXE_grantflow"))
        .args(["schema", "rules"])
        .current_dir(d.path())
        .env("GRANTFLOW_DB", "other.db")
        .output()
        .expect("run grantflow");
    assert!(
        schema.status.success(),
        "{}",
        String::from_utf8_lossy(&schema.stderr)
    );
    // --json where the output is JSON anyway keeps its promise and is taken.
    ok(d.path(), &["--json", "schema", "rules"]).json();
    ok(d.path(), &["init", "--print", "--json"]).json();
}

#[test]
fn given_a_simulation_when_printed_then_funded_and_the_money_words_are_the_ledgers() {
    let d = opened();
    let definition = "funded: offer accepted (holds or held an award)";
    let ledger = ok(d.path(), &["ledger"]).stdout;
    assert!(ledger.contains(definition), "{ledger}");
    let run = SMALL_SIMULATION;
    let table = ok(d.path(), &run).stdout;
    assert!(table.contains(definition), "{table}");
    for words in [
        "firms funded",
        "paid (gross)",
        "net paid equals paid (gross)",
        "released back",
        "available at end",
        "funded: medical-supplier",
    ] {
        assert!(table.contains(words), "`{words}` missing: {table}");
    }
    for stale in ["pot paid", "pot unspent", "awarded"] {
        assert!(!table.contains(stale), "`{stale}` still printed: {table}");
    }
    let summary = ok(d.path(), &[&["--json"][..], &run].concat()).json();
    assert!(
        summary["meaning"]
            .as_str()
            .is_some_and(|m| m.contains(definition)),
        "{summary}"
    );
    let names: Vec<&str> = summary["variants"][0]["outputs"]
        .as_array()
        .map(|o| o.iter().filter_map(|x| x["output"].as_str()).collect())
        .unwrap_or_default();
    for name in ["firms funded", "paid (gross)", "funded: medical-supplier"] {
        assert!(names.contains(&name), "{name} missing: {names:?}");
    }
}

#[test]
fn given_json_when_simulating_then_the_summary_is_printed_and_per_trial_rows_are_behind_a_flag() {
    let d = tempfile::tempdir().expect("tempdir");
    let run = &SMALL_SIMULATION;
    let summary = ok(d.path(), &[&["--json"][..], run].concat()).json();
    let outputs = summary["variants"][0]["outputs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        outputs
            .iter()
            .any(|o| o["output"] == "paid (gross)" && o["p50"].is_number()),
        "{summary}"
    );
    assert!(summary["variants"][0].get("trials").is_none(), "{summary}");
    let raw = ok(d.path(), &[run, &["--json", "--per-trial"][..]].concat()).json();
    assert_eq!(
        raw["variants"][0]["trials"].as_array().map(Vec::len),
        Some(2),
        "{raw}"
    );
}

#[test]
fn given_payments_and_a_clawback_when_the_ledger_and_status_are_read_then_paid_recovered_and_net_paid_mean_the_same_on_both()
 {
    let d = opened();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/applications.csv"),
        d.path().join("apps.csv"),
    )
    .expect("copy examples/applications.csv");
    ok(d.path(), &["apply", "apps.csv", "--now", "2020-09-03"]);
    for (args, now) in [
        (vec!["accept", "ACME-001"], "2020-09-04"),
        (vec!["accept", "BETA-002"], "2020-09-04"),
        (vec!["decline", "DELTA-004"], "2020-09-04"),
        (
            vec!["milestone", "ACME-001", "consultancy_engaged"],
            "2020-09-05",
        ),
        (
            vec!["milestone", "ACME-001", "self_assessment_submitted"],
            "2020-09-06",
        ),
        (
            vec![
                "claim",
                "ACME-001",
                "--item",
                "consultancy",
                "--invoice",
                "C-1",
                "--amount",
                "900",
            ],
            "2020-09-07",
        ),
        (vec!["withdraw", "ACME-001"], "2020-09-08"),
        (
            vec![
                "clawback",
                "ACME-001",
                "--amount",
                "100",
                "--reason",
                "overstated",
            ],
            "2020-09-09",
        ),
        (vec!["withdraw", "BETA-002"], "2020-09-10"),
    ] {
        ok(d.path(), &[&args[..], &["--now", now][..]].concat());
    }
    let ledger = ok(d.path(), &["ledger", "--json"]).json();
    assert_eq!(ledger["paid"], "900.00", "paid is gross");
    assert_eq!(ledger["recovered"], "100.00");
    assert_eq!(ledger["net_paid"], "800.00");
    // funded: offer accepted, whatever came after (both withdrew; DELTA-004 declined).
    assert_eq!(ledger["funded"], 2, "{ledger}");
    let medical = ledger["by_sector"]
        .as_array()
        .and_then(|s| s.iter().find(|r| r["sector"] == "medical-supplier"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(medical["funded"], 1, "{medical}");
    assert_eq!(medical["net_paid"], "800.00", "{medical}");
    let status = ok(d.path(), &["status", "ACME-001", "--json"]).json();
    assert_eq!(status["paid"], ledger["paid"]);
    assert_eq!(status["recovered"], ledger["recovered"]);
    assert_eq!(status["net_paid"], ledger["net_paid"]);
    let text = ok(d.path(), &["ledger"]).stdout;
    for needle in [
        "paid (gross)",
        "net paid (paid less recovered)",
        "£800.00",
        "funded: offer accepted",
    ] {
        assert!(text.contains(needle), "expected `{needle}` in:\n{text}");
    }
    let table = ok(d.path(), &["status"]).stdout;
    assert!(table.contains("net paid"), "{table}");
    assert!(table.contains("£800.00"), "{table}");
}

#[test]
fn given_a_demo_run_when_its_summary_is_read_then_funded_and_net_paid_agree_with_the_ledger() {
    let d = tempfile::tempdir().expect("tempdir");
    let summary = ok(
        d.path(),
        &[
            "demo",
            "--applicants",
            "60",
            "--seed",
            "7",
            "--json",
            "--db",
            "d.db",
        ],
    )
    .json();
    let ledger = ok(d.path(), &["--db", "d.db", "ledger", "--json"]).json();
    assert_eq!(summary["funded"], ledger["funded"], "{summary}");
    assert_eq!(summary["ledger"]["net_paid"], ledger["net_paid"]);
    let by_sector: u64 = ledger["by_sector"]
        .as_array()
        .map(|s| s.iter().filter_map(|r| r["funded"].as_u64()).sum())
        .unwrap_or_default();
    assert_eq!(Some(by_sector), ledger["funded"].as_u64());
    let text = ok(
        d.path(),
        &["demo", "--applicants", "60", "--seed", "7", "--db", "t.db"],
    )
    .stdout;
    assert!(text.contains("funded (offer accepted)"), "{text}");
    assert!(text.contains("(gross), recovered"), "{text}");
    assert!(text.contains("net paid"), "{text}");
}

#[test]
fn given_the_minimal_rules_file_when_init_runs_then_it_opens_the_programme_and_print_shows_the_defaults()
 {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/minimal-programme.toml"),
        d.path().join("minimal.toml"),
    )
    .expect("copy examples/minimal-programme.toml");
    let out = ok(
        d.path(),
        &["init", "--rules", "minimal.toml", "--now", "2030-01-06"],
    );
    assert!(
        out.stdout
            .contains("initialised Regional Cyber Essentials fund 2030"),
        "{}",
        out.stdout
    );
    let printed = ok(d.path(), &["init", "--rules", "minimal.toml", "--print"]).stdout;
    for needle in [
        "[windows.offer_days]\nvalue = 14\nassumed = \"grantflow's default",
        "[coverage.award_cap]\nvalue = \"1000000000000.00\"",
    ] {
        assert!(
            printed.contains(needle),
            "expected `{needle}` in:\n{printed}"
        );
    }
}

#[test]
fn given_the_rules_schema_when_read_then_it_marks_the_parts_with_defaults_optional() {
    let d = tempfile::tempdir().expect("tempdir");
    let schema = ok(d.path(), &["schema", "rules"]).json();
    let required = |v: &Value| -> Vec<String> {
        v["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let root = required(&schema);
    assert!(root.contains(&"sectors".to_string()), "{root:?}");
    for optional in ["windows", "allocation"] {
        assert!(
            !root.contains(&optional.to_string()),
            "{optional} is required: {root:?}"
        );
    }
    let coverage = required(&schema["properties"]["coverage"]);
    assert!(
        coverage.contains(&"certification_fee".to_string()),
        "{coverage:?}"
    );
    assert!(!coverage.contains(&"award_cap".to_string()), "{coverage:?}");
    let windows = required(&schema["properties"]["windows"]);
    assert!(windows.is_empty(), "{windows:?}");
}

#[test]
fn given_the_published_schemas_when_read_then_they_describe_what_the_parser_takes_for_ring_fences_company_numbers_and_days()
 {
    let d = tempfile::tempdir().expect("tempdir");
    let rules = ok(d.path(), &["schema", "rules"]).json();
    let fences = &rules["properties"]["allocation"]["properties"]["ring_fences"];
    assert_eq!(fences["type"], "array", "{fences}");
    assert!(fences["items"]["properties"]["cap"].is_object(), "{fences}");
    let commands = ok(d.path(), &["schema", "commands"]).json();
    let submit = commands["oneOf"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["title"] == "submit"))
        .cloned()
        .unwrap_or_default();
    // A company number is text (OC123456 is accepted), not a decimal number.
    let company = &submit["properties"]["applicant"]["properties"]["organisation"]["properties"]["company_number"];
    assert_eq!(
        company["type"],
        serde_json::json!(["string", "null"]),
        "{company}"
    );
    assert_eq!(company["pattern"], "^[A-Za-z0-9]{1,16}$", "{company}");
    // Days: not negative, at most two decimals, as CostRequest::check takes them.
    let days = submit["properties"]["request"]["properties"]["consultancy_days"].to_string();
    assert!(
        days.contains("\"minimum\":0") && days.contains("\"multipleOf\":0.01"),
        "{days:.300}"
    );
    assert!(days.contains("{1,2}"), "{days:.300}");
}
