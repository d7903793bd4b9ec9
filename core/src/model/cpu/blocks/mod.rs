//! Strided convolutions and transposed convolutions on channels-last rows as gathers: every
//! output pixel reads the input pixels it depends on, and only those — no product over the
//! zero padding, none over the zeros a transposed convolution's stride leaves between pixels.
//!
//! Along one axis, a convolution's window `o` reads inputs `o·s − p + t` for the taps `t` that
//! land inside the image; windows that read the same taps form a class (on GRAN's 5 × 5,
//! stride-2, padding-2 layers: the first window, the last, the rest). Its adjoint — a
//! transposed convolution's forward pass, a convolution's input gradient — is a gather too:
//! pixel `i` is read by windows `o` with tap `t = i + p − o·s`, consecutive windows at taps `s`
//! apart, and pixels with the same taps form a class (by `(i + p) mod s`, and at the borders).
//! A class down × a class across is one matrix product whose rows hold only the taps its
//! pixels read, against the matching slice of the kernels: 16% fewer products than whole
//! windows on a 7 × 7 output, 8% on 14 × 14, and 75% fewer than a transposed convolution
//! computed over a zero-upsampled image.
//!
//! The work is shared out as tasks of at most [`ROWS_PER_PRODUCT`] output pixels of one class.
//! Each task gathers its rows into a buffer that stays in cache, multiplies on its own core
//! and writes its pixels (no two tasks write the same one), so the gathered windows never go to
//! memory whole. Kernel gradients are summed per task, then in task order: they do not depend
//! on how rayon shares the tasks out.
//!
//! Kernels are in window order, `[r, k, k, c]`: `c` the channels of the image the windows slide
//! over (a convolution's input, a transposed convolution's output), `r` those of the windows'
//! side (a convolution's output, a transposed convolution's input).

use rayon::prelude::*;

use super::layers;
use super::product::{View, add_product_here, set_product_here};
use crate::model::conv::Windows;

/// Most output pixels one matrix product covers (bounds the gathered buffer, ~1 MB).
const ROWS_PER_PRODUCT: usize = 512;

/// Fewest channels a pixels' gather writes per pixel: below, its product is a thin
/// matrix-vector one and scattering whole windows ([`layers`]) is faster (measured: 0.7 vs
/// 2.4 ms for GRAN's last transposed convolution, 40 → 1 channel at 28 × 28).
const PIXEL_GATHER_FROM: usize = 8;

/// Output coordinates along one axis that read the same taps.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Class {
    /// The kernel taps read, in the order of the input coordinates they meet (consecutive).
    taps: Vec<usize>,
    /// Each output coordinate and the first input coordinate it reads.
    outs: Vec<(usize, usize)>,
}

/// Groups `(output, first input, taps)` by taps, in order of first appearance.
fn classes(reads: impl Iterator<Item = (usize, usize, Vec<usize>)>) -> Vec<Class> {
    let mut classes: Vec<Class> = Vec::new();
    for (o, start, taps) in reads {
        match classes.iter_mut().find(|c| c.taps == taps) {
            Some(class) => class.outs.push((o, start)),
            None => classes.push(Class {
                taps,
                outs: vec![(o, start)],
            }),
        }
    }
    classes
}

/// The windows' classes along an axis of a `side`-long image: window `o` reads inputs
/// `o·s − p + t`.
fn window_classes(side: usize, windows: usize, w: &Windows) -> Vec<Class> {
    classes((0..windows).map(|o| {
        let start = (o * w.stride) as isize - w.padding as isize;
        let end = (side as isize - start).clamp(0, w.kernel as isize) as usize;
        let first = ((-start).max(0) as usize).min(end);
        (
            o,
            (start + first as isize).max(0) as usize,
            (first..end).collect(),
        )
    }))
}

