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
    /// Ctrl-C was pressed (sticky: once asked to stop, apply stops).
    seen: bool,
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
            Self {
                signal,
                seen: false,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = enabled;
            Self {}
        }
    }

    /// Whether Ctrl-C was pressed since the guard started.
    pub async fn interrupted(&mut self) -> bool {
        #[cfg(unix)]
        {
            if self.signal.is_none() {
                return false;
            }
            // The signal reaches the receiver through the runtime's driver; yielding lets the
            // runtime poll it (the file writes before this point are synchronous).
            tokio::task::yield_now().await;
            self.interrupted_now()
        }
        #[cfg(not(unix))]
        {
            false
        }
    }

    /// Like [`Self::interrupted`] without yielding, for the remote phase, whose requests keep
    /// the runtime's driver turning. A press stays seen until the guard is dropped.
    pub fn interrupted_now(&mut self) -> bool {
        #[cfg(unix)]
        {
            use std::task::{Context, Poll, Waker};
            let Some(signal) = self.signal.as_mut() else {
                return self.seen;
            };
            let mut cx = Context::from_waker(Waker::noop());
            while let Poll::Ready(Some(())) = signal.poll_recv(&mut cx) {
                self.seen = true;
            }
            self.seen
        }
        #[cfg(not(unix))]
        {
            false
        }
    }
}
