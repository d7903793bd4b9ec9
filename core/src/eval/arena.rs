//! The arena: N models (runs, or checkpoints of one run) on the same data play a GAM round robin.
//! Every pair's verdict goes into a leaderboard with wins, ties and losses and a Bradley–Terry
//! rating with its standard error; the r_sample of every pair is kept for a heatmap.
//!
//! Rating: each battle is a game; a win counts 1 to the winner, a tie ½ to each. Strengths π_i
//! are fitted by Hunter's (2004) MM iteration with one virtual win and one virtual loss against a
//! fixed reference player of strength 1 for every model — a weak prior that keeps an unbeaten or
//! winless model finite. Ratings are reported on the Elo scale, 400·log10(π_i) less the field's
//! mean (so 0 is the average model); the standard error of that contrast comes from the inverse
//! of the Fisher information of log π.

use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::Result;
use crate::sample::LoadedModel;

use super::gam::{BattleConfig, CrossTable, Ratio, Verdict, Winner, cross_table, decide};

/// Iterations of the MM fit (it converges long before on a few dozen games).
const MM_ITERATIONS: usize = 2000;
/// Elo points per natural-log unit of strength.
const ELO: f64 = 400.0 / std::f64::consts::LN_10;

/// One row of the leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standing {
    /// Index into the arena's models.
    pub model: usize,
    /// The model's name.
    pub name: String,
    /// Battles won.
    pub wins: usize,
    /// Battles tied.
    pub ties: usize,
    /// Battles lost.
    pub losses: usize,
    /// Bradley–Terry rating on the Elo scale (0 = the field's average).
    pub rating: f64,
    /// Its standard error.
    pub rating_se: f64,
}

/// The outcome of a round robin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arena {
    /// The models' names, in the order given.
    pub names: Vec<String>,
    /// Every pair (i < j): M1 = i, M2 = j.
    pub verdicts: Vec<(usize, usize, Verdict)>,
    /// `r_sample[i][j]` with M1 = i, M2 = j (the diagonal compares a model with itself).
    pub r_sample: Vec<Vec<Ratio>>,
    /// Best first.
    pub leaderboard: Vec<Standing>,
    /// The error rates behind it all.
    pub cross: CrossTable,
    /// Ratings by configuration, when the models are grouped (a sweep's seeds of one
    /// configuration; see [`Arena::group`]); best first.
    #[serde(default)]
    pub groups: Vec<GroupStanding>,
}

/// A configuration's rating over the models that share it (one per seed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupStanding {
    /// The configuration, in words.
    pub name: String,
    /// Its models' indices.
    pub models: Vec<usize>,
    /// The mean of their ratings.
    pub mean: f64,
    /// The standard error of that mean over the models (sample standard deviation / √n); none
    /// for a single model.
    pub se: Option<f64>,
    /// Whether this is a configuration (else one model standing alone).
    #[serde(default)]
    pub grouped: bool,
}

