//! The web pages in a real browser: Debian's chromium, driven over
//! WebDriver by chromedriver (fantoccini), against a real server on a
//! loopback port. One browser has JavaScript turned off and walks the pages
//! as a visitor; another runs axe-core on every page (WCAG 2.2 AA).
//!
//! Needs `chromium` and `chromedriver` on the path (Debian's `chromium` and
//! `chromium-driver`) and axe-core's `axe.min.js` (`npm install axe-core`;
//! its path in `GRANTFLOW_AXE_JS`, or `node_modules/axe-core/axe.min.js`
//! at the repository's root). Without them the tests fail under CI (`CI`
//! set) and are skipped with a message otherwise.
//! `GRANTFLOW_UPDATE_SCREENSHOTS=1` writes the screenshots under `docs/`.

mod common;

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use grantflow_core::{InMemoryStore, ProgrammeId};
use grantflow_http::Engines;
use grantflow_testkit::fixtures;
use serde_json::json;

use chrono::TimeDelta;
use common::{PASSWORD, Running, advance, set_up, start_with, unix};

fn skip_or_fail(what: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{what}, and CI is set: install it (see the top of tests/browser.rs)"
    );
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("SKIPPED: {what}; the browser tests did not run (under CI this fails)\n")
            .as_bytes(),
    );
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// axe-core's source.
fn axe() -> Option<String> {
    let path = std::env::var_os("GRANTFLOW_AXE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("node_modules/axe-core/axe.min.js"));
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(e) => {
            skip_or_fail(&format!("axe-core is not at {} ({e})", path.display()));
            None
        }
    }
}

/// A running chromedriver, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromedriver() -> Option<Driver> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = match Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            skip_or_fail(&format!("chromedriver does not start ({e})"));
            return None;
        }
    };
    let driver = Driver { child, port };
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(driver)
}

async fn browser(driver: &Driver, javascript: bool) -> Client {
    let mut args = vec![
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1000,1400",
    ];
    if !javascript {
        args.push("--blink-settings=scriptEnabled=false");
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "args": args,
            "prefs": { "profile.managed_default_content_settings.javascript": if javascript { 1 } else { 2 } },
        }),
    );
    // Several crates here bring rustls with more than one provider: choose one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    ClientBuilder::rustls()
        .expect("a WebDriver client")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("chromium starts under chromedriver")
}

fn server() -> Running {
    served(|server| server)
}

fn served(configure: impl FnOnce(grantflow_http::Server) -> grantflow_http::Server) -> Running {
    let s = start_with(
        Box::new(Engines::new(|| Ok(InMemoryStore::new()))),
        |server| configure(server.featuring(vec![ProgrammeId::new("p")])),
    );
    s.open("p", fixtures::programme(50_000));
    s
}

async fn text(c: &Client, css: &str) -> String {
    let url = c
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} on {url}: {e}"))
        .text()
        .await
        .expect("its text")
}

/// Clicks `element` and waits (at most 10 s) until the page it was on has
/// gone (its root element is stale) and the next one has loaded.
async fn follow(c: &Client, element: fantoccini::elements::Element) {
    let before = c.current_url().await.expect("an address");
    let old = c.find(Locator::Css("html")).await.expect("the page's root");
    element.click().await.expect("click");
    let started = Instant::now();
    while old.tag_name().await.is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the click led nowhere from {before}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // The new page is there once its last element (the footer) is.
    while c.find(Locator::Css("footer")).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the page after {before} did not load"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn choose(c: &Client, value: &str) {
    c.find(Locator::Css(&format!("input[type=radio][value='{value}']")))
        .await
        .unwrap_or_else(|e| panic!("a choice {value}: {e}"))
        .click()
        .await
        .expect("click");
}

async fn next(c: &Client) {
    let button = c
        .find(Locator::Css("button[type=submit]"))
        .await
        .expect("a Continue button");
    follow(c, button).await;
}

/// Clicks the button that says `label`.
async fn press(c: &Client, label: &str) {
    let button = c
        .find(Locator::XPath(&format!(
            "//button[normalize-space()='{label}']"
        )))
        .await
        .unwrap_or_else(|e| panic!("a button `{label}`: {e}"));
    follow(c, button).await;
}

async fn link(c: &Client, text: &str) {
    let link = c
        .find(Locator::LinkText(text))
        .await
        .unwrap_or_else(|e| panic!("a link `{text}`: {e}"));
    follow(c, link).await;
}

async fn type_into(c: &Client, id: &str, value: &str) {
    let field = c.find(Locator::Id(id)).await.expect("the field");
    field.clear().await.expect("clear");
    field.send_keys(value).await.expect("type");
}

