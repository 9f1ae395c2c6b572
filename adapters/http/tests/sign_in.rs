//! Signing in, for people, against a real server on a loopback port: staff
//! set up by a one-time link, then password and second factor (TOTP);
//! applicants by a code sent through a real SMTP server (aiosmtpd); the
//! session cookie and its CSRF token; the throttles under a password
//! spraying campaign. Records are kept in SQLite, PostgreSQL or memory.

mod common;

use std::time::{Duration, Instant};

use chrono::TimeDelta;
use grantflow_core::InMemoryStore;
use grantflow_http::sign_in::totp_code;
use grantflow_http::{Email, Engines, Server};
use grantflow_testkit::fixtures;
use grantflow_testkit::smtp::SmtpSink;
use serde_json::{Value, json};

use common::{
    PASSWORD, Running, advance, cookie, mailer, post, set_up, sign_in, start_with, submission, unix,
};

fn engines() -> Box<Engines<InMemoryStore>> {
    Box::new(Engines::new(|| Ok(InMemoryStore::new())))
}

/// Given a server keeping its records in `records`, when an admin makes an
/// account and its owner sets it up and signs in, then the session cookie
/// is Secure, HttpOnly and SameSite; changes need its CSRF token; a second
/// sign-in renews it; and signing out ends it.
fn staff_journey(s: &Running) {
    let email = "it.lead@trust.example";
    // A setup link works once: weak passwords are refused with a reason first.
    let made = post(
        s,
        "/users",
        &[("authorization", "Bearer secret-admin")],
        &json!({ "email": email, "role": "admin" }),
    );
    assert_eq!(made.status, 201, "{}", made.text);
    let token = made.body["setup_token"]
        .as_str()
        .expect("token")
        .to_string();
    for weak in ["short", "password1234", "it.lead.trust2020"] {
        let r = post(
            s,
            "/account/setup",
            &[],
            &json!({ "token": token, "password": weak }),
        );
        assert_eq!(r.status, 422, "{weak}: {}", r.text);
        assert_eq!(r.body["code"], "weak_password");
    }
    let wrong_link = post(
        s,
        "/account/setup",
        &[],
        &json!({ "token": "nope", "password": PASSWORD }),
    );
    assert_eq!(wrong_link.status, 404, "{}", wrong_link.text);

    let secret = set_up(s, email, "admin");
    // The used link does not work again.
    let again = post(
        s,
        "/account/setup",
        &[],
        &json!({ "token": token, "password": PASSWORD }),
    );
    assert_eq!(again.status, 404, "an old link: {}", again.text);

    // A wrong second factor is the same answer as a wrong password.
    let bad_totp = post(
        s,
        "/sign-in/password",
        &[],
        &json!({ "email": email, "password": PASSWORD, "totp": "000000" }),
    );
    let bad_password = sign_in(s, email, "violet tractor mango lighthouses", &secret);
    assert_eq!(bad_totp.status, 401);
    assert_eq!(bad_password.status, 401);
    assert_eq!(bad_totp.body, bad_password.body);

    let signed = sign_in(s, email, PASSWORD, &secret);
    assert_eq!(signed.status, 200, "{}", signed.text);
    let set_cookie = signed.header("set-cookie").to_string();
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} in {set_cookie}"
        );
    }
    assert_eq!(signed.body["role"], "admin");
    let csrf = signed.body["csrf_token"]
        .as_str()
        .expect("a CSRF token")
        .to_string();
    let first = cookie(&signed);

    // The same code does not work twice.
    let replay = post(
        s,
        "/sign-in/password",
        &[],
        &json!({ "email": email, "password": PASSWORD, "totp": totp_code(&secret, unix(s)).unwrap() }),
    );
    assert_eq!(replay.status, 401, "a replayed code: {}", replay.text);

    let me = s.call("GET", "/session", &[("cookie", &first)], None);
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["email"], email);
    assert_eq!(me.body["csrf_token"], csrf.as_str());

    // A change with the cookie but without its CSRF token is refused and changes nothing.
    let mut rules = fixtures::programme(5_000);
    rules.id = "csrf".into();
    let rules = serde_json::to_vec(&rules).expect("rules");
    let forged = s.call(
        "PUT",
        "/programmes/csrf",
        &[("cookie", &first), ("idempotency-key", "open-csrf")],
        Some(&rules),
    );
    assert_eq!(forged.status, 403, "{}", forged.text);
    assert_eq!(forged.body["code"], "csrf");
    let wrong = s.call(
        "PUT",
        "/programmes/csrf",
        &[
            ("cookie", &first),
            ("idempotency-key", "open-csrf"),
            ("x-csrf-token", "0000"),
        ],
        Some(&rules),
    );
    assert_eq!(wrong.status, 403, "{}", wrong.text);
    // A form post (what a page on another site could make a browser send)
    // carries the cookie but not the token: refused too.
    let form = s.call(
        "POST",
        "/programmes/csrf/top-ups",
        &[
            ("cookie", &first),
            ("idempotency-key", "form-top-up"),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        Some(b"amount=1000.00&note=forged"),
    );
    assert_eq!(form.status, 403, "{}", form.text);
    assert_eq!(form.body["code"], "csrf");
    assert_eq!(
        s.call("GET", "/programmes/csrf", &[], None).status,
        404,
        "nothing was opened"
    );
    let opened = s.call(
        "PUT",
        "/programmes/csrf",
        &[
            ("cookie", &first),
            ("idempotency-key", "open-csrf"),
            ("x-csrf-token", &csrf),
        ],
        Some(&rules),
    );
    assert_eq!(opened.status, 200, "{}", opened.text);

    // Signing in again renews the session: the old cookie stops working.
    advance(s, TimeDelta::seconds(30));
    let renewed = s.call(
        "POST",
        "/sign-in/password",
        &[("cookie", &first)],
        Some(
            &serde_json::to_vec(&json!({
                "email": email, "password": PASSWORD,
                "totp": totp_code(&secret, unix(s)).unwrap()
            }))
            .unwrap(),
        ),
    );
    assert_eq!(renewed.status, 200, "{}", renewed.text);
    let second = cookie(&renewed);
    assert_ne!(first, second);
    assert_eq!(
        s.call("GET", "/session", &[("cookie", &first)], None)
            .status,
        401
    );
    let csrf2 = renewed.body["csrf_token"].as_str().unwrap().to_string();

    // The sign-in trail, for an admin.
    let trail = s.call(
        "GET",
        "/sign-in/events?limit=50",
        &[("cookie", &second)],
        None,
    );
    assert_eq!(trail.status, 200, "{}", trail.text);
    let outcomes: Vec<&str> = trail
        .body
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["email"] == email)
        .filter_map(|e| e["outcome"].as_str())
        .collect();
    for expected in ["set_up", "failed", "signed_in"] {
        assert!(outcomes.contains(&expected), "{expected} in {outcomes:?}");
    }
    let audited: Vec<Value> = s
        .audit
        .records()
        .into_iter()
        .filter(|r| r["route"] == "sign_in")
        .collect();
    assert!(
        audited.iter().any(|r| r["outcome"] == "failed")
            && audited.iter().any(|r| r["outcome"] == "signed_in"),
        "sign-ins and failures are in the audit log: {audited:?}"
    );

    // Signing out needs the CSRF token too, then ends the session.
    let no_token = s.call("POST", "/sign-out", &[("cookie", &second)], None);
    assert_eq!(no_token.status, 403);
    let out = s.call(
        "POST",
        "/sign-out",
        &[("cookie", &second), ("x-csrf-token", &csrf2)],
        None,
    );
    assert_eq!(out.status, 204, "{}", out.text);
    assert!(out.header("set-cookie").contains("Max-Age=0"));
    assert_eq!(
        s.call("GET", "/session", &[("cookie", &second)], None)
            .status,
        401
    );
    assert_eq!(
        s.call("GET", "/users", &[("cookie", &second)], None).status,
        401,
        "an ended session is signed out"
    );
}

