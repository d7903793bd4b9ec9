//! Training end to end: which network each update touches, checkpoints, exact resume, the job's
//! command/event protocol, and a short real training on Fashion-MNIST.

use std::collections::BTreeMap;
use std::sync::mpsc;

use easel_core::train::{
    Command, Divergence, Event, JobStart, StepKind, StopReason, Trainer, TrainingJob,
};
use easel_tests::tiny_config;
use easel_tests::{changed, run_steps};

fn learnable(names: Vec<String>) -> Vec<String> {
    names
        .into_iter()
        .filter(|k| !k.contains("running_"))
        .collect()
}

#[test]
fn a_d_step_changes_only_d_and_a_g_step_only_g() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Trainer::create(dir.path().join("run"), tiny_config(2, 1)).unwrap();
    let (g0, d0) = (
        t.networks().generator_parameters(),
        t.networks().critic_parameters(),
    );

    t.step(StepKind::DiscriminatorOnly).unwrap();
    let (g1, d1) = (
        t.networks().generator_parameters(),
        t.networks().critic_parameters(),
    );
    assert!(
        learnable(changed(&g0, &g1)).is_empty(),
        "D step moved G: {:?}",
        changed(&g0, &g1)
    );
    assert!(!changed(&d0, &d1).is_empty(), "D step must move D");

    t.step(StepKind::GeneratorOnly).unwrap();
    let (g2, d2) = (
        t.networks().generator_parameters(),
        t.networks().critic_parameters(),
    );
    // D's BatchNorm running statistics follow every forward pass; its learnable weights must not move.
    assert!(
        learnable(changed(&d1, &d2)).is_empty(),
        "G step moved D: {:?}",
        changed(&d1, &d2)
    );
    assert!(
        !learnable(changed(&g1, &g2)).is_empty(),
        "G step must move G"
    );
    assert_eq!(t.state().d_updates, 1);
    assert_eq!(t.state().g_updates, 1);
}

#[test]
fn resume_continues_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let n = 6; // spans an epoch boundary: 64 images / batch 16 = 4 steps per epoch

    let mut straight = Trainer::create(dir.path().join("straight"), tiny_config(3, 7)).unwrap();
    run_steps(&mut straight, 2 * n);

    let mut first = Trainer::create(dir.path().join("split"), tiny_config(3, 7)).unwrap();
    let events = run_steps(&mut first, n);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Checkpoint { step, .. } if *step == n))
    );
    drop(first);
    // Without its sample grids (copied without them, or deleted) the run resumes all the same.
    std::fs::remove_dir_all(dir.path().join("split/samples")).unwrap();
    let mut second = Trainer::resume(dir.path().join("split"), None).unwrap();
    assert_eq!(second.state().step, n);
    run_steps(&mut second, 2 * n);

    let mut state = second.state().clone();
    state.elapsed_seconds = straight.state().elapsed_seconds; // wall time, not training state
    assert_eq!(&state, straight.state(), "training state after 2N steps");
    let (a, b) = (
        straight.networks().generator_parameters(),
        second.networks().generator_parameters(),
    );
    assert_eq!(a, b, "generator weights differ: {:?}", changed(&a, &b));
    let (a, b) = (
        straight.networks().critic_parameters(),
        second.networks().critic_parameters(),
    );
    assert_eq!(a, b, "discriminator weights differ: {:?}", changed(&a, &b));
}

#[test]
fn the_time_budget_counts_grids_and_checkpoints_but_not_pauses() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = tiny_config(1, 2);
    config.train.sample_every = 1;
    config.train.checkpoint_every = 1;
    let mut t = Trainer::create(dir.path().join("run"), config).unwrap();
    t.set_schedule(Some(3), None, None).unwrap();
    let (tx, rx) = mpsc::channel();
    tx.send(Command::Pause).unwrap();
    let pause = std::time::Duration::from_millis(600);
    let resumer = std::thread::spawn(move || {
        std::thread::sleep(pause);
        tx.send(Command::Resume).unwrap();
        tx
    });
    let wall = std::time::Instant::now();
    let reason = t.run(&rx, &mut |_| {}).unwrap();
    let wall = wall.elapsed().as_secs_f64();
    drop(resumer.join().unwrap());
    assert_eq!(reason, StopReason::MaxSteps);
    assert_eq!(t.stop_reason(), Some(StopReason::MaxSteps));
    let (worked, stepping) = (t.session_seconds(), t.state().elapsed_seconds);
    // Every step wrote a grid (a PNG) and a checkpoint: work the budget counts beyond the steps.
    assert!(worked > stepping, "session {worked} s, steps {stepping} s");
    // The pause (0.6 s of the wall clock) is not.
    assert!(
        worked + 0.5 < wall,
        "session {worked} s of {wall} s wall with a 0.6 s pause"
    );
}

