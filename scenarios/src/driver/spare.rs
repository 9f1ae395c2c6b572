//! The buffers a command owns that the next one can reuse ([`Spare`]).

use grantflow_core::Action;

/// What a command owns that the next one can reuse: its texts. (The
/// applicant is shared with the state once submitted, so it is not reused.)
#[derive(Debug, Default)]
pub(super) struct Spare {
    pub(super) invoice: String,
    reason: String,
}

impl Spare {
    /// Takes back the buffers of a command that has run.
    pub(super) fn recycle(&mut self, action: Action) {
        match action {
            Action::Claim { invoice_ref, .. } => self.invoice = invoice_ref,
            Action::Withdraw { reason, .. } => self.reason = reason,
            _ => {}
        }
    }

    pub(super) fn reason(&mut self, text: &str) -> String {
        let mut r = std::mem::take(&mut self.reason);
        r.clear();
        r.push_str(text);
        r
    }
}
