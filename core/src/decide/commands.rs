//! One function per command that moves money or ends an award: open,
//! top up, submit, accept, decline, withdraw, claim, complete, claw back;
//! each checks its inputs and writes its events into the [`Draft`].

use super::*;

pub(super) fn open(
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
pub(super) fn top_up(d: &mut Draft<'_>, amount: Money, note: &str) -> Result<(), Rejection> {
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

pub(super) fn submit(
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

pub(super) fn accept(d: &mut Draft<'_>, application: ApplicationId) -> Result<(), Rejection> {
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

pub(super) fn decline(d: &mut Draft<'_>, application: ApplicationId) -> Result<(), Rejection> {
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

pub(super) fn withdraw(
    d: &mut Draft<'_>,
    application: ApplicationId,
    reason: &str,
) -> Result<(), Rejection> {
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

pub(super) fn claim(
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

pub(super) fn complete(d: &mut Draft<'_>, application: ApplicationId) -> Result<(), Rejection> {
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

pub(super) fn clawback(
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

pub(super) fn milestone_reached(item: Item, kind: StageKind) -> bool {
    match item {
        Item::Consultancy => {
            !matches!(kind, StageKind::Awarded | StageKind::ConsultancyEngaged) && kind.is_funded()
        }
        Item::CertificationFee => kind.is_certified(),
        Item::PlusAudit => kind == StageKind::PlusCertified,
    }
}

pub(super) fn claim_milestone(item: Item) -> &'static str {
    match item {
        Item::Consultancy => "the self-assessment is submitted",
        Item::CertificationFee => "the organisation is certified",
        Item::PlusAudit => "the Plus audit has passed",
    }
}

pub(super) fn nonzero(amount: Money, field: &str) -> Result<(), Rejection> {
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
pub(super) fn text(field: &str, value: &str, min: usize, max: usize) -> Result<(), Rejection> {
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
pub(super) fn field_rejection(p: FieldProblem) -> Rejection {
    let code = match p.problem {
        crate::rules::applicant::Problem::Text(_) => Code::InvalidText,
        _ => Code::InvalidApplication,
    };
    Rejection::new(code, p.to_string(), p.field)
}
