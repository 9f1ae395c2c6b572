//! Time-based reminders: `Tick` raises each of `offer_expiring`,
//! `feedback_closing`, `plus_window_closing` and `certificate_expiring` (at 30
//! and at 7 days) exactly once, however often ticks repeat, and however the
//! application moves between the stages a reminder covers.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use grantflow_core::{
    Action, Applicant, ApplicationId, Command, CommandId, Contact, CostRequest, Engine,
    InMemoryStore, Level, Milestone, Money, Organisation, Programme, ProgrammeId,
};
use grantflow_dispatch::{DispatchConfig, Dispatcher, LogNotifier};
use rust_decimal::Decimal;

struct Run {
    engine: Engine<InMemoryStore>,
    /// Another handle to the engine's store (clones share one store).
    store: InMemoryStore,
    seq: u32,
}

impl Run {
    fn exec(&mut self, action: Action, now: DateTime<Utc>) {
        self.seq += 1;
        let cmd = Command::new(
            CommandId::from_name(&format!("reminders-{}", self.seq)),
            action,
        );
        self.engine.execute(&cmd, now).unwrap();
    }

    /// Ticks at `now` three times, each with its own command id, and repeats the last command id once.
    fn ticks(&mut self, now: DateTime<Utc>) {
        for _ in 0..3 {
            self.exec(Action::Tick, now);
        }
        let again = Command::new(
            CommandId::from_name(&format!("reminders-{}", self.seq)),
            Action::Tick,
        );
        self.engine.execute(&again, now).unwrap();
    }

    fn milestone(&mut self, app: ApplicationId, m: Milestone, now: DateTime<Utc>) {
        self.exec(
            Action::Milestone {
                application: app,
                milestone: m,
            },
            now,
        );
    }

    fn counts(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for e in self.store.outbox_entries() {
            let key = match e.notice.data.get("days") {
                Some(days) => format!("{}:{days}", e.notice.template),
                None => e.notice.template.clone(),
            };
            *out.entry(key).or_insert(0) += 1;
        }
        out
    }
}

fn applicant() -> Applicant {
    Applicant {
        organisation: Organisation {
            name: "Acme Medical Supplies".into(),
            company_number: Some("01234567".into()),
            charity_number: None,
            ods_code: None,
            region: Some("North West".into()),
        },
        contact: Contact {
            name: "Office Manager".into(),
            email: "office@acme.example".into(),
        },
        sector: "medical-supplier".into(),
        employees: 40,
        uk_based: true,
        already_certified: false,
        vat_registered: true,
    }
}

fn at(day: i64, hour: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 9, 1, 9, 0, 0).unwrap() + Duration::days(day) + Duration::hours(hour)
}

fn by_template(counts: &BTreeMap<String, usize>, prefix: &str) -> usize {
    counts
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, v)| *v)
        .sum()
}

