//! Reusable proptest strategies (feature `proptest`), so that a service
//! embedding grantflow can test its own programme's rules the way grantflow
//! tests the preset.
//!
//! - [`applicant`] and [`cost_request`] draw realistic applications for a programme;
//! - [`steps`] draws a sequence of [`Step`]s (submit, accept, decline,
//!   withdraw, milestones, claims, ticks, top-ups, clawbacks, completion)
//!   over a small set of applications; [`Step::command`] turns one into a
//!   [`Command`] against the current state, so sequences stay meaningful;
//! - [`assert_invariants`] checks every ledger and structural invariant.
//!
//! ```
//! use grantflow_core::strategies::*;
//! use grantflow_core::*;
//! use proptest::prelude::*;
//!
//! let programme = Programme::healthcare_cyber_essentials_2020();
//! let mut runner = proptest::test_runner::TestRunner::default();
//! runner.run(&steps(&programme, 6, 30), |steps| {
//!     let mut run = Run::open(programme.clone());
//!     for step in &steps {
//!         run.apply(step);
//!         assert_invariants(&run.state);
//!     }
//!     Ok(())
//! }).unwrap();
//! ```

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use std::sync::Arc;

use crate::decide::decide;
use crate::ledger::money::Money;
use crate::messages::command::{Action, Command};
use crate::messages::event::Event;
use crate::messages::ids::{ApplicationId, CommandId};
use crate::messages::rejection::Rejection;
use crate::rules::applicant::{Applicant, Contact, CostRequest, Organisation};
use crate::rules::coverage::Item;
use crate::rules::programme::{Level, Programme};
use crate::state::lifecycle::Milestone;
use crate::state::{State, evolve};

/// An amount from one penny to `max_pence` pence.
pub fn money(max_pence: u64) -> impl Strategy<Value = Money> {
    (1..=max_pence.max(1)).prop_map(|p| Money::from_pence(p).unwrap_or(Money::ZERO))
}

/// An applicant of one of `programme`'s sectors (or, rarely, an undeclared one).
pub fn applicant(programme: &Programme) -> impl Strategy<Value = Applicant> + use<> {
    // Mostly eligible sectors, so that histories go deep; the rest exercise refusals.
    let mut sectors: Vec<String> = Vec::new();
    for s in &programme.sectors {
        let weight = if s.eligible { 8 } else { 1 };
        sectors.extend(std::iter::repeat_n(s.id.clone(), weight));
    }
    sectors.push("undeclared-sector".into());
    (
        proptest::sample::select(sectors),
        prop_oneof![8 => 0u32..10, 6 => 10u32..50, 4 => 50u32..250, 1 => 250u32..2000],
        proptest::bool::weighted(0.97),
        proptest::bool::weighted(0.05),
        any::<bool>(),
        0u32..100_000_000,
    )
        .prop_map(
            |(sector, employees, uk_based, already_certified, vat_registered, n)| Applicant {
                organisation: Organisation {
                    name: format!("Organisation {n}"),
                    company_number: Some(format!("{n:08}")),
                    charity_number: None,
                    ods_code: None,
                    region: None,
                },
                contact: Contact {
                    name: "Contact".into(),
                    email: format!("c{n}@example.org"),
                },
                sector,
                employees,
                uk_based,
                already_certified,
                vat_registered,
            },
        )
}

/// What an applicant asks for: level, consultancy days (in half days) and rates.
pub fn cost_request() -> impl Strategy<Value = CostRequest> {
    (
        prop_oneof![3 => Just(Level::Basic), 1 => Just(Level::Plus)],
        0u32..=10,
        20_000u64..=120_000,
        proptest::option::of(100_000u64..=800_000),
    )
        .prop_map(|(level, half_days, rate, quote)| CostRequest {
            level,
            consultancy_days: Decimal::new(i64::from(half_days) * 5, 1),
            day_rate: Money::from_pence(rate).unwrap_or(Money::ZERO),
            plus_audit_quote: quote.and_then(|q| Money::from_pence(q).ok()),
        })
}

/// One step of a generated history. Application numbers index a small pool.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Step {
    Submit {
        app: usize,
        applicant: Arc<Applicant>,
        request: CostRequest,
    },
    Accept(usize),
    Decline(usize),
    Withdraw(usize),
    Milestone(usize, Milestone),
    /// Claims `fraction` percent (1..=100) of what is payable for the item, or a penny more than payable when `over`.
    Claim {
        app: usize,
        item: Item,
        fraction: u8,
        over: bool,
    },
    /// Repeats the invoice reference of the last claim.
    DuplicateClaim {
        app: usize,
        item: Item,
    },
    Complete(usize),
    /// Claws back `fraction` percent of the net paid.
    Clawback {
        app: usize,
        fraction: u8,
    },
    TopUp(Money),
    /// Moves the clock forward by `hours` and ticks.
    Tick {
        hours: u32,
    },
    /// Re-sends the previous command with the same id.
    Repeat,
    /// Takes the application one step along its happy (or, with `pass` false, unhappy) path.
    Progress {
        app: usize,
        pass: bool,
    },
}

