//! One PostgreSQL connection used synchronously: the pure-Rust async client (`tokio-postgres`), with the
//! connection task driven by a small runtime on a thread of its own and each request awaited by blocking the
//! calling thread. The store traits are synchronous and are called from plain threads and from the server's
//! tokio runtime alike; the blocking `postgres` crate would start a runtime inside the caller's and panic there.
//!
//! TLS goes through rustls with the ring provider (as `serve [tls]`): `sslmode=prefer` (the default) tries TLS
//! and falls back to plain, `require` insists on it, `disable` never tries; server certificates are checked
//! against the system roots (`SSL_CERT_FILE`, else `/etc/ssl/certs/ca-certificates.crt`). Unix sockets never
//! use TLS.

use super::super::StoreError;
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row, Statement};

/// A statement parameter.
pub(super) type Param<'a> = &'a (dyn ToSql + Sync);

/// Wait for `future` on the calling thread (parked between wake-ups). The client's futures only wait on
/// channels to the connection thread, so no runtime is needed here.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// `url` with its password replaced by `***` (for messages and logs).
///
/// ```
/// use brandpunt::store::redact_location;
/// assert_eq!(
///     redact_location("postgres://app:geheim@db.example/brandpunt"),
///     "postgres://app:***@db.example/brandpunt"
/// );
/// ```
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    // A `password=` query parameter is redacted as well.
    let tail = tail
        .split('&')
        .map(|part| match part.split_once("password=") {
            Some((head, _)) => format!("{head}password=***"),
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{scheme}://{authority}{tail}")
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => {
                let mut message = db.message().to_string();
                if let Some(detail) = db.detail() {
                    message.push_str(&format!(" ({detail})"));
                }
                let code = db.code().code();
                if code.starts_with("23") {
                    StoreError::Constraint { message }
                } else if matches!(code, "40001" | "40P01" | "55P03") {
                    StoreError::Busy { message }
                } else {
                    StoreError::Backend { message }
                }
            }
            None => StoreError::Backend {
                message: e.to_string(),
            },
        }
    }
}

/// The system's trusted roots for TLS to the database server.
fn root_store() -> rustls::RootCertStore {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let file = std::env::var_os("SSL_CERT_FILE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
    if let Ok(certs) = rustls_pki_types::CertificateDer::pem_file_iter(&file) {
        for cert in certs.flatten() {
            // A certificate rustls cannot use is skipped; the others still verify.
            let _ = roots.add(cert);
        }
    }
    roots
}

/// Open a client on `url`; its connection runs on a thread of its own until the client is dropped or the server
/// closes it. With `notices`, the payload of every notification the connection receives is sent there, and the
/// sender is dropped when the connection ends (so the receiver sees the end).
fn open_client(
    url: &str,
    notices: Option<std::sync::mpsc::Sender<String>>,
) -> Result<Client, StoreError> {
    let open_error = |reason: String| StoreError::Open {
        path: redact(url),
        reason,
    };
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| open_error(e.to_string()))?;
    let tls_config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| open_error(e.to_string()))?
    .with_root_certificates(root_store())
    .with_no_client_auth();
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config);
    let (sender, receiver) = std::sync::mpsc::channel::<Result<Client, String>>();
    std::thread::Builder::new()
        .name("brandpunt-postgres".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    let _ = sender.send(Err(e.to_string()));
                    return;
                }
            };
            runtime.block_on(async move {
                match config.connect(tls).await {
                    Ok((client, mut connection)) => {
                        let _ = sender.send(Ok(client));
                        // Runs until the client is dropped or the server closes the connection.
                        loop {
                            let message =
                                std::future::poll_fn(|cx| connection.poll_message(cx)).await;
                            match message {
                                Some(Ok(tokio_postgres::AsyncMessage::Notification(n))) => {
                                    if let Some(notices) = &notices {
                                        // An error means nobody listens any more (the client is dropped).
                                        let _ = notices.send(n.payload().to_string());
                                    }
                                }
                                Some(Ok(_)) => {}
                                Some(Err(e)) => {
                                    tracing::debug!(error = %e, "PostgreSQL connection ended");
                                    break;
                                }
                                None => break,
                            }
                        }
                    }
                    Err(e) => {
                        let _ = sender.send(Err(e.to_string()));
                    }
                }
            });
        })
        .map_err(|e| open_error(e.to_string()))?;
    receiver
        .recv()
        .map_err(|_| open_error("the connection thread stopped".into()))?
        .map_err(open_error)
}

