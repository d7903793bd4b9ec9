//! `KEY=VALUE` overrides of a run config (`easel train --set model.gran.steps=5`, a sweep's grid):
//! the key is a dotted path into `config.toml`, the value a TOML value (a bare word is a string),
//! and the result is parsed and validated as a whole config, so a misspelt key, a value of the
//! wrong type and a value the Model panel would refuse are all errors that name the key.

use super::config::RunConfig;
use crate::error::{Error, Result};

/// One `KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// The dotted path (`train.lr_d`).
    pub key: String,
    /// The value as written (`1e-4`).
    pub value: String,
}

impl std::str::FromStr for Override {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let (key, value) = text.split_once('=').ok_or_else(|| {
            Error::config(
                text,
                "expected KEY=VALUE, e.g. model.gran.steps=5 or train.lr_d=1e-4",
            )
        })?;
        let key = key.trim();
        let well_formed = !key.is_empty()
            && key.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
        if !well_formed {
            return Err(Error::config(
                key,
                "expected a dotted key of config.toml, e.g. model.gran.steps",
            ));
        }
        Ok(Self {
            key: key.to_string(),
            value: value.trim().to_string(),
        })
    }
}

impl std::fmt::Display for Override {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// The TOML value `text` spells; a bare word (`wgpu`, a path) is a string.
fn parse_value(text: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

impl RunConfig {
    /// This config with `overrides` applied in order, parsed and validated whole.
    pub fn with_overrides(&self, overrides: &[Override]) -> Result<RunConfig> {
        let mut config = self.clone();
        for o in overrides {
            config = config.with_override(o)?;
        }
        Ok(config)
    }

    fn with_override(&self, o: &Override) -> Result<RunConfig> {
        let mut root = toml::Table::try_from(self).expect("a RunConfig always serialises to TOML");
        let parts: Vec<&str> = o.key.split('.').collect();
        let (last, path) = parts.split_last().expect("a key has at least one part");
        let mut table = &mut root;
        for (depth, part) in path.iter().enumerate() {
            let here = parts[..=depth].join(".");
            let known: Vec<String> = table.keys().cloned().collect();
            table = match table.get_mut(*part) {
                Some(toml::Value::Table(t)) => t,
                Some(_) => {
                    return Err(Error::config(
                        &o.key,
                        format!("{here} is a value, not a section"),
                    ));
                }
                None => {
                    return Err(Error::config(
                        &o.key,
                        format!(
                            "this config has no section {here} (it has {}){}",
                            known.join(", "),
                            if here.starts_with("model.") {
                                "; a run's model kind is chosen by its preset or config file"
                            } else {
                                ""
                            }
                        ),
                    ));
                }
            };
        }
        if matches!(table.get(*last), Some(toml::Value::Table(_))) {
            return Err(Error::config(&o.key, "is a section; set one of its fields"));
        }
        table.insert(last.to_string(), parse_value(&o.value));
        let text = toml::to_string(&root).expect("a TOML table always serialises");
        RunConfig::from_toml(&text, &format!("--set {o}")).map_err(|e| match e {
            Error::Config { .. } => e,
            Error::Format { found, .. } => Error::config(&o.key, found),
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::{ModelConfig, Preset};

    fn set(config: &RunConfig, text: &str) -> Result<RunConfig> {
        config.with_overrides(&[text.parse()?])
    }

    #[test]
    fn overrides_set_nested_fields_of_every_type() {
        let base = Preset::find("gran-shapes").unwrap().config;
        let c = set(&base, "model.gran.steps=5").unwrap();
        let ModelConfig::Gran(g) = &c.model else {
            panic!("gran-shapes is a GRAN")
        };
        assert_eq!(g.steps, 5);
        let c = base
            .with_overrides(&[
                "train.lr_d=1e-4".parse().unwrap(),
                "seed = 3".parse().unwrap(),
                "train.max_steps=30".parse().unwrap(),
                "backend=wgpu".parse().unwrap(),
            ])
            .unwrap();
        assert_eq!(c.train.lr_d, 1e-4);
        assert_eq!(c.seed, 3);
        assert_eq!(c.train.max_steps, Some(30));
        assert_eq!(c.backend, crate::backend::BackendKind::Wgpu);
        // An integer where a float is expected is the float.
        assert_eq!(
            set(&base, "train.minutes=2").unwrap().train.minutes,
            Some(2.0)
        );
        // Everything else is untouched.
        let mut expected = base.clone();
        expected.seed = 3;
        assert_eq!(set(&base, "seed=3").unwrap(), expected);
    }

    #[test]
    fn bad_overrides_are_errors_that_name_the_key() {
        let base = Preset::find("gran-shapes").unwrap().config;
        let err = |text: &str| set(&base, text).unwrap_err().to_string();
        let e = err("model.gran.stpes=5");
        assert!(
            e.contains("model.gran.stpes") && e.contains("unknown field"),
            "{e}"
        );
        let e = err("model.lapgan.levels=3");
        assert!(
            e.contains("no section model.lapgan") && e.contains("gran"),
            "{e}"
        );
        let e = err("model.gran.steps=five");
        assert!(e.contains("model.gran.steps"), "{e}");
        let e = err("model.gran.steps=0");
        assert!(e.contains("steps"), "{e}");
        let e = err("train.lr_d=-1");
        assert!(e.contains("lr_d"), "{e}");
        let e = err("train=3");
        assert!(e.contains("section"), "{e}");
        let e = err("seed.x=3");
        assert!(e.contains("not a section"), "{e}");
        for bad in ["seed", "=3", "a..b=1", "a b=1"] {
            assert!(bad.parse::<Override>().is_err(), "{bad}");
        }
    }
}
