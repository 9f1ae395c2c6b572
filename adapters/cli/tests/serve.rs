//! `grantflow token add`, `grantflow user add` and `grantflow serve` as a
//! user runs them: a real process on a loopback port over a SQLite file,
//! its tokens file and its audit log, stopped with Ctrl-C (SIGINT).

mod common;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::gf;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// Starts `grantflow serve` in `dir` with `args` on a free port, and waits
/// until it answers.
fn serve(dir: &std::path::Path, args: &[&str]) -> (Served, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let served = Served(
        Command::new(env!("CARGO_BIN_EXE_grantflow"))
            .current_dir(dir)
            .args(["serve", "--addr", &addr])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts"),
    );
    let base = format!("http://{addr}");
    let a = agent();
    let started = Instant::now();
    while a.get(format!("{base}/health")).call().is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "serve did not come up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (served, base)
}

/// Stops `served` with Ctrl-C (SIGINT) and checks that it stopped cleanly.
fn stop(mut served: Served) {
    let interrupted = Command::new("kill")
        .args(["-INT", &served.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(interrupted.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = served.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "serve did not stop on Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    if let Some(mut e) = served.0.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(status.success(), "serve stopped cleanly: {stderr}");
}

/// Given a programme initialised by the CLI and a finance token made by
/// `grantflow token add`, when `grantflow serve` runs, then the ledger
/// answers with that token, a top-up is recorded and audited, a request
/// without a token is refused 401, and Ctrl-C stops the server cleanly.
#[test]
fn serve_answers_with_a_token_from_token_add_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let init = gf(
        dir.path(),
        &[
            "init",
            "--preset",
            "healthcare-ce-2020",
            "--now",
            "2020-09-01",
        ],
    );
    assert_eq!(init.code, 0, "{}", init.stderr);
    let made = gf(
        dir.path(),
        &["token", "add", "--role", "finance", "ledger-bot"],
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
    let secret = made.stdout.trim().to_string();
    assert!(secret.starts_with("gft_") && secret.len() > 60, "{secret}");
    let file =
        std::fs::read_to_string(dir.path().join("grantflow-tokens.toml")).expect("tokens file");
    assert!(!file.contains(&secret), "the file keeps only the hash");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("grantflow-tokens.toml"))
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "only its owner may read the tokens file");
    }
    let again = gf(
        dir.path(),
        &["token", "add", "--role", "finance", "ledger-bot"],
    );
    assert_eq!(again.code, 2, "a name used twice is bad usage");

    let (served, base) = serve(dir.path(), &["--audit", "audit.jsonl"]);
    let a = agent();

    let mut ledger = a
        .get(format!("{base}/programmes/healthcare-ce-2020/ledger"))
        .header("authorization", format!("Bearer {secret}"))
        .call()
        .expect("an answer");
    assert_eq!(ledger.status().as_u16(), 200);
    let body: serde_json::Value =
        serde_json::from_str(&ledger.body_mut().read_to_string().expect("body")).expect("JSON");
    assert_eq!(body["credits"], "500000.00");

    let signed_out = a
        .get(format!("{base}/programmes/healthcare-ce-2020/ledger"))
        .call()
        .expect("an answer");
    assert_eq!(signed_out.status().as_u16(), 401);

    let topped = a
        .post(format!("{base}/programmes/healthcare-ce-2020/top-ups"))
        .header("authorization", format!("Bearer {secret}"))
        .header("idempotency-key", "top-up-1")
        .send_json(serde_json::json!({ "amount": "1000.00", "note": "second tranche" }))
        .expect("an answer");
    assert_eq!(topped.status().as_u16(), 200);

    stop(served);

    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).expect("audit log");
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(lines.len(), 1, "{audit}");
    assert_eq!(lines[0]["who"], "ledger-bot");
    assert_eq!(lines[0]["command"], "top_up");
    assert_eq!(lines[0]["outcome"], "applied");

    let ledger = gf(dir.path(), &["ledger", "--json"]);
    let text = &ledger.stdout;
    assert!(
        text.contains("501000.00") || text.contains("501,000.00"),
        "the CLI sees the top-up: {text}"
    );
}