fn screenshot(name: &str, png: &[u8]) {
    if std::env::var_os("GRANTFLOW_UPDATE_SCREENSHOTS").is_some() {
        std::fs::write(repo_root().join("docs").join(name), png).expect("write the screenshot");
    }
}

/// Given a visitor with JavaScript turned off, when they follow the home
/// page's link to the checker and answer its questions (a bad staff number
/// first), then the bad answer gets the error summary with what they typed
/// kept, the result names each rule with its sentence and source and what
/// to do instead, and changing the answer to a small organisation says it
/// can apply.
#[test]
fn a_visitor_checks_eligibility_without_javascript_and_is_told_why_not() {
    let Some(driver) = chromedriver() else { return };
    let s = server();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let c = browser(&driver, false).await;
        // Script is off in this browser: a page's script does not run.
        c.goto("data:text/html,<noscript>off</noscript><script>document.write('on')</script>")
            .await
            .expect("a probe page");
        assert_eq!(
            text(&c, "body").await.trim(),
            "off",
            "JavaScript is turned off"
        );
        c.goto(&format!("{}/", s.base)).await.expect("home");
        link(&c, "Check if your organisation can get this funding").await;
        assert!(
            text(&c, "h1")
                .await
                .starts_with("Check if you can get funding")
        );
        link(&c, "Start now").await;

        choose(&c, "medical-supplier").await;
        next(&c).await;
        choose(&c, "yes").await;
        next(&c).await;
        type_into(&c, "size", "lots").await;
        next(&c).await;
        assert!(
            c.title().await.expect("title").starts_with("Error: "),
            "the title says Error"
        );
        assert_eq!(text(&c, ".error-summary h2").await, "There is a problem");
        let to_field = c
            .find(Locator::Css(".error-summary a"))
            .await
            .expect("a link to the field");
        assert_eq!(
            to_field.attr("href").await.expect("href").as_deref(),
            Some("#size")
        );
        let kept = c.find(Locator::Id("size")).await.expect("the field");
        assert_eq!(
            kept.prop("value").await.expect("value").as_deref(),
            Some("lots"),
            "what was typed is kept"
        );
        screenshot(
            "checker-error.png",
            &c.screenshot().await.expect("a screenshot"),
        );
        type_into(&c, "size", "300").await;
        next(&c).await;
        choose(&c, "no").await;
        next(&c).await;

        assert_eq!(
            text(&c, "h1").await,
            "Your organisation cannot get this funding"
        );
        let failed = text(&c, ".criterion-not-met").await;
        assert!(failed.contains("fewer than 250"), "{failed}");
        assert!(failed.contains("Source:"), "{failed}");
        assert!(failed.contains("What you can do instead"), "{failed}");
        let met = c
            .find_all(Locator::Css(".criterion-met"))
            .await
            .expect("criteria met");
        assert!(met.len() >= 3, "every criterion is shown, met or not");
        assert!(
            text(&c, ".params").await.contains("Assumed"),
            "assumed figures are marked"
        );
        screenshot(
            "checker-result.png",
            &c.screenshot().await.expect("a screenshot"),
        );

        link(&c, "Change your answers").await;
        next(&c).await; // the sector, still chosen
        next(&c).await; // based in the UK, still chosen
        type_into(&c, "size", "20").await;
        next(&c).await;
        next(&c).await; // not certified, still chosen
        assert_eq!(text(&c, "h1").await, "Your organisation can apply");
        c.close().await.expect("close");
    });
}

