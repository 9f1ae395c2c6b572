//! The pot as a ledger: [`Pot`] (the programme's totals) and [`Account`]
//! (one award's reservation). Money moves only by five operations —
//! top-up, reserve, post, release, recover — each checked before anything
//! changes, so a failed operation leaves both sides untouched.
//!
//! Invariants after every operation (see [`Pot::check`]):
//! `credits = available + reserved + paid`, no figure below zero, per award
//! `paid <= reserved_at_award`, and a reservation resolves at most once.

use serde::{Deserialize, Serialize};

use crate::ledger::money::Money;

/// The programme's totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pot {
    /// Everything ever put in: the opening pot, top-ups and recoveries.
    pub(crate) credits: Money,
    /// Not committed to anyone.
    pub(crate) available: Money,
    /// Committed to awards and not yet paid.
    pub(crate) reserved: Money,
    /// Paid out on claims (recoveries are credits, not reductions of this).
    pub(crate) paid: Money,
    /// Cumulative amount released back from awards (reporting only).
    pub(crate) released: Money,
    /// Cumulative amount recovered by clawback (reporting only).
    pub(crate) recovered: Money,
}

/// One award's money.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The amount reserved when the offer was made.
    pub(crate) reserved_at_award: Money,
    /// What is still reserved: reserved at award, less paid and released.
    pub(crate) outstanding: Money,
    /// Paid on claims.
    pub(crate) paid: Money,
    /// Recovered by clawback.
    pub(crate) recovered: Money,
    /// Released back to the pot.
    pub(crate) released: Money,
    /// Whether the reservation has been released (it can be only once).
    pub(crate) resolved: bool,
}

impl Account {
    /// The amount reserved when the offer was made.
    pub fn reserved_at_award(&self) -> Money {
        self.reserved_at_award
    }
    /// What is still reserved: reserved at award, less paid and released.
    pub fn outstanding(&self) -> Money {
        self.outstanding
    }
    /// Paid on claims, gross.
    pub fn paid(&self) -> Money {
        self.paid
    }
    /// Recovered by clawback.
    pub fn recovered(&self) -> Money {
        self.recovered
    }
    /// Released back to the pot.
    pub fn released(&self) -> Money {
        self.released
    }
    /// Whether the reservation has been released (it can be only once).
    pub fn resolved(&self) -> bool {
        self.resolved
    }
    /// Paid less recovered.
    pub fn net_paid(&self) -> Money {
        self.paid.saturating_sub(self.recovered)
    }
}

impl Pot {
    /// Everything ever put in: the opening pot, top-ups and recoveries.
    pub fn credits(&self) -> Money {
        self.credits
    }
    /// Not committed to anyone.
    pub fn available(&self) -> Money {
        self.available
    }
    /// Committed to awards and not yet paid.
    pub fn reserved(&self) -> Money {
        self.reserved
    }
    /// Paid out on claims, gross (recoveries are credits, not reductions of this).
    pub fn paid(&self) -> Money {
        self.paid
    }
    /// Released back from awards, cumulative.
    pub fn released(&self) -> Money {
        self.released
    }
    /// Recovered by clawback, cumulative.
    pub fn recovered(&self) -> Money {
        self.recovered
    }
    /// Paid less recovered.
    pub fn net_paid(&self) -> Money {
        self.paid.saturating_sub(self.recovered)
    }
}

/// Why a ledger operation was refused; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LedgerError {
    #[error("the pot has {available} available, less than the {amount} asked")]
    Insufficient { available: Money, amount: Money },
    #[error("the award has {outstanding} outstanding, less than the {amount} to post")]
    OverPost { outstanding: Money, amount: Money },
    #[error("the reservation was already resolved")]
    AlreadyResolved,
    #[error("the award already holds a reservation")]
    AlreadyReserved,
    #[error("only {net_paid} net is paid on the award, less than the {amount} to recover")]
    OverRecover { net_paid: Money, amount: Money },
    #[error("amounts must be more than zero")]
    Zero,
    #[error("the ledger total left the range of money")]
    Overflow,
}

