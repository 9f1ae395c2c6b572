//! Test data: programmes, applicants, commands and times.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rust_decimal::Decimal;

use crate::ledger::money::Money;
use crate::messages::command::{Action, Command};
use crate::messages::ids::{ApplicationId, CommandId};
use crate::rules::applicant::{Applicant, Contact, CostRequest, Organisation};
use crate::rules::programme::{Level, Programme};

/// 09:00 UTC on 1 September 2020 plus `n` days: inside the preset's open period.
pub fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 9, 1, 9, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
        + Duration::days(n)
}

/// The 2020 preset with a pot of `pot_pounds` and no contingency.
pub fn programme(pot_pounds: u32) -> Programme {
    let mut p = Programme::healthcare_cyber_essentials_2020();
    p.pot.value = Money::pounds(pot_pounds);
    p.allocation.contingency.value = Money::ZERO;
    p
}

/// An eligible VAT-registered medical supplier numbered `n`.
pub fn applicant(n: u64) -> Applicant {
    Applicant {
        organisation: Organisation {
            name: format!("Supplier {n}"),
            company_number: Some(format!("{:08}", n % 100_000_000)),
            charity_number: None,
            ods_code: None,
            region: Some("North West".into()),
        },
        contact: Contact {
            name: "Office Manager".into(),
            email: format!("office{n}@supplier.example"),
        },
        sector: "medical-supplier".into(),
        employees: 20,
        uk_based: true,
        already_certified: false,
        vat_registered: true,
    }
}

/// Basic certification with two consultancy days at £450: an award of £1,200 under the preset.
pub fn request() -> CostRequest {
    CostRequest {
        level: Level::Basic,
        consultancy_days: Decimal::from(2),
        day_rate: Money::pounds(450),
        plus_audit_quote: None,
    }
}

/// The award [`request`] earns a VAT-registered applicant under the preset.
pub const AWARD_POUNDS: u32 = 1_200;

/// A command with an id derived from `name`.
pub fn command(name: &str, action: Action) -> Command {
    Command::new(CommandId::from_name(name), action)
}

/// `open` for `programme`, with an id derived from `tag`.
pub fn open(tag: &str, programme: Programme) -> Command {
    command(
        &format!("{tag}/open"),
        Action::Open {
            programme: Box::new(programme),
        },
    )
}

/// A submission of application `n` (id and command id derived from `tag` and `n`).
pub fn submit(tag: &str, n: u64) -> Command {
    command(
        &format!("{tag}/submit/{n}"),
        Action::Submit {
            application: application(tag, n),
            applicant: Arc::new(applicant(n)),
            request: request(),
        },
    )
}

/// The acceptance of application `n`'s offer.
pub fn accept(tag: &str, n: u64) -> Command {
    command(
        &format!("{tag}/accept/{n}"),
        Action::Accept {
            application: application(tag, n),
        },
    )
}

/// The id of application `n`.
pub fn application(tag: &str, n: u64) -> ApplicationId {
    ApplicationId::from_name(&format!("{tag}/{n}"))
}
