//! Admission of per-filter builds: the KDE surfaces and fields, Gi* grids and cells and emerging grids and cubes
//! that the map layers and analyses of one filter share (cached, [`crate::cache`]). At most
//! `[limits] concurrent_builds` run at once (default: half the cores, at least 1); the others wait their turn.
//!
//! A build holds its filter's incidents and working arrays until it ends (hundreds of MB for a national
//! tenant), and each one already uses every core, so several new filters at once would multiply the memory
//! without finishing sooner. A build waiting for its turn stops waiting as soon as its request is cancelled
//! (checked every [`POLL`]). Builds do not nest: code holding a turn never asks for another one.
//!
//! ```
//! use brandpunt::cancel::Cancel;
//! use brandpunt::server::builds::BuildGate;
//!
//! let gate = BuildGate::new(1);
//! let turn = gate.enter(&Cancel::never()).unwrap();
//! assert_eq!((gate.running(), gate.waiting()), (1, 0));
//! // A second build whose request is gone does not wait.
//! let (cancel, guard) = Cancel::new();
//! drop(guard);
//! assert!(gate.enter(&cancel).is_err());
//! drop(turn);
//! assert_eq!(gate.running(), 0);
//! ```

use crate::cancel::{Cancel, Cancelled};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// How often a waiting build checks its cancellation.
pub const POLL: Duration = Duration::from_millis(20);

/// The gate: the number of builds running, bounded by its capacity.
pub struct BuildGate {
    capacity: usize,
    /// (running, waiting).
    counts: Mutex<(usize, usize)>,
    freed: Condvar,
    waits: AtomicU64,
}

/// A turn to run one build; the turn ends when this is dropped.
pub struct BuildTurn<'a> {
    gate: &'a BuildGate,
}

impl Drop for BuildTurn<'_> {
    fn drop(&mut self) {
        let mut counts = self.gate.lock();
        counts.0 -= 1;
        drop(counts);
        self.gate.freed.notify_one();
    }
}

impl BuildGate {
    /// At most `capacity` builds at once (at least 1).
    pub fn new(capacity: usize) -> BuildGate {
        BuildGate {
            capacity: capacity.max(1),
            counts: Mutex::new((0, 0)),
            freed: Condvar::new(),
            waits: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (usize, usize)> {
        // The counts stay consistent whatever panicked while holding the lock (only this module changes them).
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A turn: at once when one is free, else after waiting (blocking the calling thread; call it on the
    /// blocking pool) for one; [`Cancelled`] once `cancel` is, while waiting or before.
    pub fn enter(&self, cancel: &Cancel) -> Result<BuildTurn<'_>, Cancelled> {
        cancel.check()?;
        let mut counts = self.lock();
        if counts.0 >= self.capacity {
            self.waits.fetch_add(1, Ordering::Relaxed);
            counts.1 += 1;
            while counts.0 >= self.capacity {
                if cancel.is_cancelled() {
                    counts.1 -= 1;
                    return Err(Cancelled);
                }
                counts = self
                    .freed
                    .wait_timeout(counts, POLL)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            counts.1 -= 1;
        }
        counts.0 += 1;
        Ok(BuildTurn { gate: self })
    }

    /// Builds running now.
    pub fn running(&self) -> usize {
        self.lock().0
    }

    /// Builds waiting for a turn now.
    pub fn waiting(&self) -> usize {
        self.lock().1
    }

    /// Builds that had to wait for a turn, since the start.
    pub fn waits(&self) -> u64 {
        self.waits.load(Ordering::Relaxed)
    }

    /// Builds allowed at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[test]
    fn no_more_than_capacity_run_at_once_and_all_get_a_turn() {
        for capacity in [1, 2, 3] {
            let gate = Arc::new(BuildGate::new(capacity));
            let (now, most, done) = (
                Arc::new(AtomicUsize::new(0)),
                Arc::new(AtomicUsize::new(0)),
                Arc::new(AtomicUsize::new(0)),
            );
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let (gate, now, most, done) =
                        (gate.clone(), now.clone(), most.clone(), done.clone());
                    std::thread::spawn(move || {
                        let _turn = gate.enter(&Cancel::never()).unwrap();
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(n, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(5));
                        now.fetch_sub(1, Ordering::SeqCst);
                        done.fetch_add(1, Ordering::SeqCst);
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(done.load(Ordering::SeqCst), 8);
            assert!(most.load(Ordering::SeqCst) <= capacity);
            assert_eq!((gate.running(), gate.waiting()), (0, 0));
        }
    }

    #[test]
    fn a_waiting_build_stops_waiting_when_cancelled() {
        let gate = Arc::new(BuildGate::new(1));
        let turn = gate.enter(&Cancel::never()).unwrap();
        let (cancel, guard) = Cancel::new();
        let waiter = {
            let gate = gate.clone();
            std::thread::spawn(move || gate.enter(&cancel).map(|_| ()))
        };
        // The waiter is counted before it is cancelled (no timing: wait until it is).
        while gate.waiting() == 0 {
            std::thread::yield_now();
        }
        drop(guard);
        assert_eq!(waiter.join().unwrap(), Err(Cancelled));
        assert_eq!((gate.running(), gate.waiting(), gate.waits()), (1, 0, 1));
        drop(turn);
        assert_eq!(gate.running(), 0);
        assert_eq!(BuildGate::new(0).capacity(), 1);
    }
}
