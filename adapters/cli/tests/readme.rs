//! The README's walkthrough, run as written: every `grantflow` line of the
//! fenced `sh` blocks under "## Walkthrough" goes through the built binary,
//! in order, on a fresh database in a temporary directory holding a copy of
//! `examples/`, and what it prints must be the `text` block that follows.

use std::path::{Path, PathBuf};
use std::process::Command;

const HEADING: &str = "## Walkthrough";

/// One step of the walkthrough: the lines of an `sh` block and the `text` block after it.
#[derive(Debug)]
struct Step {
    /// 1-based line of the README where the `sh` block starts.
    line: usize,
    commands: Vec<String>,
    expected: String,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn readme() -> String {
    std::fs::read_to_string(repo_root().join("README.md")).expect("read README.md")
}

/// The steps under [`HEADING`], up to the next second-level heading.
fn walkthrough(readme: &str) -> Result<Vec<Step>, String> {
    let lines: Vec<&str> = readme.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with(HEADING))
        .ok_or_else(|| format!("README.md has no `{HEADING}` heading"))?;
    let mut steps: Vec<Step> = Vec::new();
    let mut waiting: Option<(usize, Vec<String>)> = None;
    let mut i = start + 1;
    while i < lines.len() && !lines[i].starts_with("## ") {
        let fence = lines[i].trim();
        if let Some(info) = fence.strip_prefix("```").filter(|i| !i.is_empty()) {
            let first = i + 1;
            let mut body = Vec::new();
            i += 1;
            while i < lines.len() && lines[i].trim() != "```" {
                body.push(lines[i].to_string());
                i += 1;
            }
            if i == lines.len() {
                return Err(format!(
                    "README.md line {first}: a fenced block is not closed"
                ));
            }
            match info {
                "sh" => {
                    if let Some((at, _)) = waiting {
                        return Err(format!(
                            "README.md line {at}: an `sh` block must be followed by a `text` block of what it prints"
                        ));
                    }
                    waiting = Some((first, body));
                }
                "text" => {
                    let (line, commands) = waiting.take().ok_or_else(|| {
                        format!(
                            "README.md line {first}: a `text` block with no `sh` block before it"
                        )
                    })?;
                    steps.push(Step {
                        line,
                        commands,
                        expected: body.join("\n"),
                    });
                }
                other => {
                    return Err(format!(
                        "README.md line {first}: the walkthrough holds `sh` and `text` blocks only, not `{other}`"
                    ));
                }
            }
        }
        i += 1;
    }
    if let Some((at, _)) = waiting {
        return Err(format!(
            "README.md line {at}: an `sh` block must be followed by a `text` block of what it prints"
        ));
    }
    if steps.is_empty() {
        return Err(format!("README.md has no steps under `{HEADING}`"));
    }
    Ok(steps)
}

/// Splits a command line as a POSIX shell would for the plain words,
/// single and double quotes and backslashes the walkthrough may use;
/// anything the shell would do more with (pipes, redirections, variables,
/// comments) is refused, so the README holds only lines this test runs as
/// a shell would.
fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("unclosed ' in `{line}`")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => word.push(c),
                            None => return Err(format!("trailing \\ in `{line}`")),
                        },
                        Some(c @ ('$' | '`')) => {
                            return Err(format!("`{c}` in `{line}`: the shell would expand it"));
                        }
                        Some(c) => word.push(c),
                        None => return Err(format!("unclosed \" in `{line}`")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err(format!("trailing \\ in `{line}`")),
                }
            }
            '|' | '&' | ';' | '<' | '>' | '$' | '`' | '#' | '(' | ')' | '*' | '?' | '~' => {
                return Err(format!(
                    "`{c}` in `{line}`: the walkthrough runs plain commands only"
                ));
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// The verbs whose result depends on the date: each must carry `--now`
/// (`explain`'s `--on` is the same) unless the step shows it refused.
const DATED: &[&str] = &[
    "init",
    "explain",
    "apply",
    "accept",
    "decline",
    "withdraw",
    "milestone",
    "claim",
    "tick",
    "top-up",
    "clawback",
    "complete",
];

struct Ran {
    code: i32,
    printed: String,
}

fn run(dir: &Path, words: &[String]) -> Ran {
    let out = Command::new(env!("CARGO_BIN_EXE_grantflow"))
        .args(words)
        .current_dir(dir)
        .env_remove("GRANTFLOW_DB")
        .output()
        .expect("run grantflow");
    let mut printed = String::from_utf8_lossy(&out.stdout).into_owned();
    printed.push_str(&String::from_utf8_lossy(&out.stderr));
    Ran {
        code: out.status.code().unwrap_or(-1),
        printed,
    }
}

/// A fresh directory holding a copy of the files of `examples/`.
fn fresh_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let examples = dir.path().join("examples");
    std::fs::create_dir(&examples).expect("examples dir");
    for entry in std::fs::read_dir(repo_root().join("examples")).expect("read examples/") {
        let entry = entry.expect("examples entry");
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::copy(entry.path(), examples.join(entry.file_name())).expect("copy example");
        }
    }
    dir
}