/// Bradley–Terry log-strengths relative to the field's mean, and their standard errors, from
/// `score[i][j]`, the points i took from games against j (a win 1, a tie ½), and `games[i][j]`,
/// the games they played.
pub fn bradley_terry(score: &[Vec<f64>], games: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let n = score.len();
    // The prior: one win and one loss against a reference of strength 1, for everyone.
    let wins: Vec<f64> = (0..n).map(|i| score[i].iter().sum::<f64>() + 1.0).collect();
    let mut pi = vec![1.0f64; n];
    for _ in 0..MM_ITERATIONS {
        let next: Vec<f64> = (0..n)
            .map(|i| {
                let mut denominator = 2.0 / (pi[i] + 1.0); // the two prior games
                for j in 0..n {
                    if j != i && games[i][j] > 0.0 {
                        denominator += games[i][j] / (pi[i] + pi[j]);
                    }
                }
                wins[i] / denominator
            })
            .collect();
        let change = next
            .iter()
            .zip(&pi)
            .map(|(a, b)| (a.ln() - b.ln()).abs())
            .fold(0.0, f64::max);
        pi = next;
        if change < 1e-12 {
            break;
        }
    }
    let theta: Vec<f64> = pi.iter().map(|p| p.ln()).collect();
    // Fisher information of θ = log π: for each game between i and j, p(1 − p) on the diagonal
    // and −p(1 − p) off it; the prior games against the fixed reference add to the diagonal.
    let mut info = vec![vec![0.0; n]; n];
    for i in 0..n {
        let p = pi[i] / (pi[i] + 1.0);
        info[i][i] += 2.0 * p * (1.0 - p);
        for j in 0..n {
            if j != i && games[i][j] > 0.0 {
                let q = pi[i] / (pi[i] + pi[j]);
                let w = games[i][j] * q * (1.0 - q);
                info[i][i] += w;
                info[i][j] -= w;
            }
        }
    }
    // Ratings are relative: report θ_i − mean(θ), and the standard error of that contrast,
    // cᵀ Σ c with c = e_i − 1/n (Σ the inverse information), which shrinks as games are added.
    let mean = theta.iter().sum::<f64>() / n.max(1) as f64;
    let centred = theta.iter().map(|t| t - mean).collect();
    let se = match invert(&info) {
        Some(cov) => (0..n)
            .map(|i| {
                let c: Vec<f64> = (0..n)
                    .map(|k| f64::from(u8::from(k == i)) - 1.0 / n as f64)
                    .collect();
                let var: f64 = (0..n)
                    .map(|a| (0..n).map(|b| c[a] * cov[a][b] * c[b]).sum::<f64>())
                    .sum();
                var.max(0.0).sqrt()
            })
            .collect(),
        None => vec![f64::INFINITY; n],
    };
    (centred, se)
}

/// Gauss–Jordan inverse with partial pivoting; None when singular.
fn invert(m: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = m.len();
    let mut a: Vec<Vec<f64>> = m.to_vec();
    let mut inv: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[pivot][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let d = a[col][col];
        for k in 0..n {
            a[col][k] /= d;
            inv[col][k] /= d;
        }
        for row in 0..n {
            if row != col {
                let f = a[row][col];
                if f != 0.0 {
                    for k in 0..n {
                        a[row][k] -= f * a[col][k];
                        inv[row][k] -= f * inv[col][k];
                    }
                }
            }
        }
    }
    Some(inv)
}

/// Builds the leaderboard from the pairs' verdicts.
pub fn leaderboard(names: &[String], verdicts: &[(usize, usize, Verdict)]) -> Vec<Standing> {
    let n = names.len();
    let mut score = vec![vec![0.0; n]; n];
    let mut games = vec![vec![0.0; n]; n];
    let mut record = vec![(0usize, 0usize, 0usize); n];
    for (i, j, v) in verdicts {
        let (i, j) = (*i, *j);
        games[i][j] += 1.0;
        games[j][i] += 1.0;
        match v.winner {
            Winner::M1 => {
                score[i][j] += 1.0;
                record[i].0 += 1;
                record[j].2 += 1;
            }
            Winner::M2 => {
                score[j][i] += 1.0;
                record[j].0 += 1;
                record[i].2 += 1;
            }
            Winner::Tie => {
                score[i][j] += 0.5;
                score[j][i] += 0.5;
                record[i].1 += 1;
                record[j].1 += 1;
            }
        }
    }
    let (theta, se) = bradley_terry(&score, &games);
    let mut table: Vec<Standing> = (0..n)
        .map(|i| Standing {
            model: i,
            name: names[i].clone(),
            wins: record[i].0,
            ties: record[i].1,
            losses: record[i].2,
            rating: ELO * theta[i],
            rating_se: ELO * se[i],
        })
        .collect();
    table.sort_by(|a, b| b.rating.total_cmp(&a.rating).then(a.model.cmp(&b.model)));
    table
}

