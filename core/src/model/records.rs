//! Network records inside checkpoints: each model's own networks (not the [`Networks`] enum
//! that holds them), so checkpoints written before LAPGAN existed still load.

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;

use crate::error::{Error, Result};
use crate::model::gan::{Gan, Networks, Pair, each_model};

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

/// A checkpoint holds each network's own record (not [`Networks`]'s), so runs written before
/// the enum existed still load: the generator's and the critic's bytes.
pub(crate) fn network_bytes(networks: &Networks) -> Result<(Vec<u8>, Vec<u8>)> {
    each_model!(networks, Networks, p => Ok((record_bytes(&p.generator)?, record_bytes(&p.critic)?)))
}

/// Loads the generator's and the critic's records (from [`network_bytes`]) into `networks`.
pub(crate) fn load_networks(
    networks: Networks,
    generator: &[u8],
    critic: &[u8],
    path: &std::path::Path,
) -> Result<Networks> {
    fn load<M: Gan>(p: Pair<M>, g: &[u8], d: &[u8], path: &std::path::Path) -> Result<Pair<M>> {
        Ok(Pair {
            generator: load_module(p.generator, g, path, "generator")?,
            critic: load_module(p.critic, d, path, "discriminator")?,
            model: p.model,
        })
    }
    Ok(each_model!(networks, Networks, p => Networks::from(load(p, generator, critic, path)?)))
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
