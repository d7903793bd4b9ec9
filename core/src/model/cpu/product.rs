//! Matrix products of the CPU kernels, straight to the `gemm` crate (the one burn's CPU backend
//! calls): operands are read through their strides, so a transposed operand is a view, not a
//! copy, and a product's output is written once, never zeroed first, or added to a buffer that
//! already holds the bias.

/// A matrix read through strides: element `(r, c)` is `data[r · row + c · col]`.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row: usize,
    col: usize,
}

impl<'a> View<'a> {
    /// `data` as a row-major `rows × cols` matrix.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert_eq!(data.len(), rows * cols, "a {rows} × {cols} matrix");
        Self {
            data,
            rows,
            cols,
            row: cols,
            col: 1,
        }
    }

    /// A `rows × cols` matrix whose element `(r, c)` is `data[r · row + c · col]` (rows may
    /// overlap: a stride-1 convolution reads its windows straight from the image this way).
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, row: usize, col: usize) -> Self {
        if rows > 0 && cols > 0 {
            assert!(
                (rows - 1) * row + (cols - 1) * col < data.len(),
                "a strided {rows} × {cols} view past the end of its {} values",
                data.len()
            );
        }
        Self {
            data,
            rows,
            cols,
            row,
            col,
        }
    }

    /// The transpose (the same memory).
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row: self.col,
            col: self.row,
            ..self
        }
    }
}

/// Where a product runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Threads {
    /// On every core when it is large enough.
    Both,
    /// On the calling thread only (inside a task that rayon already shares out).
    Here,
}

/// Products smaller than this (`m · n · k`) run on one core, as burn's own threshold.
const PARALLEL_FROM: usize = 192 * 192 * 192;

/// `dst = a × b` (`dst` row-major, `a.rows × b.cols`), or `dst += a × b` when `accumulate`.
/// `dst` may be uninitialised when not accumulating: it is only written.
///
/// # Safety
/// `dst` must point to `a.rows · b.cols` writable floats, initialised when `accumulate`, and not
/// overlap `a` or `b`.
unsafe fn product_raw(dst: *mut f32, a: View, b: View, accumulate: bool, threads: Threads) {
    assert_eq!(a.cols, b.rows, "product: inner dimensions");
    let (m, n, k) = (a.rows, b.cols, a.cols);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            // SAFETY: the caller gives m · n writable floats.
            unsafe { std::ptr::write_bytes(dst, 0, m * n) };
        }
        return;
    }
    let parallelism =
        if threads == Threads::Both && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_FROM {
            gemm::Parallelism::Rayon(0)
        } else {
            gemm::Parallelism::None
        };
    // SAFETY: the views were checked against their slices' lengths when built or transposed
    // (`rows · row + cols · col` stays inside), and the caller vouches for `dst`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.col as isize,
            a.row as isize,
            b.data.as_ptr(),
            b.col as isize,
            b.row as isize,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// `dst = a × b`, `dst` row-major `a.rows × b.cols` (its old values are not read).
pub fn set_product(dst: &mut [f32], a: View, b: View) {
    assert_eq!(dst.len(), a.rows * b.cols, "product: output size");
    // SAFETY: `dst` is a slice of the right length, borrowed apart from a and b.
    unsafe { product_raw(dst.as_mut_ptr(), a, b, false, Threads::Both) }
}

/// `dst += a × b`, `dst` row-major `a.rows × b.cols`.
pub fn add_product(dst: &mut [f32], a: View, b: View) {
    assert_eq!(dst.len(), a.rows * b.cols, "product: output size");
    // SAFETY: `dst` is an initialised slice of the right length, borrowed apart from a and b.
    unsafe { product_raw(dst.as_mut_ptr(), a, b, true, Threads::Both) }
}

/// [`set_product`] on the calling thread only.
pub fn set_product_here(dst: &mut [f32], a: View, b: View) {
    assert_eq!(dst.len(), a.rows * b.cols, "product: output size");
    // SAFETY: as in `set_product`.
    unsafe { product_raw(dst.as_mut_ptr(), a, b, false, Threads::Here) }
}

/// [`add_product`] on the calling thread only.
pub fn add_product_here(dst: &mut [f32], a: View, b: View) {
    assert_eq!(dst.len(), a.rows * b.cols, "product: output size");
    // SAFETY: as in `add_product`.
    unsafe { product_raw(dst.as_mut_ptr(), a, b, true, Threads::Here) }
}

/// A new row-major `a × b`, each value written once.
pub fn product(a: View, b: View) -> Vec<f32> {
    let len = a.rows * b.cols;
    let mut out = Vec::<f32>::with_capacity(len);
    // SAFETY: the capacity holds `len` floats; gemm writes every one of them before `set_len`.
    unsafe {
        product_raw(out.as_mut_ptr(), a, b, false, Threads::Both);
        out.set_len(len);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: View, b: View) -> Vec<f32> {
        let at = |v: View, r: usize, c: usize| v.data[r * v.row + c * v.col];
        let mut out = vec![0f32; a.rows * b.cols];
        for r in 0..a.rows {
            for c in 0..b.cols {
                out[r * b.cols + c] = (0..a.cols).map(|i| at(a, r, i) * at(b, i, c)).sum();
            }
        }
        out
    }

    /// Products of plain and transposed views, small and large enough to run on both cores,
    /// new and added to an existing buffer, equal the schoolbook sum.
    #[test]
    fn products_of_views_match_the_schoolbook_sum() {
        let values = |n: usize, seed: usize| -> Vec<f32> {
            (0..n)
                .map(|i| (((i * 7919 + seed * 104_729) % 1000) as f32) / 500.0 - 1.0)
                .collect()
        };
        for &(m, k, n) in &[
            (3, 5, 2),
            (1, 1, 1),
            (70, 300, 90),
            (300, 4, 257),
            (5, 0, 3),
        ] {
            let a_data = values(m * k, 1);
            let b_data = values(k * n, 2);
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = if ta {
                    View::rows(&a_data, k, m).t()
                } else {
                    View::rows(&a_data, m, k)
                };
                let b = if tb {
                    View::rows(&b_data, n, k).t()
                } else {
                    View::rows(&b_data, k, n)
                };
                let want = naive(a, b);
                let close = |got: &[f32], want: &[f32]| {
                    got.iter()
                        .zip(want)
                        .all(|(g, w)| (g - w).abs() <= 1e-4 * (1.0 + w.abs()))
                };
                assert!(close(&product(a, b), &want), "{m}×{k}×{n} {ta} {tb}");
                let mut acc = vec![1f32; m * n];
                add_product(&mut acc, a, b);
                let want_plus: Vec<f32> = want.iter().map(|w| w + 1.0).collect();
                assert!(close(&acc, &want_plus), "{m}×{k}×{n} {ta} {tb} added");
            }
        }
    }
}