impl Arena {
    /// Groups the models by `group_of` (per model, in the arena's order, its configuration, or
    /// none for a model that stands alone under its own name): each group's mean rating ± its
    /// standard error over its members, best first, into [`Arena::groups`].
    pub fn group(&mut self, group_of: &[Option<String>]) {
        let mut groups: Vec<GroupStanding> = Vec::new();
        for (model, key) in group_of.iter().enumerate() {
            let existing = key
                .as_ref()
                .and_then(|k| groups.iter_mut().find(|g| &g.name == k && g.grouped));
            match existing {
                Some(g) => g.models.push(model),
                None => groups.push(GroupStanding {
                    name: key.clone().unwrap_or_else(|| self.names[model].clone()),
                    models: vec![model],
                    mean: 0.0,
                    se: None,
                    grouped: key.is_some(),
                }),
            }
        }
        let rating = |m: usize| {
            self.leaderboard
                .iter()
                .find(|s| s.model == m)
                .map_or(0.0, |s| s.rating)
        };
        for g in &mut groups {
            let ratings: Vec<f64> = g.models.iter().map(|&m| rating(m)).collect();
            let n = ratings.len() as f64;
            g.mean = ratings.iter().sum::<f64>() / n;
            g.se = (ratings.len() > 1).then(|| {
                let var = ratings.iter().map(|r| (r - g.mean).powi(2)).sum::<f64>() / (n - 1.0);
                (var / n).sqrt()
            });
        }
        groups.sort_by(|a, b| b.mean.total_cmp(&a.mean));
        self.groups = groups;
    }

    /// The leaderboard as CSV: `rank,name,wins,ties,losses,rating,rating_se`, names quoted.
    pub fn leaderboard_csv(&self) -> String {
        let mut text = String::from("rank,name,wins,ties,losses,rating,rating_se\n");
        for (rank, s) in self.leaderboard.iter().enumerate() {
            text.push_str(&format!(
                "{},\"{}\",{},{},{},{:.2},{:.2}\n",
                rank + 1,
                s.name.replace('"', "\"\""),
                s.wins,
                s.ties,
                s.losses,
                s.rating,
                s.rating_se
            ));
        }
        text
    }
}

