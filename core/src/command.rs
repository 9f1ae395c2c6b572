//! Commands: what a caller asks of a programme. Every [`Command`] carries a
//! caller-supplied [`CommandId`]; repeating it does nothing new.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::applicant::{Applicant, CostRequest};
use crate::coverage::Item;
use crate::ids::{ApplicationId, CommandId};
use crate::lifecycle::Milestone;
use crate::money::Money;
use crate::programme::Programme;

/// A request to change a programme, with its idempotency id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Chosen by the caller; a repeat with the same id is a no-op.
    pub id: CommandId,
    /// What to do.
    #[serde(flatten)]
    pub action: Action,
}

impl Command {
    /// A command with the given id.
    pub fn new(id: CommandId, action: Action) -> Command {
        Command { id, action }
    }
}

/// The actions a programme accepts. Time enters only as the `now` given to
/// [`decide`](crate::decide::decide).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Opens the programme with its rules and pot (the first command of a stream).
    Open { programme: Box<Programme> },
    /// Adds money to the pot.
    TopUp { amount: Money, note: String },
    /// Submits an application; it is judged and offered, waitlisted or refused at once.
    Submit {
        application: ApplicationId,
        applicant: Arc<Applicant>,
        request: CostRequest,
    },
    /// The applicant accepts an offer.
    Accept { application: ApplicationId },
    /// The applicant declines an offer.
    Decline { application: ApplicationId },
    /// The applicant withdraws, from any stage that is not final.
    Withdraw {
        application: ApplicationId,
        reason: String,
    },
    /// A certification milestone is recorded.
    Milestone {
        application: ApplicationId,
        milestone: Milestone,
    },
    /// An invoice for a covered item is paid.
    Claim {
        application: ApplicationId,
        item: Item,
        invoice_ref: String,
        amount: Money,
    },
    /// The award is closed; what is left of it is released.
    Complete { application: ApplicationId },
    /// A paid amount is recovered and credited to the pot.
    Clawback {
        application: ApplicationId,
        amount: Money,
        reason: String,
    },
    /// Fires every deadline due at `now`, in time order.
    Tick,
}

impl Action {
    /// The application the action is about, if any.
    pub fn application(&self) -> Option<ApplicationId> {
        match self {
            Action::Submit { application, .. }
            | Action::Accept { application }
            | Action::Decline { application }
            | Action::Withdraw { application, .. }
            | Action::Milestone { application, .. }
            | Action::Claim { application, .. }
            | Action::Complete { application }
            | Action::Clawback { application, .. } => Some(*application),
            Action::Open { .. } | Action::TopUp { .. } | Action::Tick => None,
        }
    }

    /// The action's stable name.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Open { .. } => "open",
            Action::TopUp { .. } => "top_up",
            Action::Submit { .. } => "submit",
            Action::Accept { .. } => "accept",
            Action::Decline { .. } => "decline",
            Action::Withdraw { .. } => "withdraw",
            Action::Milestone { .. } => "milestone",
            Action::Claim { .. } => "claim",
            Action::Complete { .. } => "complete",
            Action::Clawback { .. } => "clawback",
            Action::Tick => "tick",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_form_round_trips_and_rejects_unknown_fields() {
        let text = r#"{"id":"00000000-0000-0000-0000-000000000001","command":"top_up","amount":"10.00","note":"x"}"#;
        let cmd: Command = serde_json::from_str(text).unwrap();
        assert!(matches!(cmd.action, Action::TopUp { .. }));
        let back: Command = serde_json::from_str(&serde_json::to_string(&cmd).unwrap()).unwrap();
        assert_eq!(back, cmd);
        let unknown = text.replace("\"note\"", "\"colour\":1,\"note\"");
        assert!(serde_json::from_str::<Command>(&unknown).is_err());
        let tick: Command = serde_json::from_str(
            r#"{"id":"00000000-0000-0000-0000-000000000002","command":"tick"}"#,
        )
        .unwrap();
        assert_eq!(tick.action, Action::Tick);
    }
}
