//! Helpers shared by the model's tests.

use burn::prelude::*;

/// Asserts two tensors have one shape and agree to 2 · 10⁻⁴ relative (to `1 + |b|`) in every
/// value: what the CPU kernels' different summation orders leave of burn's results.
pub fn assert_close<const D: usize>(a: Tensor<D>, b: Tensor<D>, what: &str) {
    assert_eq!(a.dims(), b.dims(), "{what}: shape");
    let a = a.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    let b = b.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
        .fold(0f32, f32::max);
    assert!(worst < 2e-4, "{what}: differs by {worst}");
}
