//! An exact-pence coverage table: what `estimate` covers for the 2020
//! preset (and variants of it), item by item, against amounts worked out by
//! hand. Each row's amounts are literal pence, with the arithmetic beside
//! them. The preset's rules: consultancy at most 3 days at most £600 a day,
//! the assessment fee £300 flat to 23 January 2022 and then £300 / £400 /
//! £450 / £500 by size band (micro 0-9, small 10-49, medium 50-249, large
//! 250+ staff), a Plus audit at most £1,400 (when Plus is funded), VAT at
//! 20% covered unless the applicant is VAT-registered, and an award of at
//! most £2,500. Computed amounts are rounded once, to the nearest penny,
//! halves away from zero.

use chrono::NaiveDate;
use grantflow_core::*;
use rust_decimal::Decimal;

/// What a row expects, in pence.
struct Pence {
    consultancy: i64,
    fee: i64,
    plus: i64,
    total: i64,
    award: i64,
}

fn applicant(employees: u32, vat_registered: bool) -> Applicant {
    Applicant {
        organisation: Organisation {
            name: "Row Ltd".into(),
            company_number: Some("01234567".into()),
            charity_number: None,
            ods_code: None,
            region: None,
        },
        contact: Contact {
            name: "A Person".into(),
            email: "row@example.org".into(),
        },
        sector: "medical-supplier".into(),
        employees,
        uk_based: true,
        already_certified: false,
        vat_registered,
    }
}