/// Sequences of up to `len` steps over `apps` applications of `programme`:
/// every application is submitted first (in a random order), then random steps follow.
pub fn steps(
    programme: &Programme,
    apps: usize,
    len: usize,
) -> impl Strategy<Value = Vec<Step>> + use<> {
    let apps = apps.max(1);
    let step = prop_oneof![
        1 => (0..apps, applicant(programme), cost_request()).prop_map(|(app, a, request)| Step::Submit { app, applicant: Arc::new(a), request }),
        4 => (0..apps).prop_map(Step::Accept),
        1 => (0..apps).prop_map(Step::Decline),
        1 => (0..apps).prop_map(Step::Withdraw),
        3 => (0..apps, proptest::sample::select(Milestone::ALL.to_vec())).prop_map(|(a, m)| Step::Milestone(a, m)),
        8 => (0..apps, proptest::sample::select(Item::ALL.to_vec()), 1u8..=100, proptest::bool::weighted(0.1))
            .prop_map(|(app, item, fraction, over)| Step::Claim { app, item, fraction, over }),
        1 => (0..apps, proptest::sample::select(Item::ALL.to_vec())).prop_map(|(app, item)| Step::DuplicateClaim { app, item }),
        2 => (0..apps).prop_map(Step::Complete),
        3 => (0..apps, 1u8..=100).prop_map(|(app, fraction)| Step::Clawback { app, fraction }),
        1 => money(500_000).prop_map(Step::TopUp),
        3 => prop_oneof![6 => 1u32..48, 3 => 24u32 * 5..24 * 20, 1 => 24u32 * 30..24 * 200].prop_map(|hours| Step::Tick { hours }),
        1 => Just(Step::Repeat),
        24 => (0..apps, proptest::bool::weighted(0.85)).prop_map(|(app, pass)| Step::Progress { app, pass }),
    ];
    let opening = (
        proptest::collection::vec((applicant(programme), cost_request()), apps),
        Just((0..apps).collect::<Vec<_>>()).prop_shuffle(),
    )
        .prop_map(|(drawn, order)| {
            order
                .into_iter()
                .zip(drawn)
                .map(|(app, (a, request))| Step::Submit {
                    app,
                    applicant: Arc::new(a),
                    request,
                })
                .collect::<Vec<_>>()
        });
    (opening, proptest::collection::vec(step, 1..=len.max(1))).prop_map(|(mut first, rest)| {
        first.extend(rest);
        first
    })
}

/// The application id of pool slot `n`.
pub fn app_id(n: usize) -> ApplicationId {
    ApplicationId::from_name(&format!("strategy-app-{n}"))
}

/// Runs steps against a state with `decide` and `evolve` directly.
#[derive(Debug)]
pub struct Run {
    pub state: State,
    pub now: DateTime<Utc>,
    /// Every event recorded, in order.
    pub log: Vec<Event>,
    /// Outcome of the last step.
    pub last: Option<Result<Vec<Event>, Rejection>>,
    last_command: Option<Command>,
    counter: u64,
    invoices: u64,
}

impl Run {
    /// A run on a freshly opened programme, on its opening day.
    pub fn open(programme: Programme) -> Run {
        let now = programme
            .opens
            .value
            .and_hms_opt(9, 0, 0)
            .map(|t| Utc.from_utc_datetime(&t))
            .unwrap_or_default();
        let mut run = Run {
            state: State::default(),
            now,
            log: Vec::new(),
            last: None,
            last_command: None,
            counter: 0,
            invoices: 0,
        };
        let cmd = run.next_command(Action::Open {
            programme: Box::new(programme),
        });
        let _ = run.execute(cmd);
        run
    }

    fn next_command(&mut self, action: Action) -> Command {
        self.counter += 1;
        Command::new(
            CommandId::from_name(&format!("strategy-cmd-{}", self.counter)),
            action,
        )
    }

    /// Decides and, if accepted, evolves one command; checks that a
    /// rejection changed nothing.
    pub fn execute(&mut self, cmd: Command) -> Result<Vec<Event>, Rejection> {
        let result = decide(&self.state, &cmd, self.now);
        if let Ok(events) = &result {
            for e in events {
                if let Err(err) = evolve(&mut self.state, e) {
                    panic!("evolve refused an event decide produced: {err}");
                }
                self.log.push(e.clone());
            }
        }
        self.last_command = Some(cmd);
        self.last = Some(result.clone());
        result
    }

