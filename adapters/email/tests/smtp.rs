//! The email notifier against a real SMTP server: aiosmtpd on 127.0.0.1,
//! started by each test through the testkit's `SmtpSink`, which writes every
//! accepted message to a folder the test reads.
//!
//! Needs `python3 -m aiosmtpd` (`pip install aiosmtpd`). Without it the
//! tests fail when the `CI` variable is set, and are skipped with a message
//! otherwise.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use grantflow_core::{
    Action, Applicant, ApplicationId, CommandId, Contact, CostRequest, DeliveryError, Engine,
    InMemoryStore, Level, Money, Notice, NoticeId, Notifier, Organisation, Programme, ProgrammeId,
    Role,
};
use grantflow_dispatch::{DispatchConfig, Dispatcher};
use grantflow_email::{EmailConfig, EmailNotifier};
use grantflow_testkit::smtp::SmtpSink;
use rust_decimal::Decimal;

fn config(sink: &SmtpSink) -> EmailConfig {
    let mut c = EmailConfig::new(
        "127.0.0.1",
        sink.port(),
        "Grants Team <grants@programme.example>",
    );
    c.timeout = Duration::from_secs(10);
    c
}

fn programme() -> ProgrammeId {
    ProgrammeId::new("healthcare-ce-2020")
}

fn offer(to: Option<&str>) -> Notice {
    let mut data = BTreeMap::new();
    for (k, v) in [
        ("programme", "Healthcare Cyber Essentials 2020"),
        ("organisation", "Acme Medical Supplies"),
        ("date", "2020-09-30"),
        ("amount", "1400.00"),
        ("expires", "2020-10-14"),
    ] {
        data.insert(k.to_string(), v.to_string());
    }
    Notice {
        id: NoticeId::from_name("offer"),
        template: "offer_made".into(),
        recipient: Role::Applicant,
        to: to.map(String::from),
        application: None,
        data,
    }
}

#[test]
fn an_applicant_notice_arrives_with_recipient_subject_and_body() {
    let Some(server) = SmtpSink::start() else {
        return;
    };
    let notifier = EmailNotifier::new(config(&server)).unwrap();
    let n = offer(Some("office@acme.example"));
    notifier.deliver(&programme(), &n).unwrap();
    let messages = server.wait_for(1);
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m["rcpt_tos"], serde_json::json!(["office@acme.example"]));
    assert_eq!(m["mail_from"], "grants@programme.example");
    assert_eq!(m["to"], "office@acme.example");
    assert_eq!(m["from"], "Grants Team <grants@programme.example>");
    assert_eq!(
        m["subject"],
        "[Healthcare Cyber Essentials 2020] Your offer of £1,400.00"
    );
    assert_eq!(m["content_type"], "text/plain");
    assert_eq!(m["notice_id"], n.id.to_string());
    assert_eq!(m["message_id"], format!("<{}@programme.example>", n.id));
    let body = m["body"].as_str().unwrap();
    assert!(body.starts_with("Dear Acme Medical Supplies,"), "{body}");
    assert!(body.contains("Healthcare Cyber Essentials 2020 offers Acme Medical Supplies a grant of up to £1,400.00"), "{body}");
    assert!(
        body.contains("Please accept the offer by 14 October 2020."),
        "{body}"
    );
    assert!(
        body.contains(&format!("Notice reference: {}", n.id)),
        "{body}"
    );
}