fn post(
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: serde_json::Value,
) -> (u16, serde_json::Value, String) {
    let mut request = agent().post(format!("{base}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.send_json(body).expect("an answer");
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .to_string();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or_default(),
        cookie,
    )
}

/// Given a fresh database with no accounts at all, when `grantflow user
/// add --role admin` makes the first one, then its link sets a password and
/// a second factor on the running server, the admin signs in and sees the
/// account, the same address cannot be made twice, applicants get no
/// accounts, and with no --smtp the e-mail sign-in says so.
#[test]
fn user_add_makes_the_first_admin_who_sets_up_and_signs_in_over_serve() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let applicant = gf(
        dir.path(),
        &["user", "add", "--role", "applicant", "a@b.example"],
    );
    assert_eq!(applicant.code, 2, "{}", applicant.stderr);
    assert!(
        applicant.stderr.contains("applicants have no accounts"),
        "{}",
        applicant.stderr
    );
    let bad = gf(
        dir.path(),
        &["user", "add", "--role", "admin", "not-an-address"],
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);

    let made = gf(
        dir.path(),
        &[
            "user",
            "add",
            "--role",
            "admin",
            "--base-url",
            "https://grants.example/",
            "IT.Lead@trust.example",
        ],
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
    let link = made.stdout.trim();
    let token = link
        .strip_prefix("https://grants.example/account/setup?token=")
        .unwrap_or_else(|| panic!("a setup link: {link}"));
    assert!(made.stderr.contains("works once"), "{}", made.stderr);

    let (served, base) = serve(dir.path(), &["--audit", "audit.jsonl"]);
    let password = "violet tractor mango lighthouse";
    let (status, set, _) = post(
        &base,
        "/account/setup",
        &[],
        serde_json::json!({ "token": token, "password": password }),
    );
    assert_eq!(status, 200, "{set}");
    let secret = set["secret"].as_str().expect("a second factor").to_string();
    let now = u64::try_from(chrono::Utc::now().timestamp()).expect("after 1970");
    let code = grantflow_http::sign_in::totp_code(&secret, now).expect("a code");
    let (status, answer, _) = post(
        &base,
        "/account/setup/confirm",
        &[],
        serde_json::json!({ "token": token, "totp": code }),
    );
    assert_eq!(status, 204, "{answer}");
    // The next step's code (a code works once; the neighbouring step is accepted).
    let next = grantflow_http::sign_in::totp_code(&secret, now + 30).expect("a code");
    let (status, signed, cookie) = post(
        &base,
        "/sign-in/password",
        &[],
        serde_json::json!({ "email": "it.lead@trust.example", "password": password, "totp": next }),
    );
    assert_eq!(status, 200, "{signed}");
    assert_eq!(signed["role"], "admin");
    let mut users = agent()
        .get(format!("{base}/users"))
        .header("cookie", &cookie)
        .call()
        .expect("an answer");
    assert_eq!(users.status().as_u16(), 200);
    let users: serde_json::Value =
        serde_json::from_str(&users.body_mut().read_to_string().expect("body")).expect("JSON");
    assert_eq!(users[0]["email"], "it.lead@trust.example");
    assert_eq!(users[0]["standing"], "active");

    let (status, no_mail, _) = post(
        &base,
        "/sign-in/code",
        &[],
        serde_json::json!({ "email": "a@b.example" }),
    );
    assert_eq!(status, 503, "{no_mail}");
    assert_eq!(no_mail["code"], "no_mail");
    stop(served);

    let twice = gf(
        dir.path(),
        &["user", "add", "--role", "admin", "it.lead@trust.example"],
    );
    assert_eq!(twice.code, 2, "{}", twice.stderr);
    assert!(twice.stderr.contains("set up already"), "{}", twice.stderr);
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).expect("audit log");
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"route\":\"sign_in\"") && l.contains("\"signed_in\"")),
        "the sign-in is audited: {audit}"
    );
}
