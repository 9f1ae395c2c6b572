//! The reference model: a deliberately plain restatement of the allocation
//! policy, the ledger and the lifecycle, written from the design brief
//! (ARCHITECTURE.md and the core's documentation), not from its code.
//!
//! Amounts are whole pence in `i64`, the waitlist is a `Vec` of arrival
//! numbers, every lookup is a linear scan, and a refused command is undone
//! by putting back a copy of the model. It calls none of the core's logic:
//! from the core it takes only data (the programme's parameters, the
//! commands' fields) and chrono's calendar.
//!
//! What it leaves out, because the generated histories never send it:
//! malformed applicant texts, a command id reused for another command, a
//! clock that goes back. Reminders are left out too: they move no money
//! and change no stage.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc, Weekday};
use grantflow_core::{
    Action, Applicant, ApplicationId, Command, CommandId, CostRequest, Item, Level, Milestone,
    Programme, RejectionCode as Code, VatPolicy, WaitlistPolicy,
};
use rust_decimal::Decimal;

type Time = DateTime<Utc>;

/// The largest amount the pot may hold: one trillion pounds, in pence.
const MAX_PENCE: i64 = 100_000_000_000_000;

/// An amount of money as pence.
fn pence(m: grantflow_core::Money) -> i64 {
    m.pence()
}

/// A decimal count (of days) in hundredths, cut to whole hundredths.
fn hundredths(d: Decimal) -> i128 {
    let (m, scale) = (d.mantissa(), d.scale());
    if scale <= 2 {
        m * 10i128.pow(2 - scale)
    } else {
        m / 10i128.pow(scale - 2)
    }
}

/// `num / den` to the nearest whole number, halves away from zero
/// (`num` and `den` positive or zero, `den` above zero).
fn nearest(num: i128, den: i128) -> i64 {
    i64::try_from((2 * num + den) / (2 * den)).unwrap_or(i64::MAX)
}

/// A text as the brief allows it: `min` to `max` characters (surrounding
/// spaces do not count towards the minimum), no control character.
fn text_ok(text: &str, min: usize, max: usize) -> bool {
    text.trim().chars().count() >= min
        && text.chars().count() <= max
        && !text.chars().any(char::is_control)
}

/// The programme's parameters as plain numbers.
#[derive(Clone, Debug)]
struct Rules {
    opens: NaiveDate,
    closes: NaiveDate,
    /// Sector ids and whether each is eligible, in the programme's order.
    sectors: Vec<(String, bool)>,
    max_employees: u32,
    uk_only: bool,
    exclude_certified: bool,
    /// Dated fee tables: first day, last day, fee for micro, small, medium, large.
    fees: Vec<(NaiveDate, Option<NaiveDate>, [i64; 4])>,
    plus_funded: bool,
    plus_cap: i64,
    rate_cap: i64,
    days_cap: i128,
    vat: VatPolicy,
    /// The VAT rate as a fraction.
    vat_num: i128,
    vat_den: i128,
    award_cap: i64,
    strict: bool,
    contingency: i64,
    /// Ring-fences: the sector's index and its cap.
    fences: Vec<(usize, i64)>,
    offer_days: i64,
    feedback_working_days: u32,
    pass_months: u32,
    plus_months: u32,
    retest_days: i64,
}

