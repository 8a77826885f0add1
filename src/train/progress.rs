//! The fit loop's progress bar: indicatif's with the cargo feature `progress`
//! (on by default), nothing without it.

use super::fit::FitConfig;

/// A progress bar over the epochs of one fit.
pub(super) struct Bar {
    #[cfg(feature = "progress")]
    bar: indicatif::ProgressBar,
}

impl Bar {
    /// Replaces the text after the bar.
    pub(super) fn set_message(&self, message: String) {
        #[cfg(feature = "progress")]
        self.bar.set_message(message);
        #[cfg(not(feature = "progress"))]
        let _ = message;
    }

    /// Advances the bar by `n` epochs.
    pub(super) fn inc(&self, n: u64) {
        #[cfg(feature = "progress")]
        self.bar.inc(n);
        #[cfg(not(feature = "progress"))]
        let _ = n;
    }

    /// Removes the bar from the terminal.
    pub(super) fn finish_and_clear(self) {
        #[cfg(feature = "progress")]
        self.bar.finish_and_clear();
    }
}

/// The bar `config` asks for: `None` when `config.progress` is off or the crate
/// is built without the `progress` feature.
pub(super) fn progress_bar(config: &FitConfig) -> Option<Bar> {
    if !config.progress {
        return None;
    }
    #[cfg(feature = "progress")]
    {
        use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
        // indicatif draws nothing when stderr is not a terminal.
        let bar =
            ProgressBar::with_draw_target(Some(config.epochs as u64), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{bar:30} epoch {pos}/{len} {msg}") {
            bar.set_style(style);
        }
        Some(Bar { bar })
    }
    #[cfg(not(feature = "progress"))]
    {
        None
    }
}