fn trimmed(text: &str) -> String {
    text.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}

#[test]
fn given_the_readme_walkthrough_when_each_line_runs_on_a_fresh_database_then_it_prints_what_the_readme_shows()
 {
    let steps = walkthrough(&readme()).unwrap_or_else(|e| panic!("{e}"));
    let dir = fresh_dir();
    let mut failures = Vec::new();
    for step in &steps {
        let mut printed = String::new();
        let shows_refusal = step.expected.lines().any(|l| l.starts_with("error: "));
        for (n, line) in step.commands.iter().enumerate() {
            let words = split(line).unwrap_or_else(|e| panic!("README.md line {}: {e}", step.line));
            assert_eq!(
                words.first().map(String::as_str),
                Some("grantflow"),
                "README.md line {}: every walkthrough line runs grantflow: `{line}`",
                step.line
            );
            let last = n + 1 == step.commands.len();
            let verb = words.iter().skip(1).find(|w| !w.starts_with('-'));
            let dated = verb.is_some_and(|v| DATED.contains(&v.as_str()));
            let has_now = words.iter().any(|w| w == "--now" || w == "--on");
            assert!(
                !dated || has_now || (shows_refusal && last),
                "README.md line {}: `{line}` depends on the date: give it --now",
                step.line
            );
            let ran = run(dir.path(), &words[1..]);
            let refused_here = shows_refusal && last;
            assert!(
                (ran.code == 0) != refused_here,
                "README.md line {}: `{line}` exited {} (the README shows {}):\n{}",
                step.line,
                ran.code,
                if refused_here { "a refusal" } else { "success" },
                ran.printed
            );
            printed.push_str(&ran.printed);
        }
        if trimmed(&printed) != trimmed(&step.expected) {
            failures.push(format!(
                "README.md line {}: `{}` printed\n{}\n-- but the README shows --\n{}\n",
                step.line,
                step.commands.join(" && "),
                trimmed(&printed),
                trimmed(&step.expected)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "the walkthrough has drifted from what grantflow prints:\n{}",
        failures.join("\n")
    );
}

#[test]
fn given_the_walkthrough_command_files_when_read_then_every_line_carries_its_own_time() {
    for line in std::fs::read_to_string(repo_root().join("examples/commands.jsonl"))
        .expect("read examples/commands.jsonl")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        assert!(
            v.get("now").is_some_and(serde_json::Value::is_string),
            "examples/commands.jsonl: `{line}` has no \"now\""
        );
    }
}

#[test]
fn given_a_walkthrough_with_an_sh_block_and_no_output_when_read_then_it_is_refused() {
    let text = "## Walkthrough\n\n```sh\ngrantflow status\n```\n\n## Next\n";
    let err = walkthrough(text).expect_err("an sh block without its output");
    assert!(err.contains("must be followed by a `text` block"), "{err}");
}

#[test]
fn given_shell_syntax_beyond_plain_words_when_split_then_it_is_refused() {
    assert_eq!(
        split(r#"grantflow withdraw A-1 --reason "closed the 'shop'" --now 2020-10-01"#),
        Ok(vec![
            "grantflow".to_string(),
            "withdraw".into(),
            "A-1".into(),
            "--reason".into(),
            "closed the 'shop'".into(),
            "--now".into(),
            "2020-10-01".into(),
        ])
    );
    for bad in [
        "grantflow export > grants.csv",
        "grantflow status | head",
        "grantflow tick --now $NOW",
        "grantflow tick # comment",
    ] {
        assert!(split(bad).is_err(), "`{bad}` should be refused");
    }
}
