//! Cooperative cancellation of long computations.
//!
//! A [`Cancel`] token is handed to a core computation; its loops call [`Cancel::check`] at points no more than a
//! few milliseconds of work apart and return [`Cancelled`] once the token is cancelled. The caller that owns the
//! work holds the [`CancelOnDrop`] guard: dropping it (a request whose timeout passed, a client that went away, a
//! command interrupted) cancels the token, so the computation stops within a fraction of a second instead of
//! running on to a result nobody reads.
//!
//! ```
//! use brandpunt::cancel::{Cancel, Cancelled};
//!
//! fn sum_slowly(values: &[u64], cancel: &Cancel) -> Result<u64, Cancelled> {
//!     let mut sum = 0;
//!     for chunk in values.chunks(1024) {
//!         cancel.check()?;
//!         sum += chunk.iter().sum::<u64>();
//!     }
//!     Ok(sum)
//! }
//!
//! let values: Vec<u64> = (0..10_000).collect();
//! assert_eq!(sum_slowly(&values, &Cancel::never()), Ok(49_995_000));
//!
//! let (cancel, guard) = Cancel::new();
//! drop(guard); // the request went away
//! assert_eq!(sum_slowly(&values, &cancel), Err(Cancelled));
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The computation was cancelled before it finished; no partial result exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("de berekening is afgebroken")]
pub struct Cancelled;

/// A cheap, clonable cancellation token. [`Cancel::never`] is never cancelled (for callers that always want the
/// result, such as the command line and tests).
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    flag: Option<Arc<AtomicBool>>,
}

/// Cancels its token when dropped (or at [`CancelOnDrop::cancel`]). Keep it with the party waiting for the result.
#[derive(Debug)]
pub struct CancelOnDrop {
    flag: Arc<AtomicBool>,
}

impl Cancel {
    /// A token that is never cancelled.
    pub fn never() -> Cancel {
        Cancel { flag: None }
    }

    /// A token and the guard that cancels it.
    pub fn new() -> (Cancel, CancelOnDrop) {
        let flag = Arc::new(AtomicBool::new(false));
        (
            Cancel {
                flag: Some(flag.clone()),
            },
            CancelOnDrop { flag },
        )
    }

    /// Whether the token has been cancelled.
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.flag
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Relaxed))
    }

    /// `Err(Cancelled)` once the token has been cancelled; call it between bounded pieces of work.
    #[inline]
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }
}

impl CancelOnDrop {
    /// Cancel now (the guard's drop would do the same).
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_cancelled_by_its_guard_only() {
        let (cancel, guard) = Cancel::new();
        let copy = cancel.clone();
        assert_eq!(cancel.check(), Ok(()));
        guard.cancel();
        assert_eq!(cancel.check(), Err(Cancelled));
        assert!(copy.is_cancelled());
        drop(guard);
        assert!(Cancel::never().check().is_ok());
        assert!(Cancel::default().check().is_ok());
    }

    #[test]
    fn dropping_the_guard_cancels() {
        let (cancel, guard) = Cancel::new();
        drop(guard);
        assert!(cancel.is_cancelled());
    }
}
