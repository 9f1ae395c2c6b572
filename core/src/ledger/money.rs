//! Exact money: pounds and pence as [`Money`], and the one rounding policy.
//!
//! Every amount that crosses the boundary of the core is a [`Money`]: never
//! negative, at most two decimal places, at most [`Money::MAX`]. Computed
//! amounts (a day rate times days, VAT) are rounded to pence by
//! [`round_pence`] and nowhere else.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a value is not an acceptable amount of money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum MoneyError {
    /// The text is not a plain decimal number.
    #[error("`{input}` is not an amount: write pounds and pence as digits, e.g. 1400 or 1400.50")]
    Malformed { input: String },
    /// The text writes the amount with an exponent (`1e2`).
    #[error(
        "`{input}` has an exponent: write amounts as pounds and pence, like 100 or 100.00, without an exponent"
    )]
    Exponent { input: String },
    /// A JSON or TOML number with a decimal point or an exponent: it is read
    /// as a binary float, which loses how it was written, so it is refused
    /// whatever its value.
    #[error(
        "amount {input} was given as a number with a decimal point or an exponent, which is read as a binary float and may not be what was written: write amounts as pounds and pence, like 100 or \"100.00\" in quotes, without an exponent"
    )]
    Float { input: String },
    /// The text carries a currency symbol or code.
    #[error("`{input}` carries a currency sign: write the amount as digits only, e.g. 12 or 12.00")]
    CurrencySign { input: String },
    /// The amount is below zero.
    #[error(
        "amount {input} is negative: amounts are never below zero (to take money back, record a clawback)"
    )]
    Negative { input: String },
    /// The amount has fractions of a penny.
    #[error("amount {input} has fractions of a penny: use at most 2 decimal places")]
    SubPenny { input: String },
    /// The amount is larger than any amount the core accepts.
    #[error("amount {input} is too large: the largest accepted amount is 1000000000000.00")]
    TooLarge { input: String },
    /// A sum or difference left the range of money.
    #[error("money arithmetic out of range: {detail}")]
    OutOfRange { detail: String },
}

/// A non-negative amount in pounds with at most two decimal places.
///
/// Held as whole pence in an `i64` (the largest accepted amount,
/// [`Money::MAX`], is 10^14 pence), so sums, differences and comparisons are
/// integer operations; [`Money::as_decimal`] gives the amount as a decimal
/// for computing with rates and fractions of days. Serialized as a string
/// with exactly two decimals (`"300.00"`) so that no JSON reader turns it
/// into a float; read from a string (by its [`FromStr`] parser) or a whole
/// JSON or TOML number such as `1400`. A number with a decimal point or an
/// exponent (`1400.5`, `1e2`) is refused with [`MoneyError::Float`]: serde
/// hands it over as a binary float, which no longer shows how it was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

/// [`Money::MAX`] as a decimal, for checking values at the boundary.
const MAX_DECIMAL: Decimal = Decimal::from_parts(276_447_232, 23_283, 0, false, 2);

impl Money {
    /// Zero pounds.
    pub const ZERO: Money = Money(0);
    /// The largest amount accepted at the boundary: one trillion pounds.
    pub const MAX: Money = Money(100_000_000_000_000);

    /// Accepts `value` if it is a valid amount (non-negative, pence precision, not too large).
    pub fn new(value: Decimal) -> Result<Money, MoneyError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(MoneyError::Negative {
                input: value.to_string(),
            });
        }
        // At scale 2 or below the value has pence precision as it stands;
        // only a longer scale needs normalising (1.500 is 1.50) to tell.
        if value.scale() > 2 && value.normalize().scale() > 2 {
            return Err(MoneyError::SubPenny {
                input: value.to_string(),
            });
        }
        if value > MAX_DECIMAL {
            return Err(MoneyError::TooLarge {
                input: value.to_string(),
            });
        }
        let mut v = value.abs();
        v.rescale(2);
        // Non-negative, at scale 2 and at most MAX: the mantissa is the pence.
        Ok(Money(i64::try_from(v.mantissa()).unwrap_or(Money::MAX.0)))
    }

    /// Whole pounds.
    pub fn pounds(pounds: u32) -> Money {
        Money(i64::from(pounds) * 100)
    }

    /// An amount given in pence.
    pub fn from_pence(pence: u64) -> Result<Money, MoneyError> {
        match i64::try_from(pence) {
            Ok(p) if p <= Money::MAX.0 => Ok(Money(p)),
            Ok(p) => Err(MoneyError::TooLarge {
                input: Decimal::new(p, 2).to_string(),
            }),
            Err(_) => Err(MoneyError::TooLarge {
                input: format!("{pence} pence"),
            }),
        }
    }

    /// Rounds a computed value to pence with [`round_pence`] and accepts it.
    pub fn from_computed(value: Decimal) -> Result<Money, MoneyError> {
        Money::new(round_pence(value))
    }

    /// The amount as a decimal (always two decimal places).
    pub fn as_decimal(self) -> Decimal {
        Decimal::new(self.0, 2)
    }

    /// The amount in pence.
    pub fn pence(self) -> i64 {
        self.0
    }

    /// Whether the amount is zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self + other`, or an error if the sum leaves the range of whole
    /// pence in 64 bits (over 92,000 times [`Money::MAX`]).
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.0
            .checked_add(other.0)
            .map(Money)
            .ok_or_else(|| MoneyError::OutOfRange {
                detail: format!("{self} + {other}"),
            })
    }

    /// `self - other`, or an error if the result would be negative.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        if other > self {
            return Err(MoneyError::OutOfRange {
                detail: format!("{self} - {other} is below zero"),
            });
        }
        Ok(self.saturating_sub(other))
    }

    /// `self - other`, or zero if that would be negative.
    pub fn saturating_sub(self, other: Money) -> Money {
        // Both are non-negative, so the difference cannot overflow.
        Money((self.0 - other.0).max(0))
    }

    /// The smaller of two amounts.
    pub fn min(self, other: Money) -> Money {
        if self <= other { self } else { other }
    }

    /// Writes the amount for people: `£1,400.50`.
    pub fn display_pounds(self) -> String {
        let s = self.to_string();
        let (whole, frac) = s.split_once('.').unwrap_or((&s, "00"));
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        format!("£{grouped}.{frac}")
    }
}

