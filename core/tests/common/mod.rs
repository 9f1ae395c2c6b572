//! Given/when/then harness over `decide` and `evolve`.
#![allow(dead_code)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use grantflow_core::*;
use rust_decimal::Decimal;
use std::sync::Arc;

/// A programme under test with its state and clock, and the same commands
/// sent through an [`Engine`] over an [`InMemoryStore`], so that what a
/// rejection leaves behind is observable: the store's log and version.
pub struct Given {
    pub state: State,
    pub now: DateTime<Utc>,
    counter: u64,
    engine: Engine<InMemoryStore>,
    store: InMemoryStore,
}

/// The stream the harness's engine writes to.
fn stream() -> ProgrammeId {
    ProgrammeId::new("given")
}

/// The preset with a small pot, no contingency and Plus funded: awards are
/// £1,200 (2 days at £450 + £300 fee, VAT-registered applicants) and, for Plus, £2,500.
pub fn small_programme(pot: u32) -> Programme {
    let mut p = Programme::healthcare_cyber_essentials_2020();
    p.pot.value = Money::pounds(pot);
    p.allocation.contingency.value = Money::ZERO;
    p.coverage.plus_funded.value = true;
    p
}

pub fn applicant(n: u32, sector: &str) -> Applicant {
    Applicant {
        organisation: Organisation {
            name: format!("Firm {n}"),
            company_number: Some(format!("{n:08}")),
            charity_number: None,
            ods_code: None,
            region: None,
        },
        contact: Contact {
            name: "Contact".into(),
            email: format!("firm{n}@example.org"),
        },
        sector: sector.into(),
        employees: 20,
        uk_based: true,
        already_certified: false,
        vat_registered: true,
    }
}

pub fn basic_request() -> CostRequest {
    CostRequest {
        level: Level::Basic,
        consultancy_days: Decimal::from(2),
        day_rate: Money::pounds(450),
        plus_audit_quote: None,
    }
}

pub fn plus_request() -> CostRequest {
    CostRequest {
        level: Level::Plus,
        ..basic_request()
    }
}

pub fn app(n: u32) -> ApplicationId {
    ApplicationId::from_name(&format!("app-{n}"))
}

pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 10, 1, 9, 0, 0)
        .single()
        .expect("valid date")
}

impl Given {
    /// An opened programme on 1 October 2020.
    pub fn programme(p: Programme) -> Given {
        let mut g = Given::unopened();
        g.when(Action::Open {
            programme: Box::new(p),
        })
        .expect("the programme opens");
        g
    }

    /// A stream with no programme opened yet.
    pub fn unopened() -> Given {
        let store = InMemoryStore::new();
        let engine = Engine::open(store.clone(), stream()).expect("an empty store opens");
        Given {
            state: State::default(),
            now: start(),
            counter: 0,
            engine,
            store,
        }
    }

    /// Every event the harness's store holds.
    fn stored(&mut self) -> Vec<Recorded> {
        self.store
            .load(&stream(), 0, usize::MAX)
            .expect("the in-memory store loads")
    }

    pub fn next_id(&mut self) -> CommandId {
        self.counter += 1;
        CommandId::from_name(&format!("cmd-{}", self.counter))
    }

    /// Decides and applies one action now. The engine must agree: the same
    /// events recorded, or the same rejection with nothing appended.
    pub fn when(&mut self, action: Action) -> Result<Vec<Event>, Rejection> {
        let id = self.next_id();
        self.when_cmd(Command::new(id, action))
    }

    pub fn when_cmd(&mut self, cmd: Command) -> Result<Vec<Event>, Rejection> {
        // `decide_into` agrees with `decide`, whatever its buffer held before.
        let mut buffer = vec![Event::new(
            cmd.id,
            self.now,
            EventKind::PotToppedUp {
                amount: Money::pounds(1),
                note: "left over".into(),
            },
        )];
        let into = decide_into(&self.state, &cmd, self.now, &mut buffer);
        let decided = decide(&self.state, &cmd, self.now);
        match &decided {
            Ok(events) => assert_eq!((&into, &buffer), (&Ok(()), events)),
            Err(r) => assert_eq!((into, buffer.len()), (Err(r.clone()), 0)),
        }
        let log_before = self.stored();
        let version_before = self.engine.state().version();
        let executed = self.engine.execute(&cmd, self.now);
        match decided {
            Ok(events) => {
                for e in &events {
                    evolve(&mut self.state, e).expect("decided events apply");
                    self.state
                        .check_invariants()
                        .expect("invariants hold after every event");
                }
                match executed {
                    Ok(Outcome::Applied {
                        events: recorded, ..
                    }) => {
                        let recorded: Vec<&Event> = recorded.iter().map(|r| &r.event).collect();
                        assert_eq!(
                            recorded,
                            events.iter().collect::<Vec<_>>(),
                            "the engine records what decide decided"
                        );
                    }
                    Ok(Outcome::Duplicate { .. }) => {
                        assert!(events.is_empty(), "decide answers a repeat with no events");
                    }
                    other => panic!("decide accepted the command, the engine gave {other:?}"),
                }
                assert_eq!(
                    self.engine.state().version(),
                    self.state.version(),
                    "the engine's state is at the harness's version"
                );
                Ok(events)
            }
            Err(r) => {
                match executed {
                    Err(EngineError::Rejected(e)) => {
                        assert_eq!(e, r, "the engine refuses as decide refuses");
                    }
                    other => panic!("decide refused the command ({r}), the engine gave {other:?}"),
                }
                assert_eq!(
                    self.engine.state().version(),
                    version_before,
                    "a rejection moves the engine's version"
                );
                assert_eq!(self.stored(), log_before, "a rejection appends nothing");
                Err(r)
            }
        }
    }

    pub fn ok(&mut self, action: Action) -> Vec<Event> {
        match self.when(action) {
            Ok(e) => e,
            Err(r) => panic!("unexpected rejection: {r}"),
        }
    }

    pub fn rejected(&mut self, action: Action) -> RejectionCode {
        match self.when(action) {
            Ok(e) => panic!(
                "expected a rejection, got {:?}",
                e.iter().map(|e| e.kind.name()).collect::<Vec<_>>()
            ),
            Err(r) => r.code,
        }
    }

    pub fn advance_days(&mut self, days: i64) {
        self.now += Duration::days(days);
    }

    pub fn tick_after_days(&mut self, days: i64) -> Vec<Event> {
        self.advance_days(days);
        self.ok(Action::Tick)
    }

    pub fn submit(&mut self, n: u32, request: CostRequest) -> Vec<Event> {
        self.ok(Action::Submit {
            application: app(n),
            applicant: Arc::new(applicant(n, "medical-supplier")),
            request,
        })
    }

    pub fn milestone(&mut self, n: u32, m: Milestone) -> Vec<Event> {
        self.ok(Action::Milestone {
            application: app(n),
            milestone: m,
        })
    }

    pub fn stage(&self, n: u32) -> StageKind {
        self.state
            .application(&app(n))
            .map(|a| a.stage().kind())
            .expect("application exists")
    }

    pub fn names(events: &[Event]) -> Vec<&'static str> {
        events.iter().map(|e| e.kind.name()).collect()
    }
}
