//! Reusable proptest strategies, so that a service
//! embedding grantflow can test its own programme's rules the way grantflow
//! tests the preset.
//!
//! - [`applicant`] and [`cost_request`] draw realistic applications for a programme;
//! - [`programme`] draws variants of the 2020 preset made for contention (a
//!   small pot, either waitlist policy, a contingency, Plus funded, a
//!   ring-fence, any VAT policy), and [`history`] a programme with its steps;
//! - [`steps`] draws a sequence of [`Step`]s (submit, accept, decline,
//!   withdraw, milestones, claims, ticks, top-ups, clawbacks, completion)
//!   over a small set of applications, with late submissions under fresh
//!   ids and scripted journeys ([`Step::Focus`] then [`Step::Advance`]s)
//!   that take one live application down a chosen path: certified and
//!   completed, a failed assessment resubmitted, a second failure, a
//!   failed Plus audit re-tested, passed or failed again;
//!   [`Run::command`] turns one into a [`Command`] against the current
//!   state, so sequences stay meaningful;
//! - [`Weights`] sets how often [`steps`] draws each kind of step
//!   ([`steps_weighted`]); [`Weights::default`] is what grantflow tests with.
//!
//! ```
//! use grantflow_core::*;
//! use grantflow_testkit::assert_invariants;
//! use grantflow_testkit::strategies::*;
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

use grantflow_core::Item;
use grantflow_core::Money;
use grantflow_core::Rejection;
use grantflow_core::decide;
use grantflow_core::{Action, Command};
use grantflow_core::{Applicant, Contact, CostRequest, Organisation};
use grantflow_core::{ApplicationId, CommandId};
use grantflow_core::{Event, EventKind};
use grantflow_core::{Level, Programme, RingFence, VatPolicy, WaitlistPolicy};
use grantflow_core::{Milestone, StageKind};
use grantflow_core::{State, evolve};

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
        prop_oneof![Just(Level::Basic), Just(Level::Plus)],
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

/// A programme for generated histories: the 2020 preset with a pot small
/// enough for contention (£1,000 to £12,000), either waitlist policy, a
/// contingency (none in a quarter of them, else up to £2,500, always below
/// the pot), Plus funded in three of four, a ring-fence of £500 to £5,000
/// on one of the two eligible sectors in half of them, and any VAT policy
/// (covered unless registered in half of them).
pub fn programme() -> impl Strategy<Value = Programme> {
    (
        1_000u32..12_000,
        any::<bool>(),
        prop_oneof![1 => Just(0u32), 3 => 1u32..2_500],
        proptest::bool::weighted(0.75),
        proptest::option::weighted(0.5, (any::<bool>(), 500u32..5_000)),
        prop_oneof![
            2 => Just(VatPolicy::UnlessRegistered),
            1 => Just(VatPolicy::Always),
            1 => Just(VatPolicy::Never),
        ],
    )
        .prop_map(|(pot, strict, contingency, plus, fence, vat)| {
            let mut p = Programme::healthcare_cyber_essentials_2020();
            p.pot.value = Money::pounds(pot);
            p.allocation.policy.value = if strict {
                WaitlistPolicy::Strict
            } else {
                WaitlistPolicy::SkipAhead
            };
            p.allocation.contingency.value = Money::pounds(contingency.min(pot - 1));
            p.coverage.plus_funded.value = plus;
            p.coverage.vat.value = vat;
            if let Some((primary_care, cap)) = fence {
                let sector = if primary_care {
                    "primary-care"
                } else {
                    "medical-supplier"
                };
                p.allocation.ring_fences.push(RingFence {
                    sector: sector.into(),
                    cap: Money::pounds(cap),
                    reference: None,
                    assumed: Some("a generated ring-fence".into()),
                });
            }
            p
        })
}

/// A [`programme`] and a history of [`steps`] over `apps` applications and
/// up to `len` further steps.
pub fn history(apps: usize, len: usize) -> impl Strategy<Value = (Programme, Vec<Step>)> {
    history_weighted(apps, len, &Weights::default())
}