impl Rules {
    fn of(p: &Programme) -> Rules {
        let c = &p.coverage;
        let w = &p.windows;
        let vat = c.vat_rate.value;
        Rules {
            opens: p.opens.value,
            closes: p.closes.value,
            sectors: p
                .sectors
                .iter()
                .map(|s| (s.id.clone(), s.eligible))
                .collect(),
            max_employees: p.eligibility.max_employees_exclusive.value,
            uk_only: p.eligibility.uk_only.value,
            exclude_certified: p.eligibility.exclude_already_certified.value,
            fees: c
                .certification_fee
                .iter()
                .map(|d| {
                    let f = &d.value;
                    (
                        d.from,
                        d.until,
                        [f.micro, f.small, f.medium, f.large].map(pence),
                    )
                })
                .collect(),
            plus_funded: c.plus_funded.value,
            plus_cap: pence(c.plus_audit_cap.value),
            rate_cap: pence(c.consultancy_day_rate_cap.value),
            days_cap: hundredths(c.consultancy_days_cap.value),
            vat: c.vat.value,
            vat_num: vat.mantissa(),
            vat_den: 10i128.pow(vat.scale()),
            award_cap: pence(c.award_cap.value),
            strict: p.allocation.policy.value == WaitlistPolicy::Strict,
            contingency: pence(p.allocation.contingency.value),
            fences: p
                .allocation
                .ring_fences
                .iter()
                .filter_map(|rf| {
                    let s = p.sectors.iter().position(|s| s.id == rf.sector)?;
                    Some((s, pence(rf.cap)))
                })
                .collect(),
            offer_days: i64::from(w.offer_days.value),
            feedback_working_days: w.feedback_working_days.value,
            pass_months: w.pass_months.value,
            plus_months: w.plus_months.value,
            retest_days: i64::from(w.plus_retest_days.value),
        }
    }

    /// Whether the applicant meets every criterion on `on`.
    fn eligible(&self, a: &Applicant, on: NaiveDate) -> bool {
        let sector_ok = self
            .sectors
            .iter()
            .any(|(id, eligible)| *id == a.sector && *eligible);
        self.opens <= on
            && on <= self.closes
            && sector_ok
            && a.employees < self.max_employees
            && (a.uk_based || !self.uk_only)
            && (!a.already_certified || !self.exclude_certified)
    }

    /// The covered consultancy, certification fee and Plus audit, in pence.
    fn covered(&self, a: &Applicant, r: &CostRequest, on: NaiveDate) -> Result<[i64; 3], Code> {
        let with_vat = match self.vat {
            VatPolicy::Never => false,
            VatPolicy::Always => true,
            VatPolicy::UnlessRegistered => !a.vat_registered,
        };
        // `num / den` pence, with VAT on top when it is covered, to the nearest penny.
        let gross = |num: i128, den: i128| {
            if with_vat {
                nearest(num * (self.vat_den + self.vat_num), den * self.vat_den)
            } else {
                nearest(num, den)
            }
        };
        let Some((_, _, fees)) = self
            .fees
            .iter()
            .find(|(from, until, _)| *from <= on && until.is_none_or(|u| on <= u))
        else {
            return Err(Code::NoCoverage);
        };
        let band = match a.employees {
            0..=9 => 0,
            10..=49 => 1,
            50..=249 => 2,
            _ => 3,
        };
        let fee = gross(i128::from(fees[band]), 1);
        let days = hundredths(r.consultancy_days).min(self.days_cap).max(0);
        let rate = pence(r.day_rate).min(self.rate_cap);
        let consultancy = gross(days * i128::from(rate), 100);
        let plus = if r.level == Level::Plus && self.plus_funded {
            let quote = r.plus_audit_quote.map_or(self.plus_cap, pence);
            gross(i128::from(quote.min(self.plus_cap)), 1)
        } else {
            0
        };
        Ok([consultancy, fee, plus])
    }
}

/// Where an application stands, with the times its deadlines run to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Ineligible,
    Waitlisted,
    Offered { expires: Time },
    Declined,
    Lapsed,
    Awarded { pass_by: Time },
    Consultancy { pass_by: Time },
    SelfAssessment { pass_by: Time, attempt: u8 },
    FeedbackDue { pass_by: Time, respond_by: Time },
    Failed,
    Certified { plus_by: Option<Time> },
    PlusBooked { plus_by: Time, attempt: u8 },
    PlusRetest { plus_by: Time, retest_by: Time },
    PlusCertified,
    PlusNotAchieved,
    Completed,
    Withdrawn,
}