/// A connection that `LISTEN`s on one channel: the payloads of its notifications, in order, until the
/// connection ends (the server restarted, the backend was terminated, the network broke).
pub(super) struct Listener {
    /// Kept open: dropping it ends the connection.
    _client: Client,
    notices: std::sync::mpsc::Receiver<String>,
}

/// What [`Listener::wait`] saw.
pub(super) enum Heard {
    /// A notification's payload.
    Notice(String),
    /// Nothing within the time given.
    Nothing,
    /// The connection ended: open a new listener.
    Ended,
}

impl Listener {
    /// Connect to `url` and `LISTEN` on `channel` (a plain identifier).
    pub(super) fn listen(url: &str, channel: &str) -> Result<Listener, StoreError> {
        let (sender, notices) = std::sync::mpsc::channel();
        let client = open_client(url, Some(sender))?;
        block_on(client.batch_execute(&format!("LISTEN {channel}")))?;
        Ok(Listener {
            _client: client,
            notices,
        })
    }

    /// The next notification, waiting up to `timeout`.
    pub(super) fn wait(&self, timeout: std::time::Duration) -> Heard {
        match self.notices.recv_timeout(timeout) {
            Ok(payload) => Heard::Notice(payload),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Heard::Nothing,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Heard::Ended,
        }
    }

    /// A notification already received, without waiting.
    pub(super) fn try_next(&self) -> Heard {
        match self.notices.try_recv() {
            Ok(payload) => Heard::Notice(payload),
            Err(std::sync::mpsc::TryRecvError::Empty) => Heard::Nothing,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => Heard::Ended,
        }
    }
}

/// One open connection (see the module doc).
pub(super) struct Conn {
    client: Client,
    /// Prepared statements by SQL text (a statement is prepared once per connection).
    statements: RefCell<HashMap<String, Statement>>,
}

impl Conn {
    /// Connect to the database at `url` (a `postgres://` URL or a `key=value` string).
    pub(super) fn connect(url: &str) -> Result<Conn, StoreError> {
        let client = open_client(url, None)?;
        Ok(Conn {
            client,
            statements: RefCell::new(HashMap::new()),
        })
    }

    fn statement(&self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let s = block_on(self.client.prepare(sql))?;
        self.statements
            .borrow_mut()
            .insert(sql.to_string(), s.clone());
        Ok(s)
    }

    /// The types of the columns `sql` (a query) returns, as the server states them.
    pub(super) fn column_types(&self, sql: &str) -> Result<Vec<Type>, StoreError> {
        let s = self.statement(sql)?;
        Ok(s.columns().iter().map(|c| c.type_().clone()).collect())
    }

    /// Run one or more statements without parameters.
    pub(super) fn batch(&self, sql: &str) -> Result<(), StoreError> {
        Ok(block_on(self.client.batch_execute(sql))?)
    }