#[test]
fn staff_sign_in_with_records_in_sqlite() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("grantflow.db");
    let records = grantflow_sqlite::SqliteRecords::open(&path).expect("records");
    let s = start_with(engines(), |server| server.with_records(Box::new(records)));
    staff_journey(&s);
    // The records are in the file: another connection sees the account.
    let mut again = grantflow_http::Accounts::new(
        grantflow_sqlite::SqliteRecords::open(&path).expect("records again"),
    );
    let account = again
        .account(&Email::parse("it.lead@trust.example").unwrap())
        .expect("read")
        .expect("the account is kept");
    assert!(account.is_active());
    assert!(
        account
            .password
            .as_deref()
            .is_some_and(|p| p.starts_with("$argon2id$")),
        "kept as an argon2id hash"
    );
}

#[test]
fn staff_sign_in_with_records_in_postgres() {
    let Some((url, options)) = common::postgres("staff_sign_in_with_records_in_postgres") else {
        return;
    };
    let records =
        grantflow_postgres::PgRecords::connect_with(&url, options.clone()).expect("records");
    let s = start_with(engines(), |server| server.with_records(Box::new(records)));
    staff_journey(&s);
    drop(s);
    let mut store =
        grantflow_postgres::PostgresStore::connect_with(&url, options.clone()).expect("connect");
    common::drop_schema(&mut store, &options);
}

