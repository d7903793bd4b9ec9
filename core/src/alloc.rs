//! The process allocator's settings for training on the CPU.
//!
//! A training step allocates and frees the same few hundred buffers every iteration, many of
//! them megabytes (im2col matrices, activations, gradients). With glibc's defaults each buffer
//! above the dynamic mmap threshold is mapped fresh and unmapped on free, and the heap top is
//! trimmed back to the kernel: every step then pays page faults and the kernel's zeroing of
//! every page again (17% of a `gran-fmnist` step on this project's 2-core machine, 533k page
//! faults a run). [`tune`] keeps freed memory in the process instead, so the next step reuses
//! pages already mapped.

/// Buffers up to this size come from the heap and are reused; larger ones are mapped (glibc's
/// largest allowed threshold on 64-bit targets, 32 MiB).
pub const MMAP_THRESHOLD_BYTES: i32 = 32 << 20;
/// Free memory at the heap top kept rather than returned to the kernel.
pub const TRIM_THRESHOLD_BYTES: i32 = 1 << 30;
/// Extra memory requested each time the heap grows.
pub const TOP_PAD_BYTES: i32 = 64 << 20;

/// Sets the allocator to keep and reuse freed buffers (glibc's `mallopt`; elsewhere nothing).
/// Call it once, first thing in `main`. Returns whether the settings were applied.
pub fn tune() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes glibc's tunables; any value is valid to pass.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
                && libc::mallopt(libc::M_TOP_PAD, TOP_PAD_BYTES) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