#[test]
fn finance_and_assessor_notices_go_to_the_configured_addresses() {
    let Some(server) = SmtpSink::start() else {
        return;
    };
    let config = config(&server)
        .finance([
            "finance@programme.example",
            "Audit <audit@programme.example>",
        ])
        .assessors(["assessor@iasme.example"]);
    let notifier = EmailNotifier::new(config).unwrap();
    let mut paid = offer(Some("office@acme.example"));
    paid.id = NoticeId::from_name("paid");
    paid.template = "claim_paid".into();
    paid.recipient = Role::Finance;
    paid.to = None;
    paid.data.insert("item".into(), "consultancy".into());
    paid.data.insert("invoice_ref".into(), "CONS-0001".into());
    notifier.deliver(&programme(), &paid).unwrap();
    let mut certified = offer(None);
    certified.id = NoticeId::from_name("certified");
    certified.template = "certified".into();
    certified.recipient = Role::Assessor;
    certified.data.insert("expires".into(), "2021-09-30".into());
    notifier.deliver(&programme(), &certified).unwrap();

    let messages = server.wait_for(2);
    assert_eq!(messages.len(), 2);
    assert_eq!(
        messages[0]["rcpt_tos"],
        serde_json::json!(["finance@programme.example", "audit@programme.example"])
    );
    assert_eq!(
        messages[0]["subject"],
        "[Healthcare Cyber Essentials 2020] Claim paid: £1,400.00 to Acme Medical Supplies"
    );
    assert!(
        messages[0]["body"]
            .as_str()
            .unwrap()
            .contains("Paid £1,400.00 for consultancy, invoice CONS-0001")
    );
    assert_eq!(
        messages[1]["rcpt_tos"],
        serde_json::json!(["assessor@iasme.example"])
    );
    assert!(
        messages[1]["body"]
            .as_str()
            .unwrap()
            .contains("valid until 30 September 2021")
    );
}

#[test]
fn no_recipient_or_an_unknown_template_is_permanent_and_sends_nothing() {
    let Some(server) = SmtpSink::start() else {
        return;
    };
    let notifier = EmailNotifier::new(config(&server)).unwrap();
    let missing = notifier.deliver(&programme(), &offer(None));
    assert!(
        matches!(&missing, Err(DeliveryError::Permanent(m)) if m.contains("no email address")),
        "{missing:?}"
    );
    let mut finance = offer(None);
    finance.recipient = Role::Finance;
    assert!(matches!(
        notifier.deliver(&programme(), &finance),
        Err(DeliveryError::Permanent(_))
    ));
    let mut unknown = offer(Some("office@acme.example"));
    unknown.template = "no_such_template".into();
    let err = notifier.deliver(&programme(), &unknown);
    assert!(
        matches!(&err, Err(DeliveryError::Permanent(m)) if m.contains("no_such_template")),
        "{err:?}"
    );
    let bad = notifier.deliver(&programme(), &offer(Some("not an address")));
    assert!(matches!(bad, Err(DeliveryError::Permanent(_))));
    // The server is up and received nothing: a good notice still goes through afterwards.
    notifier
        .deliver(&programme(), &offer(Some("office@acme.example")))
        .unwrap();
    assert_eq!(server.wait_for(1).len(), 1);
}

#[test]
fn smtp_refusals_map_to_permanent_and_retryable() {
    let Some(server) = SmtpSink::start() else {
        return;
    };
    let notifier = EmailNotifier::new(config(&server)).unwrap();
    let refused = notifier.deliver(&programme(), &offer(Some("nobody@reject.example")));
    assert!(
        matches!(&refused, Err(DeliveryError::Permanent(m)) if m.contains("550")),
        "{refused:?}"
    );
    let busy = notifier.deliver(&programme(), &offer(Some("someone@busy.example")));
    assert!(
        matches!(&busy, Err(DeliveryError::Retryable(m)) if m.contains("451")),
        "{busy:?}"
    );
    assert!(server.messages().is_empty());
}

#[test]
fn no_server_is_retryable() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = EmailConfig::new("127.0.0.1", port, "grants@programme.example");
    config.timeout = Duration::from_secs(2);
    let err = EmailNotifier::new(config)
        .unwrap()
        .deliver(&programme(), &offer(Some("office@acme.example")));
    assert!(matches!(err, Err(DeliveryError::Retryable(_))), "{err:?}");
}

