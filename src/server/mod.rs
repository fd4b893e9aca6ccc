//! `brandpunt serve`: the HTTP service (axum + tokio) over the store and the analysis engine.
//!
//! The service is a thin layer: every request reads one immutable [`Snapshot`] of the tenant's data (areas,
//! incidents), computes with the pure core (`tiles`, `analysis`) and answers. Writes (custom areas, deliveries) go
//! to the store in one transaction and then replace the snapshot. Changes made by other processes (a CLI import
//! while the server runs) are noticed through the store's change token ([`crate::store::Changes`]) within
//! [`ServerConfig::poll_interval`]. The server reaches storage only through the store traits
//! ([`crate::store::ServerStore`]), opened with one [`crate::store::StoreOpener`].
//! Cached results ([`AppState::caches`], a [`crate::cache::Caches`]: tiles, counts per filter, analyses, bodies;
//! one byte budget) are keyed by the snapshot's generation, so a change invalidates them at once. Each route
//! module defines the key types of what it caches; [`CACHE_KINDS`] lists them for `/metrics`.
//!
//! Every request is parsed here, computed by the core and serialised here. The modules, by what they own:
//! - request plumbing: [`security`] (client address, security headers, limits, rate limits, timeouts around
//!   every handler), [`auth`] (credentials, OpenID Connect tokens through [`crate::oidc`] -> [`Caller`]:
//!   principal and the tenant's snapshot), [`cookie`] (the session cookie and its CSRF rule), [`session`]
//!   (`/api/login`, `/api/logout`, `/api/me`), [`credential_worker`] (token and password checks off the request
//!   path), [`filter`] (query parameters -> [`crate::dataset`] filters), [`error`] (JSON errors), [`ops`]
//!   (health, readiness, metrics, request log, the OpenAPI document assembled from `openapi/MODULE.json`);
//! - state: the caches and the snapshots in [`AppState`];
//! - routes, one module each with its OpenAPI fragment: [`areas`] (meta, area list, area GeoJSON and statistics,
//!   custom areas), [`analysis_api`] (time series, hour of week, phenomenon profile), [`compare`], [`export`]
//!   (statistics as GeoJSON, TopoJSON, CSV), [`hotspots`] (KDE, Gi*, emerging hot spots), [`incidents`]
//!   (address-level exports), [`patrol`], [`report`] (the monthly analysis), [`dashboard`] (the dashboard
//!   veiligheid), [`enrichment`] (CBS kerncijfers and municipal indicators per area, the scatter), [`tiles`]
//!   (MVT and TileJSON),
//!   [`raster`] (PNG tiles), [`wms`] (WMS and the Tableau `.tms` file), [`deliveries`] (uploads and the inbox),
//!   [`relations`] (the network of registrations, addresses and pseudonymised subjects), [`ogc`] (OGC API -
//!   Features for GIS clients);
//! - background tasks: [`retention`] (daily retention), [`access_log`] (audit of address-level tile access),
//!   the change watcher (below).
//!
//! [`serve`] listens on plain HTTP or, with [`ServerConfig::tls`], on HTTPS (rustls with the ring provider), with
//! hyper's header-read timeout against slow clients and the peer address available to [`security`].

pub mod access_log;
pub mod analysis_api;
pub mod areas;
pub mod auth;
pub mod blocking;
pub mod builds;
pub mod compare;
pub mod cookie;
pub mod credential_worker;
pub mod dashboard;
pub mod deliveries;
pub mod enrichment;
pub mod error;
pub mod export;
pub mod filter;
pub mod forecast;
pub mod forecast_evaluate;
pub mod heavy;
pub mod hotspots;
pub mod incidents;
pub mod near_repeat;
pub mod ogc;
pub mod streaming;
use crate::oidc;
pub mod ops;
pub mod patrol;
pub mod raster;
pub mod relations;
pub mod repeats;
pub mod report;
pub mod retention;
pub mod security;
pub mod session;
pub mod tiles;
pub mod wms;
pub mod xlsx;

use crate::area_level::AreaLevel;
use crate::cache::{CacheEntry, Caches};
use crate::cancel::Cancel;
use crate::config::ServerConfig;
pub use crate::dataset::{Snapshot, SnapshotError};
use crate::store::{
    DataChange, DataFingerprint, IncidentMark, ServerStore, StoreError, StoreOpener,
};
pub use auth::{AnyCaller, Caller};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
pub use error::ApiError;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    /// A setting that cannot be used (names the section and key).
    #[error("configuratie: {0}")]
    Config(String),
    /// The TLS certificate or key cannot be used (names the file).
    #[error("TLS: {0}")]
    Tls(String),
    #[error(transparent)]
    Oidc(#[from] oidc::OidcError),
}

