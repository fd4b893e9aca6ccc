//! Credential checks off the request path: a small, fixed set of long-lived threads, each holding one
//! connection to the store, run every argon2 verification (API and delivery tokens, login passwords) and every
//! re-read of a user.
//!
//! Why dedicated threads rather than `spawn_blocking`: one argon2 check allocates 19 MiB. On tokio's blocking
//! pool the check lands on whichever thread is free, threads come and go, and glibc gives each thread a malloc
//! arena that keeps the freed 19 MiB: the release soak test saw the server's memory triple in ten minutes, one
//! step per token-cache expiry. Here at most [`WORKERS`] checks run at once, always on the same threads, and each
//! thread reuses its one store handle (opened with the server's [`StoreOpener`]) instead of opening the store per
//! check.
//!
//! The queue is bounded ([`QUEUE`]): when it is full (a flood of made-up tokens or logins), a new check is
//! answered 503 at once instead of piling up memory and latency.
//!
//! ```no_run
//! # async fn example(workers: &brandpunt::server::credential_worker::CredentialWorkers)
//! #     -> Result<(), brandpunt::server::ApiError> {
//! use brandpunt::store::PrivacyStore;
//! let principal = workers.run(|store| store.authenticate("bp_...")).await?;
//! # Ok(()) }
//! ```

use super::ApiError;
use crate::store::{ServerStore, StoreOpener};
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

/// Number of worker threads (credential checks that can run at the same time).
pub const WORKERS: usize = 2;

/// Checks that may wait for a worker before new ones are refused with 503.
pub const QUEUE: usize = 256;

/// A job gets the worker's store, or `None` when the store cannot be opened.
type Job = Box<dyn FnOnce(Option<&dyn ServerStore>) + Send>;

/// Handle to the worker threads. The threads end when the handle is dropped.
pub struct CredentialWorkers {
    queue: SyncSender<Job>,
}

impl CredentialWorkers {
    /// Start `workers` threads (at least one), each reading the store through a handle of its own from `opener`,
    /// with room for `queue` waiting jobs.
    pub fn start(opener: StoreOpener, workers: usize, queue: usize) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers.max(1) {
            let rx = rx.clone();
            let opener = opener.clone();
            std::thread::Builder::new()
                .name(format!("brandpunt-credentials-{i}"))
                .spawn(move || work(&opener, &rx))?;
        }
        Ok(CredentialWorkers { queue: tx })
    }

    /// Run `f` with a worker's store and return its result. 503 when the queue is full, 500 when the store
    /// cannot be opened or `f` panicked (the worker survives and reopens its connection).
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn ServerStore) -> T + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |store| {
            // The receiver may have gone (client disconnected): nothing to do then.
            let _ = tx.send(store.map(f));
        });
        match self.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!("credential check refused: {QUEUE} checks already waiting");
                return Err(ApiError::Unavailable(
                    "te veel aanmeldingen tegelijk; probeer het zo opnieuw".into(),
                ));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(ApiError::internal("credential workers stopped"))
            }
        }
        match rx.await {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(ApiError::internal(
                "credential check: store cannot be opened",
            )),
            Err(_) => Err(ApiError::internal("credential check failed")),
        }
    }
}

/// One worker: take jobs until every sender is gone.
fn work(opener: &StoreOpener, rx: &Mutex<Receiver<Job>>) {
    let mut store: Option<Box<dyn ServerStore>> = None;
    loop {
        let job = {
            let guard = match rx.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            match guard.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        if store.is_none() {
            match opener.open() {
                Ok(s) => store = Some(s),
                Err(e) => tracing::error!(error = %e, "credential worker cannot open the store"),
            }
        }
        let conn = store.as_deref();
        if std::panic::catch_unwind(AssertUnwindSafe(|| job(conn))).is_err() {
            tracing::error!("credential check panicked; reopening the store connection");
            store = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db() -> (tempfile::TempDir, StoreOpener) {
        let dir = tempfile::tempdir().unwrap();
        let opener = StoreOpener::new(&dir.path().join("db.sqlite")).unwrap();
        opener.open().unwrap();
        (dir, opener)
    }

    /// The address of the store handle a job got.
    fn address(s: &dyn ServerStore) -> usize {
        (s as *const dyn ServerStore).cast::<()>() as usize
    }

    #[tokio::test]
    async fn runs_jobs_on_the_named_worker_threads_with_one_connection() {
        let (_dir, opener) = temp_db();
        let workers = CredentialWorkers::start(opener, 1, 8).unwrap();
        let a = workers
            .run(|s| {
                let name = std::thread::current().name().map(str::to_string);
                (name, s.schema_version().unwrap(), address(s))
            })
            .await
            .unwrap();
        let b = workers.run(address).await.unwrap();
        assert_eq!(a.0.as_deref(), Some("brandpunt-credentials-0"));
        assert!(a.1 > 0);
        assert_eq!(a.2, b, "the worker keeps its connection between jobs");
    }

    #[tokio::test]
    async fn a_panicking_job_is_a_500_and_the_worker_goes_on() {
        let (_dir, opener) = temp_db();
        let workers = CredentialWorkers::start(opener, 1, 8).unwrap();
        let err = workers.run(|_| -> u8 { panic!("boom") }).await.unwrap_err();
        assert!(matches!(err, ApiError::Internal(_)));
        assert_eq!(workers.run(|_| 7).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_with_503() {
        let (_dir, opener) = temp_db();
        let workers = Arc::new(CredentialWorkers::start(opener, 1, 1).unwrap());
        // Hold the only worker until released, then fill the one queue slot.
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let w = workers.clone();
        let busy = tokio::spawn(async move {
            w.run(move |_| {
                let _ = started_tx.send(());
                let _ = release_rx.recv();
            })
            .await
        });
        started_rx.await.unwrap();
        // One poll of `run` puts the job in the queue (it then waits for the result).
        let queued = workers.run(|_| 1);
        tokio::pin!(queued);
        assert!(
            tokio::time::timeout(std::time::Duration::ZERO, &mut queued)
                .await
                .is_err(),
            "the only worker is busy"
        );
        let err = workers.run(|_| 2).await.unwrap_err();
        assert!(matches!(err, ApiError::Unavailable(_)), "{err:?}");
        release_tx.send(()).unwrap();
        busy.await.unwrap().unwrap();
        assert_eq!(queued.await.unwrap(), 1);
    }

    #[tokio::test]
    async fn an_unopenable_store_is_a_500() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the database file should be: SQLite cannot open it.
        let db = dir.path().join("db");
        std::fs::create_dir(&db).unwrap();
        let workers = CredentialWorkers::start(StoreOpener::new(&db).unwrap(), 1, 8).unwrap();
        let err = workers.run(|_| 1).await.unwrap_err();
        assert!(matches!(err, ApiError::Internal(_)));
    }
}
