//! Training curves in bounded memory: every step's losses and D outputs summarised as the means of
//! equal runs of consecutive steps. A run of a million steps and one of a hundred both plot from at
//! most [`Curves::MAX_POINTS`] points, each the mean over its window, so a long session keeps the
//! studio's memory and frame time flat while the plot still shows the whole run.

use std::collections::VecDeque;

use super::StepStats;

/// One of the figures a step records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// D's loss.
    DLoss,
    /// G's loss.
    GLoss,
    /// Mean D(x) on the real batch.
    DReal,
    /// Mean D(G(z)).
    DFake,
}

impl Metric {
    /// Every figure, in the order [`Bucket`] stores them.
    pub const ALL: [Metric; 4] = [Metric::DLoss, Metric::GLoss, Metric::DReal, Metric::DFake];

    fn of(self, s: &StepStats) -> Option<f32> {
        match self {
            Metric::DLoss => s.d_loss,
            Metric::GLoss => s.g_loss,
            Metric::DReal => s.d_real,
            Metric::DFake => s.d_fake,
        }
    }
}

/// Consecutive steps summarised: their span and, per figure, the sum and how many steps had it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bucket {
    first_step: u64,
    last_step: u64,
    steps: u64,
    sums: [f64; 4],
    counts: [u32; 4],
}

impl Bucket {
    fn new(s: &StepStats) -> Self {
        let mut b = Bucket {
            first_step: s.step,
            last_step: s.step,
            steps: 0,
            sums: [0.0; 4],
            counts: [0; 4],
        };
        b.add(s);
        b
    }

    fn add(&mut self, s: &StepStats) {
        self.last_step = s.step;
        self.steps += 1;
        for (i, m) in Metric::ALL.iter().enumerate() {
            if let Some(v) = m.of(s).filter(|v| v.is_finite()) {
                self.sums[i] += f64::from(v);
                self.counts[i] += 1;
            }
        }
    }

    fn merge(self, next: Bucket) -> Bucket {
        let mut b = self;
        b.last_step = next.last_step;
        b.steps += next.steps;
        for i in 0..4 {
            b.sums[i] += next.sums[i];
            b.counts[i] += next.counts[i];
        }
        b
    }
}

/// A run's curves: window means over every step pushed, plus the newest steps as they were.
#[derive(Debug, Clone)]
pub struct Curves {
    /// Steps per window (a power of two; doubles whenever the windows would pass the bound).
    width: u64,
    buckets: Vec<Bucket>,
    recent: VecDeque<StepStats>,
    steps: u64,
}

impl Default for Curves {
    fn default() -> Self {
        Self {
            width: 1,
            buckets: Vec::new(),
            recent: VecDeque::new(),
            steps: 0,
        }
    }
}

impl Curves {
    /// The most windows kept (and points a plot draws per curve).
    pub const MAX_POINTS: usize = 2048;
    /// The newest steps kept whole.
    pub const RECENT: usize = 256;

    /// Adds a step.
    pub fn push(&mut self, stats: StepStats) {
        match self.buckets.last_mut() {
            Some(b) if b.steps < self.width => b.add(&stats),
            _ => self.buckets.push(Bucket::new(&stats)),
        }
        if self.buckets.len() > Self::MAX_POINTS {
            self.width *= 2;
            let old = std::mem::take(&mut self.buckets);
            self.buckets = old
                .chunks(2)
                .map(|p| p.iter().copied().reduce(Bucket::merge).expect("chunk"))
                .collect();
        }
        if self.recent.len() == Self::RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(stats);
        self.steps += 1;
    }

    /// Forgets every step after `step` (a resume or roll-back takes them again). A window that
    /// straddles `step` goes whole: its later steps cannot be taken out of its means.
    pub fn truncate_after(&mut self, step: u64) {
        self.buckets.retain(|b| b.last_step <= step);
        self.recent.retain(|s| s.step <= step);
        self.steps = self.buckets.iter().map(|b| b.steps).sum();
    }

    /// The newest step.
    pub fn latest(&self) -> Option<&StepStats> {
        self.recent.back()
    }

    /// The newest steps as recorded, oldest first (at most [`Curves::RECENT`]).
    pub fn recent(&self) -> impl DoubleEndedIterator<Item = &StepStats> {
        self.recent.iter()
    }

    /// Steps summarised.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Windows kept (the points a curve has at most).
    pub fn windows(&self) -> usize {
        self.buckets.len()
    }