/// `days` (a decimal such as "1.5") at `rate_pence` a day, at `level`.
fn request(level: Level, days: &str, rate_pence: u64, quote_pence: Option<u64>) -> CostRequest {
    CostRequest {
        level,
        consultancy_days: days.parse::<Decimal>().expect("days"),
        day_rate: Money::from_pence(rate_pence).expect("a rate"),
        plus_audit_quote: quote_pence.map(|q| Money::from_pence(q).expect("a quote")),
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a date")
}

/// A day in the programme's first year, under the flat fee table.
fn autumn_2020() -> NaiveDate {
    date(2020, 10, 1)
}

fn preset() -> Programme {
    Programme::healthcare_cyber_essentials_2020()
}

fn plus_funded() -> Programme {
    let mut p = preset();
    p.coverage.plus_funded.value = true;
    p
}

fn vat_policy(policy: VatPolicy) -> Programme {
    let mut p = preset();
    p.coverage.vat.value = policy;
    p
}

/// Checks every item of the estimate, the total and the award, each on its own.
fn assert_row(
    row: &str,
    p: &Programme,
    a: &Applicant,
    r: &CostRequest,
    on: NaiveDate,
    want: Pence,
) {
    let c = estimate(p, a, r, on).unwrap_or_else(|e| panic!("{row}: no estimate: {e}"));
    let got = |m: Money| m.pence();
    assert_eq!(
        got(c.item(Item::Consultancy)),
        want.consultancy,
        "{row}: consultancy"
    );
    assert_eq!(
        got(c.item(Item::CertificationFee)),
        want.fee,
        "{row}: certification fee"
    );
    assert_eq!(got(c.item(Item::PlusAudit)), want.plus, "{row}: Plus audit");
    assert_eq!(got(c.total), want.total, "{row}: total");
    assert_eq!(got(c.award), want.award, "{row}: award");
}

// ---- Odd-pence day rates ----

/// Given a VAT-registered applicant (no VAT covered), when it asks for
/// 2 days at £457.33, then consultancy is the exact product.
#[test]
fn odd_pence_day_rate_without_vat_is_the_exact_product() {
    assert_row(
        "2 days at £457.33, no VAT",
        &preset(),
        &applicant(20, true),
        &request(Level::Basic, "2", 45_733, None),
        autumn_2020(),
        Pence {
            consultancy: 91_466, // 2 x 45,733
            fee: 30_000,         // £300 flat
            plus: 0,
            total: 121_466, // 91,466 + 30,000
            award: 121_466, // under the £2,500 cap
        },
    );
}

/// Given an applicant who is not VAT-registered (VAT covered), when it asks
/// for 1 day at £333.33, then the VAT-inclusive 399.996 rounds up to £400.00.
#[test]
fn odd_pence_day_rate_with_vat_rounds_to_the_nearest_penny() {
    assert_row(
        "1 day at £333.33, VAT",
        &preset(),
        &applicant(20, false),
        &request(Level::Basic, "1", 33_333, None),
        autumn_2020(),
        Pence {
            consultancy: 40_000, // 333.33 x 1.2 = 399.996 -> 400.00
            fee: 36_000,         // 300 x 1.2
            plus: 0,
            total: 76_000, // 40,000 + 36,000
            award: 76_000,
        },
    );
}

/// Given a non-registered applicant, when it asks for 2 days at £456.79,
/// then 1,096.296 rounds up to £1,096.30.
#[test]
fn two_odd_pence_days_with_vat_round_to_the_nearest_penny() {
    assert_row(
        "2 days at £456.79, VAT",
        &preset(),
        &applicant(20, false),
        &request(Level::Basic, "2", 45_679, None),
        autumn_2020(),
        Pence {
            consultancy: 109_630, // 2 x 456.79 = 913.58; x 1.2 = 1,096.296 -> 1,096.30
            fee: 36_000,          // 300 x 1.2
            plus: 0,
            total: 145_630, // 109,630 + 36,000
            award: 145_630,
        },
    );
}

/// Given a non-registered applicant, when it asks for 3 days at £333.33,
/// then 1,199.988 rounds up to £1,199.99.
#[test]
fn three_odd_pence_days_with_vat_round_to_the_nearest_penny() {
    assert_row(
        "3 days at £333.33, VAT",
        &preset(),
        &applicant(20, false),
        &request(Level::Basic, "3", 33_333, None),
        autumn_2020(),
        Pence {
            consultancy: 119_999, // 3 x 333.33 = 999.99; x 1.2 = 1,199.988 -> 1,199.99
            fee: 36_000,          // 300 x 1.2
            plus: 0,
            total: 155_999, // 119,999 + 36,000
            award: 155_999,
        },
    );
}

// ---- Half days ----

/// Given a VAT-registered applicant, when it asks for half a day at
/// £333.33, then the half penny of 166.665 rounds away from zero.
#[test]
fn half_day_without_vat_rounds_the_half_penny_up() {
    assert_row(
        "0.5 days at £333.33, no VAT",
        &preset(),
        &applicant(20, true),
        &request(Level::Basic, "0.5", 33_333, None),
        autumn_2020(),
        Pence {
            consultancy: 16_667, // 0.5 x 333.33 = 166.665 -> 166.67
            fee: 30_000,
            plus: 0,
            total: 46_667, // 16,667 + 30,000
            award: 46_667,
        },
    );
}

/// Given a non-registered applicant, when it asks for half a day at
/// £333.35, then the amount is rounded once, after VAT: 200.01 (rounding
/// the net first would give 166.68 x 1.2 = 200.016 -> 200.02).
#[test]
fn half_day_with_vat_is_rounded_once_after_vat() {
    assert_row(
        "0.5 days at £333.35, VAT",
        &preset(),
        &applicant(20, false),
        &request(Level::Basic, "0.5", 33_335, None),
        autumn_2020(),
        Pence {
            consultancy: 20_001, // 0.5 x 333.35 = 166.675; x 1.2 = 200.01 exactly
            fee: 36_000,
            plus: 0,
            total: 56_001, // 20,001 + 36,000
            award: 56_001,
        },
    );
}

/// Given a non-registered applicant, when it asks for one and a half days
/// at £287.37, then 517.266 rounds up to £517.27.
#[test]
fn one_and_a_half_days_with_vat_round_to_the_nearest_penny() {
    assert_row(
        "1.5 days at £287.37, VAT",
        &preset(),
        &applicant(20, false),
        &request(Level::Basic, "1.5", 28_737, None),
        autumn_2020(),
        Pence {
            consultancy: 51_727, // 1.5 x 287.37 = 431.055; x 1.2 = 517.266 -> 517.27
            fee: 36_000,
            plus: 0,
            total: 87_727, // 51,727 + 36,000
            award: 87_727,
        },
    );
}

/// Given a VAT-registered applicant, when it asks for two and a half days
/// at £123.45, then the half penny of 308.625 rounds up.
#[test]
fn two_and_a_half_days_without_vat_round_the_half_penny_up() {
    assert_row(
        "2.5 days at £123.45, no VAT",
        &preset(),
        &applicant(20, true),
        &request(Level::Basic, "2.5", 12_345, None),
        autumn_2020(),
        Pence {
            consultancy: 30_863, // 2.5 x 123.45 = 308.625 -> 308.63
            fee: 30_000,
            plus: 0,
            total: 60_863, // 30,863 + 30,000
            award: 60_863,
        },
    );
}

// ---- VAT on and off ----

/// Given VAT policy `always`, when a VAT-registered applicant asks for
/// 1 day at £444.44, then VAT is covered anyway: 533.328 -> £533.33.
#[test]
fn vat_always_covers_a_registered_applicant() {
    assert_row(
        "always, registered, 1 day at £444.44",
        &vat_policy(VatPolicy::Always),
        &applicant(20, true),
        &request(Level::Basic, "1", 44_444, None),
        autumn_2020(),
        Pence {
            consultancy: 53_333, // 444.44 x 1.2 = 533.328 -> 533.33
            fee: 36_000,         // 300 x 1.2
            plus: 0,
            total: 89_333, // 53,333 + 36,000
            award: 89_333,
        },
    );
}

/// Given VAT policy `never`, when an applicant who is not VAT-registered
/// asks for 1 day at £444.44, then no VAT is covered.
#[test]
fn vat_never_covers_an_unregistered_applicant() {
    assert_row(
        "never, unregistered, 1 day at £444.44",
        &vat_policy(VatPolicy::Never),
        &applicant(20, false),
        &request(Level::Basic, "1", 44_444, None),
        autumn_2020(),
        Pence {
            consultancy: 44_444, // 1 x 444.44
            fee: 30_000,         // no VAT
            plus: 0,
            total: 74_444, // 44,444 + 30,000
            award: 74_444,
        },
    );
}

/// Given the preset's policy (`unless_registered`), when the same request
/// comes from a registered and from an unregistered applicant, then only
/// the unregistered one has its VAT covered.
#[test]
fn vat_unless_registered_follows_the_applicant() {
    let r = request(Level::Basic, "1", 59_999, None);
    assert_row(
        "unless registered, registered, 1 day at £599.99",
        &preset(),
        &applicant(20, true),
        &r,
        autumn_2020(),
        Pence {
            consultancy: 59_999, // 1 x 599.99
            fee: 30_000,
            plus: 0,
            total: 89_999, // 59,999 + 30,000
            award: 89_999,
        },
    );
    assert_row(
        "unless registered, unregistered, 1 day at £599.99",
        &preset(),
        &applicant(20, false),
        &r,
        autumn_2020(),
        Pence {
            consultancy: 71_999, // 599.99 x 1.2 = 719.988 -> 719.99
            fee: 36_000,         // 300 x 1.2
            plus: 0,
            total: 107_999, // 71,999 + 36,000
            award: 107_999,
        },
    );
}

/// Given a fee table with an odd-pence fee (£299.99), when VAT is covered,
/// then the fee's VAT rounds to the nearest penny: 359.988 -> £359.99.
#[test]
fn an_odd_pence_fee_with_vat_rounds_to_the_nearest_penny() {
    let mut p = preset();
    p.coverage.certification_fee[0].value = FeeTable::flat(Money::from_pence(29_999).expect("fee"));
    assert_row(
        "fee £299.99, VAT, 1 day at £100",
        &p,
        &applicant(20, false),
        &request(Level::Basic, "1", 10_000, None),
        autumn_2020(),
        Pence {
            consultancy: 12_000, // 100 x 1.2
            fee: 35_999,         // 299.99 x 1.2 = 359.988 -> 359.99
            plus: 0,
            total: 47_999, // 12,000 + 35,999
            award: 47_999,
        },
    );
}

// ---- Plus quotes ----

/// Given Plus funded, when a non-registered applicant's Plus quote is
/// £1,234.56 (under the cap), then the quote is covered with VAT.
#[test]
fn plus_quote_under_the_cap_is_covered_with_vat() {
    assert_row(
        "Plus quote £1,234.56, VAT, 1 day at £400",
        &plus_funded(),
        &applicant(20, false),
        &request(Level::Plus, "1", 40_000, Some(123_456)),
        autumn_2020(),
        Pence {
            consultancy: 48_000, // 400 x 1.2
            fee: 36_000,         // 300 x 1.2
            plus: 148_147,       // 1,234.56 x 1.2 = 1,481.472 -> 1,481.47
            total: 232_147,      // 48,000 + 36,000 + 148,147
            award: 232_147,
        },
    );
}

/// Given Plus funded, when a registered applicant's Plus quote is £999.99,
/// then the quote is covered as it stands.
#[test]
fn plus_quote_with_odd_pence_without_vat_is_covered_as_quoted() {
    assert_row(
        "Plus quote £999.99, no VAT, 1 day at £500",
        &plus_funded(),
        &applicant(20, true),
        &request(Level::Plus, "1", 50_000, Some(99_999)),
        autumn_2020(),
        Pence {
            consultancy: 50_000, // 1 x 500
            fee: 30_000,
            plus: 99_999,   // as quoted
            total: 179_999, // 50,000 + 30,000 + 99,999
            award: 179_999,
        },
    );
}

/// Given Plus funded, when the Plus quote is £3,000 (over the £1,400 cap),
/// then the cap is covered.
#[test]
fn plus_quote_over_the_cap_covers_the_cap() {
    assert_row(
        "Plus quote £3,000, no VAT, no consultancy",
        &plus_funded(),
        &applicant(20, true),
        &request(Level::Plus, "0", 0, Some(300_000)),
        autumn_2020(),
        Pence {
            consultancy: 0,
            fee: 30_000,
            plus: 140_000,  // min(3,000, 1,400)
            total: 170_000, // 30,000 + 140,000
            award: 170_000,
        },
    );
}

/// Given Plus funded, when a non-registered applicant gives no Plus quote,
/// then the cap is covered, with VAT.
#[test]
fn plus_without_a_quote_covers_the_cap_with_vat() {
    assert_row(
        "Plus, no quote, VAT, no consultancy",
        &plus_funded(),
        &applicant(20, false),
        &request(Level::Plus, "0", 0, None),
        autumn_2020(),
        Pence {
            consultancy: 0,
            fee: 36_000,    // 300 x 1.2
            plus: 168_000,  // 1,400 x 1.2
            total: 204_000, // 36,000 + 168,000
            award: 204_000,
        },
    );
}

/// Given the preset (Plus not funded), when an applicant asks for Plus
/// with a quote, then no audit is covered.
#[test]
fn plus_not_funded_covers_no_audit() {
    assert_row(
        "Plus not funded, quote £1,000",
        &preset(),
        &applicant(20, true),
        &request(Level::Plus, "1", 30_000, Some(100_000)),
        autumn_2020(),
        Pence {
            consultancy: 30_000, // 1 x 300
            fee: 30_000,
            plus: 0,
            total: 60_000, // 30,000 + 30,000
            award: 60_000,
        },
    );
}

// ---- Each cap binding ----

/// Given the £600 day-rate cap, when a registered applicant asks for
/// 2 days at £750, then the capped rate is covered.
#[test]
fn the_day_rate_cap_binds() {
    assert_row(
        "2 days at £750",
        &preset(),
        &applicant(20, true),
        &request(Level::Basic, "2", 75_000, None),
        autumn_2020(),
        Pence {
            consultancy: 120_000, // 2 x min(750, 600)
            fee: 30_000,
            plus: 0,
            total: 150_000, // 120,000 + 30,000
            award: 150_000,
        },
    );
}

/// Given the 3-day cap, when a registered applicant asks for 5 days at
/// £400, then 3 days are covered.
#[test]
fn the_days_cap_binds() {
    assert_row(
        "5 days at £400",
        &preset(),
        &applicant(20, true),
        &request(Level::Basic, "5", 40_000, None),
        autumn_2020(),
        Pence {
            consultancy: 120_000, // min(5, 3) x 400
            fee: 30_000,
            plus: 0,
            total: 150_000, // 120,000 + 30,000
            award: 150_000,
        },
    );
}

/// Given both consultancy caps and the award cap, when a non-registered
/// applicant asks for 4.5 days at £650.01, then 3 days at £600 with VAT are
/// covered and the award stops at £2,500.
#[test]
fn both_consultancy_caps_and_the_award_cap_bind() {
    assert_row(
        "4.5 days at £650.01, VAT",
        &preset(),
        &applicant(20, false),
        &request(Level::Basic, "4.5", 65_001, None),
        autumn_2020(),
        Pence {
            consultancy: 216_000, // 3 x 600 = 1,800; x 1.2
            fee: 36_000,          // 300 x 1.2
            plus: 0,
            total: 252_000, // 216,000 + 36,000
            award: 250_000, // min(2,520, 2,500)
        },
    );
}

/// Given Plus funded, when a total comes to exactly the £2,500 award cap,
/// then the award is the total; a penny more and the award is the cap.
#[test]
fn the_award_cap_binds_from_the_first_penny_over() {
    assert_row(
        "3 days at £600, Plus quote £400, no VAT",
        &plus_funded(),
        &applicant(20, true),
        &request(Level::Plus, "3", 60_000, Some(40_000)),
        autumn_2020(),
        Pence {
            consultancy: 180_000, // 3 x 600
            fee: 30_000,
            plus: 40_000,   // as quoted
            total: 250_000, // 180,000 + 30,000 + 40,000
            award: 250_000, // exactly the cap
        },
    );
    assert_row(
        "3 days at £600, Plus quote £400.01, no VAT",
        &plus_funded(),
        &applicant(20, true),
        &request(Level::Plus, "3", 60_000, Some(40_001)),
        autumn_2020(),
        Pence {
            consultancy: 180_000, // 3 x 600
            fee: 30_000,
            plus: 40_001,   // as quoted
            total: 250_001, // 180,000 + 30,000 + 40,001
            award: 250_000, // min(2,500.01, 2,500)
        },
    );
}

/// Given Plus funded, when a non-registered applicant asks for everything
/// over its caps, then each item is capped and the award is the award cap.
#[test]
fn every_cap_binds_at_once() {
    assert_row(
        "4 days at £900, Plus quote £8,000, VAT",
        &plus_funded(),
        &applicant(20, false),
        &request(Level::Plus, "4", 90_000, Some(800_000)),
        autumn_2020(),
        Pence {
            consultancy: 216_000, // 3 x 600 = 1,800; x 1.2
            fee: 36_000,          // 300 x 1.2
            plus: 168_000,        // 1,400 x 1.2
            total: 420_000,       // 216,000 + 36,000 + 168,000
            award: 250_000,       // the cap
        },
    );
}

// ---- The 2022 fee table change ----

/// Given the fee tables, when a medium applicant (100 staff) is judged on
/// 23 January 2022 and on 24 January 2022, then the fee goes from £300
/// (flat) to £450 (medium).
#[test]
fn the_fee_changes_on_24_january_2022() {
    let r = request(Level::Basic, "1", 10_000, None);
    assert_row(
        "medium, 23 Jan 2022",
        &preset(),
        &applicant(100, true),
        &r,
        date(2022, 1, 23),
        Pence {
            consultancy: 10_000, // 1 x 100
            fee: 30_000,         // £300 flat
            plus: 0,
            total: 40_000, // 10,000 + 30,000
            award: 40_000,
        },
    );
    assert_row(
        "medium, 24 Jan 2022",
        &preset(),
        &applicant(100, true),
        &r,
        date(2022, 1, 24),
        Pence {
            consultancy: 10_000, // 1 x 100
            fee: 45_000,         // medium £450
            plus: 0,
            total: 55_000, // 10,000 + 45,000
            award: 55_000,
        },
    );
}

/// Given the 2022 fee table, when applicants at each band's edges are
/// judged on 24 January 2022, then each pays its band's fee.
#[test]
fn the_2022_fee_table_goes_by_size_band() {
    // (staff, fee in pence): micro £300, small £400, medium £450, large £500.
    for (staff, fee) in [
        (0, 30_000),
        (9, 30_000),
        (10, 40_000),
        (49, 40_000),
        (50, 45_000),
        (249, 45_000),
        (250, 50_000),
    ] {
        assert_row(
            &format!("{staff} staff, 24 Jan 2022"),
            &preset(),
            &applicant(staff, true),
            &request(Level::Basic, "1", 10_000, None),
            date(2022, 1, 24),
            Pence {
                consultancy: 10_000, // 1 x 100
                fee,
                plus: 0,
                total: 10_000 + fee,
                award: 10_000 + fee,
            },
        );
    }
}

/// Given the same small applicant before and after the change, when VAT is
/// covered, then the fee is £300 x 1.2 before and £400 x 1.2 after.
#[test]
fn the_fee_change_with_vat() {
    let r = request(Level::Basic, "0.5", 33_333, None);
    assert_row(
        "small, VAT, 23 Jan 2022",
        &preset(),
        &applicant(20, false),
        &r,
        date(2022, 1, 23),
        Pence {
            consultancy: 20_000, // 0.5 x 333.33 = 166.665; x 1.2 = 199.998 -> 200.00
            fee: 36_000,         // 300 x 1.2
            plus: 0,
            total: 56_000, // 20,000 + 36,000
            award: 56_000,
        },
    );
    assert_row(
        "small, VAT, 24 Jan 2022",
        &preset(),
        &applicant(20, false),
        &r,
        date(2022, 1, 24),
        Pence {
            consultancy: 20_000, // as above
            fee: 48_000,         // 400 x 1.2
            plus: 0,
            total: 68_000, // 20,000 + 48,000
            award: 68_000,
        },
    );
}

/// Given the preset's first fee table starts on 1 January 2020, when an
/// estimate is asked for 31 December 2019, then there is no fee table.
#[test]
fn no_fee_table_before_2020() {
    let got = estimate(
        &preset(),
        &applicant(20, true),
        &request(Level::Basic, "1", 10_000, None),
        date(2019, 12, 31),
    );
    assert_eq!(got, Err(CoverageError::NoFeeTable(date(2019, 12, 31))));
}
