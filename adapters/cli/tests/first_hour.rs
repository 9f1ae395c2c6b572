//! What a newcomer meets in a first hour with `grantflow`: `init` and the
//! programme's one clock, messages that name what the user typed, and
//! exports that are safe to open.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

fn gf(dir: &Path, args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_grantflow"))
        .args(args)
        .current_dir(dir)
        .env_remove("GRANTFLOW_DB")
        .output()
        .expect("run grantflow");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

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

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write fixture");
    p
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
