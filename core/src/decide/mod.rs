//! Command handling: [`decide`] turns a [`Command`] and the [`State`] into
//! the events to record, or a [`Rejection`]. It is pure: no I/O, no clock
//! (time is the `now` argument), and the state is only read.
//!
//! The allocation policy lives here: submissions are judged in arrival
//! order; an eligible application is offered its award when
//! `available - contingency >= amount` and its sector's ring-fence has room,
//! otherwise it is waitlisted; every release re-offers the waitlist in
//! arrival order (`skip_ahead` passes over what does not fit, `strict`
//! stops there).

use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, Months, Utc};

mod draft;
mod tick;

use draft::Draft;
use tick::tick;

use crate::ledger::money::Money;
use crate::messages::command::{Action, Command, Origin};
use crate::messages::event::{Event, EventKind, FailureReason, PlusEnd};
use crate::messages::ids::{ApplicationId, CommandId};
use crate::messages::rejection::{Rejection, RejectionCode as Code};
use crate::rules::applicant::{Applicant, CostRequest, FieldProblem};
use crate::rules::coverage::{self, Item};
use crate::rules::eligibility;
use crate::rules::programme::{Programme, WaitlistPolicy, add_working_days};
use crate::state::lifecycle::{Milestone, Stage, StageKind, TRANSITIONS, Trigger};
use crate::state::{Application, State, evolve_scratch};

