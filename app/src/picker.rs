//! Choosing folders without blocking the UI: the real picker runs rfd's `AsyncFileDialog` on its
//! own thread; tests substitute a picker that answers at once.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};

/// Repaints the UI from another thread.
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// Something that asks the user for a folder and answers later through a channel.
pub trait FolderPicker {
    /// Starts asking; the answer (None if cancelled) arrives on the returned channel.
    fn pick_folder(&self, title: &str, wake: Wake) -> Receiver<Option<PathBuf>>;
}

/// The system's folder dialog (xdg portal on Linux).
pub struct DialogPicker;

impl FolderPicker for DialogPicker {
    fn pick_folder(&self, title: &str, wake: Wake) -> Receiver<Option<PathBuf>> {
        let (tx, rx) = mpsc::channel();
        let title = title.to_string();
        let spawned = std::thread::Builder::new()
            .name("easel-dialog".into())
            .spawn(move || {
                let picked =
                    pollster::block_on(rfd::AsyncFileDialog::new().set_title(&title).pick_folder());
                let _ = tx.send(picked.map(|h| h.path().to_path_buf()));
                wake();
            });
        if spawned.is_err() {
            // The sender was moved into the closure that never ran: the receiver reports a
            // disconnect and the panel treats it as cancelled.
        }
        rx
    }
}

/// A picker that answers with a fixed folder (for tests).
pub struct FixedPicker(pub Option<PathBuf>);

impl FolderPicker for FixedPicker {
    fn pick_folder(&self, _title: &str, wake: Wake) -> Receiver<Option<PathBuf>> {
        let (tx, rx) = mpsc::channel();
        let _ = tx.send(self.0.clone());
        wake();
        rx
    }
}