/// Shared state of all requests.
pub struct AppState {
    pub config: ServerConfig,
    store: Mutex<Box<dyn ServerStore>>,
    /// Opens further handles onto the store (the change watcher's).
    opener: StoreOpener,
    /// The current snapshot of every tenant, by tenant code.
    snapshots: RwLock<Arc<HashMap<String, Arc<Snapshot>>>>,
    generation: AtomicU64,
    /// Per tenant: the generation of a snapshot and where the store stood when it was read
    /// ([`crate::store::Store::incident_mark`]): a reload of that snapshot reads only the changes since.
    marks: Mutex<HashMap<String, (u64, IncidentMark)>>,
    /// What the store held when the current snapshots were read, and its users and tokens when they were last
    /// taken into account: the change watcher reloads what differs from this.
    loaded: Mutex<DataFingerprint>,
    /// Held by a write of the server together with its reload, and by the change watcher around its check and
    /// reload ([`AppState::writing`]).
    writing: Mutex<()>,
    /// Remembered token checks ([`auth`]).
    pub token_cache: auth::TokenCache,
    /// Admission of heavy analyses ([`heavy`]).
    pub heavy: heavy::HeavyGate,
    /// Admission of per-filter builds ([`builds`]).
    pub builds: builds::BuildGate,
    /// Core computations on the blocking pool, cancelled with their request ([`blocking`]).
    pub blocking: blocking::Blocking,
    /// Session ids (their SHA-256) this process found live in the store: only for keying the rate limit
    /// ([`security`]); whether a session is valid is read from the store on every request ([`session`]).
    pub seen_sessions: quick_cache::sync::Cache<[u8; 32], ()>,
    /// The threads that read and write web sessions and failed logins ([`session`]): apart from the
    /// credential workers, so a session check never waits behind argon2 checks.
    pub session_store: credential_worker::CredentialWorkers,
    /// OpenID Connect token verification, when `[oidc]` is configured ([`oidc`]).
    pub oidc: Option<oidc::OidcVerifier>,
    ready: AtomicBool,
    /// Every cached result, bounded together by `[limits] cache_bytes`.
    pub caches: Caches,
    /// The k settings of `[privacy]` ([`crate::publish`]).
    pub policy: crate::publish::Policy,
    pub metrics: ops::Metrics,
    /// Parsed `[proxy] trusted` ([`security`]).
    pub trusted_proxies: crate::proxy::TrustedProxies,
    /// Token buckets of `[limits] requests_per_minute`.
    pub rate_limiter: crate::rate_limit::RateLimiter,
    /// The threads that verify tokens and passwords and re-read users ([`credential_worker`]).
    pub credentials: credential_worker::CredentialWorkers,
    /// Address-level tile accesses counted until the next audit flush.
    pub access_log: access_log::AccessLog,
}

impl AppState {
    /// Open the store and load the first snapshots (one per tenant). The public tenant, when configured, must
    /// exist.
    pub fn open(config: ServerConfig) -> Result<Arc<AppState>, ServerError> {
        let trusted_proxies = crate::proxy::TrustedProxies::parse(&config.trusted_proxies)
            .map_err(|reason| ServerError::Config(format!("[proxy] trusted: {reason}")))?;
        let rate_limiter = crate::rate_limit::RateLimiter::new(config.limits.requests_per_minute);
        let opener = StoreOpener::new(&config.db)?;
        let store = opener.open()?;
        let generation = AtomicU64::new(0);
        // Read before the data: a change committed in between is seen again, never missed.
        let loaded = store.data_fingerprint()?;
        let (snapshots, marks) = load_all(store.as_store(), &generation)?;
        if let Some(t) = &config.public_tenant {
            if !snapshots.contains_key(t) {
                return Err(StoreError::UnknownTenant(t.clone()).into());
            }
        }
        if config.limits.cache_bytes == 0 {
            return Err(ServerError::Config(
                "[limits] cache_bytes: moet minstens 1 zijn".into(),
            ));
        }
        let caches = Caches::new(config.limits.cache_bytes, CACHE_KINDS);
        let heavy = heavy::HeavyGate::new(config.limits.heavy_analyses, config.limits.heavy_queue);
        let builds = builds::BuildGate::new(config.limits.concurrent_builds);
        let policy = crate::publish::Policy {
            min_count: config.privacy.min_count,
            min_count_per_group: config.privacy.min_count_per_group.clone(),
        };
        let credentials = credential_worker::CredentialWorkers::start(
            opener.clone(),
            credential_worker::WORKERS,
            credential_worker::QUEUE,
        )?;
        let session_store = credential_worker::CredentialWorkers::start(
            opener.clone(),
            credential_worker::WORKERS,
            credential_worker::QUEUE,
        )?;
        let oidc = config
            .oidc
            .as_ref()
            .map(oidc::OidcVerifier::load)
            .transpose()?;
        Ok(Arc::new(AppState {
            config,
            store: Mutex::new(store),
            opener,
            snapshots: RwLock::new(Arc::new(snapshots)),
            generation,
            marks: Mutex::new(marks),
            loaded: Mutex::new(loaded),
            writing: Mutex::new(()),
            token_cache: auth::TokenCache::new(4096),
            heavy,
            builds,
            blocking: blocking::Blocking::default(),
            seen_sessions: quick_cache::sync::Cache::new(4096),
            session_store,
            oidc,
            ready: AtomicBool::new(true),
            caches,
            policy,
            metrics: ops::Metrics::default(),
            trusted_proxies,
            rate_limiter,
            credentials,
            access_log: access_log::AccessLog::default(),
        }))
    }

