//! `easel`: opens the studio, or runs a command-line command.

use clap::Parser;
use easel::cli;

fn main() {
    // Keep freed training buffers in the process (core/src/alloc.rs): before any allocation
    // worth the name.
    easel_core::alloc::tune();
    // burn puts a few tensors on its default device, which Easel never names: an optimizer's
    // state read back from a checkpoint (moved to the parameters' device at the next step). With
    // WGPU compiled in, that default is the GPU, probed even to resume a CPU run (on a machine
    // without a desktop session the Vulkan loader printed "error: XDG_RUNTIME_DIR is invalid"
    // four times). The default is the CPU here, unless the user set `BURN_DEVICE` themselves.
    if std::env::var_os("BURN_DEVICE").is_none() {
        // SAFETY: the first thing the process does, before any other thread exists.
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
    let args = cli::Cli::parse();
    if let Err(e) = cli::run(
        args.command
            .unwrap_or_else(|| cli::Action::Studio(Default::default())),
    ) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