/// Plays every pair of `models` (named by `names`) on `data`. `progress` hears (done, total).
pub fn round_robin(
    models: &[&LoadedModel],
    names: &[String],
    data: &Dataset,
    config: &BattleConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Arena> {
    let cross = cross_table(models, data, config, progress)?;
    let n = models.len();
    let r_sample: Vec<Vec<Ratio>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| decide(&cross.pair(i, j), config.tolerance).r_sample)
                .collect()
        })
        .collect();
    let verdicts: Vec<(usize, usize, Verdict)> = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .map(|(i, j)| (i, j, decide(&cross.pair(i, j), config.tolerance)))
        .collect();
    Ok(Arena {
        names: names.to_vec(),
        leaderboard: leaderboard(names, &verdicts),
        verdicts,
        r_sample,
        cross,
        groups: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(winner: Winner) -> Verdict {
        Verdict {
            r_test: Ratio::Value(1.0),
            r_sample: Ratio::Value(1.0),
            tolerance: 0.2,
            winner,
            reason: String::new(),
        }
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("m{i}")).collect()
    }

    #[test]
    fn a_chain_of_wins_orders_the_ratings() {
        // 0 beats 1 and 2, 1 beats 2.
        let v = vec![
            (0, 1, verdict(Winner::M1)),
            (0, 2, verdict(Winner::M1)),
            (1, 2, verdict(Winner::M1)),
        ];
        let board = leaderboard(&names(3), &v);
        let order: Vec<usize> = board.iter().map(|s| s.model).collect();
        assert_eq!(order, vec![0, 1, 2]);
        assert_eq!((board[0].wins, board[0].ties, board[0].losses), (2, 0, 0));
        assert_eq!((board[2].wins, board[2].ties, board[2].losses), (0, 0, 2));
        // Symmetric: the middle player sits at the average, the others mirror each other.
        assert!(board[1].rating.abs() < 1e-6, "{board:?}");
        assert!((board[0].rating + board[2].rating).abs() < 1e-6);
        for s in &board {
            assert!(s.rating_se.is_finite() && s.rating_se > 0.0, "{s:?}");
        }
        // Swapping which side each model played on changes nothing.
        let flipped = vec![
            (1, 0, verdict(Winner::M2)),
            (2, 0, verdict(Winner::M2)),
            (2, 1, verdict(Winner::M2)),
        ];
        assert_eq!(leaderboard(&names(3), &flipped), board);
    }

    #[test]
    fn ties_rate_equal_and_uncertainty_shrinks_with_games() {
        let v = vec![(0, 1, verdict(Winner::Tie))];
        let board = leaderboard(&names(2), &v);
        assert!((board[0].rating - board[1].rating).abs() < 1e-9);
        assert_eq!(board[0].ties, 1);
        // The fit satisfies the Bradley–Terry score equations (prior games included): expected
        // points equal the points taken.
        let score = vec![vec![0.0, 3.0], vec![1.0, 0.0]];
        let games = vec![vec![0.0, 4.0], vec![4.0, 0.0]];
        let (theta, se_few) = bradley_terry(&score, &games);
        // With 3 of 4 games won (plus the prior), 0 rates above 1, by a finite margin.
        assert!(theta[0] > theta[1] && (theta[0] - theta[1]).is_finite());
        assert!((theta[0] + theta[1]).abs() < 1e-12, "centred");
        let score10: Vec<Vec<f64>> = score
            .iter()
            .map(|r| r.iter().map(|x| x * 10.0).collect())
            .collect();
        let games10: Vec<Vec<f64>> = games
            .iter()
            .map(|r| r.iter().map(|x| x * 10.0).collect())
            .collect();
        let (_, se_many) = bradley_terry(&score10, &games10);
        assert!(se_many[0] < se_few[0] / 2.0, "{se_many:?} vs {se_few:?}");
    }

    #[test]
    fn groups_rate_by_the_mean_of_their_seeds() {
        // 0 and 2 are one configuration's seeds, 1 and 3 another's; 0 beats everyone, 3 loses
        // to everyone, 1 beats 2.
        let v = vec![
            (0, 1, verdict(Winner::M1)),
            (0, 2, verdict(Winner::M1)),
            (0, 3, verdict(Winner::M1)),
            (1, 2, verdict(Winner::M1)),
            (1, 3, verdict(Winner::M1)),
            (2, 3, verdict(Winner::M1)),
        ];
        let mut arena = Arena {
            names: names(4),
            leaderboard: leaderboard(&names(4), &v),
            verdicts: v,
            r_sample: Vec::new(),
            cross: CrossTable {
                on_samples: Vec::new(),
                on_train: Vec::new(),
                on_test: Vec::new(),
            },
            groups: Vec::new(),
        };
        let of = |m: usize| {
            arena
                .leaderboard
                .iter()
                .find(|s| s.model == m)
                .unwrap()
                .rating
        };
        let (r0, r1, r2, r3) = (of(0), of(1), of(2), of(3));
        let group = ["a", "b", "a", "b"].map(|g| Some(g.to_string()));
        arena.group(&group);
        let a = &arena.groups[0];
        assert_eq!((a.name.as_str(), a.models.as_slice()), ("a", &[0, 2][..]));
        assert!((a.mean - (r0 + r2) / 2.0).abs() < 1e-9);
        // Two seeds: s.e. = |r0 − r2| / 2.
        assert!((a.se.unwrap() - (r0 - r2).abs() / 2.0).abs() < 1e-9);
        let b = &arena.groups[1];
        assert!((b.mean - (r1 + r3) / 2.0).abs() < 1e-9);
        assert!(a.mean > b.mean);
        // A configuration of one seed has no standard error; models outside any configuration
        // stand alone, under their names, even where two share one.
        arena.names = ["m", "m", "x", "y"].map(String::from).to_vec();
        arena.group(&[None, None, Some("c".into()), Some("d".into())]);
        assert!(
            arena
                .groups
                .iter()
                .all(|g| g.se.is_none() && g.models.len() == 1)
        );
        let names: Vec<&str> = arena.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names.iter().filter(|n| **n == "m").count(), 2, "{names:?}");
        assert!(arena.groups.iter().all(|g| g.grouped == (g.name != "m")));
    }

    #[test]
    fn the_inverse_is_an_inverse() {
        let m = vec![
            vec![4.0, -1.0, 0.5],
            vec![-1.0, 3.0, -0.5],
            vec![0.5, -0.5, 2.0],
        ];
        let inv = invert(&m).unwrap();
        for (i, row) in m.iter().enumerate() {
            for j in 0..3 {
                let v: f64 = row.iter().zip(&inv).map(|(a, r)| a * r[j]).sum();
                assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        assert!(invert(&[vec![1.0, 2.0], vec![2.0, 4.0]]).is_none());
    }
}