    /// The current snapshot of `tenant` (`None` for an unknown tenant). Handlers get their caller's snapshot
    /// through [`Caller`]; this is for background tasks and operations.
    pub fn snapshot_of(&self, tenant: &str) -> Option<Arc<Snapshot>> {
        self.snapshots().get(tenant).cloned()
    }

    /// The current snapshots of all tenants.
    pub fn snapshots(&self) -> Arc<HashMap<String, Arc<Snapshot>>> {
        match self.snapshots.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Run `f` with the store (one writer at a time).
    pub fn with_store<R>(&self, f: impl FnOnce(&mut dyn ServerStore) -> R) -> R {
        let mut guard = match self.store.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(guard.as_mut())
    }

    /// Re-read every tenant's data from the store and make it current: after a change that every tenant reads
    /// (boundaries, addresses, the tenant list) or one that cannot be traced to its tenants. Every snapshot gets a
    /// generation of its own, so cache keys never collide across tenants; the old generations' entries are dropped.
    /// Users, tokens and sessions are not touched ([`AppState::access_changed`]).
    pub fn reload(&self) -> Result<(), ServerError> {
        let (print, (fresh, marks)) = self.with_store(|store| -> Result<_, ServerError> {
            // Read before the data: a change committed in between is seen again, never missed.
            let print = store.data_fingerprint()?;
            Ok((print, load_all(store.as_store(), &self.generation)?))
        })?;
        let tenants = fresh.len() as u64;
        self.install(fresh, true);
        *lock(&self.marks) = marks;
        {
            let mut loaded = lock(&self.loaded);
            loaded.shared = print.shared;
            loaded.tenants = print.tenants;
        }
        self.caches.clear();
        self.metrics.reloads.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .tenant_reloads
            .fetch_add(tenants, Ordering::Relaxed);
        tracing::info!(tenants, "data reloaded");
        Ok(())
    }

    /// Re-read the data of `tenants` only (after a write or a delivery of theirs) and make it current. Every
    /// other tenant keeps its snapshot, so its cached tiles, counts and analyses stay warm; the cached results of
    /// the replaced snapshots are never hit again and age out of the cache. A tenant that no longer exists makes
    /// it a full [`AppState::reload`]. Only these tenants' rows are read
    /// ([`crate::store::Changes::tenant_fingerprint`]).
    ///
    /// When only deliveries changed a tenant since its snapshot was read, the snapshot is updated with the
    /// delivered incidents alone ([`crate::store::Store::incident_changes`], [`Snapshot::apply`]), in time
    /// proportional to the delivery plus a copy-like pass over the incidents. Everything else rebuilds the
    /// tenant's snapshot from [`crate::store::Store::tenant_data`]: a change of its gemeenten or custom areas,
    /// incidents removed other than by a new version (retention: the updated snapshot's count differs from the
    /// store's), or a snapshot without a recorded mark. A delta of any size takes the update: it costs the
    /// delivered rows plus a copy of the incidents, never more than a rebuild, which converts and sorts them all
    /// and transforms every area again.
    pub fn reload_tenants(&self, tenants: &[String]) -> Result<(), ServerError> {
        let current = self.snapshots();
        let fresh = self.with_store(|store| {
            let mut print = BTreeMap::new();
            let mut fresh = HashMap::new();
            let mut marks = HashMap::new();
            let mut incremental = 0u64;
            for code in tenants {
                // Read before the data: a change committed in between is seen again, never missed.
                match store.tenant_fingerprint(code)? {
                    Some(p) => print.insert(code.clone(), p),
                    None => return Ok(None),
                };
                let since = current.get(code).and_then(|s| {
                    lock(&self.marks)
                        .get(code)
                        .filter(|(g, _)| *g == s.generation)
                        .map(|(_, mark)| (s.clone(), mark.clone()))
                });
                if let Some((snapshot, since)) = since {
                    let changes = match store.incident_changes(code, &since) {
                        Ok(changes) => changes,
                        Err(StoreError::UnknownTenant(_)) => return Ok(None),
                        Err(e) => return Err(ServerError::from(e)),
                    };
                    if let Some(changes) = changes {
                        let g = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
                        let started = std::time::Instant::now();
                        let delivered = changes.delta.len();
                        let next = snapshot.apply(g, changes.delta, &Cancel::never())?;
                        tracing::info!(
                            tenant = %code,
                            incidents = next.incidents.len(),
                            delivered,
                            apply_ms = started.elapsed().as_secs_f64() * 1e3,
                            "snapshot updated with the delivered incidents"
                        );
                        if next.incidents.len() as u64 == changes.current {
                            fresh.insert(code.clone(), Arc::new(next));
                            marks.insert(code.clone(), (g, changes.mark));
                            incremental += 1;
                            continue;
                        }
                        tracing::info!(
                            tenant = %code,
                            "incidents were removed other than by a delivery: rebuilding the snapshot"
                        );
                    }
                }
                let mark = match store.incident_mark(code) {
                    Ok(mark) => mark,
                    Err(StoreError::UnknownTenant(_)) => return Ok(None),
                    Err(e) => return Err(ServerError::from(e)),
                };
                let data = match store.tenant_table(code) {
                    Ok(data) => data,
                    Err(StoreError::UnknownTenant(_)) => return Ok(None),
                    Err(e) => return Err(ServerError::from(e)),
                };
                let g = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
                fresh.insert(
                    code.clone(),
                    Arc::new(Snapshot::build_table(g, data, &Cancel::never())?),
                );
                marks.insert(code.clone(), (g, mark));
            }
            Ok(Some((print, fresh, marks, incremental)))
        })?;
        let Some((print, fresh, marks, incremental)) = fresh else {
            return self.reload();
        };
        let count = fresh.len() as u64;
        self.install(fresh, false);
        {
            let mut current = lock(&self.marks);
            for (code, (g, mark)) in marks {
                // The newest generation wins, as in `install`.
                if current.get(&code).is_none_or(|(had, _)| *had < g) {
                    current.insert(code, (g, mark));
                }
            }
        }
        {
            let mut loaded = lock(&self.loaded);
            loaded.tenants.extend(print);
        }
        self.metrics.reloads.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .tenant_reloads
            .fetch_add(count, Ordering::Relaxed);
        self.metrics
            .tenant_incremental_reloads
            .fetch_add(incremental, Ordering::Relaxed);
        tracing::info!(tenants = ?tenants, incremental, "tenant data reloaded");
        Ok(())
    }

    /// Make `fresh` current: every tenant's snapshot when `whole` (tenants missing from `fresh` are gone), else
    /// only the tenants in it. A concurrent reload may have installed a newer snapshot of a tenant meanwhile: the
    /// newest generation of each tenant wins.
    fn install(&self, fresh: HashMap<String, Arc<Snapshot>>, whole: bool) {
        let mut slot = match self.snapshots.write() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut next: HashMap<String, Arc<Snapshot>> = if whole {
            HashMap::with_capacity(fresh.len())
        } else {
            (**slot).clone()
        };
        for (code, snapshot) in fresh {
            let newest = match slot.get(&code) {
                Some(current) if current.generation > snapshot.generation => current.clone(),
                _ => snapshot,
            };
            next.insert(code, newest);
        }
        *slot = Arc::new(next);
    }

    /// Hold this around a write of the server and the reload of its tenant: the change watcher checks the store
    /// under the same lock, so it never sees the server's own write before the server has reloaded for it (and
    /// never reads that tenant a second time).
    pub fn writing(&self) -> std::sync::MutexGuard<'_, ()> {
        lock(&self.writing)
    }