#[test]
fn a_new_run_refuses_an_existing_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    drop(Trainer::create(&run, tiny_config(1, 1)).unwrap());
    let e = Trainer::create(&run, tiny_config(1, 1))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("already holds a run"), "{e}");
    let e = Trainer::resume(dir.path().join("nothing"), None)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("config.toml"), "{e}");
    // Stopped before its first checkpoint: it starts again from step 0.
    assert_eq!(Trainer::resume(&run, None).unwrap().state().step, 0);
}

#[test]
fn the_job_answers_commands_and_reports_events() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let job = TrainingJob::spawn(
        JobStart::New {
            run_dir: run.clone(),
            config: Box::new(tiny_config(2, 3)),
        },
        || {},
    )
    .unwrap();
    assert!(job.send(Command::Pause));
    let mut paused_at = None;
    while paused_at.is_none() {
        match job.next_event().expect("the job reports until it ends") {
            Event::Paused { step } => paused_at = Some(step),
            Event::Error { message, .. } => panic!("{message}"),
            _ => {}
        }
    }
    assert!(job.send(Command::StepD));
    assert!(job.send(Command::StepG));
    assert!(job.send(Command::SaveNow));
    assert!(job.send(Command::Stop));
    let mut kinds = Vec::new();
    let mut checkpoints = 0;
    let mut finished = None;
    while let Some(event) = job.next_event() {
        match event {
            Event::Step(s) => kinds.push(s.kind),
            Event::Checkpoint { .. } => checkpoints += 1,
            Event::Finished { reason, step } => finished = Some((reason, step)),
            Event::Error { message, .. } => panic!("{message}"),
            _ => {}
        }
    }
    assert_eq!(
        kinds,
        vec![StepKind::DiscriminatorOnly, StepKind::GeneratorOnly]
    );
    assert!(checkpoints >= 1);
    assert_eq!(
        finished,
        Some((StopReason::Requested, paused_at.unwrap() + 2))
    );
    job.join();
    let logged = easel_core::train::RunDir::new(&run).read_events().unwrap();
    assert!(
        logged.iter().any(|e| matches!(e, Event::Finished { .. })),
        "events.jsonl records the end"
    );
}

#[test]
fn a_bad_run_reports_an_error_event() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = tiny_config(1, 1);
    config.data = easel_core::data::DataSource::Idx {
        path: dir.path().join("missing"),
    };
    let job = TrainingJob::spawn(
        JobStart::New {
            run_dir: dir.path().join("run"),
            config: Box::new(config),
        },
        || {},
    )
    .unwrap();
    let events: Vec<Event> = std::iter::from_fn(|| job.next_event()).collect();
    assert!(
        matches!(&events[..], [Event::Preparing { .. }, Event::Error { message, .. }]
            if message.contains("missing")),
        "{events:?}"
    );
}