impl Stage {
    /// The stage's name as the brief writes it, and its times.
    pub fn described(self) -> (&'static str, Vec<Time>) {
        match self {
            Stage::Ineligible => ("ineligible", vec![]),
            Stage::Waitlisted => ("waitlisted", vec![]),
            Stage::Offered { expires } => ("offered", vec![expires]),
            Stage::Declined => ("declined", vec![]),
            Stage::Lapsed => ("lapsed", vec![]),
            Stage::Awarded { pass_by } => ("awarded", vec![pass_by]),
            Stage::Consultancy { pass_by } => ("consultancy_engaged", vec![pass_by]),
            Stage::SelfAssessment { pass_by, .. } => ("self_assessment_submitted", vec![pass_by]),
            Stage::FeedbackDue {
                pass_by,
                respond_by,
            } => ("feedback_due", vec![pass_by, respond_by]),
            Stage::Failed => ("failed", vec![]),
            Stage::Certified { plus_by } => ("certified", plus_by.into_iter().collect()),
            Stage::PlusBooked { plus_by, .. } => ("plus_audit_booked", vec![plus_by]),
            Stage::PlusRetest { plus_by, retest_by } => ("plus_retest", vec![plus_by, retest_by]),
            Stage::PlusCertified => ("plus_certified", vec![]),
            Stage::PlusNotAchieved => ("plus_not_achieved", vec![]),
            Stage::Completed => ("completed", vec![]),
            Stage::Withdrawn => ("withdrawn", vec![]),
        }
    }

    fn is_final(self) -> bool {
        matches!(
            self,
            Stage::Ineligible
                | Stage::Declined
                | Stage::Lapsed
                | Stage::Failed
                | Stage::Completed
                | Stage::Withdrawn
        )
    }

    /// Holds (or, completed, held) an accepted award.
    fn is_funded(self) -> bool {
        matches!(
            self,
            Stage::Awarded { .. }
                | Stage::Consultancy { .. }
                | Stage::SelfAssessment { .. }
                | Stage::FeedbackDue { .. }
                | Stage::Certified { .. }
                | Stage::PlusBooked { .. }
                | Stage::PlusRetest { .. }
                | Stage::PlusCertified
                | Stage::PlusNotAchieved
                | Stage::Completed
        )
    }

    fn is_certified(self) -> bool {
        matches!(
            self,
            Stage::Certified { .. }
                | Stage::PlusBooked { .. }
                | Stage::PlusRetest { .. }
                | Stage::PlusCertified
                | Stage::PlusNotAchieved
        )
    }

    /// The deadlines the stage runs against. At one instant, one
    /// application's fire in this order (the brief's: offer expiry,
    /// feedback close, pass window, Plus re-test, Plus window).
    fn deadlines(self) -> Vec<(Time, Due)> {
        match self {
            Stage::Offered { expires } => vec![(expires, Due::OfferExpiry)],
            Stage::Awarded { pass_by }
            | Stage::Consultancy { pass_by }
            | Stage::SelfAssessment { pass_by, .. } => vec![(pass_by, Due::PassWindow)],
            Stage::FeedbackDue {
                pass_by,
                respond_by,
            } => vec![(respond_by, Due::FeedbackClose), (pass_by, Due::PassWindow)],
            Stage::Certified {
                plus_by: Some(plus_by),
            }
            | Stage::PlusBooked { plus_by, .. } => vec![(plus_by, Due::PlusWindow)],
            Stage::PlusRetest { plus_by, retest_by } => {
                vec![(retest_by, Due::PlusRetest), (plus_by, Due::PlusWindow)]
            }
            _ => vec![],
        }
    }
}

/// A deadline that moves money or a stage, in firing order at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    OfferExpiry,
    FeedbackClose,
    PassWindow,
    PlusRetest,
    PlusWindow,
}

/// One application.
#[derive(Clone, Debug)]
pub struct App {
    pub id: ApplicationId,
    /// The index of its sector among the programme's, if declared.
    sector: Option<usize>,
    /// Covered consultancy, certification fee and Plus audit; `None` when ineligible.
    pub items: Option<[i64; 3]>,
    pub award: i64,
    pub stage: Stage,
    pub reserved_at_award: i64,
    pub outstanding: i64,
    pub paid: i64,
    pub recovered: i64,
    pub released: i64,
    resolved: bool,
    item_paid: [i64; 3],
}

