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