/// Given every page of the checker and of signing in (their error states
/// and the page for a setup link that does not work too), when axe-core
/// runs in the browser, then none has a WCAG 2.2 AA violation.
#[test]
fn every_checker_page_passes_axe_at_wcag_2_2_aa() {
    let Some(axe) = axe() else { return };
    let Some(driver) = chromedriver() else { return };
    let s = server();
    let pages = [
        "/".to_string(),
        "/check/p".into(),
        "/check/p/sector".into(),
        "/check/p/location?sector=medical-supplier".into(),
        "/check/p/size?location=yes&sector=medical-supplier".into(),
        "/check/p/size?answering=size&location=yes&sector=medical-supplier&size=lots".into(),
        "/check/p/certified?location=yes&sector=medical-supplier&size=20".into(),
        "/check/p/result?certified=no&location=yes&sector=medical-supplier&size=300".into(),
        "/check/p/result?certified=no&location=yes&sector=medical-supplier&size=20".into(),
        "/check/none".into(),
        "/account/sign-in?next=%2Faccount".into(),
        "/account/code?email=office1%40supplier.example&next=%2Faccount".into(),
        "/account/staff-sign-in?next=%2Fstaff".into(),
        "/account/sign-in?next=%2Faccount&email=office1&error=invalid".into(),
        "/account/code?email=office1%40supplier.example&next=%2Faccount&error=wrong".into(),
        "/account/staff-sign-in?next=%2Fstaff&email=it.lead%40trust.example&error=wrong".into(),
        "/account/staff-sign-in?set_up=yes&email=it.lead%40trust.example".into(),
        "/account/setup?token=made-up".into(),
        "/account/staff-sign-in?next=%2Fstaff&email=it.lead%40trust.example&error=throttled&locked=yes".into(),
        "/account/staff-code?email=it.lead%40trust.example&next=%2Fstaff".into(),
    ];
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let c = browser(&driver, true).await;
        for page in pages {
            c.goto(&format!("{}{page}", s.base))
                .await
                .expect("the page");
            let violations = axe_violations(&c, &axe).await;
            assert!(violations.is_empty(), "{page}: {violations:#?}");
        }
        c.close().await.expect("close");
    });
}

async fn path(c: &Client) -> String {
    let url = c.current_url().await.expect("an address");
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

/// Given a staff account set up by its link, when its owner opens a staff
/// page signed out, then they are sent to sign in and back; a wrong
/// password gets the error summary (their address kept, the password not);
/// the right password and code lead to the staff page, where an admin sees
/// the sign-in trail; signing out ends it, and the staff page sends them
/// to sign in again. JavaScript is off throughout.
#[test]
fn signed_out_staff_pages_redirect_to_sign_in_and_staff_sign_in_on_pages() {
    let Some(driver) = chromedriver() else { return };
    let s = server();
    let secret = set_up(&s, "it.lead@trust.example", "admin");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let c = browser(&driver, false).await;
        c.goto(&format!("{}/staff", s.base))
            .await
            .expect("the staff page");
        assert_eq!(
            path(&c).await,
            "/account/staff-sign-in?next=%2Fstaff",
            "signed out, sent to sign in"
        );
        type_into(&c, "email", "it.lead@trust.example").await;
        type_into(&c, "password", "not the password at all").await;
        type_into(&c, "totp", "000000").await;
        next(&c).await;
        assert!(c.title().await.expect("title").starts_with("Error: "));
        assert_eq!(text(&c, ".error-summary h2").await, "There is a problem");
        let kept = c.find(Locator::Id("email")).await.expect("email");
        assert_eq!(
            kept.prop("value").await.expect("value").as_deref(),
            Some("it.lead@trust.example")
        );
        let password = c.find(Locator::Id("password")).await.expect("password");
        assert_eq!(
            password.prop("value").await.expect("value").as_deref(),
            Some(""),
            "a password is never sent back"
        );

        type_into(&c, "password", PASSWORD).await;
        type_into(
            &c,
            "totp",
            &grantflow_http::sign_in::totp_code(&secret, unix(&s)).unwrap(),
        )
        .await;
        next(&c).await;
        assert_eq!(path(&c).await, "/staff", "back where they were going");
        assert_eq!(text(&c, "h1").await, "Staff");
        let trail = text(&c, "table").await;
        assert!(
            trail.contains("signed in") && trail.contains("failed"),
            "{trail}"
        );

        next(&c).await; // Sign out
        assert_eq!(path(&c).await, "/");
        c.goto(&format!("{}/staff", s.base))
            .await
            .expect("the staff page");
        assert!(
            path(&c).await.starts_with("/account/staff-sign-in"),
            "signed out again"
        );
        c.close().await.expect("close");
    });
}

