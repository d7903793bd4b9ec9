//! Choosing where tensors live at run time: the `flex` CPU backend (always compiled, the default),
//! and WGPU and CUDA when their cargo features are on and a device answers.

use std::fmt;
use std::sync::OnceLock;

pub use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A compute backend a user can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// burn's `flex` CPU backend: pure Rust, SIMD, all cores through rayon.
    #[default]
    Cpu,
    /// WGPU (Vulkan, Metal, DX12, GL), feature `wgpu`.
    Wgpu,
    /// CUDA, feature `cuda`.
    Cuda,
}

impl BackendKind {
    /// Every backend Easel knows, compiled in or not.
    pub const ALL: [BackendKind; 3] = [BackendKind::Cpu, BackendKind::Wgpu, BackendKind::Cuda];

    /// The name used on the command line and in configs.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Wgpu => "wgpu",
            BackendKind::Cuda => "cuda",
        }
    }

    /// Parses `cpu`, `wgpu` or `cuda`.
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|b| b.name() == name)
            .ok_or_else(|| Error::Backend {
                backend: name.to_string(),
                reason: "unknown backend; expected cpu, wgpu or cuda".into(),
            })
    }

    /// Whether this build includes the backend.
    pub fn compiled(self) -> bool {
        match self {
            BackendKind::Cpu => true,
            BackendKind::Wgpu => cfg!(feature = "wgpu"),
            BackendKind::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The device to compute on, or why there is none. Never panics.
    pub fn device(self) -> Result<Device> {
        let missing = |reason: &str| Error::Backend {
            backend: self.name().into(),
            reason: reason.into(),
        };
        match self {
            BackendKind::Cpu => Ok(Device::flex()),
            BackendKind::Wgpu => {
                #[cfg(feature = "wgpu")]
                {
                    first_device(burn::tensor::DeviceType::Wgpu).ok_or_else(|| {
                        missing("no WGPU adapter found (no Vulkan/Metal/DX12/GL driver answered)")
                    })
                }
                #[cfg(not(feature = "wgpu"))]
                Err(missing("not compiled in; rebuild with `--features wgpu`"))
            }
            BackendKind::Cuda => {
                #[cfg(feature = "cuda")]
                {
                    first_device(burn::tensor::DeviceType::Cuda).ok_or_else(|| {
                        missing("no CUDA device found (is the NVIDIA driver installed?)")
                    })
                }
                #[cfg(not(feature = "cuda"))]
                Err(missing(
                    "not compiled in; rebuild with `--features cuda` (its first build needs internet)",
                ))
            }
        }
    }

    /// Whether a device of this backend answers here, or why not, in words. Probed once per
    /// process (probing WGPU asks every graphics driver: too slow for every frame of a menu).
    pub fn usable(self) -> std::result::Result<(), String> {
        static PROBED: [OnceLock<std::result::Result<(), String>>; 3] =
            [OnceLock::new(), OnceLock::new(), OnceLock::new()];
        PROBED[self as usize]
            .get_or_init(|| self.device().map(|_| ()).map_err(|e| e.to_string()))
            .clone()
    }

    /// Backends compiled in whose device answers, CPU first.
    pub fn available() -> Vec<BackendKind> {
        Self::ALL
            .into_iter()
            .filter(|b| b.compiled() && b.usable().is_ok())
            .collect()
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl BackendKind {
    /// Every device of this backend here, in words, numbered as `--devices` names them
    /// (`wgpu:0 …`); empty where it is not compiled in or none answers.
    pub fn devices(self) -> Vec<String> {
        match self {
            BackendKind::Cpu => vec![format!(
                "cpu: flex on {} threads",
                std::thread::available_parallelism().map_or(1, |n| n.get())
            )],
            #[cfg(feature = "wgpu")]
            BackendKind::Wgpu => list_devices(burn::tensor::DeviceType::Wgpu, self),
            #[cfg(feature = "cuda")]
            BackendKind::Cuda => list_devices(burn::tensor::DeviceType::Cuda, self),
            #[allow(unreachable_patterns)]
            _ => Vec::new(),
        }
    }
}

#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn list_devices(kind: burn::tensor::DeviceType, backend: BackendKind) -> Vec<String> {
    std::panic::catch_unwind(|| {
        Device::enumerate(kind)
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                let name = d.identity().map_or_else(|| format!("{d:?}"), |id| id.name);
                format!("{backend}:{i}: {name} · kernels {}", kernel_compiler(&d))
            })
            .collect()
    })
    .unwrap_or_default()
}

/// What a device's kernels are compiled by, as burn names its runtime: `flex` on the CPU;
/// `wgpu<spirv>` (cubecl's SPIR-V compiler, on a Vulkan adapter with the `vulkan` feature) or
/// `wgpu<wgsl>` on WGPU; `cuda` on CUDA. Opens the device.
pub fn kernel_compiler(device: &Device) -> String {
    use burn::backend::Backend;
    innermost_runtime(&burn::backend::Dispatch::name(device.as_dispatch())).to_string()
}