/// The pot's figures, in pence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pot {
    pub credits: i64,
    pub available: i64,
    pub reserved: i64,
    pub paid: i64,
    pub released: i64,
    pub recovered: i64,
}

/// An offer made: to whom, how much, when its window starts and ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offer {
    pub application: ApplicationId,
    pub amount: i64,
    pub at: Time,
    pub expires: Time,
}

/// What an accepted command did that the comparison looks at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Offers in the order made.
    pub offers: Vec<Offer>,
    /// Offers that lapsed, with the amount each released.
    pub lapses: Vec<(ApplicationId, i64)>,
}

/// The whole model.
#[derive(Clone, Debug)]
pub struct Model {
    rules: Rules,
    pub pot: Pot,
    /// Every application, in arrival order.
    pub apps: Vec<App>,
    /// Arrival numbers of the waitlisted applications, first come first.
    pub waitlist: Vec<usize>,
    /// Paid invoice references, trimmed and lower-cased.
    invoices: Vec<String>,
    /// Committed money per sector: reserved plus paid, less recovered.
    committed: Vec<i64>,
    /// Ids of the commands accepted.
    commands: Vec<CommandId>,
}

impl Model {
    /// A programme just opened.
    pub fn open(p: &Programme) -> Model {
        let rules = Rules::of(p);
        let pot = pence(p.pot.value);
        Model {
            committed: vec![0; rules.sectors.len()],
            rules,
            pot: Pot {
                credits: pot,
                available: pot,
                ..Pot::default()
            },
            apps: Vec::new(),
            waitlist: Vec::new(),
            invoices: Vec::new(),
            commands: Vec::new(),
        }
    }

    /// Decides `command` at `now` and applies it: the deadlines due at
    /// `now` fire first, then the command's own action. A refusal leaves
    /// the model as it was, deadlines included; a command id accepted
    /// before is answered with nothing new.
    pub fn decide(&mut self, command: &Command, now: Time) -> Result<Outcome, Code> {
        if self.commands.contains(&command.id) {
            return Ok(Outcome::default());
        }
        let before = self.clone();
        let mut out = Outcome::default();
        self.fire_deadlines(now, &mut out);
        match self.act(&command.action, now, &mut out) {
            Ok(()) => {
                self.commands.push(command.id);
                Ok(out)
            }
            Err(code) => {
                *self = before;
                Err(code)
            }
        }
    }

    fn find(&self, id: &ApplicationId) -> Result<usize, Code> {
        self.apps
            .iter()
            .position(|a| a.id == *id)
            .ok_or(Code::UnknownApplication)
    }

    /// Every deadline at or before `now`, in time order, then arrival, then
    /// kind; each fires only if its application is still in the stage that
    /// set it.
    fn fire_deadlines(&mut self, now: Time, out: &mut Outcome) {
        let mut due = Vec::new();
        for (i, app) in self.apps.iter().enumerate() {
            for (at, kind) in app.stage.deadlines() {
                if at <= now {
                    due.push((at, i, kind));
                }
            }
        }
        due.sort();
        for (at, i, kind) in due {
            if !self.apps[i].stage.deadlines().contains(&(at, kind)) {
                continue;
            }
            match kind {
                Due::OfferExpiry => {
                    let released = self.release(i);
                    self.apps[i].stage = Stage::Lapsed;
                    out.lapses.push((self.apps[i].id, released));
                    self.offer_waitlist(now, out);
                }
                Due::FeedbackClose | Due::PassWindow => {
                    self.release(i);
                    self.apps[i].stage = Stage::Failed;
                    self.offer_waitlist(now, out);
                }
                Due::PlusRetest | Due::PlusWindow => self.apps[i].stage = Stage::PlusNotAchieved,
            }
        }
    }

