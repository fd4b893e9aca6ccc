//! Admission of heavy analyses (`/api/hotspots`, `/api/patrol`): at most `[limits] heavy_analyses` run at once,
//! at most `[limits] heavy_queue` more wait for a turn, and a request beyond that is refused at once with 503 and
//! `Retry-After` ([`ApiError::Busy`]) instead of queueing without bound. A waiting request that is dropped (its
//! client went away, its time ran out) gives up its place in the queue.

use super::error::ApiError;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Seconds a refused client is told to wait.
pub const RETRY_AFTER_S: u64 = 5;

/// The gate: a semaphore of `running` permits and a bounded count of waiters.
pub struct HeavyGate {
    running: Arc<Semaphore>,
    capacity: usize,
    waiting: AtomicUsize,
    queue: usize,
    refused: AtomicU64,
}

/// A turn to run one heavy analysis; the turn ends when this is dropped (move it into the blocking task).
pub struct HeavyTurn {
    _permit: OwnedSemaphorePermit,
}

/// Decrements the waiting count when the wait ends, however it ends.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl HeavyGate {
    /// `running` analyses at once (at least 1), `queue` more waiting.
    pub fn new(running: usize, queue: usize) -> HeavyGate {
        let capacity = running.max(1);
        HeavyGate {
            running: Arc::new(Semaphore::new(capacity)),
            capacity,
            waiting: AtomicUsize::new(0),
            queue,
            refused: AtomicU64::new(0),
        }
    }

    /// A turn: at once when one is free, after waiting when the queue has room, else [`ApiError::Busy`].
    pub async fn enter(&self) -> Result<HeavyTurn, ApiError> {
        if let Ok(permit) = self.running.clone().try_acquire_owned() {
            return Ok(HeavyTurn { _permit: permit });
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(ApiError::Busy {
                message: format!(
                    "te veel zware analyses tegelijk ({} bezig, {} wachtend); probeer het over {RETRY_AFTER_S} s opnieuw",
                    self.capacity, self.queue
                ),
                retry_after_s: RETRY_AFTER_S,
            });
        }
        let _waiting = Waiting(&self.waiting);
        let permit = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(ApiError::internal)?;
        Ok(HeavyTurn { _permit: permit })
    }

    /// Analyses running now.
    pub fn running(&self) -> usize {
        self.capacity - self.running.available_permits()
    }

    /// Requests waiting for a turn now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Requests refused since the start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn turns_beyond_the_queue_are_refused_and_a_dropped_waiter_leaves_it() {
        let gate = HeavyGate::new(1, 1);
        let first = gate.enter().await.unwrap();
        assert_eq!((gate.running(), gate.waiting()), (1, 0));
        // The second waits; poll it once so it takes its place in the queue.
        let mut second = Box::pin(gate.enter());
        assert!(futures_poll_once(second.as_mut()).await.is_none());
        assert_eq!(gate.waiting(), 1);
        // The third finds the queue full.
        match gate.enter().await {
            Err(ApiError::Busy { retry_after_s, .. }) => assert_eq!(retry_after_s, RETRY_AFTER_S),
            other => panic!("{:?}", other.err()),
        }
        assert_eq!(gate.refused(), 1);
        // The waiter goes away: its place is free again.
        drop(second);
        assert_eq!(gate.waiting(), 0);
        let mut third = Box::pin(gate.enter());
        assert!(futures_poll_once(third.as_mut()).await.is_none());
        drop(first);
        let turn = third.await.unwrap();
        assert_eq!((gate.running(), gate.waiting()), (1, 0));
        drop(turn);
        assert_eq!(gate.running(), 0);
    }

    /// Polls `f` once: `Some` when it finished.
    async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        let mut f = f;
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