/// Given a server that sends codes through a real SMTP server, when an
/// applicant opens their account page signed out, then they are sent to
/// sign in; the code e-mailed to them signs them in (a wrong one first
/// gets the error summary), and staff pages refuse their session.
#[test]
fn an_applicant_signs_in_on_pages_with_a_code_sent_by_email() {
    let Some(sink) = grantflow_testkit::smtp::SmtpSink::start() else {
        return;
    };
    let Some(driver) = chromedriver() else { return };
    let s = served(|server| server.with_mailer(common::mailer(&sink)));
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let c = browser(&driver, false).await;
        c.goto(&format!("{}/account", s.base))
            .await
            .expect("the account page");
        assert_eq!(path(&c).await, "/account/sign-in?next=%2Faccount");
        type_into(&c, "email", "not an address").await;
        next(&c).await;
        assert_eq!(text(&c, ".error-summary h2").await, "There is a problem");
        type_into(&c, "email", "office1@supplier.example").await;
        next(&c).await;
        assert_eq!(text(&c, "h1").await, "Check your e-mail");
        let messages = sink.wait_for(1);
        let body = messages[0]["body"].as_str().expect("a body").to_string();
        let code = body
            .split(|ch: char| !ch.is_ascii_digit())
            .find(|w| w.len() == 6)
            .expect("six digits")
            .to_string();
        type_into(
            &c,
            "code",
            if code == "000000" { "111111" } else { "000000" },
        )
        .await;
        next(&c).await;
        assert!(
            text(&c, ".error-summary")
                .await
                .contains("The code is not right")
        );
        type_into(&c, "code", &code).await;
        next(&c).await;
        assert_eq!(path(&c).await, "/account");
        assert!(
            text(&c, "main")
                .await
                .contains("office1@supplier.example (applicant)")
        );
        c.goto(&format!("{}/staff", s.base))
            .await
            .expect("the staff page");
        assert_eq!(text(&c, "h1").await, "This page is for programme staff");
        c.close().await.expect("close");
    });
}

