//! Given/when/then: what people type reaches the core through one set of
//! checks (texts, amounts, instants), and bad input is refused with a
//! rejection or error that says what to do and changes nothing.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use grantflow_core::*;
use grantflow_core::{TextProblem, check_text};
use serde_json::{Value, json};

const EXPONENT_ADVICE: &str =
    "write amounts as pounds and pence, like 100 or 100.00, without an exponent";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 9, 1, 9, 0, 0).unwrap()
}

/// The 2020 preset, opened at [`now`].
fn opened() -> State {
    let mut state = State::default();
    let open = Command::new(
        CommandId::from_name("open"),
        Action::Open {
            programme: Box::new(Programme::healthcare_cyber_essentials_2020()),
        },
    );
    for event in decide(&state, &open, now()).expect("opens") {
        evolve(&mut state, &event).expect("applies");
    }
    state
}

/// An eligible application as JSON, in the form a `submit` command carries.
fn application() -> Value {
    json!({
        "organisation": {
            "name": "Acme Medical Ltd",
            "company_number": "01234567",
            "region": "North West"
        },
        "contact": {"name": "Ada Lovelace", "email": "ada@acme.example"},
        "sector": "medical-supplier",
        "employees": 20,
        "uk_based": true,
        "already_certified": false,
        "vat_registered": true
    })
}

/// A `submit` command read from JSON, with `edit` applied to its applicant.
fn submit_json(edit: impl FnOnce(&mut Value)) -> Command {
    let mut applicant = application();
    edit(&mut applicant);
    let command = json!({
        "id": CommandId::from_name("submit").to_string(),
        "command": "submit",
        "application": ApplicationId::from_name("app").to_string(),
        "applicant": applicant,
        "request": {"level": "basic", "consultancy_days": "2", "day_rate": "450"}
    });
    serde_json::from_value(command).expect("a well-formed submit command")
}

fn rejected(state: &State, command: &Command, at: DateTime<Utc>) -> Rejection {
    match decide(state, command, at) {
        Ok(events) => panic!("accepted: {events:?}"),
        Err(r) => r,
    }
}

#[test]
fn control_characters_in_an_applicants_texts_are_refused_naming_the_field() {
    let state = opened();
    for field in [
        "organisation.name",
        "organisation.region",
        "contact.name",
        "contact.email",
    ] {
        let pointer = format!("/{}", field.replace('.', "/"));
        for control in ['\0', '\u{7}', '\u{1b}', '\n', '\u{7f}', '\u{9b}'] {
            // Given an application whose field holds a control character
            let command = submit_json(|a| {
                let v = a.pointer_mut(&pointer).expect("the field");
                let text = v.as_str().expect("a text").to_string();
                *v = Value::String(format!("{}{control}{}", &text[..2], &text[2..]));
            });
            // When it is submitted
            let r = rejected(&state, &command, now());
            // Then it is refused as a bad text of that field, without echoing the character
            assert_eq!(r.code, RejectionCode::InvalidText, "{field} {control:?}");
            assert_eq!(r.subject.as_deref(), Some(field));
            let code = format!("U+{:04X} at character 3", u32::from(control));
            assert!(r.message.starts_with(field), "{}", r.message);
            assert!(r.message.contains(&code), "{}", r.message);
            assert!(r.message.contains("remove it"), "{}", r.message);
            assert!(!r.message.contains(control), "{}", r.message);
        }
    }
}

#[test]
fn names_are_counted_in_characters_not_bytes() {
    let state = opened();
    for field in ["organisation", "contact"] {
        // Given a name of 101 "é" (202 bytes, 101 characters)
        let command = submit_json(|a| a[field]["name"] = json!("é".repeat(101)));
        // When it is submitted, then it is accepted
        assert!(decide(&state, &command, now()).is_ok(), "{field}");
        // Given a name of 201 "é", then it is refused as 201 characters long
        let command = submit_json(|a| a[field]["name"] = json!("é".repeat(201)));
        let r = rejected(&state, &command, now());
        assert_eq!(r.code, RejectionCode::InvalidText);
        assert!(
            r.message.contains("has 201 characters: give at most 200"),
            "{}",
            r.message
        );
    }
    // The same rule is the public check adapters call.
    assert_eq!(check_text(&"é".repeat(200), 1, 200), Ok(()));
    assert_eq!(
        check_text(&"é".repeat(201), 1, 200),
        Err(TextProblem::TooLong {
            length: 201,
            max: 200
        })
    );
}

