//! Commands: what a caller asks of a programme. Every [`Command`] carries a
//! caller-supplied [`CommandId`]; repeating it does nothing new.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

use crate::ledger::money::Money;
use crate::messages::ids::{ApplicationId, CommandId, NAMESPACE};
use crate::rules::applicant::{Applicant, CostRequest};
use crate::rules::coverage::Item;
use crate::rules::programme::Programme;
use crate::state::lifecycle::Milestone;

/// A request to change a programme, with its idempotency id.
///
/// The id is the caller's: sending the same command again under it returns
/// the first outcome and records nothing; sending another command under a
/// recorded id is refused with
/// [`CommandIdReused`](crate::RejectionCode::CommandIdReused). A refused
/// command records nothing, so its id stays free and the command may be
/// retried under it. Blank ids are refused at the boundary
/// ([`CommandId::given`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Chosen by the caller; the same command again under it is a no-op.
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

/// The fingerprint of an [`Action`] ([`Action::digest`]), recorded with the
/// first event of its command. Check an action against a recorded one with
/// [`CommandDigest::matches`], which also reads the digests of earlier
/// versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommandDigest(pub Uuid);

impl CommandDigest {
    /// Whether `action` is the action this digest was taken of. Digests are
    /// UUIDs of version 8 (XXH3-128 of the action's JSON form); those
    /// recorded before that are of version 5 (SHA-1 in the grantflow
    /// namespace) and are checked the same way they were taken.
    pub fn matches(&self, action: &Action) -> bool {
        if self.0.get_version_num() == 5 {
            let json = serde_json::to_vec(action).unwrap_or_default();
            return self.0 == Uuid::new_v5(&NAMESPACE, &json);
        }
        *self == action.digest()
    }
}

/// Feeds what is written into an XXH3 hasher, so the JSON form of an
/// action is hashed without being collected first.
struct Hashing(xxhash_rust::xxh3::Xxh3);

impl std::io::Write for Hashing {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Which action a command was, without its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CommandKind {
    Open,
    TopUp,
    Submit,
    Accept,
    Decline,
    Withdraw,
    Milestone,
    Claim,
    Complete,
    Clawback,
    Tick,
}

impl CommandKind {
    /// The kind as written on the wire, e.g. `top_up`.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandKind::Open => "open",
            CommandKind::TopUp => "top_up",
            CommandKind::Submit => "submit",
            CommandKind::Accept => "accept",
            CommandKind::Decline => "decline",
            CommandKind::Withdraw => "withdraw",
            CommandKind::Milestone => "milestone",
            CommandKind::Claim => "claim",
            CommandKind::Complete => "complete",
            CommandKind::Clawback => "clawback",
            CommandKind::Tick => "tick",
        }
    }
}

/// What a command asked, recorded with its first event so that a command id
/// sent again can be told apart: the same kind and digest is a retry, any
/// other is a different command under a used id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Origin {
    /// The command's action.
    pub command: CommandKind,
    /// [`Action::digest`] of its action.
    pub digest: CommandDigest,
}

/// The actions a programme accepts. Time enters only as the `now` given to
/// [`decide`](crate::decide::decide).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
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

    /// A fingerprint of what the action asks: its JSON form hashed with
    /// XXH3-128, as a UUID of version 8. Two actions share a digest when
    /// they ask the same thing (and, but for a 2^-122 chance, only then), so
    /// a command id sent again with another action is told apart from a
    /// retry. A digest is a stored format: the same action gives the same
    /// digest in every version.
    pub fn digest(&self) -> CommandDigest {
        let mut hashing = Hashing(xxhash_rust::xxh3::Xxh3::new());
        // Writing into the hasher cannot fail, nor can serializing an action.
        let _ = serde_json::to_writer(&mut hashing, self);
        let bytes = hashing.0.digest128().to_be_bytes();
        CommandDigest(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }

    /// Which action this is.
    pub fn kind(&self) -> CommandKind {
        match self {
            Action::Open { .. } => CommandKind::Open,
            Action::TopUp { .. } => CommandKind::TopUp,
            Action::Submit { .. } => CommandKind::Submit,
            Action::Accept { .. } => CommandKind::Accept,
            Action::Decline { .. } => CommandKind::Decline,
            Action::Withdraw { .. } => CommandKind::Withdraw,
            Action::Milestone { .. } => CommandKind::Milestone,
            Action::Claim { .. } => CommandKind::Claim,
            Action::Complete { .. } => CommandKind::Complete,
            Action::Clawback { .. } => CommandKind::Clawback,
            Action::Tick => CommandKind::Tick,
        }
    }

    /// What this action asks, as recorded with its command's first event.
    pub fn origin(&self) -> Origin {
        Origin {
            command: self.kind(),
            digest: self.digest(),
        }
    }

    /// The action's stable name.
    pub fn name(&self) -> &'static str {
        self.kind().as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Given the digest format, when an action is digested, then it is the
    /// same UUID as in every earlier version of this format (a stored format
    /// must not drift), and a version 5 digest recorded before still matches
    /// its action and no other.
    #[test]
    fn digests_are_stable_and_earlier_digests_still_match() {
        let tick = Action::Tick;
        assert_eq!(
            tick.digest().0.to_string(),
            "568e17ab-472d-8aab-b99a-97244187dd42"
        );
        assert_eq!(tick.digest().0.get_version_num(), 8);
        let top_up = Action::TopUp {
            amount: crate::Money::pounds(10),
            note: "x".into(),
        };
        let legacy = CommandDigest(Uuid::new_v5(
            &NAMESPACE,
            &serde_json::to_vec(&top_up).expect("json"),
        ));
        assert!(legacy.matches(&top_up));
        assert!(!legacy.matches(&tick));
        assert!(top_up.digest().matches(&top_up));
        assert!(!top_up.digest().matches(&tick));
        assert_ne!(top_up.digest(), tick.digest());
    }

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