    /// Users or API tokens changed: remembered token checks are forgotten (sessions read their user from the
    /// store on every request anyway). Data changes never call this.
    pub fn access_changed(&self) {
        self.token_cache.clear();
    }

    /// What changed in the store since the current snapshots were read (`now` is the store's fingerprint), and
    /// whether users or tokens changed since they were last taken into account (which this records).
    fn changes_since_loaded(&self, now: &DataFingerprint) -> (DataChange, bool) {
        let mut loaded = lock(&self.loaded);
        let access = now.access_changed(&loaded);
        loaded.access = now.access.clone();
        (now.data_change(&loaded), access)
    }

    /// Counts per area of `level` for `filter` on `snapshot`, cached per generation and filter.
    pub fn counts(
        &self,
        snapshot: &Snapshot,
        level: AreaLevel,
        f: &filter::Filter,
    ) -> Arc<Vec<u32>> {
        let key = CountsKey {
            generation: snapshot.generation,
            level,
            filter: f.cache_key(),
        };
        if let Some(v) = self.caches.get(&key) {
            return v;
        }
        let v = Arc::new(snapshot.counts(level, f));
        self.caches.insert(key, v.clone());
        v
    }

    /// The published count table of every area of `s` for `filter` (indexed like [`Snapshot::areas`]): exact
    /// unless `protect`, else protected with the filter's k over the area hierarchy ([`crate::publish`], rules 2
    /// and 3). Cached per (generation, filter, k): every area count of every output reads from here, so they
    /// agree.
    pub fn protected_table(
        &self,
        s: &Snapshot,
        filter: &filter::Filter,
        protect: bool,
    ) -> Arc<crate::suppression::Protected> {
        let k = protect.then(|| self.policy.k_for(&filter.category_codes));
        let key = ProtectedTableKey {
            generation: s.generation,
            k: k.unwrap_or(0),
            filter: filter.cache_key(),
        };
        if let Some(p) = self.caches.get(&key) {
            return p;
        }
        let mut counts = vec![0u64; s.areas.len()];
        for level in AreaLevel::ALL {
            let c = self.counts(s, level, filter);
            for &i in s.level_areas(level) {
                counts[i as usize] = u64::from(c[i as usize]);
            }
        }
        let table = Arc::new(crate::publish::area_table(s, counts, k));
        self.caches.insert(key, table.clone());
        table
    }
}