/// Given an eligible visitor at the checker's result, when they choose
/// Apply now, then they sign in by e-mail code and start an application
/// with their answers carried (not asked again); the task list says how
/// each part stands; a bad day rate sends them back to the costs page with
/// the error summary, "Error: " in the title and every other answer kept;
/// "Check your answers" shows each answer with a link that changes it and
/// comes back; sending it gets the offer with its amount and the date it
/// lapses, an answer left out is an error, and accepting turns it into the
/// award, with the history in words. JavaScript is off; axe-core checks
/// every page on the way, the error states included, in a second browser
/// with the same session.
#[test]
fn an_eligible_visitor_applies_sees_the_offer_and_accepts_it() {
    let Some(axe) = axe() else { return };
    let Some(sink) = grantflow_testkit::smtp::SmtpSink::start() else {
        return;
    };
    let Some(driver) = chromedriver() else { return };
    let s = served(|server| server.with_mailer(common::mailer(&sink)));
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let c = browser(&driver, false).await;
        let checked = "certified=no&location=yes&sector=medical-supplier&size=20";
        c.goto(&format!("{}/check/p/result?{checked}", s.base))
            .await
            .expect("the result");
        link(&c, "Apply now").await;
        assert!(
            path(&c).await.starts_with("/account/sign-in?next="),
            "sign in first"
        );
        type_into(&c, "email", "office1@supplier.example").await;
        next(&c).await;
        let body = sink.wait_for(1)[0]["body"]
            .as_str()
            .expect("a body")
            .to_string();
        let code = body
            .split(|ch: char| !ch.is_ascii_digit())
            .find(|w| w.len() == 6)
            .expect("six digits")
            .to_string();
        type_into(&c, "code", &code).await;
        next(&c).await;
        assert!(
            path(&c).await.starts_with("/apply/p?"),
            "back to the start page: {}",
            path(&c).await
        );
        // A second browser with the same session runs axe-core on each page.
        let a = browser(&driver, true).await;
        a.goto(&format!("{}/", s.base)).await.expect("home");
        a.add_cookie(
            c.get_named_cookie("grantflow_session")
                .await
                .expect("the session cookie"),
        )
        .await
        .expect("the session");
        let audit = |what: &'static str| {
            let (a, c, axe) = (&a, &c, &axe);
            async move {
                let url = c.current_url().await.expect("an address").to_string();
                a.goto(&url).await.expect("the page");
                let violations = axe_violations(a, axe).await;
                assert!(violations.is_empty(), "{what} ({url}): {violations:#?}");
            }
        };
        audit("the start page").await;
        let sizes = c
            .find_all(Locator::Css("input[name=size]"))
            .await
            .expect("inputs");
        assert_eq!(
            sizes.len(),
            1,
            "the checker's answers come along, not asked again"
        );
        press(&c, "Start now").await;
        assert_eq!(path(&c).await, "/apply/p/tasks");
        let tasks = text(&c, ".task-list").await;
        assert!(
            tasks.contains("Check your organisation is eligible\nCompleted")
                && tasks.contains("Your organisation\nNot yet started")
                && tasks.contains("Cannot start yet"),
            "{tasks}"
        );
        audit("the task list").await;

        link(&c, "Your organisation").await;
        audit("the organisation page").await;
        type_into(&c, "organisation", "Acme Medical Supplies").await;
        type_into(&c, "contact_name", "Ann Smith").await;
        press(&c, "Save and continue").await;
        assert_eq!(path(&c).await, "/apply/p/tasks");
        assert!(
            text(&c, ".task-list")
                .await
                .contains("Your organisation\nCompleted")
        );

        link(&c, "The costs of certification").await;
        choose(&c, "basic").await;
        type_into(&c, "days", "2").await;
        type_into(&c, "day_rate", "lots").await;
        choose(&c, "yes").await;
        press(&c, "Save and continue").await;
        assert_eq!(
            path(&c).await,
            "/apply/p/costs",
            "redirected back to itself"
        );
        assert!(c.title().await.expect("title").starts_with("Error: "));
        let summary = text(&c, ".error-summary").await;
        assert!(
            summary.contains("Enter the day rate in pounds"),
            "{summary}"
        );
        let kept = c.find(Locator::Id("days")).await.expect("days");
        assert_eq!(
            kept.prop("value").await.expect("value").as_deref(),
            Some("2")
        );
        let basic = c
            .find(Locator::Css("input[name=level][value=basic]"))
            .await
            .expect("level");
        assert_eq!(
            basic.prop("checked").await.expect("checked").as_deref(),
            Some("true"),
            "choices kept too"
        );
        screenshot(
            "apply-error.png",
            &c.screenshot().await.expect("a screenshot"),
        );
        audit("the costs page with its error").await;
        type_into(&c, "day_rate", "450").await;
        press(&c, "Save and continue").await;
        link(&c, "Check your answers and send the application").await;
        assert_eq!(path(&c).await, "/apply/p/check");
        let answers = text(&c, "main").await;
        for shown in [
            "Acme Medical Supplies",
            "Medical supplier",
            "£450.00",
            "Cyber Essentials",
        ] {
            assert!(answers.contains(shown), "{shown} in {answers}");
        }
        audit("check your answers").await;
        let change = c
            .find(Locator::Css(
                "a[href='/apply/p/costs?return=check#day_rate']",
            ))
            .await
            .expect("a link to change the day rate");
        follow(&c, change).await;
        assert_eq!(
            c.find(Locator::Id("day_rate"))
                .await
                .expect("day rate")
                .prop("value")
                .await
                .expect("value")
                .as_deref(),
            Some("450")
        );
        press(&c, "Save and continue").await;
        assert_eq!(path(&c).await, "/apply/p/check", "back to the answers");

        press(&c, "Accept and send").await;
        assert!(
            path(&c).await.starts_with("/applications/p/GF-"),
            "{}",
            path(&c).await
        );
        assert_eq!(text(&c, "h1").await, "You have been offered £1,200.00");
        assert!(
            text(&c, ".panel")
                .await
                .contains("Accept it by 15 September 2020"),
            "{}",
            text(&c, ".panel").await
        );
        let main = text(&c, "main").await;
        assert!(main.contains("What the offer covers"), "{main}");
        assert!(main.contains("£1,200.00 was offered"), "{main}");
        screenshot(
            "applicant-status.png",
            &c.screenshot().await.expect("a screenshot"),
        );
        audit("the offer").await;
        press(&c, "Send your answer").await;
        assert!(c.title().await.expect("title").starts_with("Error: "));
        assert!(
            text(&c, ".error-summary")
                .await
                .contains("Select yes to accept the offer")
        );
        choose(&c, "accept").await;
        press(&c, "Send your answer").await;
        assert_eq!(text(&c, "h1").await, "Your award: £1,200.00");
        assert_eq!(text(&c, ".notice").await, "You accepted the offer.");
        assert!(
            text(&c, ".history")
                .await
                .contains("The offer was accepted.")
        );
        audit("the award").await;
        c.goto(&format!("{}/apply/p/tasks", s.base))
            .await
            .expect("the task list");
        assert!(
            path(&c).await.starts_with("/applications/p/GF-"),
            "a sent application is not sent again"
        );
        a.goto(&format!("{}/account", s.base))
            .await
            .expect("account");
        let violations = axe_violations(&a, &axe).await;
        assert!(violations.is_empty(), "/account: {violations:#?}");
        a.close().await.expect("close");
        c.close().await.expect("close");
    });
}

async fn axe_violations(c: &Client, axe: &str) -> Vec<String> {
    c.execute(&format!("{axe}\nreturn true;"), vec![])
        .await
        .expect("axe-core loads");
    let found = c
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } })
              .then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
              .catch(e => done(['axe failed: ' + e]));"#,
            vec![],
        )
        .await
        .expect("axe runs");
    serde_json::from_value(found).expect("a list")
}