/// The six digits in the newest message to `to`.
fn code_sent(sink: &SmtpSink, to: &str, n: usize) -> String {
    let messages = sink.wait_for(n);
    let message = messages
        .iter()
        .rev()
        .find(|m| m["to"].as_str().is_some_and(|t| t.contains(to)))
        .unwrap_or_else(|| panic!("a message to {to} in {messages:?}"));
    let body = message["body"].as_str().expect("a body");
    body.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("six digits in {body}"))
        .to_string()
}

/// Given a server that sends codes through a real SMTP server, when an
/// applicant asks for a code, then it arrives; wrong codes are refused and
/// after five the code is spent; a new code signs in once, as an applicant
/// who sees only their own applications; a code expires in 10 minutes.
#[test]
fn applicants_sign_in_by_a_code_sent_by_email() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let s = start_with(engines(), |server| server.with_mailer(mailer(&sink)));
    s.open("p", fixtures::programme(50_000));
    let email = fixtures::applicant(1).contact.email;

    let sent = post(&s, "/sign-in/code", &[], &json!({ "email": email }));
    assert_eq!(sent.status, 202, "{}", sent.text);
    let code = code_sent(&sink, &email, 1);
    let verify = |code: &str| {
        post(
            &s,
            "/sign-in/code/verify",
            &[],
            &json!({ "email": email, "code": code }),
        )
    };
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let r = verify(wrong);
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.body["code"], "wrong_code");
    }
    assert_eq!(verify(&code).status, 401, "five wrong tries spend the code");

    assert_eq!(
        post(&s, "/sign-in/code", &[], &json!({ "email": email })).status,
        202
    );
    let code = code_sent(&sink, &email, 2);
    let signed = verify(&code);
    assert_eq!(signed.status, 200, "{}", signed.text);
    assert_eq!(signed.body["role"], "applicant");
    assert_eq!(verify(&code).status, 401, "a code works once");
    let session = cookie(&signed);
    let csrf = signed.body["csrf_token"]
        .as_str()
        .expect("csrf")
        .to_string();

    // The applicant applies with the session, and sees only their own.
    let mine = s.call(
        "POST",
        "/programmes/p/applications",
        &[
            ("cookie", &session),
            ("x-csrf-token", &csrf),
            ("idempotency-key", "apply-1"),
        ],
        Some(&serde_json::to_vec(&submission("MINE-1", 1)).unwrap()),
    );
    assert_eq!(mine.status, 200, "{}", mine.text);
    let theirs = s.send(
        "POST",
        "/programmes/p/applications",
        "secret-other",
        Some("apply-2"),
        Some(&submission("THEIRS-1", 2)),
    );
    assert_eq!(theirs.status, 200, "{}", theirs.text);
    let own = s.call(
        "GET",
        "/programmes/p/applications/MINE-1",
        &[("cookie", &session)],
        None,
    );
    assert_eq!(own.status, 200, "{}", own.text);
    let other = s.call(
        "GET",
        "/programmes/p/applications/THEIRS-1",
        &[("cookie", &session)],
        None,
    );
    assert_eq!(other.status, 403, "{}", other.text);

    // A code expires after 10 minutes.
    assert_eq!(
        post(&s, "/sign-in/code", &[], &json!({ "email": email })).status,
        202
    );
    let late = code_sent(&sink, &email, 3);
    advance(&s, TimeDelta::minutes(10));
    assert_eq!(verify(&late).status, 401, "an expired code");

    // At most five codes per address in ten minutes.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(post(&s, "/sign-in/code", &[], &json!({ "email": email })).status);
    }
    assert_eq!(statuses, [202, 202, 202, 202, 202, 429], "{statuses:?}");
}

