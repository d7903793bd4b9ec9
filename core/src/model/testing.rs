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

/// `values` as a `[rows, values.len() / rows]` tensor.
pub fn t2(values: &[f32], rows: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), [rows, values.len() / rows]),
        device,
    )
}

/// The one value of a `[1]` tensor.
pub fn scalar(t: Tensor<1>) -> f32 {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()[0]
}

/// Asserts `a` and `b` agree to 10⁻⁵.
pub fn close(a: f32, b: f32) {
    assert!((a - b).abs() < 1e-5, "{a} vs {b}");
}