/// Cache key of [`AppState::protected_table`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProtectedTableKey {
    pub generation: u64,
    /// The k applied (0 = exact counts).
    pub k: u32,
    pub filter: crate::dataset::FilterKey,
}

impl crate::heap_size::HeapSize for ProtectedTableKey {
    fn heap_bytes(&self) -> usize {
        self.filter.heap_bytes()
    }
}

impl CacheEntry for ProtectedTableKey {
    type Value = Arc<crate::suppression::Protected>;
    const KIND: &'static str = "protected_table";
}

/// Cache key of [`AppState::counts`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CountsKey {
    pub generation: u64,
    pub level: AreaLevel,
    pub filter: crate::dataset::FilterKey,
}

impl crate::heap_size::HeapSize for CountsKey {
    fn heap_bytes(&self) -> usize {
        self.filter.heap_bytes()
    }
}

impl CacheEntry for CountsKey {
    type Value = Arc<Vec<u32>>;
    const KIND: &'static str = "counts";
}

/// Every kind the server caches, in the order of `/metrics`: the kind of each key type of the route modules.
pub const CACHE_KINDS: &[&str] = &[
    CountsKey::KIND,
    ProtectedTableKey::KIND,
    tiles::VectorTileKey::KIND,
    tiles::TileGeometryKey::KIND,
    raster::PngTileKey::KIND,
    raster::BlankPngKey::KIND,
    analysis_api::AnalysisBodyKey::KIND,
    export::ExportBodyKey::KIND,
    export::Wgs84RingsKey::KIND,
    hotspots::KdeBandwidthKey::KIND,
    hotspots::KdeSurfaceKey::KIND,
    hotspots::KdeFieldKey::KIND,
    hotspots::KdeContoursKey::KIND,
    hotspots::GiStarKey::KIND,
    hotspots::GiStarGridKey::KIND,
    hotspots::EmergingKey::KIND,
    hotspots::EmergingGridKey::KIND,
    analysis_api::ProfileDataKey::KIND,
    analysis_api::AttributeValuesKey::KIND,
    analysis_api::AttributeNamesKey::KIND,
    report::MonthlyReportKey::KIND,
    patrol::PatrolKey::KIND,
    relations::RelationsGraphKey::KIND,
    dashboard::DashboardKey::KIND,
    enrichment::IndicatorsKey::KIND,
];

/// A cached response body weighs its bytes.
impl crate::heap_size::HeapSize for axum::body::Bytes {
    fn heap_bytes(&self) -> usize {
        self.len()
    }
}

/// The guarded value, also after a panic elsewhere poisoned the lock (every writer leaves it consistent).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The snapshots of all tenants with the marks they were read at ([`AppState::marks`]).
type Loaded = (
    HashMap<String, Arc<Snapshot>>,
    HashMap<String, (u64, IncidentMark)>,
);

