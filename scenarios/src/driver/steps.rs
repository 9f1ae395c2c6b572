//! Taking one planned step: the command an applicant's next act sends, from
//! its pre-drawn behaviour, unless its stage has moved on.

use std::fmt::Write as _;

use grantflow_core::{Action, Milestone, Money, StageKind};

use super::queue::Act;
use super::{DriveError, Driver, Executor};
use crate::population::{Answer, Draw};

impl Driver {
    pub(super) fn act<E: Executor>(
        &mut self,
        at: i64,
        i: usize,
        act: Act,
        draws: &[Draw],
        executor: &mut E,
    ) -> Result<(), DriveError> {
        let Some(draw) = draws.get(i) else {
            return Ok(());
        };
        let Some(app) = self.apps.get(i) else {
            return Ok(());
        };
        let stage = app.out.stage;
        let id = self.app_id(i);
        let milestone = |m| Action::Milestone {
            application: id,
            milestone: m,
        };
        let action = match act {
            Act::Submit => Action::Submit {
                application: id,
                applicant: self.applicant(i, &draw.profile),
                request: draw.request.clone(),
            },
            Act::Answer if stage == StageKind::Offered => match draw.behaviour.answer {
                Answer::Accept => Action::Accept { application: id },
                Answer::Decline => Action::Decline { application: id },
                Answer::Ignore => return Ok(()),
            },
            Act::LeaveWaitlist if stage == StageKind::Waitlisted => Action::Withdraw {
                application: id,
                reason: self.spare.reason("no longer waiting for funding"),
            },
            Act::Withdraw if stage.is_funded() && !stage.is_final() => Action::Withdraw {
                application: id,
                reason: self.spare.reason("withdrew from the programme"),
            },
            Act::Engage => milestone(Milestone::ConsultancyEngaged),
            Act::SubmitAssessment | Act::Resubmit => milestone(Milestone::SelfAssessmentSubmitted),
            Act::Verdict(attempt) => {
                let b = &draw.behaviour;
                let pass = if attempt <= 1 {
                    b.first_pass
                } else {
                    b.second_pass
                };
                milestone(if pass {
                    Milestone::AssessmentPassed
                } else {
                    Milestone::AssessmentFailed
                })
            }
            Act::BookPlus => milestone(Milestone::PlusAuditBooked),
            Act::PlusVerdict(attempt) => {
                let b = &draw.behaviour;
                let pass = if attempt <= 1 {
                    b.plus_first_pass
                } else {
                    b.plus_retest_pass
                };
                milestone(if pass {
                    Milestone::PlusAuditPassed
                } else {
                    Milestone::PlusAuditFailed
                })
            }
            Act::Claim(item) => {
                let amount = app
                    .coverage
                    .map_or(Money::ZERO, |c| c.item(item))
                    .min(app.out.award.saturating_sub(app.out.paid));
                if let Some(a) = self.apps.get_mut(i) {
                    a.claims_pending = a.claims_pending.saturating_sub(1);
                }
                if !amount.is_zero() && stage.is_funded() && stage != StageKind::Completed {
                    let mut invoice_ref = std::mem::take(&mut self.spare.invoice);
                    invoice_ref.clear();
                    // Writing to a `String` cannot fail.
                    let _ = write!(invoice_ref, "SIM-{i}-{}", item.as_str());
                    let cmd = self.command(Action::Claim {
                        application: id,
                        item,
                        invoice_ref,
                        amount,
                    });
                    let now = self.clock.at_or_epoch(at);
                    self.exec(cmd, now, draws, executor)?;
                }
                self.maybe_complete(at, i);
                return Ok(());
            }
            Act::Complete => Action::Complete { application: id },
            // The applicant's stage moved on: the planned step no longer applies.
            Act::Answer | Act::LeaveWaitlist | Act::Withdraw => return Ok(()),
        };
        if stage.is_final() && act != Act::Submit {
            self.spare.recycle(action);
            return Ok(());
        }
        let cmd = self.command(action);
        let now = self.clock.at_or_epoch(at);
        self.exec(cmd, now, draws, executor)?;
        Ok(())
    }

    pub(super) fn maybe_complete(&mut self, at: i64, i: usize) {
        if let Some(a) = self.apps.get_mut(i) {
            if a.ready && a.claims_pending == 0 && !a.complete_scheduled {
                a.complete_scheduled = true;
                self.push(at, i, Act::Complete);
            }
        }
    }
}