    /// Run a statement; returns the number of rows it touched.
    pub(super) fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        let s = self.statement(sql)?;
        Ok(block_on(self.client.execute(&s, params))?)
    }

    pub(super) fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, StoreError> {
        let s = self.statement(sql)?;
        Ok(block_on(self.client.query(&s, params))?)
    }

    pub(super) fn query_opt(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Option<Row>, StoreError> {
        let s = self.statement(sql)?;
        Ok(block_on(self.client.query_opt(&s, params))?)
    }

    pub(super) fn query_one(&self, sql: &str, params: &[Param<'_>]) -> Result<Row, StoreError> {
        let s = self.statement(sql)?;
        Ok(block_on(self.client.query_one(&s, params))?)
    }

    /// Send a statement (its parameters owned) and return without waiting for its end: the server runs it while
    /// the caller works on. Requests on one connection run in the order they were sent, so anything sent later
    /// runs after it (in the same transaction); [`Started::wait`] before relying on its outcome. Dropping it
    /// unwaited discards the outcome, not the statement.
    pub(super) fn start(
        &self,
        sql: &str,
        params: Vec<Box<dyn ToSql + Sync + Send>>,
    ) -> Result<Started<'_>, StoreError> {
        let statement = self.statement(sql)?;
        let client = &self.client;
        Ok(Started::sent(Box::pin(async move {
            let params: Vec<Param<'_>> = params.iter().map(|p| p.as_ref() as Param<'_>).collect();
            client.execute(&statement, &params).await
        })))
    }

    /// [`Conn::start`] for a query of at most one row.
    pub(super) fn start_query_opt(
        &self,
        sql: &str,
        params: Vec<Box<dyn ToSql + Sync + Send>>,
    ) -> Result<Started<'_, Option<Row>>, StoreError> {
        let statement = self.statement(sql)?;
        let client = &self.client;
        Ok(Started::sent(Box::pin(async move {
            let params: Vec<Param<'_>> = params.iter().map(|p| p.as_ref() as Param<'_>).collect();
            client.query_opt(&statement, &params).await
        })))
    }

    /// [`Conn::start`] for statements without parameters (simple query protocol).
    pub(super) fn start_batch(&self, sql: &'static str) -> Started<'_> {
        let client = &self.client;
        Started::sent(Box::pin(async move {
            client.batch_execute(sql).await.map(|()| 0)
        }))
    }

    /// Start `COPY ... FROM STDIN (FORMAT binary)` (`sql`) with columns of `types` and leave it open: rows are
    /// written to it one call at a time ([`OpenCopy::write`]) and the server takes them in as they arrive. Until
    /// it is finished (or dropped, which aborts it) nothing else may be sent on this connection: a statement
    /// sent meanwhile would wait behind the copy for ever.
    pub(super) fn copy_open(&self, sql: &str, types: &[Type]) -> Result<OpenCopy, StoreError> {
        let sink = block_on(self.client.copy_in(sql))?;
        Ok(OpenCopy {
            writer: Box::pin(BinaryCopyInWriter::new(sink, types)),
            rows: 0,
        })
    }

    /// Stream `rows` into `COPY ... FROM STDIN (FORMAT binary)` (`sql`), each row's values (of `types`, in
    /// column order) given by `values`; returns the number of rows copied. Holds no more than one row's
    /// encoding beyond the client's send buffer.
    pub(super) fn copy_in<'r, T>(
        &self,
        sql: &str,
        types: &[Type],
        rows: &'r [T],
        values: impl Fn(&'r T, &mut Vec<Param<'r>>),
    ) -> Result<u64, StoreError> {
        block_on(async {
            let sink = self.client.copy_in(sql).await?;
            let writer = BinaryCopyInWriter::new(sink, types);
            let mut writer = std::pin::pin!(writer);
            let mut row: Vec<Param<'r>> = Vec::with_capacity(types.len());
            for r in rows {
                row.clear();
                values(r, &mut row);
                writer.as_mut().write(&row).await?;
            }
            writer.as_mut().finish().await
        })
        .map_err(StoreError::from)
    }

    /// Visit the rows of a query one by one as they arrive (bounded memory).
    pub(super) fn for_each<E: From<StoreError>>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        mut f: impl FnMut(&Row) -> Result<(), E>,
    ) -> Result<(), E> {
        let s = self.statement(sql)?;
        let stream = block_on(self.client.query_raw(&s, params.iter().copied()))
            .map_err(StoreError::from)?;
        let mut stream = Box::pin(stream);
        loop {
            let next = block_on(std::future::poll_fn(|cx| {
                futures_core::Stream::poll_next(stream.as_mut(), cx)
            }));
            match next {
                Some(row) => f(&row.map_err(StoreError::from)?)?,
                None => return Ok(()),
            }
        }
    }
}