/// The pixels' classes along an axis of a `side`-long image, read back from the `windows`
/// windows: pixel `i` gathers windows `o` at taps `i + p − o·s`, listed by increasing `o`.
fn pixel_classes(side: usize, windows: usize, w: &Windows) -> Vec<Class> {
    classes((0..side).map(|i| {
        let reach = i + w.padding; // = o·s + t
        let last = (reach / w.stride).min(windows.saturating_sub(1));
        let first = (reach + 1).saturating_sub(w.kernel).div_ceil(w.stride);
        let taps: Vec<usize> = (first..=last).map(|o| reach - o * w.stride).collect();
        (i, if taps.is_empty() { 0 } else { first }, taps)
    }))
}

/// A gather: output pixels `(y, x)` of `[out_h, out_w]` images reading `[in_h, in_w, channels]`
/// images, class by class.
#[derive(Debug)]
struct Gather {
    ys: Vec<Class>,
    xs: Vec<Class>,
    in_width: usize,
    /// Channels of the image read (floats per input pixel).
    channels: usize,
    in_len: usize,
    out_len: usize,
    out_width: usize,
}

/// One task: pixels `rows` (over the batch) of class `(cy, cx)`.
#[derive(Debug, Clone)]
struct Task {
    cy: usize,
    cx: usize,
    rows: std::ops::Range<usize>,
}

impl Gather {
    /// A convolution's windows reading the image they slide over.
    fn windows(w: &Windows) -> Self {
        Self {
            ys: window_classes(w.height, w.out_height, w),
            xs: window_classes(w.width, w.out_width, w),
            in_width: w.width,
            channels: w.channels,
            in_len: w.height * w.width,
            out_len: w.per_image(),
            out_width: w.out_width,
        }
    }

    /// The image's pixels reading back the windows (rows of `channels` floats per window).
    fn pixels(w: &Windows, channels: usize) -> Self {
        Self {
            ys: pixel_classes(w.height, w.out_height, w),
            xs: pixel_classes(w.width, w.out_width, w),
            in_width: w.out_width,
            channels,
            in_len: w.per_image(),
            out_len: w.height * w.width,
            out_width: w.width,
        }
    }

    /// Floats of a gathered row of class `(cy, cx)`.
    fn row_len(&self, cy: usize, cx: usize) -> usize {
        self.ys[cy].taps.len() * self.xs[cx].taps.len() * self.channels
    }

    /// Every class's pixels over `batch` images, in products of at most [`ROWS_PER_PRODUCT`].
    fn tasks(&self, batch: usize) -> Vec<Task> {
        let mut tasks = Vec::new();
        for (cy, y) in self.ys.iter().enumerate() {
            for (cx, x) in self.xs.iter().enumerate() {
                let total = batch * y.outs.len() * x.outs.len();
                for start in (0..total).step_by(ROWS_PER_PRODUCT) {
                    tasks.push(Task {
                        cy,
                        cx,
                        rows: start..(start + ROWS_PER_PRODUCT).min(total),
                    });
                }
            }
        }
        tasks
    }

    /// Row `r` of a task's class: its image, its `(y, x)` class entries.
    fn entry(&self, task: &Task, r: usize) -> (usize, (usize, usize), (usize, usize)) {
        let (ys, xs) = (&self.ys[task.cy].outs, &self.xs[task.cx].outs);
        let per_image = ys.len() * xs.len();
        let at = r % per_image;
        (r / per_image, ys[at / xs.len()], xs[at % xs.len()])
    }

    /// The output pixel of row `r` of a task (over the batch).
    fn out_pixel(&self, task: &Task, r: usize) -> usize {
        let (i, (y, _), (x, _)) = self.entry(task, r);
        i * self.out_len + y * self.out_width + x
    }

