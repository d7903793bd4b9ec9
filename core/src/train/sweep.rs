//! Sweeps: one run folder per point of a grid of config overrides (`seed=1,2` ×
//! `model.gran.steps=1,3`), under one folder with a `sweep.toml` that lists them. Each run is an
//! ordinary run folder: whoever trains it — this machine, a Slurm array task, a Kubernetes pod —
//! runs `easel resume` on it, which starts it when it has no checkpoint and continues it when it
//! has one, so a task run twice or requeued loses nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::RunConfig;
use super::overrides::Override;
use super::run_dir::RunDir;
use crate::error::{Error, Result};

/// The file that makes a folder a sweep.
pub const SWEEP_FILE: &str = "sweep.toml";

/// One axis of a grid: a key and the values it takes (`seed=1,2,3`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Axis {
    /// A dotted key of config.toml.
    pub key: String,
    /// Its values, as written.
    pub values: Vec<String>,
}

impl std::str::FromStr for Axis {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let o: Override = text.parse()?;
        let values: Vec<String> = o.value.split(',').map(|v| v.trim().to_string()).collect();
        if values.iter().any(String::is_empty) {
            return Err(Error::config(
                &o.key,
                format!("expected KEY=V1,V2,… with no empty value, found {text:?}"),
            ));
        }
        Ok(Self { key: o.key, values })
    }
}

/// One run of a sweep: its folder name (under the sweep) and the value of each axis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepRun {
    /// The folder's name, made of its values (`seed-1_steps-3`).
    pub name: String,
    /// Each axis' key and this run's value.
    pub values: BTreeMap<String, String>,
}

/// The Slurm array job a sweep was submitted as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlurmSubmission {
    /// The array job's id.
    pub job_id: String,
    /// The batch script submitted.
    pub script: PathBuf,
}

/// What `sweep.toml` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// What the runs' config came from, in words (`preset gran-shapes`).
    pub base: String,
    /// The grid, axis by axis, in the order given.
    pub grid: Vec<Axis>,
    /// Every run, in grid order (the last axis varies fastest).
    pub runs: Vec<SweepRun>,
    /// The Slurm submissions, oldest first.
    #[serde(default)]
    pub slurm: Vec<SlurmSubmission>,
}

/// A sweep folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// The folder.
    pub root: PathBuf,
    /// Its `sweep.toml`.
    pub spec: SweepSpec,
}

/// A value as it may stand in a folder name.
fn name_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The name of each axis in run folder names: its key's last part, or the whole key where two
/// axes share a last part.
fn short_names(grid: &[Axis]) -> Vec<String> {
    let last = |k: &str| k.rsplit('.').next().unwrap_or(k).to_string();
    grid.iter()
        .map(|a| {
            let short = last(&a.key);
            if grid.iter().filter(|b| last(&b.key) == short).count() > 1 {
                a.key.clone()
            } else {
                short
            }
        })
        .collect()
}

