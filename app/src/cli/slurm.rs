//! A sweep as one Slurm array job: a batch script whose task `i` runs `easel sweep task DIR i`
//! (resume when the run has a checkpoint, start when it has none, nothing when it has finished),
//! submitted with `sbatch`. Requeue-safe: Slurm warns a task with SIGTERM before its time limit
//! (`--signal`), `easel` saves a checkpoint and exits with 143, and the script requeues the task,
//! which resumes from that checkpoint. `scancel --signal=TERM JOB_TASK.0` does the same by hand
//! (the step, `.0`: Slurm 22.05 to 24.05 answer a signal to a task of an array with pending tasks
//! "Job can not be altered now" and scancel sends it again and again for a minute and a half).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use easel_core::train::sweep::{SlurmSubmission, Sweep};

use super::train::interrupted_status;

/// Seconds before its time limit a task is told to save.
const WARN_SECONDS: u32 = 120;

/// `sbatch` options a user chose.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time`, HH:MM.
    pub time: Option<String>,
    /// `--gpus` per task.
    pub gpus: Option<u32>,
    /// `--cpus-per-task`.
    pub cpus_per_task: Option<u32>,
    /// The array's `%N`: tasks at once.
    pub max_running: Option<usize>,
}

/// `text` quoted for a POSIX shell.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Checks `--time` is HH:MM (Slurm reads MM:SS from "5:00", so minutes alone are refused).
fn check_time(time: &str) -> Result<String> {
    let parts: Vec<&str> = time.split(':').collect();
    let valid = parts.len() == 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && parts[1].parse::<u32>().is_ok_and(|m| m < 60);
    if !valid {
        bail!("--time: expected HH:MM (e.g. 02:30), found {time:?}");
    }
    Ok(format!("{}:{}:00", parts[0], parts[1]))
}

/// The batch script of an array job over `tasks` of `sweep`.
pub fn script(sweep: &Sweep, tasks: &[usize], easel: &Path, options: &Options) -> Result<String> {
    let root = std::path::absolute(&sweep.root)?;
    let log_dir = root.join("slurm");
    let name = root
        .file_name()
        .map_or_else(|| "sweep".into(), |n| n.to_string_lossy().into_owned());
    let mut array = tasks
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",");
    if let Some(n) = options.max_running {
        write!(array, "%{n}")?;
    }
    let mut s = String::from("#!/bin/bash\n");
    writeln!(
        s,
        "# Written by `easel sweep --slurm`: task i trains run i of {}.",
        root.display()
    )?;
    writeln!(s, "#SBATCH --job-name={}", quote(&format!("easel-{name}")))?;
    writeln!(s, "#SBATCH --array={array}")?;
    writeln!(
        s,
        "#SBATCH --output={}",
        quote(&log_dir.join("%A_%a.out").to_string_lossy())
    )?;
    writeln!(s, "#SBATCH --open-mode=append")?;
    writeln!(s, "#SBATCH --requeue")?;
    writeln!(s, "#SBATCH --signal=TERM@{WARN_SECONDS}")?;
    writeln!(s, "#SBATCH --ntasks=1")?;
    if let Some(p) = &options.partition {
        writeln!(s, "#SBATCH --partition={}", quote(p))?;
    }
    if let Some(t) = &options.time {
        writeln!(s, "#SBATCH --time={}", check_time(t)?)?;
    }
    if let Some(g) = options.gpus {
        writeln!(s, "#SBATCH --gpus={g}")?;
    }
    if let Some(c) = options.cpus_per_task {
        writeln!(s, "#SBATCH --cpus-per-task={c}")?;
    }
    let interrupted = interrupted_status(15);
    write!(
        s,
        r#"
echo "task $SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID on $(hostname), start $((${{SLURM_RESTART_COUNT:-0}} + 1))"
# srun makes easel a job step (step 0), so both the warning before the time limit (--signal)
# and `scancel --signal=TERM JOB_TASK.0` reach it: it saves a checkpoint and exits {interrupted}.
srun --ntasks=1 --cpus-per-task="${{SLURM_CPUS_PER_TASK:-1}}" {easel} sweep task {root} "$SLURM_ARRAY_TASK_ID"
status=$?
if [ "$status" -eq {interrupted} ]; then
    echo "interrupted with a checkpoint saved: requeued"
    scontrol requeue "${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}"
fi
exit "$status"
"#,
        easel = quote(&easel.to_string_lossy()),
        root = quote(&root.to_string_lossy()),
    )?;
    Ok(s)
}

/// Writes the batch script for the sweep's unfinished runs and submits it with `sbatch`.
pub fn submit(sweep: &Sweep, options: &Options) -> Result<()> {
    let tasks: Vec<usize> = sweep
        .run_dirs()
        .iter()
        .enumerate()
        .filter(|(_, dir)| super::sweep::unfinished(dir))
        .map(|(i, _)| i)
        .collect();
    if tasks.is_empty() {
        println!("every run of the sweep has finished; nothing to submit");
        return Ok(());
    }
    let easel = std::env::current_exe().context("finding the easel binary")?;
    let text = script(sweep, &tasks, &easel, options)?;
    let dir = sweep.root.join("slurm");
    std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
    let path =
        std::path::absolute(dir.join(format!("sweep-{}.sbatch", sweep.spec.slurm.len() + 1)))?;
    std::fs::write(&path, text).with_context(|| format!("{}", path.display()))?;
    let out = std::process::Command::new("sbatch")
        .arg("--parsable")
        .arg(&path)
        .output()
        .map_err(|e| anyhow::anyhow!("sbatch could not be run ({e}): is Slurm installed here?"))?;
    if !out.status.success() {
        bail!(
            "sbatch refused {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let job_id = stdout
        .trim()
        .split(';')
        .next()
        .filter(|id| !id.is_empty())
        .with_context(|| format!("sbatch said no job id: {stdout:?}"))?
        .to_string();
    let mut sweep = sweep.clone();
    sweep.spec.slurm.push(SlurmSubmission {
        job_id: job_id.clone(),
        script: path,
    });
    sweep.save()?;
    println!(
        "submitted Slurm array job {job_id} ({} tasks); see where they stand with: easel sweep status {}",
        tasks.len(),
        sweep.root.display()
    );
    Ok(())
}

/// Each array task's Slurm state (`PENDING`, `RUNNING`, …) while the job is queued or running,
/// by task index; empty once it has left the queue, or where `squeue` is missing.
pub fn task_states(job_id: &str) -> HashMap<usize, String> {
    let Ok(out) = std::process::Command::new("squeue")
        .args(["-h", "-r", "-j", job_id, "-o", "%K %T"])
        .output()
    else {
        return HashMap::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let (task, state) = line.trim().split_once(' ')?;
            Some((task.parse().ok()?, state.trim().to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_hours_and_minutes() {
        assert_eq!(check_time("02:30").unwrap(), "02:30:00");
        assert_eq!(check_time("100:05").unwrap(), "100:05:00");
        for bad in ["5", "1:60", "a:10", ":10", "1:2:3"] {
            assert!(check_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quoting_survives_quotes_and_spaces() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
