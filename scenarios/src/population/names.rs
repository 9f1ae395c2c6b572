//! The name lists an applicant's texts are drawn from, the parts a profile
//! drew ([`NameParts`]) and the texts joined from the lists once ([`NameTexts`]).

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// Which entry of each name list a profile drew.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct NameParts {
    pub(super) place: u8,
    /// The list of trades (by sector) and the entry in it.
    pub(super) trades: u8,
    pub(super) trade: u8,
    pub(super) suffix: u8,
    pub(super) given: u8,
    pub(super) family: u8,
    pub(super) region: u8,
}

impl NameParts {
    pub(super) fn place(&self) -> &'static str {
        entry(FIRST, self.place)
    }
    pub(super) fn trade(&self) -> &'static str {
        TRADES
            .get(usize::from(self.trades))
            .map_or("", |list| entry(list, self.trade))
    }
    pub(super) fn given(&self) -> &'static str {
        entry(GIVEN, self.given)
    }
    pub(super) fn family(&self) -> &'static str {
        entry(FAMILY, self.family)
    }
}

/// The pieces of the applicants' texts, joined from the name lists once per
/// process: writing an applicant then copies a few whole pieces instead of
/// joining (and lower-casing) a dozen words each time.
///
/// An organisation's name is `place` + `trade_suffix` ("Kestrel " +
/// "Pharmacy Ltd"), its contact is `contact` ("Priya Patel") and the e-mail
/// address is `email_user` + `email_host` + serial + domain
/// ("priya.patel@" + "kestrel-" + "17" + ".example.co.uk").
pub(super) struct NameTexts {
    /// "Place " by place.
    place: Vec<String>,
    /// "Trade Suffix" by list of trades, then by `trade * SUFFIX.len() + suffix`.
    trade_suffix: Vec<Vec<String>>,
    /// "Given Family" by `given * FAMILY.len() + family`.
    contact: Vec<String>,
    /// "given.family@" in lower case, by `given * FAMILY.len() + family`.
    email_user: Vec<String>,
    /// "place-" in lower case, by place.
    email_host: Vec<String>,
}

impl NameTexts {
    pub(super) fn get() -> &'static NameTexts {
        static TEXTS: OnceLock<NameTexts> = OnceLock::new();
        TEXTS.get_or_init(NameTexts::new)
    }

    fn new() -> NameTexts {
        let people = |f: &dyn Fn(&str, &str) -> String| -> Vec<String> {
            GIVEN
                .iter()
                .flat_map(|g| FAMILY.iter().map(move |s| (g, s)))
                .map(|(g, s)| f(g, s))
                .collect()
        };
        NameTexts {
            place: FIRST.iter().map(|p| format!("{p} ")).collect(),
            trade_suffix: TRADES
                .iter()
                .map(|list| {
                    list.iter()
                        .flat_map(|t| SUFFIX.iter().map(move |s| format!("{t} {s}")))
                        .collect()
                })
                .collect(),
            contact: people(&|g, s| format!("{g} {s}")),
            email_user: people(&|g, s| format!("{g}.{s}@").to_ascii_lowercase()),
            email_host: FIRST
                .iter()
                .map(|p| format!("{p}-").to_ascii_lowercase())
                .collect(),
        }
    }

    /// The organisation's name, split as `place` + `trade_suffix`, the
    /// contact's name, and the e-mail address's `email_user` + `email_host`;
    /// `None` if a name part is outside its list.
    pub(super) fn pieces(&self, n: &NameParts) -> Option<[&str; 5]> {
        let trade = usize::from(n.trade);
        let suffix = usize::from(n.suffix);
        let (given, family) = (usize::from(n.given), usize::from(n.family));
        let list = TRADES.get(usize::from(n.trades))?;
        if trade >= list.len() || suffix >= SUFFIX.len() || family >= FAMILY.len() {
            return None;
        }
        let person = given * FAMILY.len() + family;
        Some([
            self.place.get(usize::from(n.place))?,
            self.trade_suffix
                .get(usize::from(n.trades))?
                .get(trade * SUFFIX.len() + suffix)?,
            self.contact.get(person)?,
            self.email_user.get(person)?,
            self.email_host.get(usize::from(n.place))?,
        ])
    }
}

pub(super) const FIRST: &[&str] = &[
    "Albion",
    "Beacon",
    "Castle",
    "Dale",
    "Elm",
    "Fenwick",
    "Granite",
    "Harbour",
    "Iris",
    "Juniper",
    "Kestrel",
    "Linden",
    "Meadow",
    "Northgate",
    "Oakwood",
    "Pennine",
    "Quay",
    "Riverside",
    "Severn",
    "Thames",
    "Upland",
    "Vale",
    "Westfield",
    "Yarrow",
    "Ashby",
    "Bramley",
    "Chiltern",
    "Derwent",
    "Eden",
    "Fairfield",
    "Greenway",
    "Highfield",
    "Kingsley",
    "Lakeside",
    "Mersey",
    "Newbridge",
    "Orchard",
    "Parkside",
    "Redwood",
    "Stirling",
    "Tyne",
    "Wessex",
];
const SUPPLIER: &[&str] = &[
    "Medical",
    "Surgical Supplies",
    "Healthcare",
    "Diagnostics",
    "Medical Devices",
    "Orthotics",
    "Lab Services",
    "Mobility",
];
const PRIMARY: &[&str] = &[
    "Pharmacy",
    "Dental Practice",
    "Opticians",
    "Physiotherapy",
    "Chemists",
    "Hearing Care",
    "Podiatry",
    "Dental Care",
];
const GP: &[&str] = &[
    "Medical Centre",
    "Surgery",
    "Health Centre",
    "Family Practice",
];
pub(super) const OTHER: &[&str] = &[
    "Care Homes",
    "Logistics",
    "Cleaning Services",
    "Software",
    "Catering",
];
pub(super) const SUFFIX: &[&str] = &["Ltd", "Limited", "Ltd", "LLP", "Group Ltd"];
pub(super) const GIVEN: &[&str] = &[
    "Amira", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Harry", "Isla", "James", "Kavya",
    "Liam", "Mia", "Noah", "Olivia", "Priya", "Rhys", "Sophie", "Tom", "Zara",
];
pub(super) const FAMILY: &[&str] = &[
    "Ahmed", "Baker", "Clarke", "Davies", "Evans", "Fraser", "Green", "Hughes", "Jones", "Khan",
    "Lewis", "Morgan", "Patel", "Roberts", "Smith", "Taylor", "Walker", "Wilson", "Wright",
    "Young",
];
pub(super) const REGIONS: &[&str] = &[
    "North East",
    "North West",
    "Yorkshire and The Humber",
    "East Midlands",
    "West Midlands",
    "East of England",
    "London",
    "South East",
    "South West",
    "Wales",
    "Scotland",
    "Northern Ireland",
];

/// Trades by sector: suppliers, primary care, GP practices, anything else.
pub(super) const TRADES: [&[&str]; 4] = [SUPPLIER, PRIMARY, GP, OTHER];
pub(super) const OTHER_TRADES: u8 = 3;

pub(super) fn trades_of(sector: &str) -> u8 {
    match sector {
        "medical-supplier" => 0,
        "primary-care" => 1,
        "gp-practice" => 2,
        _ => OTHER_TRADES,
    }
}

pub(super) fn entry(list: &[&'static str], i: u8) -> &'static str {
    list.get(usize::from(i)).copied().unwrap_or("")
}
