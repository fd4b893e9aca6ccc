//! Core computations off the async runtime, cancelled with their request.
//!
//! [`Blocking::run`] runs a closure on tokio's blocking pool and hands it a [`Cancel`] token; the returned future
//! holds the token's [`crate::cancel::CancelOnDrop`] guard. When the request's future is dropped (the request
//! timeout of `server::security` passed, or the client closed the connection), the guard cancels the token and
//! the core loops, which check it between bounded pieces of work, stop within a fraction of a second. A
//! computation that stopped this way ends in [`ApiError::Cancelled`] and is counted for `/metrics`
//! (`brandpunt_cancelled_total`); nothing of it is cached.

use super::error::ApiError;
use crate::cancel::Cancel;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Counters of the blocking computations (for `/metrics`).
#[derive(Default)]
pub struct Blocking {
    counters: Arc<Counters>,
}

#[derive(Default)]
struct Counters {
    running: AtomicUsize,
    cancelled: AtomicU64,
}

/// Decrements the running count when the computation ends, however it ends.
struct Running(Arc<Counters>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Blocking {
    /// Runs `f` on the blocking pool with a token that is cancelled when the returned future is dropped.
    pub async fn run<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&Cancel) -> Result<R, ApiError> + Send + 'static,
    {
        let (cancel, _guard) = Cancel::new();
        let counters = self.counters.clone();
        counters.running.fetch_add(1, Ordering::SeqCst);
        let running = Running(counters.clone());
        let out = tokio::task::spawn_blocking(move || {
            let _running = running;
            let out = f(&cancel);
            if matches!(out, Err(ApiError::Cancelled)) {
                counters.cancelled.fetch_add(1, Ordering::Relaxed);
            }
            out
        })
        .await
        .map_err(ApiError::internal)?;
        out
    }

    /// Computations running now (including those that were cancelled and have not yet reached a check).
    pub fn running(&self) -> usize {
        self.counters.running.load(Ordering::SeqCst)
    }

    /// Computations stopped by cancellation since the start.
    pub fn cancelled(&self) -> u64 {
        self.counters.cancelled.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_request_cancels_its_computation() {
        let blocking = Blocking::default();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (ended_tx, ended_rx) = mpsc::channel();
        let work = blocking.run(move |cancel| {
            let _ = started_tx.send(());
            // Works until cancelled (a computation far longer than any request may take).
            let mut rounds = 0u64;
            while cancel.check().is_ok() {
                rounds += 1;
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let _ = ended_tx.send(rounds);
            Err::<(), _>(ApiError::Cancelled)
        });
        // The request goes away once the computation runs (as a request timeout or a closed connection does).
        tokio::select! {
            _ = work => panic!("the computation cannot finish before it is cancelled"),
            _ = started_rx => {}
        }
        let rounds = tokio::task::spawn_blocking(move || ended_rx.recv())
            .await
            .unwrap()
            .expect("the computation stops");
        assert!(rounds < u64::MAX);
        // The blocking task has returned; its counters settle when its closure is dropped.
        while blocking.running() > 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(blocking.cancelled(), 1);
    }

    #[tokio::test]
    async fn a_finished_computation_is_not_cancelled() {
        let blocking = Blocking::default();
        let v = blocking
            .run(|cancel| {
                cancel.check()?;
                Ok(7)
            })
            .await
            .unwrap();
        assert_eq!(v, 7);
        assert_eq!((blocking.running(), blocking.cancelled()), (0, 0));
    }
}