    /// Steps per window now.
    pub fn window_width(&self) -> u64 {
        self.width
    }

    /// `(step, mean)` per window that has the figure; the step is the window's middle.
    pub fn points(&self, metric: Metric) -> Vec<[f64; 2]> {
        let i = metric as usize;
        self.buckets
            .iter()
            .filter(|b| b.counts[i] > 0)
            .map(|b| {
                [
                    (b.first_step + b.last_step) as f64 / 2.0,
                    b.sums[i] / f64::from(b.counts[i]),
                ]
            })
            .collect()
    }
}

impl FromIterator<StepStats> for Curves {
    fn from_iter<I: IntoIterator<Item = StepStats>>(iter: I) -> Self {
        let mut c = Curves::default();
        for s in iter {
            c.push(s);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::StepKind;

    fn step(step: u64, d_loss: f32, g_loss: Option<f32>) -> StepStats {
        StepStats {
            step,
            epoch: 0,
            epoch_progress: 0.0,
            kind: StepKind::Full,
            d_loss: Some(d_loss),
            g_loss,
            d_real: None,
            d_fake: None,
            images_per_second: 0.0,
            learning_rates: (1e-4, 1e-4),
            elapsed_seconds: 0.0,
        }
    }

    #[test]
    fn short_runs_keep_every_step() {
        let c: Curves = (1..=10).map(|i| step(i, i as f32, None)).collect();
        assert_eq!(c.windows(), 10);
        assert_eq!(c.points(Metric::DLoss)[3], [4.0, 4.0]);
        assert!(c.points(Metric::GLoss).is_empty());
        assert_eq!(c.latest().unwrap().step, 10);
    }

    #[test]
    fn long_runs_stay_bounded_and_keep_exact_window_means() {
        let n = 100_000u64;
        // G's loss only on even steps: its means count only the steps that had it.
        let c: Curves = (1..=n)
            .map(|i| step(i, i as f32, (i % 2 == 0).then_some(1.0)))
            .collect();
        assert!(c.windows() <= Curves::MAX_POINTS);
        assert!(c.windows() > Curves::MAX_POINTS / 2, "{}", c.windows());
        assert_eq!(c.steps(), n);
        assert_eq!(c.recent().count(), Curves::RECENT);
        let w = c.window_width();
        assert_eq!(w, 64); // 100 000 / 2048 rounded up to a power of two
        let p = c.points(Metric::DLoss);
        // Window k holds steps k·w + 1 ..= (k + 1)·w: mean and middle are both k·w + (w + 1)/2.
        for (k, [x, y]) in p.iter().enumerate().take(p.len() - 1) {
            let middle = (k as u64 * w) as f64 + (w + 1) as f64 / 2.0;
            assert_eq!(*x, middle);
            assert_eq!(*y, middle);
        }
        assert!(c.points(Metric::GLoss).iter().all(|[_, y]| *y == 1.0));
        // The whole run is covered, the last window possibly part full.
        assert_eq!(p.last().unwrap()[0], ((n / w) * w + 1 + n) as f64 / 2.0);
    }

    #[test]
    fn truncation_drops_later_steps_and_straddling_windows() {
        let mut c: Curves = (1..=10_000).map(|i| step(i, 1.0, None)).collect();
        let w = c.window_width();
        assert_eq!(w, 8);
        // Within the steps kept whole: the newest is the step truncated to.
        c.truncate_after(9_990);
        assert_eq!(c.latest().unwrap().step, 9_990);
        assert_eq!(c.steps(), 9_984); // the window 9 985..=9 992 straddled and went
        // Further back: nothing newer survives anywhere.
        c.truncate_after(5_004);
        assert!(c.points(Metric::DLoss).iter().all(|[x, _]| *x <= 5_004.0));
        assert_eq!(c.steps(), 5_000);
        assert!(c.latest().is_none());
        c.push(step(5_005, 2.0, None));
        assert_eq!(c.latest().unwrap().d_loss, Some(2.0));
        assert_eq!(c.points(Metric::DLoss).last().unwrap(), &[5_005.0, 2.0]);
    }

    #[test]
    fn non_finite_figures_leave_the_means_alone() {
        let c: Curves = [step(1, 1.0, None), step(2, f32::NAN, None)]
            .into_iter()
            .collect();
        assert_eq!(c.points(Metric::DLoss), vec![[1.0, 1.0]]);
    }
}
