//! Automated deliveries: `POST /api/deliveries` (multipart upload) and the inbox folder (`serve --inbox DIR`).
//! Both run the same importer as `brandpunt import incidents` ([`crate::import::incidents::import_incident_file`])
//! and make the tenant's new data current at once ([`AppState::reload_tenants`]): tiles and statistics show a
//! delivery as soon as it is committed.
//!
//! # Upload
//! `POST /api/deliveries`, `multipart/form-data` with the parts `file` (the delivery, CSV or XLSX; its file name
//! is kept), `source` (e.g. `politie`) and optionally `mapping` (a column-mapping TOML text, as for
//! `brandpunt import incidents --mapping`). The upload is streamed to a temporary file first; a body larger than
//! `[limits] max_body_bytes` (default 64 MB) is refused with 413. Answer 200 with the import
//! summary (`inserted`, `replaced`, `unchanged`, `rejected`, ... in `outcome` and at the top level) and `rows`:
//! the rejected or unlocated rows with `line`, `registration`, `column`, `reason`, `outcome` (the first
//! [`crate::import::incidents::REPORT_ROWS_KEPT`]; `report_omitted` counts the rest, which the stored report
//! lists). A file that is
//! not an incident delivery at all (unreadable, missing columns, bad mapping) gives 400 naming `file` or
//! `mapping`, and nothing is stored. Delivering the same file twice changes nothing (`already_imported`).
//!
//! # Inbox
//! With `serve --inbox DIR` a background thread looks at `DIR` every [`crate::config::ServerConfig::poll_interval`]
//! (at least 200 ms) for deliveries named by the conventions of [`crate::import::inbox`] (source by sub-folder,
//! `mapping.toml`, `FILE.done` markers, files in progress ignored). A file is imported once it is stable (size
//! and modification time unchanged between two polls) or marked, then moved to `DIR/done/` (at least one row
//! stored, or delivered before) or `DIR/failed/` (unreadable, or every row rejected) with its report
//! `STEM.rapport.csv` and summary `STEM.json`; a taken name gets a time prefix `YYYYMMDDTHHMMSS-`.

use super::error::ApiError;
use super::{AnyCaller, AppState};
use crate::access::{Action, PrincipalKind, Role};
use crate::import::inbox::{
    import_delivery, safe_file_name, scan_inbox, stored_something, valid_source, Candidate,
};
use crate::import::incidents::{IncidentImportError, IncidentImportSummary};
use crate::import::mapping::Mapping;
use crate::import::report::{write_report, ReportEntry};
use crate::store::ReportRecord;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Default limit of an upload: 64 MB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 64 * 1024 * 1024;

pub fn routes() -> Router<Arc<AppState>> {
    // The size limit is enforced while streaming (from the configuration), not by axum's fixed default.
    Router::new().route(
        "/api/deliveries",
        post(upload).layer(DefaultBodyLimit::disable()),
    )
}

/// A private temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir, std::io::Error> {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!(
            "brandpunt-upload-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge(format!("upload te groot: {}", e.body_text()))
    } else {
        ApiError::bad(format!("ongeldige multipart-body: {}", e.body_text()))
    }
}

