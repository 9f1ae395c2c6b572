//! The web pages' posts, over real HTTP without a browser: each is answered
//! by a redirect (errors wait in a draft for the page after it), a draft
//! is its own session's only, and a form from someone signed out, without
//! its CSRF token, or from a role that may not send it is refused with
//! nothing changed.

mod common;

use chrono::TimeDelta;
use grantflow_core::InMemoryStore;
use grantflow_http::Engines;
use grantflow_testkit::fixtures;

use common::{PASSWORD, Reply, Running, advance, cookie, set_up, sign_in, start, start_with, unix};

fn server() -> Running {
    let s = start(Box::new(Engines::new(|| Ok(InMemoryStore::new()))));
    s.open("p", fixtures::programme(50_000));
    s
}

/// A staff session: its cookie and CSRF token.
fn session(s: &Running, email: &str, role: &str) -> (String, String) {
    let secret = set_up(s, email, role);
    let signed = sign_in(s, email, PASSWORD, &secret);
    assert_eq!(signed.status, 200, "{}", signed.text);
    advance(s, TimeDelta::seconds(30));
    let csrf = signed.body["csrf_token"]
        .as_str()
        .expect("csrf")
        .to_string();
    (cookie(&signed), csrf)
}

fn form(s: &Running, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Reply {
    let body = serde_urlencoded::to_string(fields).expect("a form");
    let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
    if !cookie.is_empty() {
        headers.push(("cookie", cookie));
    }
    s.call("POST", path, &headers, Some(body.as_bytes()))
}

fn get(s: &Running, path: &str, cookie: &str) -> Reply {
    s.call("GET", path, &[("cookie", cookie)], None)
}

fn credits(s: &Running) -> String {
    let ledger = s.send("GET", "/programmes/p/ledger", "secret-finance", None, None);
    assert_eq!(ledger.status, 200, "{}", ledger.text);
    ledger.body["credits"]
        .as_str()
        .expect("credits")
        .to_string()
}

/// Given a finance session, when its top-up form is sent with a bad
/// amount, then the answer is a redirect back to the form, whose page then
/// shows the error and the note typed; another finance session's page shows
/// neither; the pot is unchanged until a good amount is sent.
#[test]
fn a_bad_form_is_redirected_back_and_its_draft_is_its_sessions_own() {
    let s = server();
    let (mine, csrf) = session(&s, "finance.lead@trust.example", "finance");
    let (theirs, _) = session(&s, "finance.deputy@trust.example", "finance");
    let sent = form(
        &s,
        "/staff/p/top-up",
        &mine,
        &[
            ("csrf", &csrf),
            ("form_id", "top-up-1"),
            ("amount", "lots"),
            ("note", "grant letter 7"),
        ],
    );
    assert_eq!(sent.status, 303, "{}", sent.text);
    assert_eq!(sent.header("location"), "/staff/p/top-up");
    let again = get(&s, "/staff/p/top-up", &mine);
    assert_eq!(again.status, 200);
    assert!(again.text.contains("<title>Error: "), "{}", again.text);
    assert!(again.text.contains("Enter the amount in pounds"));
    assert!(again.text.contains("value=\"grant letter 7\""));
    let other = get(&s, "/staff/p/top-up", &theirs);
    assert!(
        !other.text.contains("grant letter 7"),
        "another session's draft"
    );
    assert!(!other.text.contains("Error: "));
    assert_eq!(credits(&s), "50000.00");

    let good = form(
        &s,
        "/staff/p/top-up",
        &mine,
        &[
            ("csrf", &csrf),
            ("form_id", "top-up-2"),
            ("amount", "1,000"),
            ("note", "grant letter 7"),
        ],
    );
    assert_eq!(good.status, 303);
    assert_eq!(good.header("location"), "/staff/p/dashboard");
    assert_eq!(credits(&s), "51000.00");
    // The same form sent twice records it once.
    let twice = form(
        &s,
        "/staff/p/top-up",
        &mine,
        &[
            ("csrf", &csrf),
            ("form_id", "top-up-2"),
            ("amount", "1,000"),
            ("note", "grant letter 7"),
        ],
    );
    assert_eq!(twice.status, 303);
    assert_eq!(credits(&s), "51000.00");
}

/// Given the top-up form, when it is sent signed out, without the
/// session's CSRF token, from another site, or by an assessor, then it is
/// refused (sign-in, 403 or the expired-form page) and the pot is unchanged.
#[test]
fn a_refused_page_form_changes_nothing() {
    let s = server();
    let (finance, csrf) = session(&s, "finance.lead@trust.example", "finance");
    let (assessor, assessor_csrf) = session(&s, "assessor@iasme.example", "assessor");
    let fields = |csrf: &'static str| {
        [
            ("csrf", csrf),
            ("form_id", "t-1"),
            ("amount", "10"),
            ("note", "n"),
        ]
    };
    let signed_out = form(&s, "/staff/p/top-up", "", &fields(""));
    assert_eq!(signed_out.status, 303);
    assert!(
        signed_out
            .header("location")
            .starts_with("/account/staff-sign-in?next=")
    );
    let no_token = form(&s, "/staff/p/top-up", &finance, &fields("not-the-token"));
    assert_eq!(no_token.status, 403);
    assert!(no_token.text.contains("This form has expired"));
    let body = serde_urlencoded::to_string([
        ("csrf", csrf.as_str()),
        ("form_id", "t-2"),
        ("amount", "10"),
        ("note", "n"),
    ])
    .unwrap();
    let elsewhere = s.call(
        "POST",
        "/staff/p/top-up",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("cookie", &finance),
            ("origin", "https://attacker.example"),
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(elsewhere.status, 403);
    assert!(
        elsewhere
            .text
            .contains("This form came from another website")
    );
    let body = [
        ("csrf", assessor_csrf.as_str()),
        ("form_id", "t-3"),
        ("amount", "10"),
        ("note", "n"),
    ];
    let wrong_role = form(&s, "/staff/p/top-up", &assessor, &body);
    assert_eq!(wrong_role.status, 403);
    assert!(wrong_role.text.contains("Your role may not do this"));
    assert_eq!(credits(&s), "50000.00");
}

/// Given the staff sign-in form, when a wrong password is sent, then the
/// answer is a redirect whose address names the mistake by a word from a
/// fixed list and keeps the address typed, never the password; a setup
/// link that is unknown gets its own page.
#[test]
fn sign_in_forms_redirect_with_a_fixed_word_and_never_the_password() {
    let s = server();
    set_up(&s, "it.lead@trust.example", "admin");
    let sent = form(
        &s,
        "/account/staff-sign-in",
        "",
        &[
            ("email", "it.lead@trust.example"),
            ("password", "the wrong one entirely"),
            ("totp", "123456"),
            ("next", "/staff"),
        ],
    );
    assert_eq!(sent.status, 303);
    let to = sent.header("location").to_string();
    assert!(to.starts_with("/account/staff-sign-in?"), "{to}");
    assert!(
        to.contains("error=wrong") && to.contains("it.lead%40trust.example"),
        "{to}"
    );
    assert!(
        !to.contains("wrong+one"),
        "no password in the address: {to}"
    );
    let page = get(&s, &to, "");
    assert!(page.text.contains("<title>Error: "));
    assert!(
        page.text
            .contains("The e-mail address, password or code is not right")
    );
    let made_up = get(&s, "/account/setup?token=made-up", "");
    assert_eq!(made_up.status, 404);
    assert!(made_up.text.contains("This setup link does not work"));
    // A post with a link that does not work is refused before it can
    // leave anything behind.
    let posted = form(
        &s,
        "/account/setup/password",
        "",
        &[("token", "made-up"), ("password", "")],
    );
    assert_eq!(posted.status, 404, "{}", posted.text);
    let posted = form(
        &s,
        "/account/setup/code",
        "",
        &[("token", "made-up"), ("totp", "")],
    );
    assert_eq!(posted.status, 404, "{}", posted.text);
    let injected = get(&s, "/account/staff-sign-in?error=%3Cscript%3E", "");
    assert!(!injected.text.contains("<script>") && !injected.text.contains("Error: "));
}

/// Given 101 applications, when staff list them, then a page holds 100 in
/// the order they arrived with a link to the next, the next holds the
/// last, and a stage narrows the list.
#[test]
fn staff_list_the_applications_a_page_at_a_time_and_by_stage() {
    let s = server();
    for n in 1..=101 {
        let r = s.send(
            "POST",
            "/programmes/p/applications",
            "secret-admin",
            Some(&format!("submit-{n}")),
            Some(&common::submission(&format!("APP-{n}"), n)),
        );
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let (auditor, _) = session(&s, "auditor@trust.example", "auditor");
    let first = get(&s, "/staff/p/applications", &auditor);
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(first.text.contains("1 to 100 of 101"), "{}", first.text);
    assert!(first.text.contains(">APP-1<") && first.text.contains(">APP-100<"));
    assert!(!first.text.contains(">APP-101<"));
    assert!(first.text.contains("href=\"/staff/p/applications?page=2\""));
    let second = get(&s, "/staff/p/applications?page=2", &auditor);
    assert!(second.text.contains("101 to 101 of 101"), "{}", second.text);
    assert!(second.text.contains(">APP-101<"));
    let offered = get(&s, "/staff/p/applications?stage=waitlisted", &auditor);
    assert!(
        !offered.text.contains(">APP-1<"),
        "the first ones were offered"
    );
    let past = get(&s, "/staff/p/applications?page=9", &auditor);
    assert!(past.text.contains("No applications here."));
}

/// A page form: its path, the session cookie and CSRF token it is sent
/// with, and its fields.
type PageForm<'a> = (String, &'a str, &'a str, Vec<(&'a str, &'a str)>);

/// Given an awarded application, when each staff page form is sent by a
/// role that may not send it (and by an applicant's token-less visit),
/// then each is refused 403 and nothing changes: not the ledger, not the
/// application's history, not the accounts.
#[test]
fn every_staff_page_form_refuses_the_roles_it_is_not_for() {
    let s = server();
    let r = s.send(
        "POST",
        "/programmes/p/applications",
        "secret-applicant",
        Some("a-1"),
        Some(&common::submission("APP-1", 1)),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s.send(
        "POST",
        "/programmes/p/applications/APP-1/accept",
        "secret-applicant",
        Some("a-2"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let (assessor, assessor_csrf) = session(&s, "assessor@iasme.example", "assessor");
    let (finance, finance_csrf) = session(&s, "finance.lead@trust.example", "finance");
    let ledger = || {
        s.send("GET", "/programmes/p/ledger", "secret-auditor", None, None)
            .text
    };
    let history = || {
        s.send("GET", "/programmes/p/history", "secret-auditor", None, None)
            .text
    };
    let users = || s.send("GET", "/users", "secret-admin", None, None).text;
    let before = (ledger(), history(), users());
    assert!(
        before.1.contains("accepted"),
        "the history is read: {}",
        before.1
    );
    let app = "/staff/p/applications/APP-1";
    let forms: Vec<PageForm> = vec![
        (
            format!("{app}/milestone"),
            &finance,
            &finance_csrf,
            vec![("milestone", "consultancy_engaged")],
        ),
        (
            format!("{app}/claim"),
            &assessor,
            &assessor_csrf,
            vec![
                ("item", "consultancy"),
                ("invoice_ref", "I-1"),
                ("amount", "10"),
            ],
        ),
        (
            format!("{app}/clawback"),
            &assessor,
            &assessor_csrf,
            vec![("amount", "10"), ("reason", "r")],
        ),
        (
            format!("{app}/close"),
            &assessor,
            &assessor_csrf,
            vec![("close", "yes")],
        ),
        (
            "/staff/p/top-up".to_string(),
            &assessor,
            &assessor_csrf,
            vec![("amount", "10"), ("note", "n")],
        ),
        (
            "/staff/users".to_string(),
            &finance,
            &finance_csrf,
            vec![("email", "new@trust.example"), ("role", "admin")],
        ),
        (
            "/staff/users/switch-off".to_string(),
            &finance,
            &finance_csrf,
            vec![("email", "assessor@iasme.example")],
        ),
    ];
    for (path, cookie, csrf, fields) in &forms {
        let mut all = vec![("csrf", *csrf), ("form_id", "refused-1")];
        all.extend(fields.iter().copied());
        let refused = form(&s, path, cookie, &all);
        assert_eq!(refused.status, 403, "{path}: {}", refused.text);
        assert!(refused.text.contains("Your role may not do this"), "{path}");
    }
    // Nor may staff apply or answer an offer on the applicants' pages.
    let answers = [
        ("csrf", finance_csrf.as_str()),
        ("form_id", "apply-1"),
        ("sector", "medical-supplier"),
        ("location", "yes"),
        ("size", "20"),
        ("certified", "no"),
    ];
    let applying = form(&s, "/apply/p", &finance, &answers);
    assert_eq!(applying.status, 403, "{}", applying.text);
    assert!(
        applying
            .text
            .contains("Applications are made by applicants")
    );
    let tasks = get(&s, "/apply/p/tasks", &finance);
    assert_eq!(tasks.status, 403);
    let declining = form(
        &s,
        "/applications/p/APP-1/respond",
        &finance,
        &[
            ("csrf", &finance_csrf),
            ("form_id", "r-1"),
            ("choice", "decline"),
        ],
    );
    assert_eq!(declining.status, 403, "{}", declining.text);
    assert_eq!((ledger(), history(), users()), before, "nothing changed");
}

/// Given a staff account locked by ten wrong passwords, when its owner
/// signs in on the page with the right password and app code, then the
/// page says it waits and offers a code by e-mail; that code, sent through
/// a real SMTP server and typed with the password and app code, signs them
/// in, so guessing at a password cannot lock its owner out of the pages.
#[test]
fn a_locked_staff_member_gets_in_on_pages_with_a_code_by_email() {
    let Some(sink) = grantflow_testkit::smtp::SmtpSink::start() else {
        return;
    };
    let s = start_with(
        Box::new(Engines::new(|| Ok(InMemoryStore::new()))),
        |server| server.with_mailer(common::mailer(&sink)),
    );
    let secret = set_up(&s, "it.lead@trust.example", "admin");
    for i in 0..10 {
        let guess = format!("a wrong guess number {i}");
        let r = form(
            &s,
            "/account/staff-sign-in",
            "",
            &[
                ("email", "it.lead@trust.example"),
                ("password", &guess),
                ("totp", "000000"),
            ],
        );
        assert_eq!(r.status, 303);
    }
    let code = grantflow_http::sign_in::totp_code(&secret, unix(&s)).expect("a code");
    let right = [
        ("email", "it.lead@trust.example"),
        ("password", PASSWORD),
        ("totp", code.as_str()),
        ("next", "/staff"),
    ];
    let waits = form(&s, "/account/staff-sign-in", "", &right);
    let to = waits.header("location").to_string();
    assert!(
        to.contains("error=throttled") && to.contains("locked=yes"),
        "{to}"
    );
    let page = get(&s, &to, "");
    assert!(page.text.contains("name=\"email_code\""), "{}", page.text);
    assert!(page.text.contains("/account/staff-code?"));
    let asked = form(
        &s,
        "/account/staff-code",
        "",
        &[("email", "it.lead@trust.example"), ("next", "/staff")],
    );
    let to = asked.header("location").to_string();
    assert!(to.contains("locked=yes") && to.contains("sent=yes"), "{to}");
    assert!(
        get(&s, &to, "")
            .text
            .contains("We sent a code to it.lead@trust.example")
    );
    let body = sink.wait_for(1)[0]["body"]
        .as_str()
        .expect("a body")
        .to_string();
    let emailed = body
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("six digits")
        .to_string();
    advance(&s, TimeDelta::seconds(30));
    let code = grantflow_http::sign_in::totp_code(&secret, unix(&s)).expect("a code");
    let signed = form(
        &s,
        "/account/staff-sign-in",
        "",
        &[
            ("email", "it.lead@trust.example"),
            ("password", PASSWORD),
            ("totp", code.as_str()),
            ("email_code", emailed.as_str()),
            ("locked", "yes"),
            ("next", "/staff"),
        ],
    );
    assert_eq!(signed.status, 303, "{}", signed.text);
    assert_eq!(signed.header("location"), "/staff");
    assert!(
        signed
            .header("set-cookie")
            .starts_with("grantflow_session=")
    );
}
