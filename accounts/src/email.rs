//! [`Email`]: an address as accounts, codes and throttles are keyed by it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An e-mail address, trimmed and lower-cased, so that `Ann@Example.org`
/// and `ann@example.org ` are one account and one throttle.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// Text that is not an e-mail address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an e-mail address: give one like name@example.org (at most 254 characters)")]
pub struct BadEmail(pub String);

impl Email {
    /// The longest address accepted (RFC 5321's path limit less the brackets).
    pub const MAX_LEN: usize = 254;

    /// The address, normalised.
    pub fn parse(text: &str) -> Result<Email, BadEmail> {
        let t = text.trim().to_lowercase();
        let shown: String = text.chars().take(80).collect();
        let valid = t.len() <= Email::MAX_LEN
            && !t.chars().any(|c| c.is_whitespace() || c.is_control())
            && match t.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !domain.is_empty()
                        && !domain.contains('@')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                }
                None => false,
            };
        if valid {
            Ok(Email(t))
        } else {
            Err(BadEmail(shown))
        }
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Email {
    type Err = BadEmail;
    fn from_str(s: &str) -> Result<Email, BadEmail> {
        Email::parse(s)
    }
}

impl TryFrom<String> for Email {
    type Error = BadEmail;
    fn try_from(s: String) -> Result<Email, BadEmail> {
        Email::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_one_account_whatever_their_case_and_spacing() {
        assert_eq!(
            Email::parse(" Ann@Example.ORG ").unwrap(),
            Email::parse("ann@example.org").unwrap()
        );
    }

    #[test]
    fn text_that_is_not_an_address_is_refused_by_name() {
        for bad in [
            "",
            "ann",
            "@example.org",
            "ann@",
            "a@b@c",
            "ann smith@example.org",
            "ann@.org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let long = format!("{}@example.org", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }
}