/// The rounding policy of grantflow, the one place computed amounts are rounded:
/// to the nearest penny, halves away from zero (0.005 becomes 0.01).
pub fn round_pence(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let p = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", p / 100, p % 100)
    }
}

/// The one parser of amounts: every amount read from people (JSON, CSV,
/// command-line flags, rules files) comes through here.
///
/// Accepts plain decimal digits with an optional sign and decimal point
/// (`1400`, `1400.5`, `1400.50`), surrounding whitespace ignored; refuses a
/// currency sign or code ([`MoneyError::CurrencySign`]), an exponent
/// ([`MoneyError::Exponent`]: `1e2` is refused, not read as 100), anything
/// else that is not a number ([`MoneyError::Malformed`]) and the values
/// [`Money::new`] refuses.
impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Money, MoneyError> {
        let input = s.trim();
        let err = |make: fn(String) -> MoneyError| Err(make(input.to_string()));
        let numeric = |c: char| c.is_ascii_digit() || matches!(c, '.' | '-' | '+');
        if input.contains(['£', '$', '€']) || input.to_ascii_uppercase().contains("GBP") {
            return err(|input| MoneyError::CurrencySign { input });
        }
        if input.contains(['e', 'E'])
            && input.chars().all(|c| numeric(c) || matches!(c, 'e' | 'E'))
            && input.contains(|c: char| c.is_ascii_digit())
        {
            return err(|input| MoneyError::Exponent { input });
        }
        if !input.chars().all(numeric) {
            return err(|input| MoneyError::Malformed { input });
        }
        match Decimal::from_str_exact(input) {
            Ok(v) => Money::new(v).map_err(|e| with_input(e, input)),
            Err(rust_decimal::Error::ExceedsMaximumPossibleValue)
            | Err(rust_decimal::Error::LessThanMinimumPossibleValue) => {
                err(|input| MoneyError::TooLarge { input })
            }
            Err(rust_decimal::Error::Underflow) => err(|input| MoneyError::SubPenny { input }),
            Err(_) => err(|input| MoneyError::Malformed { input }),
        }
    }
}

fn with_input(err: MoneyError, input: &str) -> MoneyError {
    let input = input.to_string();
    match err {
        MoneyError::Negative { .. } => MoneyError::Negative { input },
        MoneyError::SubPenny { .. } => MoneyError::SubPenny { input },
        MoneyError::TooLarge { .. } => MoneyError::TooLarge { input },
        other => other,
    }
}

