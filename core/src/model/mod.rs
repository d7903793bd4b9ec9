//! The GAN models Easel trains, their building blocks, and the arithmetic shared by them
//! (parameter and FLOP counts).

pub mod blocks;
mod config;
pub mod conv;
pub mod cpu;
pub mod gan;
pub mod gran;
pub mod lapgan;
pub mod maps;
pub(crate) mod records;
pub mod stackgan;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use config::{Estimates, ModelConfig};

/// Floating-point operations of a layer or model, counted as 2 per multiply-add.
pub type Flops = u64;

/// FLOPs of one training step per image from the generator's and discriminator's forward FLOPs
/// `g` and `d`, counting a backward pass as twice its forward. G draws once per iteration: the D
/// step is G forward, then D forward and backward on real and on fake images (`g + 6d`); the G
/// step reads the same drawing through D, forward and backward, then G backward (`3d + 2g`).
pub fn train_step_flops(g: Flops, d: Flops) -> Flops {
    3 * g + 9 * d
}

/// FLOPs of a dense layer applied to one vector.
pub fn linear_flops(inputs: usize, outputs: usize) -> Flops {
    2 * (inputs * outputs) as Flops
}

/// FLOPs of a 2-D convolution producing `out_side`² positions.
pub fn conv_flops(c_in: usize, c_out: usize, kernel: usize, out_side: usize) -> Flops {
    2 * (c_in * c_out * kernel * kernel * out_side * out_side) as Flops
}

/// FLOPs of a transposed convolution reading `in_side`² positions.
pub fn deconv_flops(c_in: usize, c_out: usize, kernel: usize, in_side: usize) -> Flops {
    2 * (c_in * c_out * kernel * kernel * in_side * in_side) as Flops
}

/// Every floating-point tensor of a module (weights, biases, BatchNorm's γ, β and running
/// statistics), by dotted path, read back to the CPU. For comparisons and inspection.
pub fn parameters<M: burn::module::Module>(
    module: &M,
) -> std::collections::BTreeMap<String, Vec<f32>> {
    use burn::module::{ModuleVisitor, Param};
    use burn::prelude::Tensor;

    #[derive(Default)]
    struct Collect {
        path: Vec<String>,
        out: std::collections::BTreeMap<String, Vec<f32>>,
        unnamed: usize,
    }
    impl ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let values = param
                .val()
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .expect("f32 after convert");
            let mut key = self.path.join(".");
            if self.out.contains_key(&key) || key.is_empty() {
                self.unnamed += 1;
                key = format!("{key}#{}", self.unnamed);
            }
            self.out.insert(key, values);
        }
    }
    let mut c = Collect::default();
    module.visit(&mut c);
    c.out
}

/// Builds a module with weights that depend only on `seed`: burn's initialisers draw from a
/// backend-wide generator, so seeding and the (lazy) initialisation run under one process-wide
/// lock and every parameter is materialised before it is released.
pub fn seeded<M: burn::module::Module>(
    device: &burn::prelude::Device,
    seed: u64,
    build: impl FnOnce() -> M,
) -> M {
    use burn::module::{ModuleVisitor, Param};
    use burn::prelude::Tensor;

    static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    struct Touch;
    impl ModuleVisitor for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let _ = param.val();
        }
    }
    let _guard = INIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(seed);
    let module = build();
    module.visit(&mut Touch);
    module
}