    /// The gathered rows of a task from `input` (`[batch · in pixels, channels]`), into `out`.
    fn gather(&self, input: &[f32], task: &Task, out: &mut Vec<f32>) {
        let (ty, tx) = (self.ys[task.cy].taps.len(), self.xs[task.cx].taps.len());
        let run = tx * self.channels;
        out.clear();
        for r in task.rows.clone() {
            let (i, (_, y0), (_, x0)) = self.entry(task, r);
            for a in 0..ty {
                let at = (i * self.in_len + (y0 + a) * self.in_width + x0) * self.channels;
                out.extend_from_slice(&input[at..at + run]);
            }
        }
    }

    /// The output rows (`width` floats per output pixel) of a task, from `data`, into `out`.
    fn gather_out(&self, data: &[f32], width: usize, task: &Task, out: &mut Vec<f32>) {
        out.clear();
        for r in task.rows.clone() {
            let at = self.out_pixel(task, r) * width;
            out.extend_from_slice(&data[at..at + width]);
        }
    }

    /// `[r, k, k, c]` → `[r, |ty|, |tx|, c]`: each kernel's taps of class `(cy, cx)`, in the
    /// gathered rows' order (the windows' gather: `c` is the channels read).
    fn taps_by_kernel(&self, kernels: &[f32], k: usize, cy: usize, cx: usize) -> Vec<f32> {
        let c = self.channels;
        let (ty, tx) = (&self.ys[cy].taps, &self.xs[cx].taps);
        let mut out = Vec::with_capacity(kernels.len() / (k * k) * ty.len() * tx.len());
        for kernel in kernels.chunks_exact(k * k * c) {
            for &a in ty {
                for &b in tx {
                    out.extend_from_slice(&kernel[(a * k + b) * c..][..c]);
                }
            }
        }
        out
    }

    /// `[r, k, k, c]` → `[|ty|, |tx|, r, c]`: the taps of class `(cy, cx)` as the pixels'
    /// gather reads them (`r` is the channels read, `c` those written).
    fn taps_by_channel(
        &self,
        kernels: &[f32],
        k: usize,
        c: usize,
        cy: usize,
        cx: usize,
    ) -> Vec<f32> {
        let (ty, tx) = (&self.ys[cy].taps, &self.xs[cx].taps);
        let r = kernels.len() / (k * k * c);
        let mut out = Vec::with_capacity(ty.len() * tx.len() * r * c);
        for &a in ty {
            for &b in tx {
                for kernel in kernels.chunks_exact(k * k * c) {
                    out.extend_from_slice(&kernel[(a * k + b) * c..][..c]);
                }
            }
        }
        out
    }

    /// Adds `sub` (`[r, |ty|, |tx|, c]` of class `(cy, cx)`) to the kernels at those taps.
    fn add_taps(&self, kernels: &mut [f32], sub: &[f32], k: usize, cy: usize, cx: usize) {
        let c = self.channels;
        let (ty, tx) = (&self.ys[cy].taps, &self.xs[cx].taps);
        let mut parts = sub.chunks_exact(c);
        for kernel in kernels.chunks_exact_mut(k * k * c) {
            for &a in ty {
                for &b in tx {
                    let part = parts.next().expect("one sub-kernel row per tap");
                    for (t, &v) in kernel[(a * k + b) * c..][..c].iter_mut().zip(part) {
                        *t += v;
                    }
                }
            }
        }
    }
}

/// Output rows that tasks write from several threads, each task its own pixels.
struct SharedOut {
    ptr: *mut f32,
    len: usize,
}

// SAFETY: the tasks of one gather write disjoint pixels (each output pixel belongs to one
// class and one task of it), so sharing the pointer lets no two threads touch the same float.
unsafe impl Sync for SharedOut {}