    fn act(&mut self, action: &Action, now: Time, out: &mut Outcome) -> Result<(), Code> {
        match action {
            Action::Open { .. } => Err(Code::AlreadyOpened),
            Action::Tick => Ok(()),
            Action::TopUp { amount, note } => {
                if !text_ok(note, 0, 500) {
                    return Err(Code::InvalidText);
                }
                let amount = pence(*amount);
                if amount == 0 {
                    return Err(Code::ZeroAmount);
                }
                if self.pot.credits + amount > MAX_PENCE {
                    return Err(Code::AmountOutOfRange);
                }
                self.pot.credits += amount;
                self.pot.available += amount;
                self.offer_waitlist(now, out);
                Ok(())
            }
            Action::Submit {
                application,
                applicant,
                request,
            } => self.submit(*application, applicant, request, now, out),
            Action::Accept { application } => {
                let i = self.find(application)?;
                let Stage::Offered { .. } = self.apps[i].stage else {
                    return Err(Code::IllegalTransition);
                };
                self.apps[i].stage = Stage::Awarded {
                    pass_by: add_months(now, self.rules.pass_months),
                };
                Ok(())
            }
            Action::Decline { application } => {
                let i = self.find(application)?;
                let Stage::Offered { .. } = self.apps[i].stage else {
                    return Err(Code::IllegalTransition);
                };
                self.release(i);
                self.apps[i].stage = Stage::Declined;
                self.offer_waitlist(now, out);
                Ok(())
            }
            Action::Withdraw {
                application,
                reason,
            } => {
                if !text_ok(reason, 0, 500) {
                    return Err(Code::InvalidText);
                }
                let i = self.find(application)?;
                let stage = self.apps[i].stage;
                if stage.is_final() {
                    return Err(Code::IllegalTransition);
                }
                if stage == Stage::Waitlisted {
                    self.waitlist.retain(|w| *w != i);
                } else {
                    self.release(i);
                }
                self.apps[i].stage = Stage::Withdrawn;
                self.offer_waitlist(now, out);
                Ok(())
            }
            Action::Milestone {
                application,
                milestone,
            } => {
                let i = self.find(application)?;
                self.milestone(i, *milestone, now, out)
            }
            Action::Claim {
                application,
                item,
                invoice_ref,
                amount,
            } => {
                let i = self.find(application)?;
                self.claim(i, *item, invoice_ref, pence(*amount))
            }
            Action::Complete { application } => {
                let i = self.find(application)?;
                if !matches!(
                    self.apps[i].stage,
                    Stage::Certified { .. } | Stage::PlusCertified | Stage::PlusNotAchieved
                ) {
                    return Err(Code::IllegalTransition);
                }
                self.release(i);
                self.apps[i].stage = Stage::Completed;
                self.offer_waitlist(now, out);
                Ok(())
            }
            Action::Clawback {
                application,
                amount,
                reason,
            } => {
                if !text_ok(reason, 1, 500) {
                    return Err(Code::InvalidText);
                }
                let i = self.find(application)?;
                if !matches!(
                    self.apps[i].stage,
                    Stage::Completed | Stage::Failed | Stage::Withdrawn
                ) {
                    return Err(Code::NotCompleted);
                }
                let amount = pence(*amount);
                if amount == 0 {
                    return Err(Code::ZeroAmount);
                }
                let app = &mut self.apps[i];
                if amount > app.paid - app.recovered {
                    return Err(Code::ClawbackExceedsPaid);
                }
                app.recovered += amount;
                if let Some(s) = app.sector {
                    self.committed[s] -= amount;
                }
                self.pot.credits += amount;
                self.pot.available += amount;
                self.pot.recovered += amount;
                self.offer_waitlist(now, out);
                Ok(())
            }
            other => panic!("the reference model does not know {other:?}"),
        }
    }