/// Signs `email` in on the staff page in browser `c`.
async fn staff_sign_in(c: &Client, s: &Running, email: &str, secret: &str, at: &str) {
    c.goto(&format!("{}{at}", s.base))
        .await
        .expect("a staff page");
    type_into(c, "email", email).await;
    type_into(c, "password", PASSWORD).await;
    type_into(
        c,
        "totp",
        &grantflow_http::sign_in::totp_code(secret, unix(s)).unwrap(),
    )
    .await;
    next(c).await;
}

/// Given an accepted award, when an assessor records its milestones on
/// the application's staff page and finance pays a claim there (a bad
/// amount first: the error summary, the invoice reference kept), then the
/// stage moves, the history says so, and the finance dashboard's pot moves
/// by the claim; the staff page and the dashboard pass axe-core.
#[test]
fn an_assessor_records_milestones_and_finance_pays_a_claim_and_sees_the_pot_move() {
    let Some(axe) = axe() else { return };
    let Some(driver) = chromedriver() else { return };
    let s = server();
    let send = |path: &str, token: &str, key: &str, body: serde_json::Value| {
        let r = s.send("POST", path, token, Some(key), Some(&body));
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    };
    send(
        "/programmes/p/applications",
        "secret-applicant",
        "a-1",
        common::submission("APP-1", 1),
    );
    send(
        "/programmes/p/applications/APP-1/accept",
        "secret-applicant",
        "a-2",
        json!(null),
    );
    let assessor = set_up(&s, "assessor@iasme.example", "assessor");
    let finance = set_up(&s, "finance.lead@trust.example", "finance");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let page = "/staff/p/applications/APP-1";
        let c = browser(&driver, true).await;
        staff_sign_in(&c, &s, "assessor@iasme.example", &assessor, page).await;
        assert_eq!(path(&c).await, page);
        assert!(text(&c, "main").await.contains("Stage: awarded"));
        let violations = axe_violations(&c, &axe).await;
        assert!(violations.is_empty(), "staff page: {violations:#?}");
        for milestone in ["consultancy_engaged", "self_assessment_submitted"] {
            choose(&c, milestone).await;
            next(&c).await;
        }
        let main = text(&c, "main").await;
        assert!(main.contains("Stage: self assessment submitted"), "{main}");
        assert!(
            main.contains("The consultant started work."),
            "the history says so in words: {main}"
        );
        assert!(
            c.find(Locator::Id("amount")).await.is_err(),
            "an assessor has no claim form"
        );
        // The assessor finds the application from the staff page too.
        c.goto(&format!("{}/staff", s.base)).await.expect("staff");
        link(&c, "The applications to p").await;
        let violations = axe_violations(&c, &axe).await;
        assert!(violations.is_empty(), "applications: {violations:#?}");
        link(&c, "self assessment submitted (1)").await;
        assert!(text(&c, "table").await.contains("Supplier 1"));
        link(&c, "APP-1").await;
        assert_eq!(path(&c).await, page);
        c.close().await.expect("close");

        let c = browser(&driver, true).await;
        staff_sign_in(&c, &s, "finance.lead@trust.example", &finance, "/staff").await;
        let violations = axe_violations(&c, &axe).await;
        assert!(violations.is_empty(), "the staff page: {violations:#?}");
        link(&c, "The pot of p").await;
        let before = text(&c, "table").await;
        assert!(before.contains("Paid (gross) £0.00"), "{before}");
        let violations = axe_violations(&c, &axe).await;
        assert!(violations.is_empty(), "dashboard: {violations:#?}");
        link(&c, "APP-1").await;
        choose(&c, "consultancy").await;
        type_into(&c, "invoice_ref", "INV-1").await;
        type_into(&c, "amount", "nine hundred").await;
        next(&c).await;
        assert_eq!(text(&c, ".error-summary h2").await, "There is a problem");
        let kept = c.find(Locator::Id("invoice_ref")).await.expect("invoice");
        assert_eq!(
            kept.prop("value").await.expect("value").as_deref(),
            Some("INV-1")
        );
        type_into(&c, "amount", "900.00").await;
        next(&c).await;
        let paid = text(&c, "main").await;
        assert!(paid.contains("Paid £900.00."), "the notice says so: {paid}");
        assert!(
            paid.contains("£900.00 was paid for consultancy (invoice INV-1)."),
            "the history shows the claim in words: {paid}"
        );
        c.goto(&format!("{}/staff/p/dashboard", s.base))
            .await
            .expect("the dashboard");
        let after = text(&c, "table").await;
        assert!(after.contains("Paid (gross) £900.00"), "{after}");
        // Finance downloads the 360Giving export from the dashboard.
        let export = c
            .find(Locator::LinkText("360Giving (JSON)"))
            .await
            .expect("the export's link")
            .attr("href")
            .await
            .expect("href")
            .expect("an address");
        let cookie = c
            .get_named_cookie("grantflow_session")
            .await
            .expect("the session");
        let package = s.call(
            "GET",
            &export,
            &[("cookie", &format!("grantflow_session={}", cookie.value()))],
            None,
        );
        assert_eq!(package.status, 200, "{}", package.text);
        assert_eq!(package.body["grants"][0]["amountDisbursed"], 900.0);
        screenshot(
            "finance-dashboard.png",
            &c.screenshot().await.expect("a screenshot"),
        );

        // Finance tops the pot up: a bad amount first.
        link(&c, "Top up the pot").await;
        type_into(&c, "amount", "ten thousand").await;
        type_into(&c, "note", "DHSC grant letter 2").await;
        press(&c, "Top up the pot").await;
        assert_eq!(path(&c).await, "/staff/p/top-up");
        assert!(c.title().await.expect("title").starts_with("Error: "));
        assert_eq!(
            c.find(Locator::Id("note"))
                .await
                .expect("note")
                .prop("value")
                .await
                .expect("value")
                .as_deref(),
            Some("DHSC grant letter 2"),
            "the note is kept"
        );
        let violations = axe_violations(&c, &axe).await;
        assert!(violations.is_empty(), "top-up error: {violations:#?}");
        type_into(&c, "amount", "25,000").await;
        press(&c, "Top up the pot").await;
        assert_eq!(path(&c).await, "/staff/p/dashboard");
        assert_eq!(
            text(&c, ".notice").await,
            "The pot was topped up by £25,000.00."
        );
        assert!(
            text(&c, "table").await.contains("£75,000.00"),
            "the credits grow"
        );

        // Finance claws some of the claim back, then tries to close the award.
        c.goto(&format!("{}{page}", s.base))
            .await
            .expect("the application");
        link(&c, "Claw back money paid on this award").await;
        let violations = axe_violations(&c, &axe).await;
        assert!(violations.is_empty(), "clawback: {violations:#?}");
        type_into(&c, "amount", "100").await;
        type_into(&c, "reason", "invoice paid twice").await;
        press(&c, "Claw back").await;
        assert_eq!(path(&c).await, format!("{page}/clawback"));
        let refused = text(&c, ".error-summary").await;
        assert!(
            refused.contains(
                "This application is self_assessment_submitted: a clawback follows completion"
            ),
            "the core's refusal, naming no id: {refused}"
        );
        assert_eq!(
            c.find(Locator::Id("reason"))
                .await
                .expect("reason")
                .prop("value")
                .await
                .expect("value")
                .as_deref(),
            Some("invoice paid twice"),
            "what was typed is kept"
        );
        link(&c, "Go back without changing anything").await;
        assert_eq!(path(&c).await, page);
        link(&c, "Close this award and release what is left of it").await;
        press(&c, "Continue").await;
        assert!(
            text(&c, ".error-summary")
                .await
                .contains("Select yes to close the award"),
            "an answer is needed"
        );
        let violations = axe_violations(&c, &axe).await;
        assert!(violations.is_empty(), "close error: {violations:#?}");
        choose(&c, "no").await;
        press(&c, "Continue").await;
        assert_eq!(path(&c).await, page, "no changes nothing");
        assert!(
            text(&c, "main")
                .await
                .contains("Stage: self assessment submitted")
        );
        c.close().await.expect("close");
    });
}