impl SharedOut {
    /// Writes `row` (`width` floats) to pixel `pixel`, onto `base` (a bias) when given.
    ///
    /// # Safety
    /// No other thread may access pixel `pixel`'s floats during the call.
    unsafe fn write(&self, pixel: usize, width: usize, row: &[f32], base: Option<&[f32]>) {
        assert!(
            (pixel + 1) * width <= self.len && row.len() == width,
            "a pixel past the output"
        );
        // SAFETY: in bounds (checked above); exclusive by the caller's promise.
        let to = unsafe { self.ptr.add(pixel * width) };
        match base {
            Some(base) => {
                for (j, (&v, &b)) in row.iter().zip(base).enumerate() {
                    // SAFETY: j < width, inside this pixel's floats.
                    unsafe { to.add(j).write(v + b) };
                }
            }
            // SAFETY: `width` floats from `row` to this pixel's, which `row` cannot overlap.
            None => unsafe { std::ptr::copy_nonoverlapping(row.as_ptr(), to, width) },
        }
    }
}

/// How a gather's product meets the kernels.
#[derive(Debug, Clone, Copy)]
enum Side {
    /// The windows' gather: output rows `[n, r] = gathered [n, taps · c] × [r, taps · c]ᵀ`.
    Windows,
    /// The pixels' gather: output rows `[n, c] = gathered [n, taps · r] × [taps · r, c]`.
    Pixels,
}

/// Runs the gather `g` of `input` with `kernels` (`[r, k, k, c]`): `[batch · out pixels, width]`
/// rows, `width` = `r` for the windows' gather, `c` for the pixels'.
fn gather_product(
    g: &Gather,
    side: Side,
    input: &[f32],
    kernels: &[f32],
    w: &Windows,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let (k, c) = (w.kernel, w.channels);
    let r = kernels.len() / (k * k * c);
    let width = match side {
        Side::Windows => r,
        Side::Pixels => c,
    };
    let batch = input.len() / (g.in_len * g.channels);
    let subs: Vec<Vec<Vec<f32>>> = (0..g.ys.len())
        .map(|cy| {
            (0..g.xs.len())
                .map(|cx| match side {
                    Side::Windows => g.taps_by_kernel(kernels, k, cy, cx),
                    Side::Pixels => g.taps_by_channel(kernels, k, c, cy, cx),
                })
                .collect()
        })
        .collect();
    let len = batch * g.out_len * width;
    let mut out = Vec::<f32>::with_capacity(len);
    let rows = SharedOut {
        ptr: out.as_mut_ptr(),
        len,
    };
    g.tasks(batch).par_iter().for_each_init(
        || (Vec::new(), Vec::new()),
        |(taps, product), task| {
            let n = task.rows.len();
            let t = g.row_len(task.cy, task.cx);
            product.resize(n * width, 0.0);
            if t == 0 {
                product.fill(0.0);
            } else {
                g.gather(input, task, taps);
                let sub = &subs[task.cy][task.cx];
                let b = match side {
                    Side::Windows => View::rows(sub, width, t).t(),
                    Side::Pixels => View::rows(sub, t, width),
                };
                set_product_here(product, View::rows(taps, n, t), b);
            }
            for (r, row) in task.rows.clone().zip(product.chunks_exact(width)) {
                // SAFETY: each pixel is written by the one task of its class that covers it.
                unsafe { rows.write(g.out_pixel(task, r), width, row, bias) };
            }
        },
    );
    // SAFETY: the classes cover every output pixel and each task wrote all of its pixels.
    unsafe { out.set_len(len) };
    out
}

/// Windows one task of a kernel gradient sums (a constant, so the sums keep one order).
const ROWS_PER_GRADIENT_TASK: usize = 1024;