/// Load a snapshot of every tenant in the store, numbering them from `generation`, with the store's
/// [`crate::store::Store::incident_mark`] of each, read before its data.
fn load_all(
    store: &dyn crate::store::Store,
    generation: &AtomicU64,
) -> Result<Loaded, ServerError> {
    let mut out = HashMap::new();
    let mut marks = HashMap::new();
    // Every mark before any data: a delivery committed while reading is seen again, never missed.
    for (code, _) in store.tenants()? {
        marks.insert(code.clone(), store.incident_mark(&code)?);
    }
    let mut loaded_marks = HashMap::new();
    let started = std::time::Instant::now();
    let tables = store.tenant_tables()?;
    tracing::info!(
        tenants = tables.len(),
        incidents = tables.iter().map(|t| t.incidents.len()).sum::<usize>(),
        read_ms = started.elapsed().as_secs_f64() * 1e3,
        "tenant data read"
    );
    for table in tables {
        let Some(mark) = marks.remove(&table.code) else {
            // A tenant added after the marks were read: the change watcher loads it.
            continue;
        };
        let g = generation.fetch_add(1, Ordering::SeqCst) + 1;
        let code = table.code.clone();
        let started = std::time::Instant::now();
        let snapshot = Snapshot::build_table(g, table, &Cancel::never())?;
        tracing::info!(
            tenant = %code,
            incidents = snapshot.incidents.len(),
            build_ms = started.elapsed().as_secs_f64() * 1e3,
            "snapshot built"
        );
        out.insert(code.clone(), Arc::new(snapshot));
        loaded_marks.insert(code, (g, mark));
    }
    Ok((out, loaded_marks))
}

/// Path prefixes of the API (everything the web app does not own).
const API_PREFIXES: &[&str] = &[
    "/api/", "/tiles/", "/bi/", "/wms", "/ogc", "/healthz", "/readyz", "/metrics",
];

/// Whether `path` belongs to the API rather than the web app.
fn is_api_path(path: &str) -> bool {
    path == "/api" || path == "/tiles" || API_PREFIXES.iter().any(|p| path.starts_with(p))
}

/// The complete router (also used by the integration tests).
pub fn router(state: Arc<AppState>) -> Router {
    let mut app = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/api/openapi.json", get(ops::openapi))
        .route("/api/meta", get(areas::meta))
        .merge(areas::routes())
        .merge(tiles::routes())
        .merge(hotspots::routes())
        .merge(near_repeat::routes())
        .merge(forecast::routes())
        .merge(forecast_evaluate::routes())
        .merge(repeats::routes())
        .merge(incidents::routes())
        .merge(wms::routes())
        .merge(patrol::routes())
        .merge(report::routes())
        .merge(dashboard::routes())
        .merge(enrichment::routes())
        .merge(relations::routes())
        .merge(ogc::routes())
        .merge(deliveries::routes())
        .merge(session::routes())
        .merge(
            analysis_api::routes()
                .merge(compare::routes())
                .merge(export::routes()),
        )
        .with_state(state.clone());
    if let Some(dir) = &state.config.web_dir {
        // The web app answers every other path with its index.html (client-side routes), but an unknown path
        // under the API's prefixes stays a JSON 404: a client with a typo must not get HTML with status 200.
        let web = tower_http::services::ServeDir::new(dir)
            .fallback(tower_http::services::ServeFile::new(dir.join("index.html")));
        app = app.fallback(move |req: axum::extract::Request| async move {
            if is_api_path(req.uri().path()) {
                return ApiError::NotFound("onbekend pad".into()).into_response();
            }
            match tower::ServiceExt::oneshot(web, req).await {
                Ok(response) => response.map(axum::body::Body::new).into_response(),
                Err(never) => match never {},
            }
        });
    }
    // Layers, innermost first: body limit, zoom/period limits + rate limit + timeout, request log, CORS, then
    // client resolution + JSON errors + security headers outermost (so every response, CORS preflights and
    // refusals included, carries them).
    let body_limit = usize::try_from(state.config.limits.max_body_bytes).unwrap_or(usize::MAX);
    let app = app
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::throttle,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::observe,
        ));
    let app = if state.config.cors_origins.is_empty() {
        app
    } else {
        let origins: Vec<axum::http::HeaderValue> = state
            .config
            .cors_origins
            .iter()
            .filter_map(|o| o.parse().ok())
            .collect();
        app.layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
                .allow_headers([
                    axum::http::header::CONTENT_TYPE,
                    axum::http::header::AUTHORIZATION,
                ]),
        )
    };
    app.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        security::guard,
    ))
}

/// How often a replica that does not hold a singleton duty tries to take it.
pub const DUTY_RETRY: Duration = Duration::from_secs(2);

/// A singleton duty ([`crate::store::Duty`]: retention, the inbox) as one background task of this server sees it:
/// performed only while this process holds its lock, so of several replicas on one database exactly one performs
/// it, and another takes over when the holder dies. Shown at `/metrics` as `brandpunt_duty_held`.
pub struct DutyHolder {
    duty: crate::store::Duty,
    lock: Option<crate::store::DutyLock>,
}

impl DutyHolder {
    pub fn new(duty: crate::store::Duty) -> DutyHolder {
        DutyHolder { duty, lock: None }
    }