/// [`history`] with the given [`Weights`] for its steps.
pub fn history_weighted(
    apps: usize,
    len: usize,
    weights: &Weights,
) -> impl Strategy<Value = (Programme, Vec<Step>)> + use<> {
    let weights = weights.clone();
    programme().prop_flat_map(move |p| {
        let s = steps_weighted(&p, apps, len, &weights);
        (Just(p), s)
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
    /// Takes the application one step along its happy (or, with `pass`
    /// false, unhappy) path; once it is closed with money paid, claws back
    /// half the net paid (or, with `pass` false, a penny more than it).
    Progress {
        app: usize,
        pass: bool,
    },
    /// Chooses the application the next [`Step::Advance`]s take along: of
    /// the applications holding an offer or a live award (offered to Plus
    /// not achieved), in arrival order, the `pick`-th, counting round;
    /// with `plus`, among those with a funded Plus audit when there are
    /// any. Sends no command.
    Focus {
        pick: usize,
        plus: bool,
    },
    /// Takes the focused application one step, as [`Step::Progress`] does.
    Advance {
        pass: bool,
    },
    /// Claims a penny against the last invoice that was paid, for its
    /// application and item, under its reference (lower-cased when
    /// `refold`, which names the same invoice).
    ReclaimPaid {
        refold: bool,
    },
}

/// The scripted journeys: how often each is drawn (out of 10), whether
/// it focuses on an application with a funded Plus audit, and its pass
/// flags, one per [`Step::Advance`], for an application taken from its
/// offer: accept, engage a consultant, submit the self-assessment, then
const JOURNEYS: [(usize, bool, &[bool]); 5] = [
    // pass; claim; complete; claw back.
    (2, false, &[true; 10]),
    // fail, resubmit and pass; claim; complete; claw back.
    (
        2,
        false,
        &[
            true, true, true, false, true, true, true, true, true, true, true,
        ],
    ),
    // fail, resubmit, fail again; claw back (nothing was paid).
    (1, false, &[true, true, true, false, true, false, true]),
    // pass; fail the Plus audit, re-test and pass it; claim; complete; claw back.
    (
        2,
        true,
        &[
            true, true, true, true, true, false, true, true, true, true, true, true, true,
        ],
    ),
    // pass; fail the Plus audit, re-test and fail again; claim; complete; claw back.
    (
        3,
        true,
        &[
            true, true, true, true, true, false, true, false, true, true, true, true,
        ],
    ),
];

/// A part of a history before late submissions are numbered.
#[derive(Clone, Debug)]
enum Chunk {
    One(Step),
    /// A submission under the next fresh application number.
    Late(Arc<Applicant>, CostRequest),
    Journey(Vec<Step>),
}

/// A scripted journey: a [`Step::Focus`], then one [`Step::Advance`] per
/// pass flag (a script of [`JOURNEYS`] or random flags), a
/// [`Step::ReclaimPaid`] after about one in ten of them.
fn journey() -> impl Strategy<Value = Vec<Step>> {
    let weighted: Vec<(bool, &[bool])> = JOURNEYS
        .iter()
        .flat_map(|(weight, plus, flags)| std::iter::repeat_n((*plus, *flags), *weight))
        .collect();
    let scripted =
        proptest::sample::select(weighted).prop_map(|(plus, flags)| (plus, flags.to_vec()));
    let random = (
        any::<bool>(),
        proptest::collection::vec(proptest::bool::weighted(0.7), 2..12),
    );
    (
        0..64usize,
        prop_oneof![5 => scripted, 2 => random],
        proptest::collection::vec(0u8..10, 13),
        any::<bool>(),
    )
        .prop_map(|(pick, (plus, passes), noise, refold)| {
            let mut journey = vec![Step::Focus { pick, plus }];
            for (i, pass) in passes.into_iter().enumerate() {
                journey.push(Step::Advance { pass });
                if noise.get(i) == Some(&0) {
                    journey.push(Step::ReclaimPaid { refold });
                }
            }
            journey
        })
}

/// Sequences of up to `len` steps over `apps` applications of `programme`:
/// every application is submitted first (in a random order), then random
/// steps, late submissions (numbered `apps`, `apps + 1`, … in order) and
/// scripted journeys follow.
pub fn steps(
    programme: &Programme,
    apps: usize,
    len: usize,
) -> impl Strategy<Value = Vec<Step>> + use<> {
    steps_weighted(programme, apps, len, &Weights::default())
}

/// How often [`steps_weighted`] draws each kind of step, relative to the
/// others (a weight of 0 never draws it). The first group weighs single
/// steps among themselves; `single`, `late` and `journey` weigh a single
/// step against a late submission (a fresh application into whatever is
/// left of the pot) and a scripted journey ([`Step::Focus`] then
/// [`Step::Advance`]s). [`Weights::default`] is what grantflow's own
/// tests use; a programme whose risk lies elsewhere (many clawbacks, a
/// busy waitlist) raises those.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Weights {
    /// [`Step::Submit`] of one of the pool's applications.
    pub submit: u32,
    /// [`Step::Accept`].
    pub accept: u32,
    /// [`Step::Decline`].
    pub decline: u32,
    /// [`Step::Withdraw`].
    pub withdraw: u32,
    /// [`Step::Milestone`], any milestone to any application.
    pub milestone: u32,
    /// [`Step::Claim`].
    pub claim: u32,
    /// [`Step::DuplicateClaim`].
    pub duplicate_claim: u32,
    /// [`Step::ReclaimPaid`].
    pub reclaim_paid: u32,
    /// [`Step::Complete`].
    pub complete: u32,
    /// [`Step::Clawback`].
    pub clawback: u32,
    /// [`Step::TopUp`].
    pub top_up: u32,
    /// [`Step::Tick`].
    pub tick: u32,
    /// [`Step::Repeat`].
    pub repeat: u32,
    /// [`Step::Progress`].
    pub progress: u32,
    /// A single step of the kinds above.
    pub single: u32,
    /// A late submission.
    pub late: u32,
    /// A scripted journey.
    pub journey: u32,
}

impl Default for Weights {
    fn default() -> Weights {
        Weights {
            submit: 1,
            accept: 4,
            decline: 1,
            withdraw: 1,
            milestone: 3,
            claim: 8,
            duplicate_claim: 1,
            reclaim_paid: 2,
            complete: 2,
            clawback: 3,
            top_up: 2,
            tick: 3,
            repeat: 1,
            progress: 24,
            single: 12,
            late: 2,
            journey: 3,
        }
    }
}

impl Weights {
    /// Whether at least one kind of single step and one kind of chunk can
    /// be drawn (otherwise [`steps_weighted`] falls back to the defaults).
    fn drawable(&self) -> bool {
        let singles = [
            self.submit,
            self.accept,
            self.decline,
            self.withdraw,
            self.milestone,
            self.claim,
            self.duplicate_claim,
            self.reclaim_paid,
            self.complete,
            self.clawback,
            self.top_up,
            self.tick,
            self.repeat,
            self.progress,
        ];
        singles.iter().any(|w| *w > 0) && (self.single > 0 || self.late > 0 || self.journey > 0)
    }
}

/// A union of the arms whose weight is not 0 (the caller makes sure one is).
fn weighted<T: std::fmt::Debug + 'static>(
    arms: Vec<(u32, BoxedStrategy<T>)>,
) -> proptest::strategy::Union<BoxedStrategy<T>> {
    proptest::strategy::Union::new_weighted(arms.into_iter().filter(|(w, _)| *w > 0).collect())
}

