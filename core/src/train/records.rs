//! Network records inside checkpoints: each model's own networks (not the [`Generator`] and
//! [`Critic`] enums that wrap them), so checkpoints written before LAPGAN existed still load.

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;

use crate::error::{Error, Result};
use crate::model::gan::{Critic, Generator};

pub(crate) fn record_bytes<M: Module>(module: &M) -> Result<Vec<u8>> {
    let bytes = module
        .valid()
        .into_record()
        .into_bytes()
        .map_err(|e| Error::Checkpoint {
            path: "<memory>".into(),
            reason: e.to_string(),
        })?;
    Ok(bytes.to_vec())
}

/// A checkpoint holds the model's own network record, not [`Generator`]'s, so runs written
/// before the enum existed still load.
pub(crate) fn generator_bytes(g: &Generator) -> Result<Vec<u8>> {
    match g {
        Generator::Gran(g) => record_bytes(g),
        Generator::Lapgan(g) => record_bytes(g),
        Generator::StackGan(g) => record_bytes(g),
    }
}

pub(crate) fn critic_bytes(d: &Critic) -> Result<Vec<u8>> {
    match d {
        Critic::Gran(d) => record_bytes(d),
        Critic::Lapgan(d) => record_bytes(d),
        Critic::StackGan(d) => record_bytes(d),
    }
}

/// Loads a [`generator_bytes`] record into `g`.
pub(crate) fn load_generator(
    g: Generator,
    bytes: &[u8],
    path: &std::path::Path,
) -> Result<Generator> {
    Ok(match g {
        Generator::Gran(g) => Generator::Gran(load_module(g, bytes, path, "generator")?),
        Generator::Lapgan(g) => Generator::Lapgan(load_module(g, bytes, path, "generator")?),
        Generator::StackGan(g) => Generator::StackGan(load_module(g, bytes, path, "generator")?),
    })
}

/// Loads a [`critic_bytes`] record into `d`.
pub(crate) fn load_critic(d: Critic, bytes: &[u8], path: &std::path::Path) -> Result<Critic> {
    Ok(match d {
        Critic::Gran(d) => Critic::Gran(load_module(d, bytes, path, "discriminator")?),
        Critic::Lapgan(d) => Critic::Lapgan(load_module(d, bytes, path, "discriminator")?),
        Critic::StackGan(d) => Critic::StackGan(load_module(d, bytes, path, "discriminator")?),
    })
}

pub(crate) fn load_module<M: Module>(
    module: M,
    bytes: &[u8],
    path: &std::path::Path,
    what: &str,
) -> Result<M> {
    let bad = |e: burn::store::RecordError| Error::Checkpoint {
        path: path.to_path_buf(),
        reason: format!("{what}: {e}"),
    };
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(bad)?;
    module.try_load_record(record).map_err(bad)
}