/// Given an admin signed in on pages, when they make an assessor's account
/// on the staff accounts page (a bad address first: the error summary, the
/// role kept), then the page shows its one-time setup link once; its owner,
/// in another browser without JavaScript, opens the link, chooses a
/// password (a weak one is refused with the reason), adds the key shown as
/// a QR code and as text to an app, confirms a code (a wrong one first)
/// and signs in; when the admin switches the account off, the owner's
/// session ends at once. axe-core checks the pages.
#[test]
fn an_admin_makes_an_account_its_owner_sets_it_up_and_it_is_switched_off() {
    let Some(axe) = axe() else { return };
    let Some(driver) = chromedriver() else { return };
    let s = server();
    let admin = set_up(&s, "it.lead@trust.example", "admin");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let c = browser(&driver, true).await;
        staff_sign_in(&c, &s, "it.lead@trust.example", &admin, "/staff").await;
        link(&c, "Staff accounts").await;
        assert_eq!(path(&c).await, "/staff/users");
        let violations = axe_violations(&c, &axe).await;
        assert!(violations.is_empty(), "staff accounts: {violations:#?}");
        type_into(&c, "email", "not an address").await;
        choose(&c, "assessor").await;
        press(&c, "Make the account").await;
        assert!(c.title().await.expect("title").starts_with("Error: "));
        assert!(
            text(&c, ".error-summary")
                .await
                .contains("Enter an e-mail address in the right form")
        );
        let assessor = c
            .find(Locator::Css("input[name=role][value=assessor]"))
            .await
            .expect("the role");
        assert_eq!(
            assessor.prop("checked").await.expect("checked").as_deref(),
            Some("true"),
            "the role is kept"
        );
        let violations = axe_violations(&c, &axe).await;
        assert!(
            violations.is_empty(),
            "staff accounts error: {violations:#?}"
        );
        type_into(&c, "email", "new.assessor@iasme.example").await;
        press(&c, "Make the account").await;
        assert!(
            text(&c, ".notice")
                .await
                .contains("new.assessor@iasme.example can now be set up as assessor")
        );
        let setup = text(&c, ".link-to-copy").await;
        assert!(
            setup.starts_with(&format!("{}/account/setup?token=", s.base)),
            "{setup}"
        );
        assert!(text(&c, "table").await.contains("invited"));
        c.refresh().await.expect("reload");
        assert!(
            c.find(Locator::Css(".link-to-copy")).await.is_err(),
            "the link is shown once"
        );

        let o = browser(&driver, false).await;
        o.goto(&setup).await.expect("the setup link");
        assert_eq!(text(&o, "h1").await, "Choose a password");
        c.goto(&setup).await.expect("the setup link");
        let violations = axe_violations(&c, &axe).await;
        assert!(violations.is_empty(), "choose a password: {violations:#?}");
        type_into(&o, "password", "password1234").await;
        press(&o, "Continue").await;
        assert!(o.title().await.expect("title").starts_with("Error: "));
        assert_eq!(text(&o, ".error-summary h2").await, "There is a problem");
        type_into(&o, "password", PASSWORD).await;
        press(&o, "Continue").await;
        assert_eq!(
            text(&o, "h1").await,
            "Add this account to your authenticator app"
        );
        assert!(
            o.find(Locator::Css(".picture svg[role=img]")).await.is_ok(),
            "a QR code"
        );
        let main = text(&o, "main").await;
        let key: String = main
            .split("type this key into it: ")
            .nth(1)
            .and_then(|rest| rest.split('.').next())
            .expect("the key as text")
            .split_whitespace()
            .collect();
        c.goto(&setup).await.expect("the setup link");
        let violations = axe_violations(&c, &axe).await;
        assert!(violations.is_empty(), "authenticator: {violations:#?}");
        type_into(&o, "totp", "12345").await;
        press(&o, "Finish setting up").await;
        assert!(
            text(&o, ".error-summary")
                .await
                .contains("The code is not the one your app shows now")
        );
        let code = grantflow_http::sign_in::totp_code(&key, unix(&s)).expect("a code");
        type_into(&o, "totp", &code).await;
        press(&o, "Finish setting up").await;
        assert!(
            path(&o).await.starts_with("/account/staff-sign-in?"),
            "{}",
            path(&o).await
        );
        assert!(text(&o, "main").await.contains("Your account is ready"));
        advance(&s, TimeDelta::seconds(30));
        type_into(&o, "password", PASSWORD).await;
        let code = grantflow_http::sign_in::totp_code(&key, unix(&s)).expect("a code");
        type_into(&o, "totp", &code).await;
        press(&o, "Sign in").await;
        assert_eq!(path(&o).await, "/staff");
        assert!(
            text(&o, "main")
                .await
                .contains("new.assessor@iasme.example (assessor)")
        );

        c.goto(&format!("{}/staff/users", s.base))
            .await
            .expect("accounts");
        assert!(text(&c, "table").await.contains("active"));
        press(&c, "Switch off new.assessor@iasme.example").await;
        assert_eq!(
            text(&c, ".notice").await,
            "new.assessor@iasme.example is switched off; its sessions have ended."
        );
        assert!(text(&c, "table").await.contains("disabled"));
        o.goto(&format!("{}/staff", s.base)).await.expect("staff");
        assert!(
            path(&o).await.starts_with("/account/staff-sign-in"),
            "the session ended"
        );
        o.close().await.expect("close");
        c.close().await.expect("close");
    });
}