    fn submit(
        &mut self,
        id: ApplicationId,
        applicant: &Applicant,
        request: &CostRequest,
        now: Time,
        out: &mut Outcome,
    ) -> Result<(), Code> {
        if self.apps.iter().any(|a| a.id == id) {
            return Err(Code::DuplicateApplication);
        }
        let days = request.consultancy_days;
        if days < Decimal::ZERO || days > Decimal::from(365) || days.normalize().scale() > 2 {
            return Err(Code::InvalidApplication);
        }
        let on = now.date_naive();
        let items = if self.rules.eligible(applicant, on) {
            Some(self.rules.covered(applicant, request, on)?)
        } else {
            None
        };
        let award = items.map_or(0, |i| (i[0] + i[1] + i[2]).min(self.rules.award_cap));
        if items.is_some() && award == 0 {
            return Err(Code::InvalidApplication);
        }
        let i = self.apps.len();
        self.apps.push(App {
            id,
            sector: self
                .rules
                .sectors
                .iter()
                .position(|(s, _)| *s == applicant.sector),
            items,
            award,
            stage: Stage::Ineligible,
            reserved_at_award: 0,
            outstanding: 0,
            paid: 0,
            recovered: 0,
            released: 0,
            resolved: false,
            item_paid: [0; 3],
        });
        if items.is_none() {
            return Ok(());
        }
        let queue_ahead = self.rules.strict && !self.waitlist.is_empty();
        if !queue_ahead && self.fits(i) {
            self.offer(i, now, out);
        } else {
            self.apps[i].stage = Stage::Waitlisted;
            self.waitlist.push(i);
        }
        Ok(())
    }

    fn milestone(
        &mut self,
        i: usize,
        m: Milestone,
        now: Time,
        out: &mut Outcome,
    ) -> Result<(), Code> {
        let rules = &self.rules;
        let next = match (m, self.apps[i].stage) {
            (Milestone::ConsultancyEngaged, Stage::Awarded { pass_by }) => {
                Stage::Consultancy { pass_by }
            }
            (Milestone::SelfAssessmentSubmitted, Stage::Consultancy { pass_by }) => {
                Stage::SelfAssessment {
                    pass_by,
                    attempt: 1,
                }
            }
            (Milestone::SelfAssessmentSubmitted, Stage::FeedbackDue { pass_by, .. }) => {
                Stage::SelfAssessment {
                    pass_by,
                    attempt: 2,
                }
            }
            (Milestone::AssessmentPassed, Stage::SelfAssessment { .. }) => {
                let plus = self.apps[i].items.is_some_and(|items| items[2] > 0);
                Stage::Certified {
                    plus_by: plus.then(|| add_months(now, rules.plus_months)),
                }
            }
            (Milestone::AssessmentFailed, Stage::SelfAssessment { attempt, .. })
                if attempt >= 2 =>
            {
                self.release(i);
                self.apps[i].stage = Stage::Failed;
                self.offer_waitlist(now, out);
                return Ok(());
            }
            (Milestone::AssessmentFailed, Stage::SelfAssessment { pass_by, .. }) => {
                Stage::FeedbackDue {
                    pass_by,
                    respond_by: working_days_after(now, rules.feedback_working_days),
                }
            }
            (
                Milestone::PlusAuditBooked
                | Milestone::PlusAuditPassed
                | Milestone::PlusAuditFailed,
                Stage::Certified { plus_by: None },
            ) => return Err(Code::PlusNotFunded),
            (
                Milestone::PlusAuditBooked,
                Stage::Certified {
                    plus_by: Some(plus_by),
                },
            ) => Stage::PlusBooked {
                plus_by,
                attempt: 1,
            },
            (Milestone::PlusAuditBooked, Stage::PlusRetest { plus_by, .. }) => Stage::PlusBooked {
                plus_by,
                attempt: 2,
            },
            (Milestone::PlusAuditPassed, Stage::PlusBooked { .. }) => Stage::PlusCertified,
            (Milestone::PlusAuditFailed, Stage::PlusBooked { attempt, .. }) if attempt >= 2 => {
                Stage::PlusNotAchieved
            }
            (Milestone::PlusAuditFailed, Stage::PlusBooked { plus_by, .. }) => Stage::PlusRetest {
                plus_by,
                retest_by: (now + Duration::days(rules.retest_days)).min(plus_by),
            },
            _ => return Err(Code::IllegalTransition),
        };
        self.apps[i].stage = next;
        Ok(())
    }