/// Every point of `grid` applied to `base`, validated, in grid order (the last axis varies
/// fastest), with its run's name and values.
pub fn plan(base: &RunConfig, grid: &[Axis]) -> Result<Vec<(SweepRun, RunConfig)>> {
    if grid.is_empty() {
        return Err(Error::config(
            "--grid",
            "a sweep needs at least one axis, e.g. --grid seed=1,2",
        ));
    }
    for (i, a) in grid.iter().enumerate() {
        if grid[..i].iter().any(|b| b.key == a.key) {
            return Err(Error::config(&a.key, "appears in two axes of the grid"));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = a.values.iter().find(|v| !seen.insert(*v)) {
            return Err(Error::config(
                &a.key,
                format!("the value {twice} is given twice"),
            ));
        }
    }
    let shorts = short_names(grid);
    let total: usize = grid.iter().map(|a| a.values.len()).product();
    let mut out = Vec::with_capacity(total);
    for index in 0..total {
        // Mixed radix, the last axis fastest.
        let mut rest = index;
        let mut picks = vec![0; grid.len()];
        for (i, a) in grid.iter().enumerate().rev() {
            picks[i] = rest % a.values.len();
            rest /= a.values.len();
        }
        let overrides: Vec<Override> = grid
            .iter()
            .zip(&picks)
            .map(|(a, &p)| Override {
                key: a.key.clone(),
                value: a.values[p].clone(),
            })
            .collect();
        let config = base.with_overrides(&overrides)?;
        let name = overrides
            .iter()
            .zip(&shorts)
            .map(|(o, short)| format!("{}-{}", name_part(short), name_part(&o.value)))
            .collect::<Vec<_>>()
            .join("_");
        let values = overrides.into_iter().map(|o| (o.key, o.value)).collect();
        out.push((SweepRun { name, values }, config));
    }
    Ok(out)
}

impl Sweep {
    /// Whether `path` is a sweep folder.
    pub fn is_sweep(path: &Path) -> bool {
        path.join(SWEEP_FILE).is_file()
    }

    /// Creates the sweep at `root`: every run folder with its config, then `sweep.toml`.
    /// Refused where `root` already holds a sweep or a run, or any run folder exists.
    /// `prepare` readies each run's config for its folder (a text model's encoder is resolved).
    pub fn create(
        root: &Path,
        base: &RunConfig,
        base_name: &str,
        grid: &[Axis],
        prepare: impl Fn(&mut RunConfig) -> Result<()>,
    ) -> Result<Sweep> {
        if Self::is_sweep(root) || RunDir::is_run(root) {
            return Err(Error::Run {
                path: root.to_path_buf(),
                reason: "already holds a sweep or a run; choose another folder".into(),
            });
        }
        let planned = plan(base, grid)?;
        for (run, _) in &planned {
            let dir = root.join(&run.name);
            if dir.exists() {
                return Err(Error::Run {
                    path: dir,
                    reason: "already exists; choose another folder for the sweep".into(),
                });
            }
        }
        let spec = SweepSpec {
            base: base_name.to_string(),
            grid: grid.to_vec(),
            runs: planned.iter().map(|(r, _)| r.clone()).collect(),
            slurm: Vec::new(),
        };
        for (run, mut config) in planned {
            prepare(&mut config)?;
            RunDir::new(root.join(&run.name)).create(&config)?;
        }
        let sweep = Sweep {
            root: root.to_path_buf(),
            spec,
        };
        sweep.save()?;
        Ok(sweep)
    }

    /// Reads the sweep at `root`.
    pub fn open(root: &Path) -> Result<Sweep> {
        let path = root.join(SWEEP_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let spec: SweepSpec = toml::from_str(&text).map_err(|e| {
            Error::format(
                &path,
                "a sweep (base, grid, runs)",
                e.message().trim().replace('\n', " "),
            )
        })?;
        Ok(Sweep {
            root: root.to_path_buf(),
            spec,
        })
    }

    /// Writes `sweep.toml` (atomically).
    pub fn save(&self) -> Result<()> {
        let text = toml::to_string_pretty(&self.spec).expect("a sweep always serialises");
        crate::sealed::write_atomically(&self.root.join(SWEEP_FILE), text.as_bytes())
    }

    /// The run folders, in grid order.
    pub fn run_dirs(&self) -> Vec<PathBuf> {
        self.spec
            .runs
            .iter()
            .map(|r| self.root.join(&r.name))
            .collect()
    }

    /// The run of folder `dir`, when it is one of this sweep's.
    pub fn run_of(&self, dir: &Path) -> Option<&SweepRun> {
        self.spec
            .runs
            .iter()
            .find(|r| self.root.join(&r.name) == dir)
    }

    /// A run's configuration without its seed, in words (`steps=3`): runs that differ only in
    /// their seed share it, so an arena can group them.
    pub fn configuration(run: &SweepRun) -> String {
        let parts: Vec<String> = run
            .values
            .iter()
            .filter(|(k, _)| k.as_str() != "seed")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if parts.is_empty() {
            "the base config".into()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::{ModelConfig, Preset};

    fn grid(axes: &[&str]) -> Vec<Axis> {
        axes.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn a_grid_makes_one_named_run_per_point() {
        let base = Preset::find("gran-shapes").unwrap().config;
        let planned = plan(&base, &grid(&["seed=1,2", "model.gran.steps=1,3"])).unwrap();
        let names: Vec<&str> = planned.iter().map(|(r, _)| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "seed-1_steps-1",
                "seed-1_steps-3",
                "seed-2_steps-1",
                "seed-2_steps-3"
            ]
        );
        let (run, config) = &planned[3];
        assert_eq!(config.seed, 2);
        let ModelConfig::Gran(g) = &config.model else {
            panic!("a GRAN")
        };
        assert_eq!(g.steps, 3);
        assert_eq!(Sweep::configuration(run), "model.gran.steps=3");
        assert_eq!(
            Sweep::configuration(&planned[1].0),
            Sweep::configuration(&planned[3].0),
            "seeds of one configuration share it"
        );
        let planned = plan(&base, &grid(&["train.lr_d=1e-4,2e-4"])).unwrap();
        assert_eq!(planned[0].0.name, "lr_d-1e-4");
    }

    #[test]
    fn bad_grids_are_refused_before_anything_is_written() {
        let base = Preset::find("gran-shapes").unwrap().config;
        let e = |axes: &[&str]| plan(&base, &grid(axes)).unwrap_err().to_string();
        assert!(e(&["seed=1,1"]).contains("twice"));
        assert!(e(&["seed=1", "seed=2"]).contains("two axes"));
        assert!(e(&["model.gran.steps=1,0"]).contains("steps"));
        assert!(plan(&base, &[]).unwrap_err().to_string().contains("--grid"));
        assert!("seed=1,,2".parse::<Axis>().is_err());
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("sweep");
        assert!(
            Sweep::create(&root, &base, "x", &grid(&["model.gran.steps=2,0"]), |_| Ok(
                ()
            ))
            .is_err()
        );
        assert!(!root.join("steps-2").exists(), "nothing written");
    }

    #[test]
    fn a_sweep_is_written_read_back_and_refuses_to_be_made_twice() {
        let base = Preset::find("gran-shapes").unwrap().config;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("sweep");
        let g = grid(&["seed=1,2", "model.gran.steps=1,3"]);
        let sweep = Sweep::create(&root, &base, "preset gran-shapes", &g, |_| Ok(())).unwrap();
        assert_eq!(Sweep::open(&root).unwrap(), sweep);
        assert_eq!(sweep.run_dirs().len(), 4);
        for dir in sweep.run_dirs() {
            let config = RunDir::new(&dir).load_config().unwrap();
            let run = sweep.run_of(&dir).unwrap();
            assert_eq!(config.seed.to_string(), run.values["seed"]);
        }
        let again = Sweep::create(&root, &base, "preset gran-shapes", &g, |_| Ok(()));
        assert!(again.unwrap_err().to_string().contains("already holds"));
    }
}