/// Given 25 real staff accounts and 25 addresses with none, when one
/// source sends 200 wrong passwords spread over the 50, then after 30
/// failures that source waits (429 with Retry-After) whatever account it
/// names, and forwarded-for values through an untrusted hop change
/// nothing; unknown and known accounts get the same answers, in similar
/// time; and once the wait is over the right account gets in with its
/// password and code.
#[test]
fn a_password_spraying_campaign_is_throttled_and_the_right_account_still_gets_in() {
    let s = start_with(engines(), |server: Server| server);
    let mut secrets = Vec::new();
    for i in 0..25 {
        secrets.push(set_up(&s, &format!("staff{i}@trust.example"), "finance"));
    }
    let account = |i: usize| {
        if i % 2 == 0 {
            format!("staff{}@trust.example", i / 2)
        } else {
            format!("nobody{}@trust.example", i / 2)
        }
    };
    let mut answers = Vec::new();
    for attempt in 0..200 {
        let email = account(attempt % 50);
        let started = Instant::now();
        let r = post(
            &s,
            "/sign-in/password",
            &[],
            &json!({ "email": email, "password": format!("Spring2020!{attempt}"), "totp": "123456" }),
        );
        answers.push((
            email.starts_with("staff"),
            r.status,
            r.body.clone(),
            started.elapsed(),
            r.header("retry-after").to_string(),
        ));
    }
    let failed: Vec<_> = answers.iter().filter(|a| a.1 == 401).collect();
    let waited: Vec<_> = answers.iter().filter(|a| a.1 == 429).collect();
    assert_eq!(failed.len(), 30, "30 failures are judged from one address");
    assert_eq!(waited.len(), 170, "then the address waits");
    assert!(answers[..30].iter().all(|a| a.1 == 401) && answers[30..].iter().all(|a| a.1 == 429));
    assert!(
        waited
            .iter()
            .all(|a| a.4.parse::<u64>().is_ok_and(|s| s > 0)),
        "Retry-After on every 429"
    );
    // The same answer, word for word, for known and unknown accounts.
    let known: Vec<_> = failed.iter().filter(|a| a.0).collect();
    let unknown: Vec<_> = failed.iter().filter(|a| !a.0).collect();
    assert!(!known.is_empty() && !unknown.is_empty());
    assert!(
        failed.iter().all(|a| a.2 == failed[0].2),
        "one 401 body for all"
    );
    assert!(
        waited.iter().all(|a| a.2 == waited[0].2),
        "one 429 body for all"
    );
    // Similar time: an unknown account's password is checked against a
    // dummy hash, so it is not answered in a fraction of the time (without
    // it, about 1/50). The bound is loose on purpose.
    let mean = |v: &[&&(bool, u16, Value, Duration, String)]| {
        v.iter().map(|a| a.3).sum::<Duration>() / u32::try_from(v.len()).unwrap()
    };
    let (k, u) = (mean(&known), mean(&unknown));
    eprintln!("mean answer: known {k:?}, unknown {u:?}");
    assert!(
        u * 3 > k && k * 3 > u,
        "known {k:?} and unknown {u:?} accounts answer in similar time"
    );

    // Forwarded-for values through a hop the server does not trust change nothing.
    for n in 0..20 {
        let forwarded = format!("198.51.100.{n}");
        let r = post(
            &s,
            "/sign-in/password",
            &[("x-forwarded-for", &forwarded)],
            &json!({ "email": account(n), "password": "Winter2020!", "totp": "123456" }),
        );
        assert_eq!(
            r.status, 429,
            "a forged forwarded-for is not a new source: {}",
            r.text
        );
    }
    // Even the right password waits while the source does.
    let right = sign_in(&s, "staff3@trust.example", PASSWORD, &secrets[3]);
    assert_eq!(right.status, 429, "{}", right.text);

    advance(&s, TimeDelta::minutes(6));
    let right = sign_in(&s, "staff3@trust.example", PASSWORD, &secrets[3]);
    assert_eq!(
        right.status, 200,
        "the right account gets in afterwards: {}",
        right.text
    );
    assert_eq!(right.body["role"], "finance");
}

