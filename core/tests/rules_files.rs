//! The rules files shipped in `examples/` load, validate and match the presets.

use grantflow_core::Programme;

#[test]
fn shipped_preset_file_is_the_preset() {
    let text = include_str!("../../examples/healthcare-ce-2020.toml");
    let loaded = Programme::from_toml(text).expect("the shipped rules file loads");
    assert_eq!(
        loaded,
        Programme::healthcare_cyber_essentials_2020(),
        "examples/healthcare-ce-2020.toml has drifted from the preset"
    );
    let json = serde_json::to_string(&loaded).expect("serializes");
    assert_eq!(
        Programme::from_json(&json).expect("JSON form loads"),
        loaded
    );
}

#[test]
fn every_parameter_of_the_preset_says_where_it_comes_from() {
    let value = toml::Value::try_from(Programme::healthcare_cyber_essentials_2020())
        .expect("to toml value");
    let mut missing = Vec::new();
    fn walk(path: &str, v: &toml::Value, missing: &mut Vec<String>) {
        match v {
            toml::Value::Table(t) => {
                if t.contains_key("value")
                    && !t.contains_key("reference")
                    && !t.contains_key("assumed")
                {
                    missing.push(path.to_string());
                }
                for (k, v) in t {
                    walk(&format!("{path}.{k}"), v, missing);
                }
            }
            toml::Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    walk(&format!("{path}[{i}]"), v, missing);
                }
            }
            _ => {}
        }
    }
    walk("", &value, &mut missing);
    assert!(
        missing.is_empty(),
        "parameters without reference or assumed note: {missing:?}"
    );
}

#[test]
fn given_the_preset_when_read_then_its_funder_id_is_sourced_from_org_id_guide() {
    let funder = Programme::healthcare_cyber_essentials_2020().funder;
    assert_eq!(funder.id, "GB-GOR-D5");
    assert!(
        funder
            .reference
            .as_deref()
            .is_some_and(|r| r.contains("org-id.guide") && r.contains("GB-GOR")),
        "{funder:?}"
    );
}

#[test]
fn given_the_minimal_rules_file_when_loaded_then_the_parts_left_out_take_the_documented_defaults() {
    use grantflow_core::{AllocationRules, Money, Windows};
    let text = include_str!("../../examples/minimal-programme.toml");
    let p = Programme::from_toml(text).expect("the minimal rules file loads");
    assert_eq!(p.windows, Windows::default());
    assert_eq!(p.allocation, AllocationRules::default());
    assert_eq!(p.coverage.award_cap.value, Money::MAX, "no cap");
    assert!(!p.coverage.plus_funded.value);
    assert_eq!(p.coverage.vat_rate.value.to_string(), "0.20");
    assert_eq!(p.windows.offer_days.value, 14);
    assert_eq!(p.windows.expiry_reminder_days.value, vec![30, 7]);
    // Every default says it is one, so the printed rules show where each value came from.
    for note in [
        &p.windows.offer_days.assumed,
        &p.windows.pass_months.assumed,
        &p.allocation.contingency.assumed,
        &p.coverage.award_cap.assumed,
        &p.coverage.vat.assumed,
    ] {
        assert!(
            note.as_deref()
                .is_some_and(|n| n.starts_with("grantflow's default")),
            "{note:?}"
        );
    }
    // Printed back and read again, the rules are the same.
    assert_eq!(Programme::from_toml(&p.to_toml()).expect("round trip"), p);
}

#[test]
fn given_a_rules_file_that_sets_one_window_when_loaded_then_it_keeps_that_window_and_defaults_the_others()
 {
    let text = format!(
        "{}\n[windows.offer_days]\nvalue = 21\nassumed = \"three weeks\"\n",
        include_str!("../../examples/minimal-programme.toml")
    );
    let p = Programme::from_toml(&text).expect("loads");
    assert_eq!(p.windows.offer_days.value, 21);
    assert_eq!(p.windows.offer_days.assumed.as_deref(), Some("three weeks"));
    assert_eq!(p.windows.pass_months.value, 6);
    let bad = format!(
        "{}\n[windows]\noffer_dayz = 21\n",
        include_str!("../../examples/minimal-programme.toml")
    );
    let err = Programme::from_toml(&bad).expect_err("a misspelt window is refused");
    assert!(err.to_string().contains("offer_dayz"), "{err}");
}