/// A broken invariant: a bug, never a user error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ledger invariant broken: {0}")]
pub struct InvariantViolation(pub String);

fn add(a: Money, b: Money) -> Result<Money, LedgerError> {
    a.checked_add(b).map_err(|_| LedgerError::Overflow)
}

fn sub(a: Money, b: Money) -> Result<Money, LedgerError> {
    a.checked_sub(b).map_err(|_| LedgerError::Overflow)
}

impl Pot {
    /// A pot holding `amount`.
    pub(crate) fn opened_with(amount: Money) -> Pot {
        Pot {
            credits: amount,
            available: amount,
            ..Pot::default()
        }
    }

    /// Adds money to the pot.
    pub(crate) fn top_up(&mut self, amount: Money) -> Result<(), LedgerError> {
        if amount.is_zero() {
            return Err(LedgerError::Zero);
        }
        let credits = add(self.credits, amount)?;
        let available = add(self.available, amount)?;
        self.credits = credits;
        self.available = available;
        Ok(())
    }

    /// Whether `amount` can be reserved while keeping `keep` untouched in `available`.
    pub fn can_reserve(&self, amount: Money, keep: Money) -> bool {
        self.available
            .checked_sub(keep)
            .is_ok_and(|free| free >= amount)
    }

    /// Commits `amount` to an award.
    pub(crate) fn reserve(
        &mut self,
        account: &mut Account,
        amount: Money,
    ) -> Result<(), LedgerError> {
        if amount.is_zero() {
            return Err(LedgerError::Zero);
        }
        if account.resolved || !account.reserved_at_award.is_zero() {
            return Err(LedgerError::AlreadyReserved);
        }
        let available =
            self.available
                .checked_sub(amount)
                .map_err(|_| LedgerError::Insufficient {
                    available: self.available,
                    amount,
                })?;
        let reserved = add(self.reserved, amount)?;
        self.available = available;
        self.reserved = reserved;
        account.reserved_at_award = amount;
        account.outstanding = amount;
        Ok(())
    }

    /// Pays `amount` of an award's reservation.
    pub(crate) fn post(&mut self, account: &mut Account, amount: Money) -> Result<(), LedgerError> {
        if amount.is_zero() {
            return Err(LedgerError::Zero);
        }
        if account.resolved {
            return Err(LedgerError::AlreadyResolved);
        }
        let outstanding =
            account
                .outstanding
                .checked_sub(amount)
                .map_err(|_| LedgerError::OverPost {
                    outstanding: account.outstanding,
                    amount,
                })?;
        let reserved = sub(self.reserved, amount)?;
        let paid = add(self.paid, amount)?;
        let acct_paid = add(account.paid, amount)?;
        self.reserved = reserved;
        self.paid = paid;
        account.outstanding = outstanding;
        account.paid = acct_paid;
        Ok(())
    }

    /// Returns what is left of an award's reservation to `available`; returns the amount.
    pub(crate) fn release(&mut self, account: &mut Account) -> Result<Money, LedgerError> {
        if account.resolved {
            return Err(LedgerError::AlreadyResolved);
        }
        let amount = account.outstanding;
        let reserved = sub(self.reserved, amount)?;
        let available = add(self.available, amount)?;
        let released = add(self.released, amount)?;
        self.reserved = reserved;
        self.available = available;
        self.released = released;
        account.released = amount;
        account.outstanding = Money::ZERO;
        account.resolved = true;
        Ok(amount)
    }