/// Given a server behind a trusted proxy, when one account gets 10 wrong
/// passwords from ten client addresses, then that account waits from every
/// address while others do not; its owner still gets in with a code sent by
/// e-mail beside their password and second factor; and one client address
/// that fails 30 times waits while its neighbour does not.
#[test]
fn behind_a_trusted_proxy_accounts_and_client_addresses_are_throttled_apart() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let s = start_with(engines(), |server| {
        server
            .trusting(vec!["127.0.0.1".parse().unwrap()])
            .with_mailer(mailer(&sink))
    });
    let victim = "finance.lead@trust.example";
    let secret = set_up(&s, victim, "finance");
    let other_secret = set_up(&s, "auditor@trust.example", "auditor");
    for n in 0..10 {
        let forwarded = format!("203.0.113.{n}");
        let r = post(
            &s,
            "/sign-in/password",
            &[("x-forwarded-for", &forwarded)],
            &json!({ "email": victim, "password": "Summer2020!", "totp": "123456" }),
        );
        assert_eq!(r.status, 401, "{}", r.text);
    }
    let code = totp_code(&secret, unix(&s)).unwrap();
    let locked = post(
        &s,
        "/sign-in/password",
        &[("x-forwarded-for", "192.0.2.50")],
        &json!({ "email": victim, "password": PASSWORD, "totp": code }),
    );
    assert_eq!(
        locked.status, 429,
        "the account waits from a new address: {}",
        locked.text
    );
    let neighbour = sign_in(&s, "auditor@trust.example", PASSWORD, &other_secret);
    assert_eq!(
        neighbour.status, 200,
        "another account does not wait: {}",
        neighbour.text
    );

    // The owner asks for a code and gets in with it, their password and second factor.
    assert_eq!(
        post(&s, "/sign-in/code", &[], &json!({ "email": victim })).status,
        202
    );
    let emailed = code_sent(&sink, victim, 1);
    let unlocked = post(
        &s,
        "/sign-in/password",
        &[("x-forwarded-for", "192.0.2.50")],
        &json!({ "email": victim, "password": PASSWORD, "totp": code, "email_code": emailed }),
    );
    assert_eq!(
        unlocked.status, 200,
        "a locked account gets in by its e-mail code: {}",
        unlocked.text
    );
    assert_eq!(unlocked.body["role"], "finance");

    // A client address that fails 30 times waits; its neighbour does not.
    for n in 0..30 {
        let r = post(
            &s,
            "/sign-in/password",
            &[("x-forwarded-for", "1.2.3.4, 198.51.100.7")],
            &json!({ "email": format!("user{n}@trust.example"), "password": "Autumn2020!", "totp": "1" }),
        );
        assert_eq!(r.status, 401, "{}", r.text);
    }
    let spent = post(
        &s,
        "/sign-in/password",
        &[("x-forwarded-for", "9.9.9.9, 198.51.100.7")],
        &json!({ "email": "user99@trust.example", "password": "Autumn2020!", "totp": "1" }),
    );
    assert_eq!(
        spent.status, 429,
        "the rightmost untrusted entry is the source: {}",
        spent.text
    );
    let next_door = post(
        &s,
        "/sign-in/password",
        &[("x-forwarded-for", "198.51.100.8")],
        &json!({ "email": "user99@trust.example", "password": "Autumn2020!", "totp": "1" }),
    );
    assert_eq!(next_door.status, 401, "{}", next_door.text);
}

