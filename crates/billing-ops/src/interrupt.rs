//! Ctrl-C during an apply: the file phase is all-or-nothing, so an interrupt there must not
//! leave half the files written. While the guard is active, SIGINT is caught instead of
//! killing the process; apply checks it between steps, rolls the files back (or stops before
//! the next install / remote step) and reports a cancellation.
//!
//! Opt-in per [`crate::Engine`]: tokio never restores the default SIGINT action once a
//! handler is registered, which a long-running host (the MCP server) may not want.

pub struct InterruptGuard {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl InterruptGuard {
    /// Starts catching SIGINT when `enabled` (and the platform supports it).
    pub fn new(enabled: bool) -> Self {
        #[cfg(unix)]
        {
            let signal = enabled
                .then(|| {
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok()
                })
                .flatten();
            Self { signal }
        }
        #[cfg(not(unix))]
        {
            let _ = enabled;
            Self {}
        }
    }

    /// Whether Ctrl-C was pressed since the guard started (or since the last check).
    pub async fn interrupted(&mut self) -> bool {
        #[cfg(unix)]
        {
            use std::task::{Context, Poll, Waker};
            let Some(signal) = self.signal.as_mut() else {
                return false;
            };
            // The signal reaches the receiver through the runtime's driver; yielding lets the
            // runtime poll it (the file writes before this point are synchronous).
            tokio::task::yield_now().await;
            let mut cx = Context::from_waker(Waker::noop());
            let mut seen = false;
            while let Poll::Ready(Some(())) = signal.poll_recv(&mut cx) {
                seen = true;
            }
            seen
        }
        #[cfg(not(unix))]
        {
            false
        }
    }
}