/// Decides what `command` does to `state` at `now`.
///
/// Time binds at every command: the deadlines due at `now` fire first,
/// exactly as a [`Action::Tick`] at `now` would fire them (same order, same
/// re-offers), and the command is then decided on the state they leave. When
/// the command is accepted, the deadline events come first in the result
/// and the command's own follow; when it is refused, nothing is recorded and
/// the rejection names the deadline that passed, if one did.
///
/// A command whose id is in [`State::commands`] returns no events (it was
/// applied already; the record says where). A state folded from the first
/// event holds every command id; one loaded from a snapshot holds only the
/// tail's, and the [`Engine`](crate::Engine) asks its store about older ids
/// before deciding. A rejection leaves nothing to record.
pub fn decide(
    state: &State,
    command: &Command,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, Rejection> {
    decide_with(state, command, now, Vec::new())
}

/// The rejection of a command sent under an id first recorded with
/// `origin` (what it asked, and when) for another command; `None` when it
/// is the same command or the origin is unknown.
pub fn reused_id(command: &Command, origin: Option<(Origin, DateTime<Utc>)>) -> Option<Rejection> {
    let (first, at) = origin?;
    let asked = command.action.kind();
    let same = first.command == asked && first.digest.matches(&command.action);
    (!same).then(|| {
        let again = if first.command == asked {
            format!("another `{}` with different details", asked.as_str())
        } else {
            format!("a `{}`", asked.as_str())
        };
        Rejection::new(
            Code::CommandIdReused,
            format!(
                "command id {} was recorded at {at} for a `{}` command, and this is {again}: give this command a new id (sending the first command again under its id returns its first outcome)",
                command.id,
                first.command.as_str()
            ),
            "command_id",
        )
    })
}

/// [`decide`] into a buffer the caller keeps: `events` is cleared and then
/// holds the events to record (none on a rejection). A loop that decides
/// command after command reuses one buffer instead of allocating per command.
pub fn decide_into(
    state: &State,
    command: &Command,
    now: DateTime<Utc>,
    events: &mut Vec<Event>,
) -> Result<(), Rejection> {
    let mut buffer = std::mem::take(events);
    buffer.clear();
    *events = decide_with(state, command, now, buffer)?;
    Ok(())
}

/// [`decide`], filling `buffer` (empty on entry).
fn decide_with(
    state: &State,
    command: &Command,
    now: DateTime<Utc>,
    buffer: Vec<Event>,
) -> Result<Vec<Event>, Rejection> {
    if let Some(record) = state.commands.get(&command.id) {
        return match reused_id(command, record.origin) {
            Some(rejection) => Err(rejection),
            None => Ok(buffer),
        };
    }
    let mut events = decide_new(state, command, now, buffer)?;
    if let Some(first) = events.first_mut() {
        first.origin = Some(command.action.origin());
    }
    Ok(events)
}

/// [`decide`] for a command id not seen before.
fn decide_new(
    state: &State,
    command: &Command,
    now: DateTime<Utc>,
    mut buffer: Vec<Event>,
) -> Result<Vec<Event>, Rejection> {
    check_time(state, now)?;
    if let Action::Open { programme } = &command.action {
        open(state, command.id, programme, now, &mut buffer)?;
        return Ok(buffer);
    }
    let Some(p) = state.programme() else {
        return Err(Rejection::new(
            Code::NotOpened,
            "the programme is not open: send an `open` command with its rules first",
            "open",
        ));
    };
    if !state.deadlines.any_due(now) {
        // Nothing is due: the command is decided on the state as it is (a
        // tick records nothing).
        return decide_action(state, p, command, now, buffer);
    }
    let mut d = Draft::new(state, p, command.id, now, buffer);
    tick(&mut d);
    let mut events = d.events;
    if events.is_empty() {
        return decide_action(state, p, command, now, events);
    }
    if matches!(command.action, Action::Tick) {
        return Ok(events);
    }
    // The deadlines changed the state: decide the command on what they
    // leave (a copy that shares the command index, which is not asked again).
    let mut after = state.clone();
    for event in &events {
        evolve_scratch(&mut after, event).map_err(|e| {
            Rejection::new(
                Code::InconsistentState,
                format!(
                    "the deadlines due at {now} do not apply to the programme's state ({e}): the state is damaged, a defect to report with the programme's event log; nothing was recorded"
                ),
                "deadlines",
            )
        })?;
    }
    let p = after.programme().unwrap_or(p);
    match decide_action(&after, p, command, now, Vec::new()) {
        Ok(own) => {
            events.extend(own);
            Ok(events)
        }
        Err(mut rejection) => {
            if let Some(passed) = command
                .action
                .application()
                .and_then(|id| deadline_passed(state, &events, id))
            {
                rejection.message = format!("{passed}, before this command: {}", rejection.message);
            }
            Err(rejection)
        }
    }
}

/// Refuses a `now` outside the supported years or before the last event.
fn check_time(state: &State, now: DateTime<Utc>) -> Result<(), Rejection> {
    if !(1900..=9999).contains(&now.year()) {
        return Err(Rejection::new(
            Code::TimeOutOfRange,
            format!(
                "`now` {now} is outside the years 1900 to 9999: give the real time of the command"
            ),
            "now",
        ));
    }
    // chrono holds a leap second (23:59:60) as a nanosecond of 10^9 or more.
    if chrono::Timelike::nanosecond(&now) >= 1_000_000_000 {
        return Err(Rejection::new(
            Code::TimeOutOfRange,
            format!(
                "`now` {now} falls in a leap second: leap seconds are not accepted; give the next second (00 of the next minute)"
            ),
            "now",
        ));
    }
    if let Some(last) = state.last_at {
        if now < last {
            return Err(Rejection::new(
                Code::ClockWentBackwards,
                format!(
                    "`now` {now} is earlier than the last recorded event at {last}: commands must not go back in time"
                ),
                "now",
            ));
        }
    }
    Ok(())
}

/// The sentence naming the deadline that ended `application`'s stage among
/// the deadline `events` that fired before a command, read against the
/// `state` they fired on.
fn deadline_passed(state: &State, events: &[Event], application: ApplicationId) -> Option<String> {
    let stage = state.applications.get(&application)?.stage;
    events.iter().find_map(|e| match (&e.kind, stage) {
        (EventKind::Lapsed { application: a, .. }, Stage::Offered { expires })
            if *a == application =>
        {
            Some(format!("the offer to {application} lapsed at {expires}"))
        }
        (
            EventKind::CertificationFailed {
                application: a,
                reason,
                ..
            },
            _,
        ) if *a == application => Some(match (reason, stage) {
            (FailureReason::FeedbackWindowEnded, Stage::FeedbackDue { respond_by, .. }) => {
                format!("the feedback window of {application} closed at {respond_by}")
            }
            (FailureReason::PassWindowEnded, stage) => match stage.pass_by() {
                Some(by) => format!("the pass window of {application} closed at {by}"),
                None => format!("the pass window of {application} closed"),
            },
            _ => format!("application {application} failed certification"),
        }),
        (EventKind::PlusNotAchieved { application: a, .. }, stage) if *a == application => {
            Some(match stage {
                Stage::PlusRetest { retest_by, .. } => {
                    format!("the Plus re-test window of {application} closed at {retest_by}")
                }
                Stage::Certified { plus_by: Some(by) }
                | Stage::PlusAuditBooked { plus_by: by, .. } => {
                    format!("the Cyber Essentials Plus window of {application} closed at {by}")
                }
                _ => format!("the Cyber Essentials Plus window of {application} closed"),
            })
        }
        _ => None,
    })
}

fn open(
    state: &State,
    command: CommandId,
    programme: &Programme,
    now: DateTime<Utc>,
    events: &mut Vec<Event>,
) -> Result<(), Rejection> {
    if state.programme.is_some() {
        return Err(Rejection::new(
            Code::AlreadyOpened,
            "the programme is open already: a stream holds one programme",
            "open",
        ));
    }
    programme
        .validate()
        .map_err(|e| Rejection::new(Code::InvalidRules, e.to_string(), "programme"))?;
    events.push(Event::new(
        command,
        now,
        EventKind::ProgrammeOpened {
            programme: Box::new(programme.clone()),
        },
    ));
    Ok(())
}

/// Decides the command's own action on `state` (its deadlines fired already).
fn decide_action(
    state: &State,
    p: &Programme,
    command: &Command,
    now: DateTime<Utc>,
    buffer: Vec<Event>,
) -> Result<Vec<Event>, Rejection> {
    let mut d = Draft::new(state, p, command.id, now, buffer);
    match &command.action {
        Action::Open { .. } => {} // decided before any deadline
        Action::TopUp { amount, note } => top_up(&mut d, *amount, note)?,
        Action::Submit {
            application,
            applicant,
            request,
        } => submit(&mut d, *application, applicant, request)?,
        Action::Accept { application } => accept(&mut d, *application)?,
        Action::Decline { application } => decline(&mut d, *application)?,
        Action::Withdraw {
            application,
            reason,
        } => withdraw(&mut d, *application, reason)?,
        Action::Milestone {
            application,
            milestone,
        } => {
            let app = d.app(application)?;
            milestone_events(&mut d, app, *milestone)?;
        }
        Action::Claim {
            application,
            item,
            invoice_ref,
            amount,
        } => claim(&mut d, *application, *item, invoice_ref, *amount)?,
        Action::Complete { application } => complete(&mut d, *application)?,
        Action::Clawback {
            application,
            amount,
            reason,
        } => clawback(&mut d, *application, *amount, reason)?,
        Action::Tick => tick(&mut d),
    }
    Ok(d.events)
}

fn top_up(d: &mut Draft<'_>, amount: Money, note: &str) -> Result<(), Rejection> {
    text("note", note, 0, 500)?;
    nonzero(amount, "amount")?;
    if d.state
        .pot
        .credits
        .checked_add(amount)
        .map_or(true, |c| c > Money::MAX)
    {
        return Err(Rejection::new(
            Code::AmountOutOfRange,
            format!(
                "a top-up of {amount} would take the pot's credits above {}",
                Money::MAX
            ),
            "amount",
        ));
    }
    d.emit(EventKind::PotToppedUp {
        amount,
        note: note.to_string(),
    });
    d.available = d.available.checked_add(amount).unwrap_or(Money::MAX);
    d.offer_waitlist();
    Ok(())
}

fn submit(
    d: &mut Draft<'_>,
    application: ApplicationId,
    applicant: &Arc<Applicant>,
    request: &CostRequest,
) -> Result<(), Rejection> {
    let (state, p) = (d.state, d.p);
    if state.applications.contains_key(&application) {
        return Err(Rejection::new(
            Code::DuplicateApplication,
            format!("application {application} exists already: choose a new id"),
            "application",
        ));
    }
    applicant
        .check()
        .and_then(|()| request.check())
        .map_err(field_rejection)?;
    let on = d.now.date_naive();
    let eligible = eligibility::is_eligible(p, applicant, on);
    let coverage = if eligible {
        let c = coverage::estimate(p, applicant, request, on)
            .map_err(|e| Rejection::new(Code::NoCoverage, e.to_string(), "coverage"))?;
        if c.award.is_zero() {
            return Err(Rejection::new(
                Code::InvalidApplication,
                "the application asks for nothing the programme covers",
                "request",
            ));
        }
        Some(c)
    } else {
        None
    };
    d.emit(EventKind::Submitted {
        application,
        applicant: Arc::clone(applicant),
        request: request.clone(),
        coverage,
    });
    match coverage {
        None => {
            let failed = eligibility::failed(p, applicant, on);
            d.emit(EventKind::FoundIneligible {
                application,
                failed,
            });
        }
        Some(c) => {
            let sector = p
                .sector(&applicant.sector)
                .and_then(|(i, _)| u16::try_from(i).ok());
            let queue_ahead =
                p.allocation.policy.value == WaitlistPolicy::Strict && !state.waitlist.is_empty();
            if !queue_ahead && d.fits(sector, c.award) {
                d.offer(application, sector, c.award);
            } else {
                d.emit(EventKind::Waitlisted { application });
            }
        }
    }
    Ok(())
}

fn accept(d: &mut Draft<'_>, application: ApplicationId) -> Result<(), Rejection> {
    let app = d.app(&application)?;
    let Stage::Offered { .. } = app.stage else {
        return Err(illegal(app, Trigger::Accept));
    };
    let pass_by = add_months(d.now, d.p.windows.pass_months.value);
    d.emit(EventKind::Accepted {
        application,
        pass_by,
    });
    Ok(())
}

fn decline(d: &mut Draft<'_>, application: ApplicationId) -> Result<(), Rejection> {
    let app = d.app(&application)?;
    if app.stage.kind() != StageKind::Offered {
        return Err(illegal(app, Trigger::Decline));
    }
    let released = d.release(app);
    d.emit(EventKind::Declined {
        application,
        released,
    });
    d.offer_waitlist();
    Ok(())
}

fn withdraw(d: &mut Draft<'_>, application: ApplicationId, reason: &str) -> Result<(), Rejection> {
    text("reason", reason, 0, 500)?;
    let app = d.app(&application)?;
    if app.stage.kind().is_final() || app.stage.kind() == StageKind::Submitted {
        return Err(illegal(app, Trigger::Withdraw));
    }
    let released = if app.stage.kind() == StageKind::Waitlisted {
        d.left_waitlist.insert(app.id);
        Money::ZERO
    } else {
        d.release(app)
    };
    d.emit(EventKind::Withdrawn {
        application,
        released,
        reason: reason.to_string(),
    });
    d.offer_waitlist();
    Ok(())
}

fn claim(
    d: &mut Draft<'_>,
    application: ApplicationId,
    item: Item,
    invoice_ref: &str,
    amount: Money,
) -> Result<(), Rejection> {
    let app = d.app(&application)?;
    text("invoice_ref", invoice_ref, 1, 64)?;
    let kind = app.stage.kind();
    if !kind.is_funded() || kind == StageKind::Completed {
        return Err(Rejection::new(
            Code::IllegalTransition,
            format!(
                "application {application} is {kind}: claims are paid only on a live award (awarded to certified, before completion)"
            ),
            kind.as_str(),
        ));
    }
    if !milestone_reached(item, kind) {
        return Err(Rejection::new(
            Code::MilestoneNotReached,
            format!(
                "a {item} invoice is paid once {}; application {application} is {kind}",
                claim_milestone(item)
            ),
            item.as_str(),
        ));
    }
    if d.state.invoices.contains_key(invoice_ref) {
        return Err(Rejection::new(
            Code::DuplicateInvoice,
            format!(
                "invoice `{invoice_ref}` was claimed already: each supplier invoice is paid once"
            ),
            "invoice_ref",
        ));
    }
    nonzero(amount, "amount")?;
    let payable = app.payable(item);
    if amount > payable {
        return Err(Rejection::new(
            Code::ClaimExceedsCovered,
            format!(
                "{amount} is more than the {payable} left to pay for {item} on application {application}"
            ),
            item.as_str(),
        ));
    }
    d.emit(EventKind::ClaimPaid {
        application,
        item,
        invoice_ref: invoice_ref.to_string(),
        amount,
    });
    Ok(())
}

fn complete(d: &mut Draft<'_>, application: ApplicationId) -> Result<(), Rejection> {
    let app = d.app(&application)?;
    if !matches!(
        app.stage.kind(),
        StageKind::Certified | StageKind::PlusCertified | StageKind::PlusNotAchieved
    ) {
        return Err(illegal(app, Trigger::Complete));
    }
    let released = d.release(app);
    d.emit(EventKind::Completed {
        application,
        released,
    });
    d.offer_waitlist();
    Ok(())
}

fn clawback(
    d: &mut Draft<'_>,
    application: ApplicationId,
    amount: Money,
    reason: &str,
) -> Result<(), Rejection> {
    text("reason", reason, 1, 500)?;
    let app = d.app(&application)?;
    let kind = app.stage.kind();
    if !matches!(
        kind,
        StageKind::Completed | StageKind::Failed | StageKind::Withdrawn
    ) {
        return Err(Rejection::new(
            Code::NotCompleted,
            format!(
                "application {application} is {kind}: a clawback follows completion, failure or withdrawal"
            ),
            kind.as_str(),
        ));
    }
    nonzero(amount, "amount")?;
    let net = app.account.net_paid();
    if amount > net {
        return Err(Rejection::new(
            Code::ClawbackExceedsPaid,
            format!(
                "{amount} is more than the {net} paid (net of earlier clawbacks) on application {application}"
            ),
            "amount",
        ));
    }
    d.emit(EventKind::ClawedBack {
        application,
        amount,
        reason: reason.to_string(),
    });
    d.available = d.available.checked_add(amount).unwrap_or(Money::MAX);
    d.adjust_sector(app.sector, amount, false);
    d.offer_waitlist();
    Ok(())
}

fn milestone_events(d: &mut Draft<'_>, app: &Application, m: Milestone) -> Result<(), Rejection> {
    let p = d.p;
    let now = d.now;
    let id = app.id;
    let trig = match (m, app.stage) {
        (Milestone::AssessmentFailed, Stage::SelfAssessmentSubmitted { attempt, .. })
            if attempt >= 2 =>
        {
            Trigger::SecondFail
        }
        (Milestone::AssessmentFailed, _) => Trigger::FirstFail,
        (Milestone::PlusAuditFailed, Stage::PlusAuditBooked { attempt, .. }) if attempt >= 2 => {
            Trigger::PlusSecondFail
        }
        (Milestone::PlusAuditFailed, _) => Trigger::PlusFirstFail,
        (m, _) => Trigger::Milestone(m),
    };
    match (m, app.stage) {
        (Milestone::ConsultancyEngaged, Stage::Awarded { .. }) => {
            d.emit(EventKind::ConsultancyEngaged { application: id })
        }
        (Milestone::SelfAssessmentSubmitted, Stage::ConsultancyEngaged { .. }) => {
            d.emit(EventKind::SelfAssessmentSubmitted {
                application: id,
                attempt: 1,
            });
        }
        (Milestone::SelfAssessmentSubmitted, Stage::FeedbackDue { .. }) => {
            d.emit(EventKind::SelfAssessmentSubmitted {
                application: id,
                attempt: 2,
            });
        }
        (Milestone::AssessmentPassed, Stage::SelfAssessmentSubmitted { .. }) => {
            let expires = add_months(now, p.windows.validity_months.value);
            let plus = app
                .coverage
                .is_some_and(|c| !c.item(Item::PlusAudit).is_zero());
            let plus_by = plus.then(|| add_months(now, p.windows.plus_months.value));
            d.emit(EventKind::Certified {
                application: id,
                expires,
                plus_by,
            });
        }
        (Milestone::AssessmentFailed, Stage::SelfAssessmentSubmitted { attempt, .. }) => {
            if attempt >= 2 {
                let released = d.release(app);
                d.emit(EventKind::CertificationFailed {
                    application: id,
                    reason: FailureReason::SecondFail,
                    released,
                });
                d.offer_waitlist();
            } else {
                let today = now.date_naive();
                let days = (add_working_days(today, p.windows.feedback_working_days.value) - today)
                    .num_days();
                d.emit(EventKind::AssessmentFailed {
                    application: id,
                    respond_by: now + Duration::days(days),
                });
            }
        }
        (
            Milestone::PlusAuditBooked | Milestone::PlusAuditPassed | Milestone::PlusAuditFailed,
            Stage::Certified { plus_by: None },
        ) => {
            return Err(Rejection::new(
                Code::PlusNotFunded,
                format!("application {id} has no funded Cyber Essentials Plus audit"),
                "plus_funded",
            ));
        }
        (Milestone::PlusAuditBooked, Stage::Certified { plus_by: Some(_) }) => {
            d.emit(EventKind::PlusAuditBooked {
                application: id,
                attempt: 1,
            })
        }
        (Milestone::PlusAuditBooked, Stage::PlusRetest { .. }) => {
            d.emit(EventKind::PlusAuditBooked {
                application: id,
                attempt: 2,
            });
        }
        (Milestone::PlusAuditPassed, Stage::PlusAuditBooked { .. }) => {
            d.emit(EventKind::PlusCertified { application: id })
        }
        (Milestone::PlusAuditFailed, Stage::PlusAuditBooked { attempt, plus_by }) => {
            if attempt >= 2 {
                d.emit(EventKind::PlusNotAchieved {
                    application: id,
                    reason: PlusEnd::SecondFail,
                });
            } else {
                let retest_by = (now + Duration::days(i64::from(p.windows.plus_retest_days.value)))
                    .min(plus_by);
                d.emit(EventKind::PlusAuditFailed {
                    application: id,
                    retest_by,
                });
            }
        }
        _ => return Err(illegal(app, trig)),
    }
    Ok(())
}

/// Adds calendar months to an instant, keeping the time of day.
pub fn add_months(t: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    t.checked_add_months(Months::new(months))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn illegal(app: &Application, trigger: Trigger) -> Rejection {
    let kind = app.stage.kind();
    let allowed: Vec<&str> = TRANSITIONS
        .iter()
        .filter(|(_, t, _)| *t == trigger)
        .filter_map(|(f, _, _)| f.map(|k| k.as_str()))
        .collect();
    let what = match trigger {
        Trigger::Milestone(m) => format!(
            "milestone {}",
            serde_json::to_value(m)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        ),
        Trigger::FirstFail | Trigger::SecondFail => "milestone assessment_failed".to_string(),
        Trigger::PlusFirstFail | Trigger::PlusSecondFail => {
            "milestone plus_audit_failed".to_string()
        }
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
    };
    Rejection::new(
        Code::IllegalTransition,
        format!(
            "application {} is {kind}: {what} is allowed only when it is {}",
            app.id,
            if allowed.is_empty() {
                "never".to_string()
            } else {
                allowed.join(" or ")
            }
        ),
        kind.as_str(),
    )
}

fn milestone_reached(item: Item, kind: StageKind) -> bool {
    match item {
        Item::Consultancy => {
            !matches!(kind, StageKind::Awarded | StageKind::ConsultancyEngaged) && kind.is_funded()
        }
        Item::CertificationFee => kind.is_certified(),
        Item::PlusAudit => kind == StageKind::PlusCertified,
    }
}

fn claim_milestone(item: Item) -> &'static str {
    match item {
        Item::Consultancy => "the self-assessment is submitted",
        Item::CertificationFee => "the organisation is certified",
        Item::PlusAudit => "the Plus audit has passed",
    }
}

fn nonzero(amount: Money, field: &str) -> Result<(), Rejection> {
    if amount.is_zero() {
        return Err(Rejection::new(
            Code::ZeroAmount,
            format!("`{field}` is zero: give an amount of at least 0.01"),
            field.to_string(),
        ));
    }
    Ok(())
}

/// A free text of a command, checked with [`text::check`](crate::rules::text::check).
fn text(field: &str, value: &str, min: usize, max: usize) -> Result<(), Rejection> {
    crate::rules::text::check(value, min, max).map_err(|p| {
        Rejection::new(
            Code::InvalidText,
            format!("`{field}` {p}"),
            field.to_string(),
        )
    })
}

/// A text problem of an application is [`Code::InvalidText`], like a
/// command's; any other problem is [`Code::InvalidApplication`].
fn field_rejection(p: FieldProblem) -> Rejection {
    let code = match p.problem {
        crate::rules::applicant::Problem::Text(_) => Code::InvalidText,
        _ => Code::InvalidApplication,
    };
    Rejection::new(code, p.to_string(), p.field)
}

#[cfg(test)]
mod tests {
    mod ticks {
        use std::sync::Arc;

        use chrono::{DateTime, Duration, Utc};
        use proptest::prelude::*;

        use crate::decide::{Draft, decide, tick};
        use crate::messages::command::{Action, Command};
        use crate::messages::event::Event;
        use crate::messages::ids::{ApplicationId, CommandId};
        use crate::state::lifecycle::Milestone;
        use crate::state::{State, evolve};
        use crate::testing::conformance::fixtures;

        fn app_id(n: u8) -> ApplicationId {
            ApplicationId::new(uuid::Uuid::from_u128(u128::from(n) + 1))
        }

        /// A tick the general way: every due deadline looked at.
        fn tick_the_long_way(state: &State, command: &Command, now: DateTime<Utc>) -> Vec<Event> {
            let p = state.programme().expect("open");
            let mut d = Draft::new(state, p, command.id, now, Vec::new());
            tick(&mut d);
            let mut events = d.events;
            if let Some(first) = events.first_mut() {
                first.origin = Some(command.action.origin());
            }
            events
        }

        #[derive(Clone, Debug)]
        enum Step {
            Wait(u32),
            Submit(u8),
            Accept(u8),
            Milestone(u8, u8),
            Tick,
        }

        fn step() -> impl Strategy<Value = Step> {
            prop_oneof![
                3 => prop_oneof![1u32..48, 24u32 * 5..24 * 40].prop_map(Step::Wait),
                2 => (0u8..8).prop_map(Step::Submit),
                2 => (0u8..8).prop_map(Step::Accept),
                2 => (0u8..8, 0u8..5).prop_map(|(a, m)| Step::Milestone(a, m)),
                3 => Just(Step::Tick),
            ]
        }

        proptest! {
            /// A tick with nothing due (answered early) and any other tick
            /// record what looking at every due deadline records.
            #[test]
            fn ticks_record_what_the_general_path_records(steps in proptest::collection::vec(step(), 0..80)) {
                let programme = fixtures::programme(5_000);
                let mut now = fixtures::day(0);
                let mut state = State::default();
                let mut next = 0u128;
                let mut run = |state: &mut State, action: Action, now: DateTime<Utc>| {
                    next += 1;
                    let c = Command::new(CommandId::new(uuid::Uuid::from_u128(next)), action);
                    if matches!(c.action, Action::Tick) {
                        let long = tick_the_long_way(state, &c, now);
                        prop_assert_eq!(decide(state, &c, now), Ok(long));
                    }
                    if let Ok(events) = decide(state, &c, now) {
                        for e in &events {
                            evolve(state, e).expect("applies");
                        }
                    }
                    Ok(())
                };
                run(&mut state, Action::Open { programme: Box::new(programme) }, now)?;
                for s in steps {
                    let action = match s {
                        Step::Wait(hours) => {
                            now += Duration::hours(i64::from(hours));
                            continue;
                        }
                        Step::Submit(a) => Action::Submit {
                            application: app_id(a),
                            applicant: Arc::new(fixtures::applicant(u64::from(a))),
                            request: fixtures::request(),
                        },
                        Step::Accept(a) => Action::Accept { application: app_id(a) },
                        Step::Milestone(a, m) => Action::Milestone {
                            application: app_id(a),
                            milestone: [
                                Milestone::ConsultancyEngaged,
                                Milestone::SelfAssessmentSubmitted,
                                Milestone::AssessmentFailed,
                                Milestone::AssessmentPassed,
                                Milestone::PlusAuditBooked,
                            ][usize::from(m)],
                        },
                        Step::Tick => Action::Tick,
                    };
                    run(&mut state, action, now)?;
                }
            }
        }
    }

    mod damaged {
        use std::sync::Arc;

        use chrono::Duration;

        use crate::decide::decide;
        use crate::messages::command::{Action, Command};
        use crate::messages::ids::{ApplicationId, CommandId};
        use crate::messages::rejection::RejectionCode;
        use crate::state::lifecycle::StageKind;
        use crate::state::{State, evolve};
        use crate::testing::conformance::fixtures;

        fn run(state: &mut State, n: u128, action: Action, at: chrono::DateTime<chrono::Utc>) {
            let c = Command::new(CommandId::new(uuid::Uuid::from_u128(n)), action);
            for e in decide(state, &c, at).expect("accepted") {
                evolve(state, &e).expect("applies");
            }
        }

        /// Given a damaged pot (nothing reserved, though an offer holds a
        /// reservation, so the lapse's release cannot be taken from it) with
        /// the offer's lapse queued, when a command arrives after the lapse is due, then
        /// it is refused `inconsistent_state`, not blamed on the rules, and
        /// nothing is recorded.
        #[test]
        fn deadline_events_that_do_not_apply_are_refused_as_inconsistent_state() {
            let mut state = State::default();
            let start = fixtures::day(0);
            let programme = Box::new(fixtures::programme(5_000));
            run(&mut state, 1, Action::Open { programme }, start);
            let id = ApplicationId::new(uuid::Uuid::from_u128(7));
            let submit = Action::Submit {
                application: id,
                applicant: Arc::new(fixtures::applicant(7)),
                request: fixtures::request(),
            };
            run(&mut state, 2, submit, start);
            assert_eq!(
                state.application(&id).map(|a| a.stage().kind()),
                Some(StageKind::Offered)
            );
            state.pot.reserved = crate::ledger::money::Money::ZERO;
            let version = state.version();

            let late = start + Duration::days(400);
            let accept = Command::new(
                CommandId::new(uuid::Uuid::from_u128(3)),
                Action::Accept { application: id },
            );
            let refused = decide(&state, &accept, late).expect_err("damaged");
            assert_eq!(refused.code, RejectionCode::InconsistentState);
            assert!(refused.message.contains("damaged"), "{}", refused.message);
            assert_eq!(state.version(), version);
        }
    }
}