fn applicant(name: &str, email: &str) -> Applicant {
    Applicant {
        organisation: Organisation {
            name: name.into(),
            company_number: Some("01234567".into()),
            charity_number: None,
            ods_code: None,
            region: None,
        },
        contact: Contact {
            name: "Office Manager".into(),
            email: email.into(),
        },
        sector: "medical-supplier".into(),
        employees: 12,
        uk_based: true,
        already_certified: false,
        vat_registered: false,
    }
}

#[test]
fn an_engine_run_is_mailed_through_the_dispatcher() {
    let Some(server) = SmtpSink::start() else {
        return;
    };
    let p = Programme::healthcare_cyber_essentials_2020();
    let store = InMemoryStore::new();
    let mut engine = Engine::open(store.clone(), ProgrammeId::new(&p.id)).unwrap();
    let at = |d: i64| -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2020, 9, 30, 10, 0, 0).unwrap() + chrono::Duration::days(d)
    };
    let mut seq = 0;
    let mut run = |engine: &mut Engine<InMemoryStore>, action: Action, now| {
        seq += 1;
        engine
            .execute(
                &grantflow_core::Command::new(CommandId::from_name(&format!("mail-{seq}")), action),
                now,
            )
            .unwrap();
    };
    run(
        &mut engine,
        Action::Open {
            programme: Box::new(p.clone()),
        },
        at(0),
    );
    let request = CostRequest {
        level: Level::Basic,
        consultancy_days: Decimal::from(2),
        day_rate: Money::pounds(500),
        plus_audit_quote: None,
    };
    let a = ApplicationId::from_name("acme");
    run(
        &mut engine,
        Action::Submit {
            application: a,
            applicant: Arc::new(applicant("Acme Medical Supplies", "office@acme.example")),
            request: request.clone(),
        },
        at(0),
    );
    let mut gp = applicant("Riverside Surgery", "practice@riverside.example");
    gp.sector = "gp-practice".into();
    run(
        &mut engine,
        Action::Submit {
            application: ApplicationId::from_name("gp"),
            applicant: Arc::new(gp),
            request,
        },
        at(0),
    );
    run(&mut engine, Action::Accept { application: a }, at(3));

    let notices = store.outbox_entries();
    assert!(notices.len() >= 4, "{notices:?}");
    let config = config(&server)
        .finance(["finance@programme.example"])
        .assessors(["assessor@iasme.example"]);
    let mut dispatcher = Dispatcher::new(
        store.clone(),
        EmailNotifier::new(config).unwrap(),
        DispatchConfig::default(),
    )
    .unwrap();
    let report = dispatcher.drain().unwrap();
    assert_eq!(
        (report.delivered, report.dead_lettered, report.retried),
        (notices.len(), 0, 0)
    );

    let messages = server.wait_for(notices.len());
    assert_eq!(messages.len(), notices.len());
    let ids: Vec<_> = messages
        .iter()
        .map(|m| m["notice_id"].as_str().unwrap().to_string())
        .collect();
    for n in &notices {
        assert_eq!(
            ids.iter()
                .filter(|i| **i == n.notice.id.to_string())
                .count(),
            1,
            "{}",
            n.notice.template
        );
    }
    let offer = messages
        .iter()
        .find(|m| m["subject"].as_str().unwrap().contains("Your offer of"))
        .unwrap();
    assert_eq!(
        offer["rcpt_tos"],
        serde_json::json!(["office@acme.example"])
    );
    assert!(
        offer["body"]
            .as_str()
            .unwrap()
            .contains("Please accept the offer by 14 October 2020."),
        "{}",
        offer["body"]
    );
    let refused = messages
        .iter()
        .find(|m| m["subject"].as_str().unwrap().contains("not eligible"))
        .unwrap();
    assert_eq!(
        refused["rcpt_tos"],
        serde_json::json!(["practice@riverside.example"])
    );
    let finance = messages
        .iter()
        .find(|m| m["rcpt_tos"] == serde_json::json!(["finance@programme.example"]))
        .unwrap();
    assert!(
        finance["subject"]
            .as_str()
            .unwrap()
            .contains("Award accepted: Acme Medical Supplies")
    );
}
