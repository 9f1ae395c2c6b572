//! A [`Scenario`]: a programme's rules, an applicant [`Population`] and
//! [`RunSettings`], loaded from TOML and validated with errors that name the key.
//!
//! ```toml
//! [run]
//! trials = 1000
//! seed = 2020
//!
//! [programme]
//! preset = "healthcare-ce-2020"      # or: file = "my-rules.toml"
//! [programme.set]
//! "allocation.contingency" = 25000   # any rule, by its key
//!
//! [population]
//! applicants = 1000                  # missing population keys take the 2020 defaults
//! ```
//!
//! [`Scenario::set`] changes one parameter by its key — the same keys as
//! `--vary` ([`Vary`]) and `[programme.set]`: a programme rule
//! (`allocation.policy`, `coverage.plus_funded`, `sectors.gp-practice.eligible`;
//! a `programme.` prefix is allowed), `population.…` or `run.…`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use grantflow_core::{Programme, RulesError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::driver::TickEvery;
use crate::population::Population;

/// The preset a scenario uses when it names none.
pub const DEFAULT_PRESET: &str = "healthcare-ce-2020";

/// How many trials and from which seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSettings {
    /// Trials per variant.
    pub trials: u32,
    /// The seed every trial's random numbers derive from.
    pub seed: u64,
    /// How often the simulated clock ticks.
    pub tick: TickEvery,
    /// Months after the closing day that the simulation runs on (default:
    /// the pass window plus the Plus window plus one month).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub months_after_close: Option<u32>,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            trials: 1_000,
            seed: 2020,
            tick: TickEvery::Daily,
            months_after_close: None,
        }
    }
}

/// Where the rules come from, and changes to them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ProgrammeSource {
    preset: Option<String>,
    file: Option<PathBuf>,
    set: BTreeMap<String, toml::Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ScenarioFile {
    name: Option<String>,
    run: RunSettings,
    programme: ProgrammeSource,
    population: Population,
}

/// A scenario file or parameter that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    /// A key holds a value that cannot be used (or is not a key at all).
    #[error("scenario key `{key}`: {problem}")]
    Key { key: String, problem: String },
    /// The text is not TOML.
    #[error("scenario file is not valid TOML: {0}")]
    Syntax(String),
    /// A file could not be read.
    #[error("cannot read {path}: {problem}")]
    Io { path: String, problem: String },
}

impl ScenarioError {
    /// The key the error is about, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            ScenarioError::Key { key, .. } => Some(key),
            _ => None,
        }
    }
}

fn key_err(key: impl Into<String>, problem: impl Into<String>) -> ScenarioError {
    ScenarioError::Key {
        key: key.into(),
        problem: problem.into(),
    }
}

/// A programme's rules, a population and run settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    pub name: String,
    pub programme: Programme,
    pub population: Population,
    pub run: RunSettings,
}

/// The programme presets known by name.
pub fn preset(name: &str) -> Option<Programme> {
    (name == DEFAULT_PRESET).then(Programme::healthcare_cyber_essentials_2020)
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario::default_2020()
    }
}

impl Scenario {
    /// The 2020 programme with the default population (the content of `examples/scenario-2020.toml`).
    pub fn default_2020() -> Scenario {
        Scenario {
            name: "2020 healthcare Cyber Essentials fund".into(),
            programme: Programme::healthcare_cyber_essentials_2020(),
            population: Population::default_2020(),
            run: RunSettings::default(),
        }
    }

