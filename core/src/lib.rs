//! `easel-core`: the models, data, training, evaluation and export behind Easel, with no GUI.
//! The studio and the `easel` command line drive it through [`train::TrainingJob`]
//! (commands in, events out).

pub mod alloc;
#[cfg(test)]
mod architecture;
pub mod backend;
pub mod bench;
pub mod data;
pub mod error;
pub mod eval;
pub mod export;
pub mod images;
pub mod interpolate;
pub mod model;
pub mod noise;
pub mod paths;
pub mod sample;
pub mod sealed;
pub mod text;
pub mod train;

pub use error::{Error, Result};