    /// Credits a clawed-back amount of an award's payments to the pot.
    pub(crate) fn recover(
        &mut self,
        account: &mut Account,
        amount: Money,
    ) -> Result<(), LedgerError> {
        if amount.is_zero() {
            return Err(LedgerError::Zero);
        }
        let net_paid = account.net_paid();
        if amount > net_paid {
            return Err(LedgerError::OverRecover { net_paid, amount });
        }
        let credits = add(self.credits, amount)?;
        let available = add(self.available, amount)?;
        let recovered = add(self.recovered, amount)?;
        let acct_recovered = add(account.recovered, amount)?;
        self.credits = credits;
        self.available = available;
        self.recovered = recovered;
        account.recovered = acct_recovered;
        Ok(())
    }

    /// Checks the conservation law: `credits = available + reserved + paid`.
    pub fn check(&self) -> Result<(), InvariantViolation> {
        let sum = self
            .available
            .checked_add(self.reserved)
            .and_then(|s| s.checked_add(self.paid));
        match sum {
            Ok(s) if s == self.credits => Ok(()),
            _ => Err(InvariantViolation(format!(
                "credits {} != available {} + reserved {} + paid {}",
                self.credits, self.available, self.reserved, self.paid
            ))),
        }
    }
}

impl Account {
    /// Checks one award's invariants.
    pub fn check(&self) -> Result<(), InvariantViolation> {
        let accounted = self
            .outstanding
            .checked_add(self.paid)
            .and_then(|s| s.checked_add(self.released));
        if accounted != Ok(self.reserved_at_award) {
            return Err(InvariantViolation(format!(
                "award reserved {} != outstanding {} + paid {} + released {}",
                self.reserved_at_award, self.outstanding, self.paid, self.released
            )));
        }
        if self.paid > self.reserved_at_award {
            return Err(InvariantViolation(format!(
                "award paid {} above reserved {}",
                self.paid, self.reserved_at_award
            )));
        }
        if self.recovered > self.paid {
            return Err(InvariantViolation(format!(
                "award recovered {} above paid {}",
                self.recovered, self.paid
            )));
        }
        if self.resolved && !self.outstanding.is_zero() {
            return Err(InvariantViolation(
                "resolved award still holds a reservation".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_post_release_recover_conserve_money() {
        let mut pot = Pot::opened_with(Money::pounds(1000));
        let mut a = Account::default();
        pot.reserve(&mut a, Money::pounds(600)).unwrap();
        pot.post(&mut a, Money::pounds(250)).unwrap();
        assert_eq!(pot.release(&mut a).unwrap(), Money::pounds(350));
        pot.check().unwrap();
        a.check().unwrap();
        assert_eq!(pot.available, Money::pounds(750));
        assert_eq!(pot.release(&mut a), Err(LedgerError::AlreadyResolved));
        pot.recover(&mut a, Money::pounds(100)).unwrap();
        assert_eq!(pot.credits, Money::pounds(1100));
        assert!(matches!(
            pot.recover(&mut a, Money::pounds(151)),
            Err(LedgerError::OverRecover { .. })
        ));
        pot.check().unwrap();
    }

    #[test]
    fn refusals_change_nothing() {
        let mut pot = Pot::opened_with(Money::pounds(100));
        let mut a = Account::default();
        let (p0, a0) = (pot, a);
        assert!(matches!(
            pot.reserve(&mut a, Money::pounds(101)),
            Err(LedgerError::Insufficient { .. })
        ));
        assert_eq!((pot, a), (p0, a0));
        pot.reserve(&mut a, Money::pounds(50)).unwrap();
        let (p1, a1) = (pot, a);
        assert!(matches!(
            pot.post(&mut a, Money::pounds(51)),
            Err(LedgerError::OverPost { .. })
        ));
        assert_eq!(
            pot.reserve(&mut a, Money::pounds(1)),
            Err(LedgerError::AlreadyReserved)
        );
        assert_eq!((pot, a), (p1, a1));
        assert!(pot.can_reserve(Money::pounds(40), Money::pounds(10)));
        assert!(!pot.can_reserve(Money::pounds(41), Money::pounds(10)));
    }
}
