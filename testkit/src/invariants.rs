//! [`assert_invariants`]: the ledger's and the state's invariants, checked
//! after any step of a test.

use grantflow_core::State;

/// Panics with a description if any invariant of `state` is broken:
/// `credits = available + reserved + paid`, no negative figure, per award
/// `paid <= reserved`, item payments add up, sector totals and ring-fences,
/// and the waitlist agrees with the stages.
pub fn assert_invariants(state: &State) {
    if let Err(e) = state.check_invariants() {
        panic!("{e}");
    }
}
