//! Who one simulated applicant is: [`Profile`], and the writing of the real
//! [`Applicant`] from it, reusing the text buffers of an old one.

use std::fmt::Write as _;
use std::sync::Arc;

use grantflow_core::{Applicant, Contact, Organisation};
use serde::{Deserialize, Serialize};

use super::names::{NameParts, NameTexts, REGIONS, SUFFIX, entry};

/// Who one simulated applicant is: what the core judges (sector, size, the
/// eligibility answers) and the drawn parts of its name, number, contact and
/// region, from which [`Profile::applicant`] writes the real [`Applicant`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// A sector id of the programme (shared by every draw of the sector).
    pub sector: Arc<str>,
    /// Staff count.
    pub employees: u32,
    pub uk_based: bool,
    pub already_certified: bool,
    pub vat_registered: bool,
    /// Companies House number, written with eight digits.
    pub company_number: u32,
    /// The draw's number in drawing order, from 1: keeps e-mail addresses distinct.
    pub serial: u32,
    /// Indexes into the name lists.
    pub(super) names: NameParts,
}

/// The most decimal digits of a `u32`.
const DIGITS: usize = 10;

/// What every e-mail address ends with.
const DOMAIN: &str = ".example.co.uk";

/// Empties `s`, keeping its allocation, with room for `len` bytes: rounded
/// up, so that a reused text rarely needs to grow for a longer one.
fn room(s: &mut String, len: usize) -> &mut String {
    s.clear();
    s.reserve(len.div_ceil(32) * 32);
    s
}

/// [`room`] in an optional text.
fn cleared(slot: &mut Option<String>, len: usize) -> &mut String {
    room(slot.get_or_insert_with(String::new), len)
}

impl Profile {
    /// The applicant as the core sees it, e.g. "Kestrel Pharmacy Ltd",
    /// contact "Priya Patel", `priya.patel@kestrel-17.example.co.uk`.
    pub fn applicant(&self) -> Applicant {
        let mut a = Applicant {
            organisation: Organisation {
                name: String::new(),
                company_number: None,
                charity_number: None,
                ods_code: None,
                region: None,
            },
            contact: Contact {
                name: String::new(),
                email: String::new(),
            },
            sector: String::new(),
            employees: 0,
            uk_based: false,
            already_certified: false,
            vat_registered: false,
        };
        self.write_applicant(&mut a);
        a
    }

    /// Overwrites `out` with [`Profile::applicant`], reusing its text buffers
    /// (each grows at most once per text, before it is written). The texts
    /// are copied in a few whole pieces from tables of name parts built once.
    pub fn write_applicant(&self, out: &mut Applicant) {
        let n = &self.names;
        let region = entry(REGIONS, n.region);
        let org = &mut out.organisation;
        let contact = &mut out.contact;
        match NameTexts::get().pieces(n) {
            Some([place, trade, person, user, host]) => {
                room(&mut org.name, place.len() + trade.len()).push_str(place);
                org.name.push_str(trade);
                room(&mut contact.name, person.len()).push_str(person);
                let email = room(
                    &mut contact.email,
                    user.len() + host.len() + DIGITS + DOMAIN.len(),
                );
                email.push_str(user);
                email.push_str(host);
            }
            None => self.write_words(org, contact),
        }
        // Writing to a `String` cannot fail.
        let _ = write!(contact.email, "{}{DOMAIN}", self.serial);
        let number = cleared(&mut org.company_number, 8);
        let _ = write!(number, "{:08}", self.company_number);
        org.charity_number = None;
        org.ods_code = None;
        cleared(&mut org.region, region.len()).push_str(region);

        room(&mut out.sector, self.sector.len()).push_str(&self.sector);
        out.employees = self.employees;
        out.uk_based = self.uk_based;
        out.already_certified = self.already_certified;
        out.vat_registered = self.vat_registered;
    }