/// `POST /api/deliveries` (see the module docs).
async fn upload(
    State(state): State<Arc<AppState>>,
    AnyCaller(principal): AnyCaller,
    mut multipart: Multipart,
) -> Result<Response, ApiError> {
    // Before reading the body: only admins and delivery tokens may upload at all.
    let may_upload_some = match &principal.kind {
        PrincipalKind::Delivery { .. } => true,
        PrincipalKind::User => principal.role == Role::Admin,
        PrincipalKind::Anonymous => false,
    };
    if !may_upload_some {
        return Err(ApiError::Forbidden("geen toegang".into()));
    }
    let dir = TempDir::new().map_err(ApiError::internal)?;
    let limit = state.config.limits.max_body_bytes;
    let mut total: u64 = 0;
    let mut file: Option<PathBuf> = None;
    let mut source: Option<String> = None;
    let mut mapping_text: Option<String> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => {
                let file_name = safe_file_name(field.file_name().unwrap_or("levering.csv"));
                let path = dir.0.join(&file_name);
                let mut out = std::fs::File::create(&path).map_err(ApiError::internal)?;
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    total += chunk.len() as u64;
                    if total > limit {
                        return Err(ApiError::TooLarge(format!(
                            "upload groter dan {} MB",
                            limit / (1024 * 1024)
                        )));
                    }
                    out.write_all(&chunk).map_err(ApiError::internal)?;
                }
                out.flush().map_err(ApiError::internal)?;
                file = Some(path);
            }
            "source" | "mapping" => {
                let bytes = field.bytes().await.map_err(multipart_error)?;
                total += bytes.len() as u64;
                if total > limit {
                    return Err(ApiError::TooLarge(format!(
                        "upload groter dan {} MB",
                        limit / (1024 * 1024)
                    )));
                }
                let text = String::from_utf8(bytes.to_vec())
                    .map_err(|_| ApiError::param(&name, "geen geldige UTF-8-tekst"))?;
                if name == "source" {
                    source = Some(text.trim().to_string());
                } else {
                    mapping_text = Some(text);
                }
            }
            other => {
                return Err(ApiError::param(
                    other,
                    format!("onbekend veld '{other}' (verwacht: file, source, mapping)"),
                ))
            }
        }
    }
    let file = file.ok_or_else(|| ApiError::param("file", "het bestand ('file') ontbreekt"))?;
    let source = source
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::param("source", "de bron ('source') ontbreekt"))?;
    if !valid_source(&source) {
        return Err(ApiError::param(
            "source",
            format!("ongeldige bron '{source}' (letters, cijfers, -, _, .; hoogstens 64 tekens)"),
        ));
    }
    // A delivery token may only upload deliveries of its own source, for its own tenant.
    if !principal.may(
        &principal.tenant,
        &Action::ImportDelivery {
            source: source.clone(),
        },
    ) {
        return Err(ApiError::Forbidden(format!(
            "dit token mag geen leveringen van bron '{source}' aanleveren"
        )));
    }
    let mapping = match &mapping_text {
        Some(t) => {
            let mut m = Mapping::from_toml_str("mapping", t)
                .map_err(|e| ApiError::param("mapping", e.to_string()))?;
            m.pseudonym_key = state.config.pseudonym_key.clone();
            Some(m)
        }
        None => None,
    };
    let st = state.clone();
    let tenant = principal.tenant.clone();
    let import_tenant = tenant.clone();
    let prefix = format!("{}/", dir.0.display());
    let report_path = dir.0.join("rapport.csv");
    let (summary, rows) = tokio::task::spawn_blocking(
        move || -> Result<(IncidentImportSummary, Vec<ReportRecord>), ApiError> {
            let _writing = st.writing();
            let result = st.with_store(|store| {
                import_delivery(
                    store.as_store_mut(),
                    &import_tenant,
                    &source,
                    mapping,
                    &file,
                    &report_path,
                )
            });
            let mut summary = match result {
                Ok(s) => s,
                Err(IncidentImportError::Delivery(e)) => {
                    let parameter = match e {
                        crate::import::delivery::DeliveryError::Mapping { .. } => "mapping",
                        _ => "file",
                    };
                    return Err(ApiError::param(
                        parameter,
                        e.to_string().replace(&prefix, ""),
                    ));
                }
                Err(IncidentImportError::PseudonymKeyMissing { columns, .. }) => {
                    return Err(ApiError::param(
                        "mapping",
                        format!(
                            "kolommen met persoonsgegevens ({}) maar de server heeft geen pseudonimiseringssleutel; start `brandpunt serve` met BRANDPUNT_PSEUDONYM_KEY of --pseudonym-key-file",
                            columns.join(", ")
                        ),
                    ));
                }
                Err(e) => return Err(ApiError::internal(e)),
            };
            let rows = std::mem::take(&mut summary.report);
            if !summary.outcome.already_imported {
                st.reload_tenants(std::slice::from_ref(&import_tenant))
                    .map_err(ApiError::internal)?;
            }
            Ok((summary, rows))
        },
    )
    .await
    .map_err(ApiError::internal)??;
    drop(dir);
    let mut body = serde_json::to_value(&summary).map_err(ApiError::internal)?;
    if let Some(obj) = body.as_object_mut() {
        let o = &summary.outcome;
        obj.remove("report_path");
        obj.insert("inserted".into(), json!(o.inserted));
        obj.insert("replaced".into(), json!(o.replaced));
        obj.insert("unchanged".into(), json!(o.unchanged));
        obj.insert("already_imported".into(), json!(o.already_imported));
        obj.insert("rows".into(), json!(rows));
        let generation = state.snapshot_of(&tenant).map(|s| s.generation);
        obj.insert("generation".into(), json!(generation));
    }
    Ok(Json(body).into_response())
}

// ---------------------------------------------------------------------------------------------------------
// Inbox