/// [`steps`] with the given [`Weights`]. Weights that leave nothing to draw
/// (every single step at 0, or `single`, `late` and `journey` all at 0)
/// are replaced by the defaults rather than drawing nothing.
pub fn steps_weighted(
    programme: &Programme,
    apps: usize,
    len: usize,
    weights: &Weights,
) -> impl Strategy<Value = Vec<Step>> + use<> {
    let apps = apps.max(1);
    let len = len.max(1);
    let w = if weights.drawable() {
        weights.clone()
    } else {
        Weights::default()
    };
    let step = weighted(vec![
        (
            w.submit,
            (0..apps, applicant(programme), cost_request())
                .prop_map(|(app, a, request)| Step::Submit {
                    app,
                    applicant: Arc::new(a),
                    request,
                })
                .boxed(),
        ),
        (w.accept, (0..apps).prop_map(Step::Accept).boxed()),
        (w.decline, (0..apps).prop_map(Step::Decline).boxed()),
        (w.withdraw, (0..apps).prop_map(Step::Withdraw).boxed()),
        (
            w.milestone,
            (0..apps, proptest::sample::select(Milestone::ALL.to_vec()))
                .prop_map(|(a, m)| Step::Milestone(a, m))
                .boxed(),
        ),
        (
            w.claim,
            (
                0..apps,
                proptest::sample::select(Item::ALL.to_vec()),
                1u8..=100,
                proptest::bool::weighted(0.1),
            )
                .prop_map(|(app, item, fraction, over)| Step::Claim {
                    app,
                    item,
                    fraction,
                    over,
                })
                .boxed(),
        ),
        (
            w.duplicate_claim,
            (0..apps, proptest::sample::select(Item::ALL.to_vec()))
                .prop_map(|(app, item)| Step::DuplicateClaim { app, item })
                .boxed(),
        ),
        (
            w.reclaim_paid,
            any::<bool>()
                .prop_map(|refold| Step::ReclaimPaid { refold })
                .boxed(),
        ),
        (w.complete, (0..apps).prop_map(Step::Complete).boxed()),
        (
            w.clawback,
            (0..apps, 1u8..=100)
                .prop_map(|(app, fraction)| Step::Clawback { app, fraction })
                .boxed(),
        ),
        (w.top_up, money(500_000).prop_map(Step::TopUp).boxed()),
        (
            w.tick,
            prop_oneof![6 => 1u32..48, 3 => 24u32 * 5..24 * 20, 1 => 24u32 * 30..24 * 200]
                .prop_map(|hours| Step::Tick { hours })
                .boxed(),
        ),
        (w.repeat, Just(Step::Repeat).boxed()),
        (
            w.progress,
            (0..apps, proptest::bool::weighted(0.85))
                .prop_map(|(app, pass)| Step::Progress { app, pass })
                .boxed(),
        ),
    ]);
    let chunk = weighted(vec![
        (w.single, step.prop_map(Chunk::One).boxed()),
        (
            w.late,
            (applicant(programme), cost_request())
                .prop_map(|(a, r)| Chunk::Late(Arc::new(a), r))
                .boxed(),
        ),
        (w.journey, journey().prop_map(Chunk::Journey).boxed()),
    ]);
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
    (opening, proptest::collection::vec(chunk, 1..=len)).prop_map(move |(mut first, chunks)| {
        let end = first.len() + len;
        let mut late = apps;
        for chunk in chunks {
            match chunk {
                Chunk::One(step) => first.push(step),
                Chunk::Late(applicant, request) => {
                    first.push(Step::Submit {
                        app: late,
                        applicant,
                        request,
                    });
                    late += 1;
                }
                Chunk::Journey(journey) => first.extend(journey),
            }
        }
        first.truncate(end);
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
    /// The application [`Step::Advance`] takes along.
    focus: Option<ApplicationId>,
    /// The last invoice paid: its application, item and reference.
    paid: Option<(ApplicationId, Item, String)>,
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
            focus: None,
            paid: None,
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
                if let EventKind::ClaimPaid {
                    application,
                    item,
                    invoice_ref,
                    ..
                } = &e.kind
                {
                    self.paid = Some((*application, *item, invoice_ref.clone()));
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
                    .map_or(Money::ZERO, |x| x.account().net_paid());
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
            Step::Focus { pick, plus } => {
                self.focus = self.pick_focus(*pick, *plus);
                return None;
            }
            Step::Advance { pass } => self.progress(self.focus?, *pass)?,
            Step::ReclaimPaid { refold } => {
                let (application, item, reference) = self.paid.clone()?;
                Action::Claim {
                    application,
                    item,
                    invoice_ref: if *refold {
                        reference.to_lowercase()
                    } else {
                        reference
                    },
                    amount: Money::from_pence(1).unwrap_or(Money::ZERO),
                }
            }
        };
        Some(self.next_command(action))
    }

    /// The application a [`Step::Focus`] chooses.
    fn pick_focus(&self, pick: usize, plus: bool) -> Option<ApplicationId> {
        let live: Vec<_> = self
            .state
            .applications()
            .values()
            .filter(|a| {
                let kind = a.stage().kind();
                kind == StageKind::Offered || (kind.is_funded() && kind != StageKind::Completed)
            })
            .collect();
        let with_plus: Vec<_> = live
            .iter()
            .copied()
            .filter(|a| {
                a.coverage()
                    .is_some_and(|c| !c.item(Item::PlusAudit).is_zero())
            })
            .collect();
        let pool = if plus && !with_plus.is_empty() {
            with_plus
        } else {
            live
        };
        pool.get(pick.checked_rem(pool.len())?).map(|a| a.id())
    }

    fn progress(&mut self, id: ApplicationId, pass: bool) -> Option<Action> {
        use grantflow_core::Stage;
        let app = self.state.application(&id)?;
        let milestone = |milestone| {
            Some(Action::Milestone {
                application: id,
                milestone,
            })
        };
        match app.stage() {
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
                let items: &[Item] = if app.stage() == Stage::PlusCertified {
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
            Stage::Completed | Stage::Failed | Stage::Withdrawn => {
                // A clawback of half the net paid, or a penny more than it.
                let net = app.account().net_paid();
                if net.is_zero() {
                    return None;
                }
                let pence = u64::try_from(net.pence()).unwrap_or(0);
                let pence = if pass { pence.div_ceil(2) } else { pence + 1 };
                Some(Action::Clawback {
                    application: id,
                    amount: Money::from_pence(pence).unwrap_or(Money::ZERO),
                    reason: "overpayment".into(),
                })
            }
            _ => None,
        }
    }

    /// Applies a step; returns the outcome (None when the step stands for
    /// no command: nothing to repeat, a [`Step::Focus`], an application
    /// with no next step).
    pub fn apply(&mut self, step: &Step) -> Option<Result<Vec<Event>, Rejection>> {
        let cmd = self.command(step)?;
        Some(self.execute(cmd))
    }
}