/// Requests through a trusted proxy that says it was reached over TLS are
/// answered with HSTS; others are not.
#[test]
fn hsts_is_sent_only_for_requests_a_trusted_proxy_says_came_over_tls() {
    let s = start_with(engines(), |server| {
        server.trusting(vec!["127.0.0.1".parse().unwrap()])
    });
    let tls = s.call("GET", "/health", &[("x-forwarded-proto", "https")], None);
    assert!(
        tls.header("strict-transport-security")
            .starts_with("max-age="),
        "{:?}",
        tls.headers
    );
    let plain = s.call("GET", "/health", &[], None);
    assert_eq!(plain.header("strict-transport-security"), "");
    let untrusted = start_with(engines(), |server| server);
    let forged = untrusted.call("GET", "/health", &[("x-forwarded-proto", "https")], None);
    assert_eq!(forged.header("strict-transport-security"), "");
}

/// Given the sign-in pages, when a form arrives from another site (its
/// `Origin` is not this server) or a sign-out form lacks its session's CSRF
/// token, then nothing is done: 403, no code sent, the session still live.
#[test]
fn page_forms_from_another_site_or_without_their_token_are_refused() {
    let s = start_with(engines(), |server| server);
    let form = |path: &str, headers: &[(&str, &str)], body: &str| {
        let mut all = vec![("content-type", "application/x-www-form-urlencoded")];
        all.extend_from_slice(headers);
        s.call("POST", path, &all, Some(body.as_bytes()))
    };
    let forged = form(
        "/account/sign-in",
        &[("origin", "https://elsewhere.example")],
        "email=office1%40supplier.example",
    );
    assert_eq!(forged.status, 403, "{}", forged.text);
    assert!(forged.text.contains("came from another website"));

    let secret = set_up(&s, "auditor@trust.example", "auditor");
    let signed = sign_in(&s, "auditor@trust.example", PASSWORD, &secret);
    assert_eq!(signed.status, 200, "{}", signed.text);
    let session = cookie(&signed);
    let no_token = form("/account/sign-out", &[("cookie", &session)], "csrf=wrong");
    assert_eq!(no_token.status, 403, "{}", no_token.text);
    assert_eq!(
        s.call("GET", "/session", &[("cookie", &session)], None)
            .status,
        200,
        "the session is still live"
    );
    let csrf = signed.body["csrf_token"].as_str().expect("csrf");
    let out = form(
        "/account/sign-out",
        &[("cookie", &session)],
        &format!("csrf={csrf}"),
    );
    // Signed out, the browser is sent home, its cookie cleared.
    assert_eq!(out.status, 303, "{}", out.text);
    assert_eq!(out.header("location"), "/");
    assert!(out.header("set-cookie").contains("Max-Age=0"));
    assert_eq!(
        s.call("GET", "/session", &[("cookie", &session)], None)
            .status,
        401
    );
}

/// Given an account invited twice (the first link went to the wrong
/// person, say), when the first link is used, then it is refused as unknown
/// and sets nothing; the second link sets the account up.
#[test]
fn a_new_invitation_ends_the_earlier_setup_link() {
    let s = start_with(engines(), |server| server);
    let invite = || {
        let made = post(
            &s,
            "/users",
            &[("authorization", "Bearer secret-admin")],
            &json!({ "email": "finance@trust.example", "role": "finance" }),
        );
        assert_eq!(made.status, 201, "{}", made.text);
        made.body["setup_token"]
            .as_str()
            .expect("a token")
            .to_string()
    };
    let first = invite();
    let second = invite();
    let old = post(
        &s,
        "/account/setup",
        &[],
        &json!({ "token": first, "password": PASSWORD }),
    );
    assert_eq!(old.status, 404, "{}", old.text);
    assert_eq!(old.body["code"], "setup_link_unknown");
    let new = post(
        &s,
        "/account/setup",
        &[],
        &json!({ "token": second, "password": PASSWORD }),
    );
    assert_eq!(new.status, 200, "{}", new.text);
}