#[test]
fn each_reminder_is_raised_exactly_once_however_often_ticks_repeat() {
    let mut programme = Programme::healthcare_cyber_essentials_2020();
    programme.coverage.plus_funded.value = true;
    let store = InMemoryStore::new();
    let engine = Engine::open(store.clone(), ProgrammeId::new(&programme.id)).unwrap();
    let mut run = Run {
        engine,
        store,
        seq: 0,
    };
    let app = ApplicationId::from_name("acme");

    run.exec(
        Action::Open {
            programme: Box::new(programme.clone()),
        },
        at(0, 0),
    );
    let request = CostRequest {
        level: Level::Plus,
        consultancy_days: Decimal::from(2),
        day_rate: Money::pounds(450),
        plus_audit_quote: Some(Money::pounds(1_400)),
    };
    run.exec(
        Action::Submit {
            application: app,
            applicant: Arc::new(applicant()),
            request,
        },
        at(1, 0),
    );
    // Offered on day 1 for 14 days: the reminder is due 3 days before, on day 12.
    for (day, hour) in [(5, 0), (12, 0), (12, 1), (13, 0), (14, 0)] {
        run.ticks(at(day, hour));
    }
    assert_eq!(
        by_template(&run.counts(), "offer_expiring"),
        1,
        "{:?}",
        run.counts()
    );
    run.exec(Action::Accept { application: app }, at(14, 2));

    // Failed on Thursday 17 September: 2 working days to answer, until Monday 21st;
    // the reminder is due a day before, on Sunday 20th.
    run.milestone(app, Milestone::ConsultancyEngaged, at(15, 0));
    run.milestone(app, Milestone::SelfAssessmentSubmitted, at(16, 0));
    run.milestone(app, Milestone::AssessmentFailed, at(16, 1));
    for (day, hour) in [(17, 0), (19, 0), (19, 1), (19, 2), (19, 3)] {
        run.ticks(at(day, hour));
    }
    assert_eq!(
        by_template(&run.counts(), "feedback_closing"),
        1,
        "{:?}",
        run.counts()
    );
    run.milestone(app, Milestone::SelfAssessmentSubmitted, at(19, 4));
    run.ticks(at(19, 5));
    run.milestone(app, Milestone::AssessmentPassed, at(19, 6));

    let (expires, plus_by) = match run.engine.state().application(&app).map(|a| a.stage()) {
        Some(grantflow_core::Stage::Certified {
            plus_by: Some(plus_by),
        }) => (
            run.engine
                .state()
                .application(&app)
                .and_then(|a| a.certificate_expires())
                .unwrap(),
            plus_by,
        ),
        other => panic!("expected certified with a Plus window, got {other:?}"),
    };
    // The Plus reminder is due 14 days before the Plus window closes. It fires
    // while certified; booking, failing and re-booking the audit must not raise it again.
    run.ticks(plus_by - Duration::days(20));
    run.ticks(plus_by - Duration::days(14));
    run.ticks(plus_by - Duration::days(13));
    run.milestone(
        app,
        Milestone::PlusAuditBooked,
        plus_by - Duration::days(12),
    );
    run.ticks(plus_by - Duration::days(12));
    run.ticks(plus_by - Duration::days(11));
    run.milestone(
        app,
        Milestone::PlusAuditFailed,
        plus_by - Duration::days(10),
    );
    run.ticks(plus_by - Duration::days(10));
    run.milestone(app, Milestone::PlusAuditBooked, plus_by - Duration::days(9));
    run.ticks(plus_by - Duration::days(8));
    run.milestone(app, Milestone::PlusAuditPassed, plus_by - Duration::days(7));
    run.ticks(plus_by - Duration::days(7));
    assert_eq!(
        by_template(&run.counts(), "plus_window_closing"),
        1,
        "{:?}",
        run.counts()
    );

    // Certificate reminders at 30 and 7 days before expiry.
    for before in [40, 30, 29, 7, 6, 1] {
        run.ticks(expires - Duration::days(before));
    }
    run.ticks(expires + Duration::days(1));
    let counts = run.counts();
    assert_eq!(
        counts.get("certificate_expiring:30"),
        Some(&1),
        "{counts:?}"
    );
    assert_eq!(counts.get("certificate_expiring:7"), Some(&1), "{counts:?}");

    // Every reminder went to the applicant's contact, with its dates.
    let reminders: Vec<_> = run
        .store
        .outbox_entries()
        .into_iter()
        .filter(|e| {
            [
                "offer_expiring",
                "feedback_closing",
                "plus_window_closing",
                "certificate_expiring",
            ]
            .contains(&e.notice.template.as_str())
        })
        .collect();
    assert_eq!(reminders.len(), 5);
    for r in &reminders {
        assert_eq!(r.notice.to.as_deref(), Some("office@acme.example"));
        assert!(
            r.notice.data.contains_key("expires") || r.notice.data.contains_key("closes"),
            "{:?}",
            r.notice
        );
    }

    // And the dispatcher delivers each of them once.
    let mut dispatcher = Dispatcher::new(
        run.store.clone(),
        LogNotifier::new(Vec::new()),
        DispatchConfig::default(),
    )
    .unwrap();
    let report = dispatcher.drain().unwrap();
    assert_eq!(report.delivered, run.store.outbox_entries().len());
    let (_, log, _) = dispatcher.into_parts();
    let text = String::from_utf8(log.into_inner()).unwrap();
    for template in ["offer_expiring", "feedback_closing", "plus_window_closing"] {
        assert_eq!(
            text.matches(&format!("template={template} ")).count(),
            1,
            "{template}"
        );
    }
    assert_eq!(text.matches("template=certificate_expiring ").count(), 2);
}

#[test]
fn one_late_tick_raises_both_certificate_reminders_once() {
    let programme = Programme::healthcare_cyber_essentials_2020();
    let store = InMemoryStore::new();
    let engine = Engine::open(store.clone(), ProgrammeId::new(&programme.id)).unwrap();
    let mut run = Run {
        engine,
        store,
        seq: 0,
    };
    let app = ApplicationId::from_name("late");
    run.exec(
        Action::Open {
            programme: Box::new(programme),
        },
        at(0, 0),
    );
    let request = CostRequest {
        level: Level::Basic,
        consultancy_days: Decimal::from(1),
        day_rate: Money::pounds(400),
        plus_audit_quote: None,
    };
    run.exec(
        Action::Submit {
            application: app,
            applicant: Arc::new(applicant()),
            request,
        },
        at(1, 0),
    );
    run.exec(Action::Accept { application: app }, at(2, 0));
    for m in [
        Milestone::ConsultancyEngaged,
        Milestone::SelfAssessmentSubmitted,
        Milestone::AssessmentPassed,
    ] {
        run.milestone(app, m, at(3, 0));
    }
    run.exec(Action::Complete { application: app }, at(4, 0));
    // Nobody ticks until after both reminder dates (30 and 7 days before the
    // certificate expires on day 368): the first tick raises both, later ones nothing.
    run.ticks(at(362, 0));
    run.ticks(at(401, 0));
    let counts = run.counts();
    assert_eq!(
        counts.get("certificate_expiring:30"),
        Some(&1),
        "{counts:?}"
    );
    assert_eq!(counts.get("certificate_expiring:7"), Some(&1), "{counts:?}");
    assert_eq!(
        by_template(&counts, "offer_expiring"),
        0,
        "accepted before the reminder was due"
    );
}