    fn claim(&mut self, i: usize, item: Item, reference: &str, amount: i64) -> Result<(), Code> {
        if !text_ok(reference, 1, 64) {
            return Err(Code::InvalidText);
        }
        let app = &self.apps[i];
        let stage = app.stage;
        if !stage.is_funded() || stage == Stage::Completed {
            return Err(Code::IllegalTransition);
        }
        let k = match item {
            Item::Consultancy => 0,
            Item::CertificationFee => 1,
            Item::PlusAudit => 2,
        };
        let reached = match k {
            0 => !matches!(stage, Stage::Awarded { .. } | Stage::Consultancy { .. }),
            1 => stage.is_certified(),
            _ => stage == Stage::PlusCertified,
        };
        if !reached {
            return Err(Code::MilestoneNotReached);
        }
        let key = reference.trim().to_lowercase();
        if self.invoices.contains(&key) {
            return Err(Code::DuplicateInvoice);
        }
        if amount == 0 {
            return Err(Code::ZeroAmount);
        }
        let covered = app.items.map_or(0, |items| items[k]);
        let payable = (covered - app.item_paid[k]).min(app.outstanding);
        if amount > payable {
            return Err(Code::ClaimExceedsCovered);
        }
        let app = &mut self.apps[i];
        app.outstanding -= amount;
        app.paid += amount;
        app.item_paid[k] += amount;
        self.pot.reserved -= amount;
        self.pot.paid += amount;
        self.invoices.push(key);
        Ok(())
    }

    /// Whether application `i`'s award can be offered now: the pot less the
    /// contingency holds it, and so does its sector's ring-fence, if any.
    fn fits(&self, i: usize) -> bool {
        let app = &self.apps[i];
        if self.pot.available - self.rules.contingency < app.award {
            return false;
        }
        let fence = app
            .sector
            .and_then(|s| self.rules.fences.iter().find(|(f, _)| *f == s));
        match fence {
            Some((s, cap)) => self.committed[*s] + app.award <= *cap,
            None => true,
        }
    }

    fn offer(&mut self, i: usize, now: Time, out: &mut Outcome) {
        let expires = now + Duration::days(self.rules.offer_days);
        let app = &mut self.apps[i];
        let amount = app.award;
        app.stage = Stage::Offered { expires };
        app.reserved_at_award = amount;
        app.outstanding = amount;
        if let Some(s) = app.sector {
            self.committed[s] += amount;
        }
        self.pot.available -= amount;
        self.pot.reserved += amount;
        self.waitlist.retain(|w| *w != i);
        out.offers.push(Offer {
            application: app.id,
            amount,
            at: now,
            expires,
        });
    }

    /// Returns what is still reserved for application `i` to the pot, once.
    fn release(&mut self, i: usize) -> i64 {
        let app = &mut self.apps[i];
        if app.resolved {
            return 0;
        }
        let amount = app.outstanding;
        app.outstanding = 0;
        app.released = amount;
        app.resolved = true;
        if let Some(s) = app.sector {
            self.committed[s] -= amount;
        }
        self.pot.reserved -= amount;
        self.pot.available += amount;
        self.pot.released += amount;
        amount
    }

    /// Offers the waitlist in arrival order: what fits is offered; under
    /// `strict` the first that does not fit stops the pass, otherwise it is
    /// passed over.
    fn offer_waitlist(&mut self, now: Time, out: &mut Outcome) {
        let mut k = 0;
        while k < self.waitlist.len() {
            let i = self.waitlist[k];
            if self.fits(i) {
                self.offer(i, now, out);
            } else if self.rules.strict {
                break;
            } else {
                k += 1;
            }
        }
    }
}

/// `t` plus calendar months, at the same time of day.
fn add_months(t: Time, months: u32) -> Time {
    t.checked_add_months(Months::new(months))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `t` moved on by `days` working days (Monday to Friday), at the same time of day.
fn working_days_after(t: Time, days: u32) -> Time {
    let mut at = t;
    let mut left = days;
    while left > 0 {
        at += Duration::days(1);
        if !matches!(at.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    at
}