    /// Whether this process performs the duty now: keeps a lock still held, notices one lost, and tries to
    /// take a free one.
    pub fn hold(&mut self, state: &AppState) -> bool {
        let duty = self.duty.name();
        if self.lock.as_ref().is_some_and(|l| !l.held()) {
            tracing::warn!(duty, "singleton duty lost (its connection ended)");
            self.lock = None;
        }
        if self.lock.is_none() {
            match state.opener.try_duty(self.duty) {
                Ok(Some(lock)) => {
                    tracing::info!(duty, "singleton duty taken");
                    self.lock = Some(lock);
                }
                Ok(None) => {}
                Err(e) => tracing::error!(duty, error = %e, "cannot take a singleton duty"),
            }
        }
        let held = self.lock.is_some();
        lock(&state.metrics.duties).insert(duty, held);
        held
    }
}

/// How often the change watcher on a store with a change feed compares all fingerprints anyway (a missed
/// announcement is caught within this time).
const FULL_CHECK_INTERVAL: Duration = Duration::from_secs(30);

/// Watch the store for commits by other processes and reload when one changed what the server shows: through
/// the store's change feed when it has one ([`crate::store::StoreOpener::listen`]: reload the announced tenants
/// at once, compare everything after each reconnect and every [`FULL_CHECK_INTERVAL`]), else by polling its
/// change token every [`ServerConfig::poll_interval`].
fn spawn_change_watcher(state: Arc<AppState>) -> Result<(), ServerError> {
    let watcher = state.opener.open()?;
    let feed = state.opener.listen()?;
    let thread = std::thread::Builder::new().name("brandpunt-watch".into());
    match feed {
        Some(feed) => {
            state
                .metrics
                .change_feed_connects
                .fetch_add(1, Ordering::Relaxed);
            thread.spawn(move || watch_feed(state, watcher, feed))?
        }
        None => thread.spawn(move || poll_changes(state, watcher))?,
    };
    Ok(())
}

/// The change watcher of a store without a change feed: poll its change token.
fn poll_changes(state: Arc<AppState>, mut watcher: Box<dyn ServerStore>) {
    let mut last = watcher.change_token().ok();
    loop {
        std::thread::sleep(state.config.poll_interval);
        let now = watcher.change_token().ok();
        if now == last {
            continue;
        }
        last = now;
        check_all(&state, &mut watcher);
    }
}

/// The change watcher of a store with a change feed (see [`spawn_change_watcher`]).
fn watch_feed(
    state: Arc<AppState>,
    mut watcher: Box<dyn ServerStore>,
    feed: crate::store::ChangeFeed,
) {
    use crate::store::ChangeEvent;
    let mut feed = Some(feed);
    // Commits between loading the snapshots and listening were not announced.
    check_all(&state, &mut watcher);
    let mut last_full = std::time::Instant::now();
    loop {
        let Some(listening) = &feed else {
            match state.opener.listen() {
                Ok(Some(f)) => {
                    state
                        .metrics
                        .change_feed_connects
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::info!("change feed reconnected");
                    feed = Some(f);
                    // Commits while the feed was down were not announced.
                    check_all(&state, &mut watcher);
                    last_full = std::time::Instant::now();
                }
                Ok(None) => return poll_changes(state, watcher),
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for changes: retrying in a second");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            continue;
        };
        match listening.wait(FULL_CHECK_INTERVAL.saturating_sub(last_full.elapsed())) {
            ChangeEvent::Changed { tenants, all } => {
                state
                    .metrics
                    .change_notifications
                    .fetch_add(1, Ordering::Relaxed);
                if all {
                    check_all(&state, &mut watcher);
                } else {
                    check_tenants(&state, &mut watcher, &tenants);
                }
            }
            ChangeEvent::Quiet => {}
            ChangeEvent::Lost => {
                tracing::warn!("change feed connection lost: reconnecting");
                feed = None;
                continue;
            }
        }
        if last_full.elapsed() >= FULL_CHECK_INTERVAL {
            check_all(&state, &mut watcher);
            last_full = std::time::Instant::now();
        }
    }
}

/// A new handle for the watcher after its connection failed (the old one is kept when none can be opened).
fn reopen_watcher(state: &AppState, watcher: &mut Box<dyn ServerStore>) {
    match state.opener.open() {
        Ok(fresh) => *watcher = fresh,
        Err(e) => tracing::error!(error = %e, "cannot reopen the change watcher's store"),
    }
}

/// Compare the store's whole fingerprint with what the server shows and reload what differs.
fn check_all(state: &AppState, watcher: &mut Box<dyn ServerStore>) {
    // Audit records (written on every address-level export and every minute of tile access) commit too, and the
    // server's own writes reload their tenant at once: reload only what differs from what the current snapshots
    // were read from, and only the tenants it belongs to.
    let _writing = state.writing();
    let (data, access) = match watcher.data_fingerprint() {
        Ok(print) => state.changes_since_loaded(&print),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the store's fingerprint: reloading everything");
            reopen_watcher(state, watcher);
            (DataChange::All, true)
        }
    };
    let reloaded = match data {
        DataChange::None => Ok(()),
        DataChange::Tenants(tenants) => state.reload_tenants(&tenants),
        DataChange::All => state.reload(),
    };
    if let Err(e) = reloaded {
        tracing::error!(error = %e, "reload after a change failed");
    }
    if access {
        state.access_changed();
    }
}