    /// Reads a scenario file; a rules `file` in it is relative to the scenario's folder.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Io {
            path: path.display().to_string(),
            problem: e.to_string(),
        })?;
        Scenario::from_toml(&text, path.parent())
    }

    /// Parses and validates a scenario; `base` is where a rules `file` is looked up.
    pub fn from_toml(text: &str, base: Option<&Path>) -> Result<Scenario, ScenarioError> {
        let de = toml::Deserializer::parse(text)
            .map_err(|e| ScenarioError::Syntax(e.message().to_string()))?;
        let file: ScenarioFile = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let message = e.inner().message().to_string();
            let key = match message
                .strip_prefix("unknown field `")
                .and_then(|rest| rest.split('`').next())
            {
                Some(field) if path == "." || path.is_empty() => field.to_string(),
                Some(field) if !path.ends_with(field) => format!("{path}.{field}"),
                _ => path,
            };
            key_err(key, message)
        })?;
        let programme = match (&file.programme.preset, &file.programme.file) {
            (Some(_), Some(_)) => {
                return Err(key_err(
                    "programme.file",
                    "give either `preset` or `file`, not both",
                ));
            }
            (None, Some(f)) => {
                let path = base.map_or_else(|| f.clone(), |b| b.join(f));
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    key_err(
                        "programme.file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                let is_json = path
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("json"));
                let rules = if is_json {
                    Programme::from_json(&text)
                } else {
                    Programme::from_toml(&text)
                };
                rules.map_err(|e| rules_err(&e, "programme.file"))?
            }
            (preset_name, None) => {
                let name = preset_name.as_deref().unwrap_or(DEFAULT_PRESET);
                preset(name).ok_or_else(|| {
                    key_err(
                        "programme.preset",
                        format!("`{name}` is not a preset; known: {DEFAULT_PRESET}"),
                    )
                })?
            }
        };
        let mut scenario = Scenario {
            name: file.name.unwrap_or_else(|| programme.name.clone()),
            programme,
            population: file.population,
            run: file.run,
        };
        for (key, value) in &file.programme.set {
            let v = serde_json::to_value(value)
                .map_err(|e| key_err(format!("programme.set.\"{key}\""), e.to_string()))?;
            let full = if key.starts_with("programme.") {
                key.clone()
            } else {
                format!("programme.{key}")
            };
            scenario.set_value(&full, v)?;
        }
        scenario.validate()?;
        Ok(scenario)
    }

    /// Checks every part; the error names the key.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        if self.run.trials == 0 || self.run.trials > 1_000_000 {
            return Err(key_err(
                "run.trials",
                format!("{} is not between 1 and 1,000,000", self.run.trials),
            ));
        }
        if let Some(m) = self.run.months_after_close {
            if m > 120 {
                return Err(key_err(
                    "run.months_after_close",
                    format!("{m} is more than 120 months"),
                ));
            }
        }
        self.programme
            .validate()
            .map_err(|e| rules_err(&e, "programme"))?;
        self.population
            .validate("population")
            .map_err(|e| key_err(e.key, e.problem))?;
        for (i, s) in self.population.sectors.iter().enumerate() {
            if self.programme.sector(&s.sector).is_none() {
                let known: Vec<&str> = self
                    .programme
                    .sectors
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect();
                return Err(key_err(
                    format!("population.sectors[{i}].sector"),
                    format!(
                        "`{}` is not a sector of the programme ({})",
                        s.sector,
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Sets one parameter by key from text (`true`, `25000`, `strict`); see the module docs.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ScenarioError> {
        self.set_value(key, Value::String(value.to_string()))?;
        self.validate()
    }

    fn set_value(&mut self, key: &str, value: Value) -> Result<(), ScenarioError> {
        let key = key.trim();
        if key.is_empty() {
            return Err(key_err(key, "give a key, e.g. allocation.contingency"));
        }
        let (part, rest) = match key.split_once('.') {
            Some(("population", rest)) => ("population", rest),
            Some(("run", rest)) => ("run", rest),
            Some(("programme", rest)) => ("programme", rest),
            _ => ("programme", key),
        };
        let mut tree = match part {
            "population" => serde_json::to_value(&self.population),
            "run" => serde_json::to_value(&self.run),
            _ => serde_json::to_value(&self.programme),
        }
        .map_err(|e| key_err(key, e.to_string()))?;
        let slot = locate(&mut tree, rest)
            .ok_or_else(|| key_err(key, format!("not a {part} parameter")))?;
        *slot = coerce(slot, value).map_err(|p| key_err(key, p))?;
        let problem = |e: serde_json::Error| key_err(key, e.to_string());
        match part {
            "population" => self.population = serde_json::from_value(tree).map_err(problem)?,
            "run" => self.run = serde_json::from_value(tree).map_err(problem)?,
            _ => self.programme = serde_json::from_value(tree).map_err(problem)?,
        }
        Ok(())
    }
}

fn rules_err(e: &RulesError, prefix: &str) -> ScenarioError {
    match e {
        RulesError::Invalid { field, problem } => {
            key_err(format!("{prefix}.{field}"), problem.clone())
        }
        other => key_err(prefix, other.to_string()),
    }
}

/// Finds the value a dotted key names. A segment may also pick an array
/// element by its `id` or `sector`; a `Param` (`{ value, reference }`) resolves to its value.
fn locate<'a>(tree: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    let mut node = tree;
    for seg in key.split('.') {
        node = match node {
            Value::Object(map) => map.get_mut(seg)?,
            Value::Array(items) => {
                if let Ok(i) = seg.parse::<usize>() {
                    items.get_mut(i)?
                } else {
                    items.iter_mut().find(|it| {
                        it.get("id")
                            .or_else(|| it.get("sector"))
                            .and_then(Value::as_str)
                            == Some(seg)
                    })?
                }
            }
            _ => return None,
        };
    }
    let is_param = matches!(&*node, Value::Object(map) if map.contains_key("value") && (map.contains_key("reference") || map.contains_key("assumed") || map.len() == 1));
    if is_param {
        node.get_mut("value")
    } else {
        Some(node)
    }
}

/// Turns `value` into the JSON type of `current`.
fn coerce(current: &Value, value: Value) -> Result<Value, String> {
    let Value::String(text) = &value else {
        return Ok(value);
    };
    let text = text.trim();
    match current {
        Value::Bool(_) => text
            .parse::<bool>()
            .map(Value::Bool)
            .map_err(|_| format!("`{text}` is not true or false")),
        Value::Number(n) if n.is_f64() => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("`{text}` is not a number")),
        Value::Number(_) => {
            if let Ok(i) = text.parse::<i64>() {
                Ok(Value::from(i))
            } else {
                text.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| format!("`{text}` is not a number"))
            }
        }
        Value::Object(_) | Value::Array(_) => {
            serde_json::from_str(text).map_err(|e| format!("give JSON for this key: {e}"))
        }
        Value::Null | Value::String(_) => Ok(Value::String(text.to_string())),
    }
}

/// One `--vary key=v1,v2,...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vary {
    pub key: String,
    pub values: Vec<String>,
}