#[test]
fn a_short_training_on_fashion_mnist_moves_d_of_g_and_draws_varied_images() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = easel_core::train::Preset::find("gran-fmnist")
        .unwrap()
        .config;
    config.train.data_limit = Some(640);
    config.train.batch_size = 32;
    config.train.sample_count = 16;
    config.train.sample_every = 1000;
    config.train.checkpoint_every = 1000;
    let mut t = Trainer::create(dir.path().join("run"), config)
        .expect("Fashion-MNIST is installed (.ci/run installs it)");
    assert_eq!(t.data().name, "Fashion-MNIST");
    let events = run_steps(&mut t, 20);
    let d_fake: Vec<f32> = events
        .iter()
        .filter_map(|e| match e {
            Event::Step(s) => s.d_fake,
            _ => None,
        })
        .collect();
    assert_eq!(d_fake.len(), 20);
    let late = d_fake[15..].iter().sum::<f32>() / 5.0;
    assert!(
        (late - d_fake[0]).abs() > 0.05,
        "D(G(z)) did not move: {d_fake:?}"
    );

    let samples = t.fixed_samples();
    let n = samples.image_len();
    let per_pixel_std: f32 = (0..n)
        .map(|p| {
            let v: Vec<f32> = (0..samples.count)
                .map(|i| samples.pixels[i * n + p])
                .collect();
            let mean = v.iter().sum::<f32>() / v.len() as f32;
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / v.len() as f32).sqrt()
        })
        .sum::<f32>()
        / n as f32;
    assert!(
        per_pixel_std > 0.01,
        "samples are (nearly) constant: std {per_pixel_std}"
    );
    let within: f32 = {
        let first = &samples.pixels[..n];
        let mean = first.iter().sum::<f32>() / n as f32;
        (first.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n as f32).sqrt()
    };
    assert!(within > 0.02, "a sample is a flat image: std {within}");
}

#[test]
fn a_nan_pauses_training_and_rolling_back_resumes_the_last_good_checkpoint_at_lower_rates() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = tiny_config(2, 5);
    config.train.checkpoint_every = 3;
    let run = dir.path().join("run");
    let mut t = Trainer::create(&run, config.clone()).unwrap();
    run_steps(&mut t, 4); // checkpoints at 3 and 4

    // A poisoned weight: the next step diverges, training pauses; rolled back, it goes on.
    t.set_schedule(Some(7), None, None).unwrap();
    let (tx, rx) = mpsc::channel();
    for c in [
        Command::PoisonWeight,
        Command::SaveNow, // refused while diverged: the last good checkpoint stays the newest
        Command::RollBack { lr_scale: 0.5 },
        Command::Resume,
    ] {
        tx.send(c).unwrap();
    }
    let mut events = Vec::new();
    let reason = t.run(&rx, &mut |e| events.push(e)).unwrap();
    assert_eq!(reason, StopReason::MaxSteps);
    let at = |f: &dyn Fn(&Event) -> bool| events.iter().position(f).expect("event");
    let diverged = at(&|e| {
        matches!(e, Event::Diverged(Divergence { step: 5, what, value, last_good: Some(4) })
            if what == "D loss" && value.is_nan())
    });
    let paused = at(&|e| matches!(e, Event::Paused { step: 4 }));
    let rolled = at(&|e| {
        matches!(e, Event::RolledBack { from_step: 4, to_step: 4, learning_rates }
            if *learning_rates == (1e-4, 1e-4))
    });
    assert!(diverged < paused && paused < rolled, "{events:?}");
    let saved: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Checkpoint { step, .. } => Some(*step),
            _ => None,
        })
        .collect();
    assert_eq!(
        saved,
        [6, 7],
        "nothing saved between the divergence and the roll back"
    );
    for e in &events[rolled..] {
        if let Event::Step(s) = e {
            assert_eq!(s.learning_rates, (1e-4, 1e-4));
        }
    }
    let on_disk = easel_core::train::RunDir::new(&run).load_config().unwrap();
    assert_eq!((on_disk.train.lr_d, on_disk.train.lr_g), (1e-4, 1e-4));

    // The same as resuming the step-4 checkpoint with half the rates by hand.
    let twin = dir.path().join("twin");
    let mut first = Trainer::create(&twin, config).unwrap();
    run_steps(&mut first, 4);
    drop(first);
    let mut second = Trainer::resume(&twin, None).unwrap();
    second.scale_learning_rates(0.5).unwrap();
    run_steps(&mut second, 7);
    assert_eq!(
        t.networks().critic_parameters(),
        second.networks().critic_parameters()
    );
    assert_eq!(
        t.networks().generator_parameters(),
        second.networks().generator_parameters()
    );
}