    /// The command a step stands for in the current state.
    pub fn command(&mut self, step: &Step) -> Option<Command> {
        let action = match step {
            Step::Submit {
                app,
                applicant,
                request,
            } => Action::Submit {
                application: app_id(*app),
                applicant: applicant.clone(),
                request: request.clone(),
            },
            Step::Accept(a) => Action::Accept {
                application: app_id(*a),
            },
            Step::Decline(a) => Action::Decline {
                application: app_id(*a),
            },
            Step::Withdraw(a) => Action::Withdraw {
                application: app_id(*a),
                reason: "changed plans".into(),
            },
            Step::Milestone(a, m) => Action::Milestone {
                application: app_id(*a),
                milestone: *m,
            },
            Step::Claim {
                app,
                item,
                fraction,
                over,
            } => {
                let payable = self
                    .state
                    .application(&app_id(*app))
                    .map_or(Money::ZERO, |x| x.payable(*item));
                let amount = if *over {
                    payable
                        .checked_add(Money::from_pence(1).unwrap_or(Money::ZERO))
                        .unwrap_or(Money::MAX)
                } else {
                    Money::from_computed(
                        payable.as_decimal() * Decimal::from(*fraction) / Decimal::from(100),
                    )
                    .unwrap_or(Money::ZERO)
                };
                self.invoices += 1;
                Action::Claim {
                    application: app_id(*app),
                    item: *item,
                    invoice_ref: format!("INV-{}", self.invoices),
                    amount,
                }
            }
            Step::DuplicateClaim { app, item } => Action::Claim {
                application: app_id(*app),
                item: *item,
                invoice_ref: format!("INV-{}", self.invoices),
                amount: Money::from_pence(1).unwrap_or(Money::ZERO),
            },
            Step::Complete(a) => Action::Complete {
                application: app_id(*a),
            },
            Step::Clawback { app, fraction } => {
                let net = self
                    .state
                    .application(&app_id(*app))
                    .map_or(Money::ZERO, |x| x.account.net_paid());
                let amount = Money::from_computed(
                    net.as_decimal() * Decimal::from(*fraction) / Decimal::from(100),
                )
                .unwrap_or(Money::ZERO);
                Action::Clawback {
                    application: app_id(*app),
                    amount,
                    reason: "overpayment".into(),
                }
            }
            Step::TopUp(m) => Action::TopUp {
                amount: *m,
                note: "top-up".into(),
            },
            Step::Tick { hours } => {
                self.now = self
                    .now
                    .checked_add_signed(Duration::hours(i64::from(*hours)))
                    .unwrap_or(self.now);
                Action::Tick
            }
            Step::Repeat => return self.last_command.clone(),
            Step::Progress { app, pass } => self.progress(app_id(*app), *pass)?,
        };
        Some(self.next_command(action))
    }

    fn progress(&mut self, id: ApplicationId, pass: bool) -> Option<Action> {
        use crate::state::lifecycle::Stage;
        let app = self.state.application(&id)?;
        let milestone = |milestone| {
            Some(Action::Milestone {
                application: id,
                milestone,
            })
        };
        match app.stage {
            Stage::Offered { .. } => Some(Action::Accept { application: id }),
            Stage::Awarded { .. } => milestone(Milestone::ConsultancyEngaged),
            Stage::ConsultancyEngaged { .. }
            | Stage::FeedbackDue { .. }
            | Stage::PlusRetest { .. }
                if !pass =>
            {
                Some(Action::Tick)
            }
            Stage::ConsultancyEngaged { .. } | Stage::FeedbackDue { .. } => {
                milestone(Milestone::SelfAssessmentSubmitted)
            }
            Stage::SelfAssessmentSubmitted { .. } => milestone(if pass {
                Milestone::AssessmentPassed
            } else {
                Milestone::AssessmentFailed
            }),
            Stage::Certified { plus_by: Some(_) } if pass => milestone(Milestone::PlusAuditBooked),
            Stage::PlusRetest { .. } => milestone(Milestone::PlusAuditBooked),
            Stage::PlusAuditBooked { .. } => milestone(if pass {
                Milestone::PlusAuditPassed
            } else {
                Milestone::PlusAuditFailed
            }),
            Stage::Certified { .. } | Stage::PlusCertified | Stage::PlusNotAchieved => {
                // Invoices first (what the milestone allows), then completion.
                let items: &[Item] = if app.stage == Stage::PlusCertified {
                    &Item::ALL
                } else {
                    &[Item::Consultancy, Item::CertificationFee]
                };
                match items.iter().find(|i| !app.payable(**i).is_zero()) {
                    Some(item) => {
                        let amount = app.payable(*item);
                        self.invoices += 1;
                        Some(Action::Claim {
                            application: id,
                            item: *item,
                            invoice_ref: format!("INV-{}", self.invoices),
                            amount,
                        })
                    }
                    None => Some(Action::Complete { application: id }),
                }
            }
            _ => None,
        }
    }

    /// Applies a step; returns the outcome (None when there was nothing to repeat).
    pub fn apply(&mut self, step: &Step) -> Option<Result<Vec<Event>, Rejection>> {
        let cmd = self.command(step)?;
        Some(self.execute(cmd))
    }
}

/// Panics with a description if any invariant of `state` is broken:
/// `credits = available + reserved + paid`, no negative figure, per award
/// `paid <= reserved`, item payments add up, sector totals and ring-fences,
/// and the waitlist agrees with the stages.
pub fn assert_invariants(state: &State) {
    if let Err(e) = state.check_invariants() {
        panic!("{e}");
    }
}