#[test]
fn a_blank_name_is_still_refused_as_empty() {
    let state = opened();
    let command = submit_json(|a| a["contact"]["name"] = json!("   "));
    let r = rejected(&state, &command, now());
    assert_eq!(r.subject.as_deref(), Some("contact.name"));
    assert!(r.message.contains("is empty"), "{}", r.message);
}

#[test]
fn control_characters_in_a_commands_texts_are_refused() {
    let state = opened();
    // Given a top-up whose note holds an escape sequence
    let command = Command::new(
        CommandId::from_name("top-up"),
        Action::TopUp {
            amount: Money::pounds(10),
            note: "gift\u{1b}[2J".into(),
        },
    );
    // When it is decided, then it is refused naming the note
    let r = rejected(&state, &command, now());
    assert_eq!(r.code, RejectionCode::InvalidText);
    assert_eq!(r.subject.as_deref(), Some("note"));
    assert!(r.message.contains("U+001B"), "{}", r.message);
}

#[test]
fn amounts_with_an_exponent_are_refused_with_how_to_write_them() {
    // Given `1e2` as text
    let err = "1e2".parse::<Money>().unwrap_err();
    // Then it is refused, not read as 100
    assert_eq!(
        err,
        MoneyError::Exponent {
            input: "1e2".into()
        }
    );
    assert!(err.to_string().contains(EXPONENT_ADVICE), "{err}");
    // Given `1e2` as a JSON string and as a JSON number in a command
    for amount in [json!("1e2"), serde_json::from_str::<Value>("1e2").unwrap()] {
        let command = json!({
            "id": CommandId::from_name("top-up").to_string(),
            "command": "top_up",
            "amount": amount,
            "note": ""
        });
        let err = serde_json::from_value::<Command>(command).unwrap_err();
        assert!(err.to_string().contains("without an exponent"), "{err}");
    }
    // A whole JSON number and a plain decimal text are still amounts.
    assert_eq!(
        serde_json::from_str::<Money>("100").unwrap(),
        Money::pounds(100)
    );
    assert_eq!(
        serde_json::from_str::<Money>("\"100.50\"").unwrap(),
        Money::from_pence(10050).unwrap()
    );
}

#[test]
fn a_rules_file_with_an_exponent_in_an_amount_is_refused() {
    let preset = Programme::healthcare_cyber_essentials_2020().to_toml();
    assert!(
        preset.contains("value = \"500000.00\""),
        "the pot as written"
    );
    // Given the pot written as a string and as a TOML float with an exponent
    for pot in ["value = \"5e5\"", "value = 5e5"] {
        let text = preset.replacen("value = \"500000.00\"", pot, 1);
        // When the rules are read, then they are refused saying how to write it
        let err = Programme::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("without an exponent"), "{pot}: {err}");
    }
}

#[test]
fn rules_texts_share_the_text_check() {
    let mut p = Programme::healthcare_cyber_essentials_2020();
    p.funder.name = "DCMS\u{7}".into();
    let err = p.validate().unwrap_err().to_string();
    assert!(err.contains("funder.name"), "{err}");
    assert!(err.contains("U+0007"), "{err}");
}

#[test]
fn a_leap_second_is_refused_as_now() {
    let state = opened();
    // Given 23:59:60 at the end of a day (chrono holds it as 23:59:59 and 10^9 ns)
    let leap = NaiveDate::from_ymd_opt(2020, 9, 30)
        .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_000_000_000))
        .expect("a leap second")
        .and_utc();
    let tick = Command::new(CommandId::from_name("tick"), Action::Tick);
    let submit = submit_json(|_| {});
    for command in [&tick, &submit] {
        // When a command is decided at that instant
        let r = rejected(&state, command, leap);
        // Then it is refused, saying to give the next second, and nothing is recorded
        assert_eq!(r.code, RejectionCode::TimeOutOfRange);
        assert_eq!(r.subject.as_deref(), Some("now"));
        assert!(r.message.contains("leap second"), "{}", r.message);
        assert!(r.message.contains("next second"), "{}", r.message);
    }
}