/// Reload those of `tenants` (announced by the change feed) whose own fingerprint differs from what the server
/// shows; a tenant the server does not know, or that no longer exists, makes it a whole comparison.
fn check_tenants(
    state: &AppState,
    watcher: &mut Box<dyn ServerStore>,
    tenants: &std::collections::BTreeSet<String>,
) {
    let whole = {
        let _writing = state.writing();
        match tenants_to_reload(state, watcher, tenants) {
            Some(changed) => {
                if !changed.is_empty() {
                    if let Err(e) = state.reload_tenants(&changed) {
                        tracing::error!(error = %e, "reload after a change failed");
                    }
                }
                false
            }
            None => true,
        }
    };
    if whole {
        check_all(state, watcher);
    }
}

/// Those of `tenants` whose own fingerprint in the store differs from the one their snapshot was read at;
/// `None` when that cannot be decided per tenant (a tenant unknown on either side, the store unreadable).
fn tenants_to_reload(
    state: &AppState,
    watcher: &mut Box<dyn ServerStore>,
    tenants: &std::collections::BTreeSet<String>,
) -> Option<Vec<String>> {
    let mut changed = Vec::new();
    for code in tenants {
        let print = match watcher.tenant_fingerprint(code) {
            Ok(Some(print)) => print,
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(error = %e, tenant = %code, "cannot read a tenant's fingerprint");
                reopen_watcher(state, watcher);
                return None;
            }
        };
        match lock(&state.loaded).tenants.get(code) {
            Some(loaded) if *loaded == print => {}
            Some(_) => changed.push(code.clone()),
            None => return None,
        }
    }
    Some(changed)
}

/// Bind, announce the address on stdout (`listening on http://ADDR`, or `https://` with [`ServerConfig::tls`])
/// and serve until Ctrl-C (then finish running requests for up to 10 s).
pub async fn serve(config: ServerConfig) -> Result<(), ServerError> {
    let addr = config.addr;
    // Check the certificate before loading the data, so a mistake shows at once.
    let tls = config
        .tls
        .as_ref()
        .map(|tls| tls.rustls_server_config().map_err(ServerError::Tls))
        .transpose()?;
    let header_timeout = config.limits.header_read_timeout;
    let state = tokio::task::spawn_blocking(move || AppState::open(config))
        .await
        .map_err(|e| ServerError::Io(std::io::Error::other(e)))??;
    spawn_change_watcher(state.clone())?;
    deliveries::spawn_inbox(&state)?;
    retention::spawn(&state)?;
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| ServerError::Bind { addr, source })?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let handle = axum_server::Handle::new();
    let stop = handle.clone();
    let stdin_closed = stdin_watch(state.config.stop_on_stdin_close)?;
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = stdin_closed => tracing::info!("standard input closed: stopping"),
        }
        stop.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let mut server = axum_server::from_tcp(listener)?
        .handle(handle)
        .first_request_timeout(header_timeout);
    server
        .http_builder()
        .http1()
        .header_read_timeout(header_timeout);
    access_log::spawn_flusher(&state);
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("listening on {scheme}://{local}");
    tracing::info!(%local, scheme, public_tenant = ?state.config.public_tenant, "brandpunt serve");
    match tls {
        Some(tls) => {
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(
                axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(tls)),
            )
            .handshake_timeout(header_timeout);
            server.acceptor(acceptor).serve(app).await?;
        }
        None => server.serve(app).await?,
    }
    // Tile accesses counted since the last flush reach the audit log before the server exits.
    let st = state.clone();
    tokio::task::spawn_blocking(move || st.access_log.flush(&st))
        .await
        .map_err(|e| ServerError::Io(std::io::Error::other(e)))?;
    Ok(())
}

/// With `enabled`, a thread that reads standard input to its end and then completes the returned receiver;
/// otherwise a receiver that never completes.
fn stdin_watch(enabled: bool) -> std::io::Result<tokio::sync::oneshot::Receiver<()>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    if enabled {
        std::thread::Builder::new()
            .name("brandpunt-stdin".into())
            .spawn(move || {
                let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
                let _ = tx.send(());
            })?;
    } else {
        // Keep the sender alive for the life of the process, so the receiver never completes.
        std::mem::forget(tx);
    }
    Ok(rx)
}