/// `dispatch<fusion<cubecl<wgpu<spirv>>>>` → `wgpu<spirv>`: what the `cubecl<…>` layer wraps, or
/// the innermost name where there is none (`dispatch<flex>` → `flex`).
fn innermost_runtime(name: &str) -> &str {
    let inner = match name.find("cubecl<") {
        Some(at) => &name[at + "cubecl<".len()..],
        None => name.rsplit('<').next().unwrap_or(name),
    };
    // Up to the `>` that closes the layer: depth goes below zero there.
    let mut depth = 0i32;
    for (i, c) in inner.char_indices() {
        match c {
            '<' => depth += 1,
            '>' if depth == 0 => return &inner[..i],
            '>' => depth -= 1,
            _ => {}
        }
    }
    inner
}

/// One device of a data-parallel run: a backend and which of its devices (`cpu`, `wgpu:1`,
/// `cuda:0`). The CPU is one device however often it is named: naming it twice splits each batch
/// in two on it (what the data-parallel tests compare against one device).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceSpec {
    /// The backend.
    pub kind: BackendKind,
    /// Which of its devices, from 0.
    pub index: usize,
}

impl DeviceSpec {
    /// Parses `cpu`, `wgpu`, `wgpu:1`, `cuda:0`.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let (kind, index) = match text.split_once(':') {
            Some((k, i)) => (
                k,
                i.parse().map_err(|_| Error::Backend {
                    backend: text.into(),
                    reason: "expected a device number after the colon, e.g. wgpu:1".into(),
                })?,
            ),
            None => (text, 0),
        };
        let kind = BackendKind::parse(kind)?;
        if kind == BackendKind::Cpu && index > 0 {
            return Err(Error::Backend {
                backend: text.into(),
                reason: "the CPU is one device (cpu or cpu:0); name it twice to split the batch \
                         on it"
                    .into(),
            });
        }
        Ok(Self { kind, index })
    }

    /// Parses a comma-separated list (`cpu,cpu`, `wgpu:0,wgpu:1`).
    pub fn parse_list(text: &str) -> Result<Vec<Self>> {
        text.split(',')
            .filter(|p| !p.trim().is_empty())
            .map(Self::parse)
            .collect()
    }

    /// The device, when its backend is compiled in and the device answers.
    pub fn device(self) -> Result<Device> {
        match self.kind {
            BackendKind::Cpu => Ok(Device::flex()),
            #[cfg(feature = "wgpu")]
            BackendKind::Wgpu => nth_device(burn::tensor::DeviceType::Wgpu, self.index, self),
            #[cfg(feature = "cuda")]
            BackendKind::Cuda => nth_device(burn::tensor::DeviceType::Cuda, self.index, self),
            #[allow(unreachable_patterns)]
            kind => kind.device(),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            BackendKind::Cpu => f.write_str("cpu"),
            kind => write!(f, "{kind}:{}", self.index),
        }
    }
}

impl Serialize for DeviceSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for DeviceSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn nth_device(kind: burn::tensor::DeviceType, index: usize, spec: DeviceSpec) -> Result<Device> {
    let found: Vec<Device> =
        std::panic::catch_unwind(|| Device::enumerate(kind).into_iter().collect())
            .ok()
            .unwrap_or_default();
    let count = found.len();
    found.into_iter().nth(index).ok_or_else(|| Error::Backend {
        backend: spec.to_string(),
        reason: format!("this machine has {count} such device(s), numbered from 0"),
    })
}

#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn first_device(kind: burn::tensor::DeviceType) -> Option<Device> {
    // Driver probing lives in foreign code; a panic there means "no device", not a crash.
    std::panic::catch_unwind(|| Device::enumerate(kind).into_iter().next())
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_lists_parse_and_say_what_is_wrong() {
        let list = DeviceSpec::parse_list("cpu, cpu").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].to_string(), "cpu");
        assert_eq!(DeviceSpec::parse("wgpu:1").unwrap().to_string(), "wgpu:1");
        assert_eq!(DeviceSpec::parse("cuda").unwrap().to_string(), "cuda:0");
        for bad in ["tpu", "wgpu:x", "cpu:1"] {
            assert!(DeviceSpec::parse(bad).is_err(), "{bad}");
        }
        assert!(list[0].device().is_ok());
    }

    #[test]
    fn the_kernel_compiler_is_read_from_the_runtime_name() {
        assert_eq!(
            innermost_runtime("dispatch<fusion<cubecl<wgpu<spirv>>>>"),
            "wgpu<spirv>"
        );
        assert_eq!(innermost_runtime("fusion<cubecl<cuda>>"), "cuda");
        assert_eq!(innermost_runtime("dispatch<flex>"), "flex");
        assert_eq!(innermost_runtime("flex"), "flex");
        assert_eq!(kernel_compiler(&BackendKind::Cpu.device().unwrap()), "flex");
    }

    #[test]
    fn cpu_is_always_there_and_unknown_names_fail_in_words() {
        assert!(BackendKind::Cpu.device().is_ok());
        assert_eq!(BackendKind::available()[0], BackendKind::Cpu);
        let e = BackendKind::parse("tpu").unwrap_err().to_string();
        assert!(
            e.contains("tpu") && e.contains("expected cpu, wgpu or cuda"),
            "{e}"
        );
        #[cfg(not(feature = "cuda"))]
        assert!(
            BackendKind::Cuda
                .device()
                .unwrap_err()
                .to_string()
                .contains("not compiled in")
        );
        // The cached probe says the same as the device.
        for b in BackendKind::ALL {
            assert_eq!(
                b.usable(),
                b.device().map(|_| ()).map_err(|e| e.to_string())
            );
        }
    }
}