#[test]
fn a_run_stopped_before_its_first_checkpoint_starts_again_from_step_zero() {
    let dir = tempfile::tempdir().unwrap();
    drop(Trainer::create(dir.path().join("early"), tiny_config(2, 9)).unwrap());
    let mut resumed = Trainer::resume(dir.path().join("early"), None).unwrap();
    assert_eq!(resumed.state().step, 0);
    let events = run_steps(&mut resumed, 5);
    let Event::Started { warnings, .. } = &events[0] else {
        panic!("{:?}", events[0])
    };
    assert!(
        warnings[0].contains("before its first checkpoint"),
        "{warnings:?}"
    );
    let mut straight = Trainer::create(dir.path().join("straight"), tiny_config(2, 9)).unwrap();
    run_steps(&mut straight, 5);
    assert_eq!(
        straight.networks().generator_parameters(),
        resumed.networks().generator_parameters()
    );

    // Checkpoints that are all damaged are refused, not silently restarted.
    for (_, path) in
        easel_core::train::checkpoint::list(&dir.path().join("early/checkpoints")).unwrap()
    {
        std::fs::write(&path, b"damaged").unwrap();
    }
    let e = Trainer::resume(dir.path().join("early"), None)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("no intact checkpoint"), "{e}");
}

/// Runs written by Easel's main of 2026-12-07 (`6dfb2b0`, before the model redesign of issue
/// 25), kept in `tests/fixtures/runs-2026-12-07/`: each is a run stopped at step 4, with its
/// checkpoint, and `expected.toml`, digests of its networks' weights at step 4 and, trained on
/// to step 6 by that main, at step 6. Loading must give the first; resuming to step 6 must give
/// the second bit for bit (which also checks both Adam states were restored).
///
/// `UPDATE_FIXTURES=1` writes them again — only when the checkpoint format changes on purpose,
/// never to make a redesign pass. The continuation is bit-exact on the CPU the fixtures were
/// written on (2-core AMD EPYC, Zen 4 with AVX-512, as CI's machines); gemm picks its kernels by
/// CPU, so another CPU family may round differently (the step-4 digests hold anywhere).
#[test]
fn runs_written_before_the_model_redesign_resume_bit_exactly() {
    use easel_core::backend::BackendKind;
    use easel_core::model::stackgan::Version;
    use easel_core::sample::LoadedModel;
    use easel_core::train::{ModelConfig, RunConfig};
    use easel_tests::{tiny_lapgan_config, tiny_stackgan_config};

    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/runs-2026-12-07");
    let builtin = |mut c: RunConfig| {
        if let ModelConfig::StackGan(s) = &mut c.model {
            s.encoder = easel_core::text::EncoderChoice::Builtin;
            s.text_dim = easel_core::text::builtin::WIDTH;
        }
        c
    };
    let runs = [
        ("gran", tiny_config(3, 7)),
        ("lapgan", tiny_lapgan_config(4, 3)),
        (
            "stackgan-v1",
            builtin(tiny_stackgan_config(Version::V1, true, 2, 2)),
        ),
        (
            "stackgan-v2",
            tiny_stackgan_config(Version::V2, false, 0, 3),
        ),
    ];
    let digests = |run: &std::path::Path| {
        let m = LoadedModel::load(run, None, BackendKind::Cpu).unwrap();
        format!(
            "generator = \"{}\"\ndiscriminator = \"{}\"\n",
            weights_digest(&m.networks.generator_parameters()),
            weights_digest(&m.networks.critic_parameters())
        )
    };
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        for (name, config) in runs.clone() {
            let run = fixtures.join(name);
            let _ = std::fs::remove_dir_all(&run);
            let mut t = Trainer::create(&run, config.clone()).unwrap();
            run_steps(&mut t, 4);
            drop(t);
            std::fs::remove_dir_all(run.join("samples")).unwrap();
            let at_4 = digests(&run);
            let on = tempfile::tempdir().unwrap();
            copy_dir(&run, on.path());
            let mut t = Trainer::resume(on.path(), None).unwrap();
            run_steps(&mut t, 6);
            drop(t);
            let at_6 = digests(on.path());
            std::fs::write(
                run.join("expected.toml"),
                format!("[step-4]\n{at_4}\n[step-6]\n{at_6}"),
            )
            .unwrap();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, _) in runs {
        let fixture = fixtures.join(name);
        let expected = std::fs::read_to_string(fixture.join("expected.toml")).unwrap();
        let (want_4, want_6) = expected
            .trim_start_matches("[step-4]\n")
            .split_once("\n[step-6]\n")
            .unwrap();
        assert_eq!(
            digests(&fixture),
            want_4,
            "{name}: weights loaded at step 4"
        );
        let run = dir.path().join(name);
        copy_dir(&fixture, &run);
        let mut t = Trainer::resume(&run, None).unwrap();
        assert_eq!(
            t.state().step,
            4,
            "{name} resumes from its step-4 checkpoint"
        );
        run_steps(&mut t, 6);
        assert_eq!(t.state().step, 6);
        drop(t);
        assert_eq!(digests(&run), want_6, "{name}: weights resumed to step 6");
    }
}

