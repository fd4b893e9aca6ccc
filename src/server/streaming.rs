//! Response bodies written as they are produced: a large GeoJSON or CSV answer never exists whole in memory.
//!
//! [`streamed`] runs a writer on the blocking pool; what it writes is cut into chunks of about [`CHUNK_BYTES`]
//! and handed to the connection through a channel of [`QUEUED_CHUNKS`] places, so the memory of a body is bounded
//! by a few chunks whatever its size, and a slow client slows the writer instead of filling memory. When the
//! client goes away the channel closes, the next write fails and the writer stops. The status and headers are
//! sent before the body is complete: a writer that fails halfway logs the error and ends the body early (the
//! client sees an incomplete transfer, never a truncated answer that looks whole).

use super::error::ApiError;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// Size of the chunks a streamed body is sent in.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks that may wait for the client.
pub const QUEUED_CHUNKS: usize = 4;

/// A writer that sends what is written to the response body in chunks.
pub struct ChunkWriter {
    buf: Vec<u8>,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// The receiving end as a body stream.
struct Chunks(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl futures_core::Stream for Chunks {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// A 200 response of `content_type` whose body `write` produces on the blocking pool (see the module docs).
pub fn streamed<F>(content_type: &'static str, write: F) -> Response
where
    F: FnOnce(&mut ChunkWriter) -> Result<(), ApiError> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(QUEUED_CHUNKS);
    tokio::task::spawn_blocking(move || {
        let mut w = ChunkWriter {
            buf: Vec::with_capacity(CHUNK_BYTES),
            tx: tx.clone(),
        };
        let done = write(&mut w).and_then(|()| w.flush().map_err(ApiError::internal));
        if let Err(e) = done {
            if !tx.is_closed() {
                tracing::error!(error = ?e, "streamed body failed halfway");
                let _ = tx.blocking_send(Err(std::io::Error::other("body ended early")));
            }
        }
    });
    (
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(Chunks(rx)),
    )
        .into_response()
}

/// Writes a GeoJSON FeatureCollection: the members of `head` (`"type"` first), then the features one by one as
/// `next` yields them (`None` ends the list), serialised straight into `w`.
pub fn write_feature_collection(
    w: &mut impl Write,
    head: &serde_json::Map<String, serde_json::Value>,
    mut next: impl FnMut() -> Result<Option<serde_json::Value>, ApiError>,
) -> Result<(), ApiError> {
    w.write_all(br#"{"type":"FeatureCollection""#)
        .map_err(ApiError::internal)?;
    for (k, v) in head.iter().filter(|(k, _)| k.as_str() != "type") {
        w.write_all(b",").map_err(ApiError::internal)?;
        serde_json::to_writer(&mut *w, k).map_err(ApiError::internal)?;
        w.write_all(b":").map_err(ApiError::internal)?;
        serde_json::to_writer(&mut *w, v).map_err(ApiError::internal)?;
    }
    w.write_all(br#","features":["#)
        .map_err(ApiError::internal)?;
    let mut first = true;
    while let Some(f) = next()? {
        if !first {
            w.write_all(b",").map_err(ApiError::internal)?;
        }
        first = false;
        serde_json::to_writer(&mut *w, &f).map_err(ApiError::internal)?;
    }
    w.write_all(b"]}").map_err(ApiError::internal)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_feature_collection_is_written_feature_by_feature() {
        let mut head = serde_json::Map::new();
        head.insert("method".into(), json!("gistar"));
        head.insert("bins".into(), json!("grid:100"));
        let mut k = 0;
        let mut out = Vec::new();
        write_feature_collection(&mut out, &head, || {
            k += 1;
            Ok((k <= 3).then(|| json!({"type": "Feature", "id": k})))
        })
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["type"], "FeatureCollection");
        assert_eq!(v["method"], "gistar");
        assert_eq!(v["bins"], "grid:100");
        assert_eq!(v["features"].as_array().unwrap().len(), 3);
        assert_eq!(v["features"][2]["id"], 3);
        let mut empty = Vec::new();
        write_feature_collection(&mut empty, &head, || Ok(None)).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&empty).unwrap();
        assert_eq!(v["features"], json!([]));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_large_body_arrives_whole_in_bounded_chunks() {
        // 20 MB written in small pieces; no chunk is larger than CHUNK_BYTES plus one piece.
        let piece = vec![b'x'; 1000];
        let response = streamed("text/csv", move |w| {
            for _ in 0..20_000 {
                w.write_all(&piece).map_err(ApiError::internal)?;
            }
            Ok(())
        });
        let mut body = response.into_body().into_data_stream();
        let (mut total, mut largest) = (0usize, 0usize);
        while let Some(chunk) = futures_next(&mut body).await {
            let chunk = chunk.unwrap();
            total += chunk.len();
            largest = largest.max(chunk.len());
        }
        assert_eq!(total, 20_000_000);
        assert!(largest < CHUNK_BYTES + 1000, "{largest}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writer_stops_when_the_client_goes_away() {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let response = streamed("text/csv", move |w| {
            // Writes "for ever": only a closed channel ends it.
            let mut written = 0u64;
            let r = loop {
                if let Err(e) = w.write_all(&[b'y'; 4096]) {
                    break Err(ApiError::internal(e));
                }
                written += 4096;
            };
            let _ = done_tx.send(written);
            r
        });
        let mut body = response.into_body().into_data_stream();
        assert!(futures_next(&mut body).await.is_some());
        drop(body);
        let written = tokio::task::spawn_blocking(move || done_rx.recv())
            .await
            .unwrap()
            .expect("the writer stops");
        assert!(written > 0);
    }

    async fn futures_next<S: futures_core::Stream + Unpin>(s: &mut S) -> Option<S::Item> {
        std::future::poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
    }
}