/// Start the inbox thread when [`crate::config::ServerConfig::inbox`] is set (creates `done/` and `failed/`).
pub fn spawn_inbox(state: &Arc<AppState>) -> Result<(), std::io::Error> {
    let Some(dir) = state.config.inbox.clone() else {
        return Ok(());
    };
    std::fs::create_dir_all(dir.join("done"))?;
    std::fs::create_dir_all(dir.join("failed"))?;
    std::fs::create_dir_all(dir.join(WORK_DIR))?;
    let state = state.clone();
    std::thread::Builder::new()
        .name("brandpunt-inbox".into())
        .spawn(move || {
            let mut inbox = Inbox::new(dir);
            let interval = state.config.poll_interval.max(Duration::from_millis(200));
            // One replica at a time imports the inbox (a folder shared by the replicas).
            let mut duty = super::DutyHolder::new(crate::store::Duty::Inbox);
            loop {
                if duty.hold(&state) {
                    inbox.poll(&state);
                    std::thread::sleep(interval);
                } else {
                    std::thread::sleep(super::DUTY_RETRY);
                }
            }
        })?;
    tracing::info!("inbox active");
    Ok(())
}

const WORK_DIR: &str = ".brandpunt";

struct Inbox {
    dir: PathBuf,
    /// Size and modification time seen at the previous poll.
    seen: HashMap<PathBuf, (u64, Option<SystemTime>)>,
}

impl Inbox {
    fn new(dir: PathBuf) -> Inbox {
        Inbox {
            dir,
            seen: HashMap::new(),
        }
    }

    fn poll(&mut self, state: &AppState) {
        let candidates = scan_inbox(&self.dir);
        let mut seen = HashMap::new();
        for c in candidates {
            let stable = self
                .seen
                .get(&c.path)
                .is_some_and(|prev| *prev == (c.len, c.modified));
            if c.marked || stable {
                self.process(state, &c);
            } else {
                seen.insert(c.path.clone(), (c.len, c.modified));
            }
        }
        self.seen = seen;
    }

    /// Import one stable file, make the data current, and move the file with its report away.
    fn process(&self, state: &AppState, c: &Candidate) {
        let name = c
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let stem = c
            .path
            .file_stem()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "levering".into());
        let work_report = self.dir.join(WORK_DIR).join(format!("{stem}.rapport.csv"));
        let mapping = match &c.mapping {
            Some(m) => Mapping::from_toml_file(m).map(|mut m| {
                m.pseudonym_key = state.config.pseudonym_key.clone();
                Some(m)
            }),
            None => Ok(None),
        };
        let _writing = state.writing();
        let result = match mapping {
            Ok(mapping) => state.with_store(|store| {
                import_delivery(
                    store.as_store_mut(),
                    &state.config.inbox_tenant,
                    &c.source,
                    mapping,
                    &c.path,
                    &work_report,
                )
            }),
            Err(e) => Err(IncidentImportError::Delivery(e)),
        };
        let (ok, changed, summary_json) = match &result {
            Ok(s) => (
                stored_something(s),
                !s.outcome.already_imported,
                serde_json::to_value(s).unwrap_or_default(),
            ),
            Err(e) => {
                let entry = ReportEntry {
                    line: 0,
                    registration: None,
                    column: None,
                    reason: e.to_string(),
                    outcome: "rejected",
                };
                if let Err(w) = write_report(&work_report, &[entry]) {
                    tracing::error!(error = %w, "cannot write the inbox report");
                }
                (false, false, json!({"file": name, "error": e.to_string()}))
            }
        };
        if changed {
            // Make the data current before the file shows up in done/.
            if let Err(e) = state.reload_tenants(std::slice::from_ref(&state.config.inbox_tenant)) {
                tracing::error!(error = %e, "reload after an inbox delivery failed");
            }
        }
        let target = self.dir.join(if ok { "done" } else { "failed" });
        let taken =
            target.join(&name).exists() || target.join(format!("{stem}.rapport.csv")).exists();
        let prefix = if taken {
            format!("{}-", chrono::Local::now().format("%Y%m%dT%H%M%S"))
        } else {
            String::new()
        };
        let moves = [
            (c.path.clone(), target.join(format!("{prefix}{name}"))),
            (
                work_report,
                target.join(format!("{prefix}{stem}.rapport.csv")),
            ),
        ];
        for (from, to) in moves {
            if let Err(e) = std::fs::rename(&from, &to) {
                tracing::error!(error = %e, from = %from.display(), "inbox: cannot move");
            }
        }
        let report_final = target.join(format!("{prefix}{stem}.rapport.csv"));
        let mut summary_json = summary_json;
        if let Some(o) = summary_json.as_object_mut() {
            o.insert(
                "report_path".into(),
                json!(report_final.display().to_string()),
            );
        }
        let summary_path = target.join(format!("{prefix}{stem}.json"));
        if let Err(e) = std::fs::write(
            &summary_path,
            serde_json::to_vec_pretty(&summary_json).unwrap_or_default(),
        ) {
            tracing::error!(error = %e, "inbox: cannot write the summary");
        }
        let marker = c.path.with_file_name(format!("{name}.done"));
        let _ = std::fs::remove_file(marker);
        tracing::info!(file = %name, source = %c.source, ok, "inbox delivery processed");
    }
}