/// The kernel gradient `Σ windows' rowsᵀ ⊗ gathered windows`: `rows` `[batch · windows, r]`,
/// `image` the image the windows slide over. `[r, k, k, c]`, summed in a fixed order: each
/// task adds up to [`ROWS_PER_GRADIENT_TASK`] windows of one class, then a class's tasks are
/// added in order.
fn windows_kernel_grad(g: &Gather, rows: &[f32], image: &[f32], r: usize, k: usize) -> Vec<f32> {
    let batch = image.len() / (g.in_len * g.channels);
    let mut groups: Vec<(usize, usize, Vec<Task>)> = Vec::new();
    for task in g.tasks(batch) {
        match groups.last_mut() {
            Some((cy, cx, tasks))
                if (*cy, *cx) == (task.cy, task.cx)
                    && tasks.len() * ROWS_PER_PRODUCT < ROWS_PER_GRADIENT_TASK =>
            {
                tasks.push(task)
            }
            _ => groups.push((task.cy, task.cx, vec![task])),
        }
    }
    let parts: Vec<Vec<f32>> = groups
        .par_iter()
        .map_init(
            || (Vec::new(), Vec::new()),
            |(taps, left), (cy, cx, tasks)| {
                let t = g.row_len(*cy, *cx);
                let mut part = vec![0f32; r * t];
                for task in tasks.iter().filter(|_| t > 0) {
                    let n = task.rows.len();
                    g.gather(image, task, taps);
                    g.gather_out(rows, r, task, left);
                    add_product_here(
                        &mut part,
                        View::rows(left, n, r).t(),
                        View::rows(taps, n, t),
                    );
                }
                part
            },
        )
        .collect();
    let mut out = vec![0f32; r * k * k * g.channels];
    for ((cy, cx, _), part) in groups.iter().zip(parts) {
        g.add_taps(&mut out, &part, k, *cy, *cx);
    }
    out
}

/// A strided convolution's forward pass: `x` the `[batch · h · w, c_in]` rows of the images
/// `w` slides over, `kernels` `[c_out, k · k · c_in]` in window order. Returns the
/// `[batch · windows, c_out]` output rows.
pub fn conv_forward(x: &[f32], kernels: &[f32], bias: Option<&[f32]>, w: &Windows) -> Vec<f32> {
    let g = Gather::windows(w);
    gather_product(&g, Side::Windows, x, kernels, w, bias)
}

/// A strided convolution's gradients from its output's gradient `dy`: the input's (when
/// `x_grad`) and the kernels' in window order (when given the input `x`).
pub fn conv_backward(
    dy: &[f32],
    x: Option<&[f32]>,
    kernels: &[f32],
    w: &Windows,
    x_grad: bool,
) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
    let c_out = kernels.len() / w.window_len();
    let dx = x_grad.then(|| {
        if w.channels < PIXEL_GATHER_FROM {
            return layers::conv_input_grad(dy, kernels, w);
        }
        let g = Gather::pixels(w, c_out);
        gather_product(&g, Side::Pixels, dy, kernels, w, None)
    });
    let dk = x.map(|x| windows_kernel_grad(&Gather::windows(w), dy, x, c_out, w.kernel));
    (dx, dk)
}

/// A transposed convolution's forward pass: `x` the `[batch · windows, c_in]` rows of the small
/// image, `kernels` `[c_in, k · k · c_out]` in window order, `w` sliding over the output.
/// Returns the `[batch · h · w, c_out]` rows of the output.
pub fn deconv_forward(x: &[f32], kernels: &[f32], bias: Option<&[f32]>, w: &Windows) -> Vec<f32> {
    if w.channels < PIXEL_GATHER_FROM {
        return layers::deconv_forward(x, kernels, bias, w);
    }
    let c_in = kernels.len() / w.window_len();
    let g = Gather::pixels(w, c_in);
    gather_product(&g, Side::Pixels, x, kernels, w, bias)
}

/// A transposed convolution's gradients from its output's gradient `dy`: the input's (when
/// `x_grad`) and the kernels' in window order (when given the input `x` they read).
pub fn deconv_backward(
    dy: &[f32],
    x: Option<&[f32]>,
    kernels: &[f32],
    w: &Windows,
    x_grad: bool,
) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
    let c_in = kernels.len() / w.window_len();
    let g = Gather::windows(w);
    let dx = x_grad.then(|| gather_product(&g, Side::Windows, dy, kernels, w, None));
    let dk = x.map(|x| windows_kernel_grad(&g, x, dy, c_in, w.kernel));
    (dx, dk)
}

#[cfg(test)]
mod tests;
