//! The `easel` crate: the studio (eframe) and the command line over `easel-core`. The binary in
//! `main.rs` only parses arguments; everything else lives here so tests can drive it.

pub mod cli;
pub mod commands;
pub mod heatmap;
pub mod inference;
pub mod panels;
pub mod picker;
pub mod studio;
pub mod textures;
pub mod worker;