    /// The organisation's name, the contact's name and the e-mail address up
    /// to the serial, joined word by word: for a profile whose name parts are
    /// outside the lists (read from a file; drawing never makes one), where a
    /// missing word is empty.
    fn write_words(&self, org: &mut Organisation, contact: &mut Contact) {
        let n = &self.names;
        let (place, trade, suffix) = (n.place(), n.trade(), entry(SUFFIX, n.suffix));
        let (given, family) = (n.given(), n.family());
        let name = room(&mut org.name, place.len() + trade.len() + suffix.len() + 2);
        name.push_str(place);
        name.push(' ');
        name.push_str(trade);
        name.push(' ');
        name.push_str(suffix);
        let name = room(&mut contact.name, given.len() + family.len() + 1);
        name.push_str(given);
        name.push(' ');
        name.push_str(family);
        let email = room(
            &mut contact.email,
            given.len() + family.len() + place.len() + 3 + DIGITS + DOMAIN.len(),
        );
        email.push_str(given);
        email.push('.');
        email.push_str(family);
        email.push('@');
        email.push_str(place);
        email.make_ascii_lowercase();
        email.push('-');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::Population;
    use crate::population::names::{FAMILY, FIRST, GIVEN, TRADES};
    use rand::Rng;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn the_written_applicant_is_the_drawn_one_and_reuses_buffers() {
        let p = Population::default_2020();
        let draws = p.draw(&mut ChaCha8Rng::seed_from_u64(3), 300);
        // A reused applicant with every optional field set and long texts.
        let mut reused = draws[0].applicant();
        reused.organisation.charity_number = Some("1234567".into());
        reused.organisation.ods_code = Some("A81001".into());
        reused.contact.email = "x".repeat(300);
        for d in &draws {
            let f = &d.profile;
            let n = &f.names;
            let lower = |s: &str| s.to_ascii_lowercase();
            let expected = Applicant {
                organisation: Organisation {
                    name: format!("{} {} {}", n.place(), n.trade(), entry(SUFFIX, n.suffix)),
                    company_number: Some(format!("{:08}", f.company_number)),
                    charity_number: None,
                    ods_code: None,
                    region: Some(entry(REGIONS, n.region).to_string()),
                },
                contact: Contact {
                    name: format!("{} {}", n.given(), n.family()),
                    email: format!(
                        "{}.{}@{}-{}.example.co.uk",
                        lower(n.given()),
                        lower(n.family()),
                        lower(n.place()),
                        f.serial
                    ),
                },
                sector: f.sector.to_string(),
                employees: f.employees,
                uk_based: f.uk_based,
                already_certified: f.already_certified,
                vat_registered: f.vat_registered,
            };
            assert_eq!(d.applicant(), expected);
            f.write_applicant(&mut reused);
            assert_eq!(reused, expected);
            assert!(!n.trade().is_empty() && !n.place().is_empty());
        }
        let mut serials: Vec<u32> = draws.iter().map(|d| d.profile.serial).collect();
        serials.sort_unstable();
        assert_eq!(serials, (1..=300).collect::<Vec<u32>>());
    }

    /// Whole pieces or word by word (for name parts outside the lists, where
    /// a missing word is empty), the texts are those of the words joined.
    #[test]
    fn the_applicant_texts_join_the_words_even_outside_the_lists() {
        let p = Population::default_2020();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut profile = p.draw(&mut rng, 1).remove(0).profile;
        let mut reused = profile.applicant();
        for k in 0..3_000 {
            // Mostly in range; now and then one part a little outside its list.
            let part = |rng: &mut ChaCha8Rng, len: usize| {
                let over = if k % 3 == 0 { 3 } else { 0 };
                u8::try_from(rng.random_range(0..len + over)).unwrap()
            };
            let trades = part(&mut rng, TRADES.len());
            let list = TRADES.get(usize::from(trades)).map_or(0, |l| l.len());
            profile.names = NameParts {
                place: part(&mut rng, FIRST.len()),
                trades,
                trade: part(&mut rng, list.max(1)),
                suffix: part(&mut rng, SUFFIX.len()),
                given: part(&mut rng, GIVEN.len()),
                family: part(&mut rng, FAMILY.len()),
                region: part(&mut rng, REGIONS.len()),
            };
            profile.serial = k;
            let n = &profile.names;
            let expected_name = format!("{} {} {}", n.place(), n.trade(), entry(SUFFIX, n.suffix));
            let expected_email = format!(
                "{}.{}@{}-{}.example.co.uk",
                n.given(),
                n.family(),
                n.place(),
                k
            )
            .to_ascii_lowercase();
            profile.write_applicant(&mut reused);
            assert_eq!(reused.organisation.name, expected_name);
            assert_eq!(reused.contact.name, format!("{} {}", n.given(), n.family()));
            assert_eq!(reused.contact.email, expected_email);
            assert_eq!(reused, profile.applicant());
        }
    }
}