impl std::str::FromStr for Vary {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (key, values) = s.split_once('=').ok_or_else(|| {
            format!("`{s}`: write key=v1,v2,... (e.g. allocation.policy=skip_ahead,strict)")
        })?;
        let values: Vec<String> = values
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if key.trim().is_empty() || values.is_empty() {
            return Err(format!(
                "`{s}`: write key=v1,v2,... with at least one value"
            ));
        }
        Ok(Vary {
            key: key.trim().to_string(),
            values,
        })
    }
}

/// One variant of a scenario: its label and the settings that differ.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// e.g. `allocation.policy=strict`; `base` when nothing varies.
    pub label: String,
    /// The (key, value) pairs applied.
    pub settings: Vec<(String, String)>,
    pub scenario: Scenario,
}

/// The most variants one run may compare.
pub const MAX_VARIANTS: usize = 24;

/// Every combination of the varied values (the first `--vary` changes slowest).
pub fn variants(base: &Scenario, vary: &[Vary]) -> Result<Vec<Variant>, ScenarioError> {
    let mut out = vec![Variant {
        label: "base".into(),
        settings: Vec::new(),
        scenario: base.clone(),
    }];
    for v in vary {
        let mut next = Vec::with_capacity(out.len() * v.values.len());
        for variant in &out {
            for value in &v.values {
                let mut s = variant.scenario.clone();
                s.set(&v.key, value)?;
                let mut settings = variant.settings.clone();
                settings.push((v.key.clone(), value.clone()));
                let label = settings
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                next.push(Variant {
                    label,
                    settings,
                    scenario: s,
                });
            }
        }
        if next.len() > MAX_VARIANTS {
            return Err(key_err(
                v.key.clone(),
                format!(
                    "{} variants is more than {MAX_VARIANTS}: vary fewer values",
                    next.len()
                ),
            ));
        }
        out = next;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantflow_core::{Money, WaitlistPolicy};

    #[test]
    fn keys_reach_rules_population_and_run() {
        let mut s = Scenario::default_2020();
        s.set("allocation.policy", "strict").unwrap();
        assert_eq!(s.programme.allocation.policy.value, WaitlistPolicy::Strict);
        s.set("allocation.contingency", "25000").unwrap();
        assert_eq!(
            s.programme.allocation.contingency.value,
            Money::pounds(25_000)
        );
        s.set("coverage.plus_funded", "true").unwrap();
        assert!(s.programme.coverage.plus_funded.value);
        s.set("sectors.gp-practice.eligible", "true").unwrap();
        assert!(s.programme.sector("gp-practice").unwrap().1.eligible);
        s.set("population.applicants", "300").unwrap();
        assert_eq!(s.population.applicants, 300);
        s.set("population.behaviour.first_pass", "0.5").unwrap();
        assert_eq!(s.population.behaviour.first_pass, 0.5);
        s.set("programme.pot", "250000").unwrap();
        assert_eq!(s.programme.pot.value, Money::pounds(250_000));
        assert_eq!(
            s.set("population.behaviour.first_pass", "1.2")
                .unwrap_err()
                .key(),
            Some("population.behaviour.first_pass")
        );
        assert_eq!(
            s.set("allocation.colour", "red").unwrap_err().key(),
            Some("allocation.colour")
        );
        assert_eq!(
            s.set("allocation.contingency", "-5").unwrap_err().key(),
            Some("allocation.contingency")
        );
    }

    #[test]
    fn variants_are_the_product_of_the_varied_values() {
        let vary: Vec<Vary> = [
            "allocation.policy=skip_ahead,strict",
            "allocation.contingency=0,10000,25000",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let v = variants(&Scenario::default_2020(), &vary).unwrap();
        assert_eq!(v.len(), 6);
        assert_eq!(
            v[5].label,
            "allocation.policy=strict, allocation.contingency=25000"
        );
        assert!("nokey".parse::<Vary>().is_err());
    }
}