impl TryFrom<Decimal> for Money {
    type Error = MoneyError;
    fn try_from(value: Decimal) -> Result<Money, MoneyError> {
        Money::new(value)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an amount of money such as \"1400.00\" or 1400")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Money, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Money, E> {
                v.to_string().parse().map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Money, E> {
                v.to_string().parse().map_err(E::custom)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Money, E> {
                // A number with a decimal point or an exponent: `1e2` and
                // `100.0` give the same f64, so neither is taken.
                Err(E::custom(MoneyError::Float {
                    input: v.to_string(),
                }))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_amount_is_held_at_scale_two_and_orders_by_pence() {
        let amounts = [
            Money::ZERO,
            Money::MAX,
            Money::pounds(12),
            "0.01".parse::<Money>().unwrap(),
            "1400.5".parse::<Money>().unwrap(),
            Money::from_computed(Decimal::new(12345, 4)).unwrap(),
            Money::default(),
        ];
        for m in amounts {
            assert_eq!(m.as_decimal().scale(), 2, "{m}");
        }
        assert_eq!(Money::MAX.to_string(), "1000000000000.00");
        assert_eq!(Money::MAX.pence(), 100_000_000_000_000);
        let mut sorted = amounts.to_vec();
        sorted.sort();
        let by_decimal: Vec<Decimal> = sorted.iter().map(|m| m.as_decimal()).collect();
        assert!(by_decimal.windows(2).all(|w| w[0] <= w[1]));
        let a = "1400.50".parse::<Money>().unwrap();
        let b = Money::pounds(400);
        assert_eq!(a.checked_add(b).unwrap().to_string(), "1800.50");
        assert_eq!(a.checked_sub(b).unwrap().to_string(), "1000.50");
        assert!(b.checked_sub(a).is_err());
        assert_eq!(b.saturating_sub(a), Money::ZERO);
        assert_eq!(a.min(b), b);
        assert_eq!(a.checked_add(b).unwrap().as_decimal().scale(), 2);
        let huge = Money::MAX;
        let mut total = Money::ZERO;
        for _ in 0..1_000 {
            total = total.checked_add(huge).unwrap();
        }
        assert_eq!(total.pence(), 100_000_000_000_000_000);
    }

    #[test]
    fn parses_and_rejects_at_the_boundary() {
        assert_eq!("12".parse::<Money>().unwrap().to_string(), "12.00");
        assert_eq!("1400.5".parse::<Money>().unwrap().to_string(), "1400.50");
        assert!(matches!(
            "-5".parse::<Money>(),
            Err(MoneyError::Negative { .. })
        ));
        assert!(matches!(
            "0.001".parse::<Money>(),
            Err(MoneyError::SubPenny { .. })
        ));
        for exponent in [
            "1e2", "1E2", "-1e30", "1e-30", "1e30", "1.5e1", "1e", " 1e2 ",
        ] {
            assert_eq!(
                exponent.parse::<Money>(),
                Err(MoneyError::Exponent {
                    input: exponent.trim().into()
                }),
                "{exponent}"
            );
        }
        assert!(matches!(
            "e".parse::<Money>(),
            Err(MoneyError::Malformed { .. })
        ));
        assert!(matches!(
            "1e2 GBP".parse::<Money>(),
            Err(MoneyError::CurrencySign { .. })
        ));
        assert!(matches!(
            "£12".parse::<Money>(),
            Err(MoneyError::CurrencySign { .. })
        ));
        assert!(matches!(
            "twelve".parse::<Money>(),
            Err(MoneyError::Malformed { .. })
        ));
        assert!(matches!(
            "1.2.3".parse::<Money>(),
            Err(MoneyError::Malformed { .. })
        ));
        assert!(matches!(
            "".parse::<Money>(),
            Err(MoneyError::Malformed { .. })
        ));
        assert_eq!(Money::MAX.to_string(), "1000000000000.00");
        assert_eq!("1000000000000".parse::<Money>().unwrap(), Money::MAX);
        assert!("1000000000000.01".parse::<Money>().is_err());
    }

    #[test]
    fn rounds_halves_away_from_zero_once() {
        assert_eq!(round_pence(Decimal::new(1005, 3)).to_string(), "1.01");
        assert_eq!(round_pence(Decimal::new(1004, 3)).to_string(), "1.00");
        assert_eq!(
            Money::from_computed(Decimal::new(3605, 1) * Decimal::new(12, 1))
                .unwrap()
                .to_string(),
            "432.60"
        );
    }

    #[test]
    fn serde_is_exact() {
        let m: Money = serde_json::from_str("\"300.10\"").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"300.10\"");
        let m: Money = serde_json::from_str("1400").unwrap();
        assert_eq!(m.to_string(), "1400.00");
        for float in ["0.1", "100.0", "1e2", "1.5e1"] {
            let err = serde_json::from_str::<Money>(float).unwrap_err();
            assert!(err.to_string().contains("without an exponent"), "{err}");
        }
        assert!(serde_json::from_str::<Money>("\"1e2\"").is_err());
        assert!(serde_json::from_str::<Money>("-1").is_err());
        assert!(serde_json::from_str::<Money>("0.005").is_err());
        assert_eq!(Money::pounds(1234567).display_pounds(), "£1,234,567.00");
        assert_eq!(Money::from_pence(5).unwrap().display_pounds(), "£0.05");
        assert_eq!(Money::from_pence(100_000_000_000_000).unwrap(), Money::MAX);
        assert_eq!(
            Money::from_pence(100_000_000_000_001),
            Err(MoneyError::TooLarge {
                input: "1000000000000.01".into()
            })
        );
        assert_eq!(
            Money::from_pence(u64::MAX),
            Err(MoneyError::TooLarge {
                input: format!("{} pence", u64::MAX)
            })
        );
    }

    #[test]
    fn arithmetic_is_checked() {
        assert!(Money::pounds(1).checked_sub(Money::pounds(2)).is_err());
        assert_eq!(
            Money::pounds(3).checked_sub(Money::pounds(2)).unwrap(),
            Money::pounds(1)
        );
        assert_eq!(Money::pounds(3).pence(), 300);
    }
}