/// A digest of a network's weights that ignores their names (which a redesign may change):
/// each tensor's bits hashed (FNV-1a, 64 bits), the hashes sorted and hashed again.
fn weights_digest(weights: &BTreeMap<String, Vec<f32>>) -> String {
    fn fnv(bytes: impl IntoIterator<Item = u8>) -> u64 {
        bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }
    let mut each: Vec<u64> = weights
        .values()
        .map(|v| fnv(v.iter().flat_map(|x| x.to_bits().to_le_bytes())))
        .collect();
    each.sort_unstable();
    format!(
        "{:016x}:{}",
        fnv(each.iter().flat_map(|h| h.to_le_bytes())),
        weights.len()
    )
}

/// Copies a folder tree.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A stop asked through the run folder (what `easel stop` and other machines sharing the folder
/// write) makes a training process save a checkpoint and stop, running or paused, and is taken
/// when seen; a request left from an earlier session does not stop the next.
#[test]
fn a_stop_request_in_the_run_folder_saves_and_stops_the_trainer() {
    use easel_core::train::RunDir;
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut config = tiny_config(1, 3);
    config.train.max_steps = Some(1_000_000);
    let job = TrainingJob::spawn(
        JobStart::New {
            run_dir: run.clone(),
            config: Box::new(config),
        },
        || {},
    )
    .unwrap();
    let folder = RunDir::new(&run);
    let mut stepped = 0;
    while stepped < 3 {
        if let Some(Event::Step(s)) = job.next_event() {
            stepped = s.step;
        }
    }
    folder.request_stop().unwrap();
    let mut finished = None;
    while let Some(event) = job.next_event() {
        if let Event::Finished { step, reason } = event {
            finished = Some((step, reason));
        }
    }
    let (step, reason) = finished.expect("the job finished");
    assert_eq!(reason, StopReason::Requested);
    assert!(!folder.stop_request().exists(), "the request is taken");
    let newest = easel_core::train::checkpoint::list(&folder.checkpoints()).unwrap();
    assert_eq!(
        newest.last().map(|(s, _)| *s),
        Some(step),
        "saved at the step it stopped"
    );

    // A request left behind, then a resumed session: it is cleared, not obeyed; paused, a new
    // request stops it.
    folder.request_stop().unwrap();
    let job = TrainingJob::spawn(
        JobStart::Resume {
            run_dir: run.clone(),
            backend: None,
        },
        || {},
    )
    .unwrap();
    let mut resumed_steps = 0;
    while resumed_steps < 2 {
        if let Some(Event::Step(_)) = job.next_event() {
            resumed_steps += 1;
        }
    }
    job.send(Command::Pause);
    while !matches!(job.next_event(), Some(Event::Paused { .. })) {}
    folder.request_stop().unwrap();
    let reason = std::iter::from_fn(|| job.next_event())
        .find_map(|e| match e {
            Event::Finished { reason, .. } => Some(reason),
            _ => None,
        })
        .expect("the paused job finished");
    assert_eq!(reason, StopReason::Requested);
    assert!(!folder.stop_request().exists());
}