/// A `COPY ... FROM STDIN (FORMAT binary)` in progress ([`Conn::copy_open`]); dropping it unfinished aborts the
/// copy (the server fails the statement, and with it the transaction).
pub(super) struct OpenCopy {
    writer: std::pin::Pin<Box<BinaryCopyInWriter>>,
    rows: u64,
}

impl OpenCopy {
    /// Write one row (values in the copy's column order and types); sent once the client's buffer fills.
    pub(super) fn write(&mut self, row: &[Param<'_>]) -> Result<(), StoreError> {
        block_on(self.writer.as_mut().write(row))?;
        self.rows += 1;
        Ok(())
    }

    /// The rows written so far.
    pub(super) fn rows(&self) -> u64 {
        self.rows
    }

    /// End the copy and wait for the server to have taken every row: the rows copied.
    pub(super) fn finish(mut self) -> Result<u64, StoreError> {
        Ok(block_on(self.writer.as_mut().finish())?)
    }
}

/// The pending outcome of a statement sent by [`Conn::start`].
type Outcome<'c, T> =
    std::pin::Pin<Box<dyn Future<Output = Result<T, tokio_postgres::Error>> + 'c>>;

/// A statement sent by [`Conn::start`] (or [`Conn::start_query_opt`]) whose end has not been waited for; `T` is
/// its outcome (rows touched, the row).
pub(super) struct Started<'c, T = u64> {
    future: Outcome<'c, T>,
}

impl<'c, T: 'c> Started<'c, T> {
    /// Poll `future` once: that encodes its request and hands it to the connection thread, which sends it.
    fn sent(mut future: Outcome<'c, T>) -> Started<'c, T> {
        let mut cx = Context::from_waker(Waker::noop());
        if let Poll::Ready(outcome) = future.as_mut().poll(&mut cx) {
            future = Box::pin(std::future::ready(outcome));
        }
        Started { future }
    }

    /// Wait for the statement's end: its outcome, or its error.
    pub(super) fn wait(self) -> Result<T, StoreError> {
        Ok(block_on(self.future)?)
    }
}

/// A column of a row, with a type mismatch or NULL in a non-null column as an error (never a panic).
pub(super) fn get<'r, T: tokio_postgres::types::FromSql<'r>>(
    row: &'r Row,
    index: usize,
) -> Result<T, StoreError> {
    row.try_get(index).map_err(|e| StoreError::Backend {
        message: format!("column {index}: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_locations() {
        assert_eq!(
            redact("postgres://app:geheim@db.example:5432/brandpunt?sslmode=require"),
            "postgres://app:***@db.example:5432/brandpunt?sslmode=require"
        );
        assert_eq!(
            redact("postgresql://app@db/b?password=geheim&sslmode=disable"),
            "postgresql://app@db/b?password=***&sslmode=disable"
        );
        assert_eq!(redact("postgres://db/b"), "postgres://db/b");
    }

    #[test]
    fn block_on_waits_for_a_future_woken_from_another_thread() {
        let (tx, rx) = futures_channel_like();
        std::thread::spawn(move || tx.send(7).unwrap());
        assert_eq!(block_on(rx), 7);
    }

    /// A one-shot value delivered through a std channel, polled as a future (wakes its waker from the sender).
    fn futures_channel_like() -> (Sender, Receiver) {
        let shared = Arc::new(std::sync::Mutex::new((None::<i32>, None::<Waker>)));
        (Sender(shared.clone()), Receiver(shared))
    }
    type Slot = Arc<std::sync::Mutex<(Option<i32>, Option<Waker>)>>;
    struct Sender(Slot);
    impl Sender {
        fn send(self, v: i32) -> Result<(), ()> {
            let mut g = self.0.lock().map_err(|_| ())?;
            g.0 = Some(v);
            if let Some(w) = g.1.take() {
                w.wake();
            }
            Ok(())
        }
    }
    struct Receiver(Slot);
    impl Future for Receiver {
        type Output = i32;
        fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<i32> {
            let mut g = self.0.lock().unwrap();
            match g.0.take() {
                Some(v) => Poll::Ready(v),
                None => {
                    g.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        }
    }
}
