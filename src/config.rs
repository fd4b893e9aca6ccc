//! The server's configuration file (`brandpunt serve --config brandpunt.toml`): listening address, the openly
//! published tenant, TLS, trusted proxies, limits, privacy settings and OpenID Connect. Every key is optional;
//! command-line flags override the file. Secrets are never written in this file: it names files (TLS key,
//! pseudonym key, JWKS) or environment variables, and nothing here is ever logged with its value.
//!
//! ```toml
//! [server]
//! addr = "0.0.0.0:8443"
//! public_tenant = "enschede"        # anonymous callers see this tenant's aggregates (protected counts)
//! cors_origins = ["https://app.powerbi.com"]
//!
//! [tls]
//! cert = "/etc/brandpunt/cert.pem"
//! key = "/etc/brandpunt/key.pem"
//!
//! [proxy]
//! trusted = ["127.0.0.1", "10.0.0.0/8"]   # X-Forwarded-For/-Proto are believed from these peers only
//!
//! [limits]
//! max_body_bytes = 67108864
//! max_polygon_vertices = 10000
//! min_zoom = 0
//! max_zoom = 20
//! max_period_days = 3660
//! max_results = 100000
//! requests_per_minute = 6000        # per token or web session (else per client address)
//! request_timeout_seconds = 60
//! header_read_timeout_seconds = 10  # slow clients: the request head must arrive within this time
//! cache_bytes = 2147483648          # all caches together; default a quarter of the physical memory
//! heavy_analyses = 2                # hotspots/patrol analyses at once; default the number of cores
//! heavy_queue = 4                   # waiting beyond that; more get 503 + Retry-After; default 2 x heavy_analyses
//! concurrent_builds = 1             # per-filter surfaces built at once (memory bound); default half the cores
//!
//! [privacy]
//! min_count = 5                     # k: counts 1..k-1 are shown as "< k" to viewers and anonymous callers
//! retention_months = 24             # daily retention task in serve; absent = no automatic retention
//! [privacy.min_count_per_group]     # a category group or a crime code
//! inbraak = 10
//! "1.4.1" = 10                      # zedenmisdrijf
//!
//! [oidc]
//! issuer = "https://login.microsoftonline.com/<tenant-id>/v2.0"
//! audience = "api://brandpunt"
//! jwks_file = "/etc/brandpunt/jwks.json"
//! username_claim = "preferred_username"
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Errors reading the configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: [{section}] {key}: {reason}")]
    Invalid {
        file: String,
        section: &'static str,
        key: &'static str,
        reason: String,
    },
}

/// The file as written (every key optional).
#[derive(Debug, Default, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub server: ServerSection,
    pub tls: Option<TlsConfig>,
    #[serde(default)]
    pub proxy: ProxySection,
    #[serde(default)]
    pub limits: LimitsSection,
    #[serde(default)]
    pub privacy: PrivacySection,
    pub oidc: Option<OidcConfig>,
}

#[derive(Debug, Default, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    pub addr: Option<SocketAddr>,
    pub public_tenant: Option<String>,
    pub web_dir: Option<PathBuf>,
    pub cors_origins: Option<Vec<String>>,
    pub inbox: Option<PathBuf>,
    pub poll_seconds: Option<f64>,
}

/// TLS with rustls: PEM certificate chain and private key files.
#[derive(Debug, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsConfig {
    /// The rustls server configuration from the PEM files (ring provider, TLS 1.2 and 1.3, HTTP/1.1); the error
    /// names the file and the reason, in Dutch.
    pub fn rustls_server_config(&self) -> Result<rustls::ServerConfig, String> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let cert_file = self.cert.display().to_string();
        let key_file = self.key.display().to_string();
        let certs = CertificateDer::pem_file_iter(&self.cert)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("{cert_file}: geen PEM-certificaat ({e})"))?;
        if certs.is_empty() {
            return Err(format!("{cert_file}: bevat geen certificaat"));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|e| format!("{key_file}: geen PEM-sleutel ({e})"))?;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| format!("{cert_file} en {key_file} horen niet bij elkaar ({e})"))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

#[derive(Debug, Default, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProxySection {
    /// Peer addresses or CIDR ranges whose `X-Forwarded-For` / `X-Forwarded-Proto` headers are believed.
    #[serde(default)]
    pub trusted: Vec<String>,
}

#[derive(Debug, Default, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    pub max_body_bytes: Option<u64>,
    pub max_polygon_vertices: Option<usize>,
    pub min_zoom: Option<u8>,
    pub max_zoom: Option<u8>,
    pub max_period_days: Option<u32>,
    pub max_results: Option<usize>,
    pub requests_per_minute: Option<u32>,
    pub request_timeout_seconds: Option<f64>,
    pub header_read_timeout_seconds: Option<f64>,
    pub cache_bytes: Option<u64>,
    pub heavy_analyses: Option<usize>,
    pub heavy_queue: Option<usize>,
    pub concurrent_builds: Option<usize>,
}

#[derive(Debug, Default, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PrivacySection {
    pub min_count: Option<u32>,
    #[serde(default)]
    pub min_count_per_group: BTreeMap<String, u32>,
    pub retention_months: Option<u32>,
}

/// OpenID Connect bearer tokens (JWT, RS256/ES256) from an external identity provider (Azure AD, Keycloak).
/// The token's user name claim must name a brandpunt user, whose tenant, role and grants apply.
#[derive(Debug, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// Expected `iss` claim.
    pub issuer: String,
    /// Expected `aud` claim.
    pub audience: String,
    /// The provider's JSON Web Key Set, saved to a file (the service runs offline).
    pub jwks_file: PathBuf,
    /// Claim holding the brandpunt user name.
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
}

fn default_username_claim() -> String {
    "preferred_username".to_string()
}

/// Limits of the service (defaults in [`Limits::default`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Largest request body (uploads included), bytes.
    pub max_body_bytes: u64,
    /// Most vertices of a custom area polygon.
    pub max_polygon_vertices: usize,
    /// Tile zoom range served.
    pub min_zoom: u8,
    pub max_zoom: u8,
    /// Longest query period (`from`..`to`), days.
    pub max_period_days: u32,
    /// Most rows or features in one answer.
    pub max_results: usize,
    /// Requests per minute per token or web session (else per client address); 0 = unlimited.
    pub requests_per_minute: u32,
    /// Longest time a request may take (503 after it).
    pub request_timeout: Duration,
    /// Longest time a client may take to send a request head (the connection is closed after it; also bounds
    /// the TLS handshake).
    pub header_read_timeout: Duration,
    /// Bytes all caches together may hold (tiles, counts, analyses, response bodies; see
    /// `server::caches`). Default: a quarter of the physical memory, 1 GiB when that is unknown.
    pub cache_bytes: u64,
    /// Heavy analyses (`/api/hotspots`, `/api/patrol`) running at once (default: the number of cores).
    pub heavy_analyses: usize,
    /// Heavy analyses waiting for a turn; more are refused with 503 and `Retry-After` (default: twice
    /// `heavy_analyses`).
    pub heavy_queue: usize,
    /// Per-filter surfaces (KDE, Gi*, emerging) built at once; more wait for a turn (default: half the cores, at
    /// least 1; see `server::builds`).
    pub concurrent_builds: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024 * 1024,
            max_polygon_vertices: 10_000,
            min_zoom: 0,
            max_zoom: 20,
            max_period_days: 3660,
            max_results: 100_000,
            requests_per_minute: 0,
            request_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(10),
            cache_bytes: default_cache_bytes(),
            heavy_analyses: default_heavy_analyses(),
            heavy_queue: 2 * default_heavy_analyses(),
            concurrent_builds: default_concurrent_builds(),
        }
    }
}

/// The default number of per-filter builds at once: half the cores, at least 1.
pub fn default_concurrent_builds() -> usize {
    (default_heavy_analyses() / 2).max(1)
}

/// The default number of heavy analyses at once: the number of cores (1 when unknown).
pub fn default_heavy_analyses() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The default cache budget: a quarter of the physical memory (`MemTotal` of `/proc/meminfo`), 1 GiB when that
/// cannot be read.
pub fn default_cache_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| quarter_of_mem_total(&text))
        .unwrap_or(1 << 30)
}

/// A quarter of the `MemTotal` line of a `/proc/meminfo` text (kB), in bytes.
fn quarter_of_mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut parts = line["MemTotal:".len()..].split_whitespace();
    let kb: u64 = parts.next()?.parse().ok()?;
    if parts.next().is_some_and(|unit| unit != "kB") {
        return None;
    }
    Some(kb.saturating_mul(1024) / 4).filter(|&b| b > 0)
}

/// Small-count protection and retention.
#[derive(Debug, Clone, PartialEq)]
pub struct PrivacyConfig {
    /// k: counts 1..k-1 are published as "< k" to viewers and anonymous callers.
    pub min_count: u32,
    /// k per category group or crime code (`inbraak`, `"1.4.1"`; see [`crate::category`]), overriding
    /// `min_count`; other keys are refused.
    pub min_count_per_group: BTreeMap<String, u32>,
    /// Address-level incidents older than this many months are deleted daily by the server; `None` = never.
    pub retention_months: Option<u32>,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig {
            min_count: 5,
            min_count_per_group: BTreeMap::new(),
            retention_months: None,
        }
    }
}

impl ConfigFile {
    /// Read and check `path`.
    pub fn read(path: &Path) -> Result<ConfigFile, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            file: file.clone(),
            source,
        })?;
        Self::parse(&file, &text)
    }

    /// Parse the text of a configuration file named `file` (for messages).
    pub fn parse(file: &str, text: &str) -> Result<ConfigFile, ConfigError> {
        let c: ConfigFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        let invalid = |section, key, reason: &str| ConfigError::Invalid {
            file: file.to_string(),
            section,
            key,
            reason: reason.to_string(),
        };
        if let (Some(lo), Some(hi)) = (c.limits.min_zoom, c.limits.max_zoom) {
            if lo > hi {
                return Err(invalid("limits", "min_zoom", "groter dan max_zoom"));
            }
        }
        if c.limits.max_zoom.is_some_and(|z| z > 24) {
            return Err(invalid("limits", "max_zoom", "hoogstens 24"));
        }
        if c.limits.heavy_analyses == Some(0) {
            return Err(invalid("limits", "heavy_analyses", "minstens 1"));
        }
        if c.limits.concurrent_builds == Some(0) {
            return Err(invalid("limits", "concurrent_builds", "minstens 1"));
        }
        if let Some(t) = c.limits.request_timeout_seconds {
            if !(t.is_finite() && t > 0.0) {
                return Err(invalid(
                    "limits",
                    "request_timeout_seconds",
                    "moet groter dan 0 zijn",
                ));
            }
        }
        if let Some(t) = c.limits.header_read_timeout_seconds {
            if !(t.is_finite() && t > 0.0) {
                return Err(invalid(
                    "limits",
                    "header_read_timeout_seconds",
                    "moet groter dan 0 zijn",
                ));
            }
        }
        if c.limits.cache_bytes == Some(0) {
            return Err(invalid("limits", "cache_bytes", "moet minstens 1 zijn"));
        }
        if c.limits.max_body_bytes == Some(0) {
            return Err(invalid("limits", "max_body_bytes", "moet minstens 1 zijn"));
        }
        if let Err(reason) = crate::proxy::TrustedProxies::parse(&c.proxy.trusted) {
            return Err(invalid("proxy", "trusted", &reason));
        }
        if let Some(t) = c.server.poll_seconds {
            if !(t.is_finite() && t > 0.0) {
                return Err(invalid("server", "poll_seconds", "moet groter dan 0 zijn"));
            }
        }
        if c.privacy.min_count == Some(0) || c.privacy.min_count_per_group.values().any(|&k| k == 0)
        {
            return Err(invalid("privacy", "min_count", "moet minstens 1 zijn"));
        }
        // A key that is neither a group nor a crime code would silently never apply.
        if let Some(key) = c.privacy.min_count_per_group.keys().find(|k| {
            crate::category::group_members(k).is_none() && crate::category::label(k).is_none()
        }) {
            let groups: Vec<&str> = crate::category::GROUPS.iter().map(|g| g.0).collect();
            return Err(invalid(
                "privacy.min_count_per_group",
                "sleutel",
                &format!(
                    "'{key}' is geen categoriegroep ({}) en geen misdrijfcode (zoals \"1.4.1\")",
                    groups.join(", ")
                ),
            ));
        }
        if c.privacy.retention_months == Some(0) {
            return Err(invalid(
                "privacy",
                "retention_months",
                "moet minstens 1 zijn",
            ));
        }
        Ok(c)
    }

    /// The limits with the file's values over the defaults.
    pub fn limits(&self) -> Limits {
        let d = Limits::default();
        let l = &self.limits;
        Limits {
            max_body_bytes: l.max_body_bytes.unwrap_or(d.max_body_bytes),
            max_polygon_vertices: l.max_polygon_vertices.unwrap_or(d.max_polygon_vertices),
            min_zoom: l.min_zoom.unwrap_or(d.min_zoom),
            max_zoom: l.max_zoom.unwrap_or(d.max_zoom),
            max_period_days: l.max_period_days.unwrap_or(d.max_period_days),
            max_results: l.max_results.unwrap_or(d.max_results),
            requests_per_minute: l.requests_per_minute.unwrap_or(d.requests_per_minute),
            request_timeout: l
                .request_timeout_seconds
                .map(Duration::from_secs_f64)
                .unwrap_or(d.request_timeout),
            header_read_timeout: l
                .header_read_timeout_seconds
                .map(Duration::from_secs_f64)
                .unwrap_or(d.header_read_timeout),
            cache_bytes: l.cache_bytes.unwrap_or(d.cache_bytes),
            heavy_analyses: l.heavy_analyses.unwrap_or(d.heavy_analyses),
            heavy_queue: l
                .heavy_queue
                .unwrap_or(2 * l.heavy_analyses.unwrap_or(d.heavy_analyses)),
            concurrent_builds: l.concurrent_builds.unwrap_or(d.concurrent_builds),
        }
    }

    /// The privacy settings with the file's values over the defaults.
    pub fn privacy(&self) -> PrivacyConfig {
        let d = PrivacyConfig::default();
        PrivacyConfig {
            min_count: self.privacy.min_count.unwrap_or(d.min_count),
            min_count_per_group: self.privacy.min_count_per_group.clone(),
            retention_months: self.privacy.retention_months,
        }
    }
}

/// Everything `brandpunt serve` is configured with.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where the store is (see [`crate::store::StoreOpener`]: a SQLite file path).
    pub db: PathBuf,
    /// Tenant whose aggregates anonymous callers may see (viewer rights, small counts protected); `None` =
    /// every request needs credentials (see [`crate::server::auth`]). Every tenant of the store is served to its own users.
    pub public_tenant: Option<String>,
    /// Tenant that deliveries dropped in the inbox belong to.
    pub inbox_tenant: String,
    pub addr: SocketAddr,
    /// Directory with the built web app (`web/dist`); `None` serves no web app.
    pub web_dir: Option<PathBuf>,
    /// Origins allowed by CORS (BI tools such as Power BI); empty = no CORS headers.
    pub cors_origins: Vec<String>,
    /// How often to look for changes committed by other processes.
    pub poll_interval: Duration,
    /// Inbox folder for automated deliveries (`serve --inbox DIR`, see [`crate::server::deliveries`]); `None` = no inbox.
    pub inbox: Option<PathBuf>,
    /// Limits (body size - uploads included -, polygon vertices, zoom range, period, result sizes, rate,
    /// timeouts).
    pub limits: Limits,
    /// Small-count protection and retention.
    pub privacy: PrivacyConfig,
    /// Serve HTTPS with these files; `None` = plain HTTP (behind a TLS-terminating proxy or on loopback).
    pub tls: Option<TlsConfig>,
    /// Peers (addresses or CIDR ranges) whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: Vec<String>,
    /// OpenID Connect bearer tokens; `None` = only brandpunt tokens.
    pub oidc: Option<OidcConfig>,
    /// The clock that date-relative rules (retention) are evaluated against.
    pub clock: crate::calendar::Clock,
    /// Stop gracefully when standard input reaches its end (for a supervisor that holds the other end of a
    /// pipe, such as a test harness: the server ends with its parent, however the parent ends).
    pub stop_on_stdin_close: bool,
    /// The cooperation's pseudonymisation key for uploaded and inbox deliveries whose mapping has `[personal]`
    /// columns; `None`: such deliveries are refused (400 naming `mapping`; the inbox moves them to `failed/`).
    pub pseudonym_key: Option<crate::pseudonym::PseudonymKey>,
}

impl ServerConfig {
    /// A configuration with defaults: no public tenant, no TLS, no OIDC.
    pub fn new(db: PathBuf, addr: SocketAddr) -> Self {
        ServerConfig {
            db,
            public_tenant: None,
            inbox_tenant: "default".to_string(),
            addr,
            web_dir: None,
            cors_origins: vec![],
            poll_interval: Duration::from_secs(1),
            inbox: None,
            limits: Limits::default(),
            privacy: PrivacyConfig::default(),
            tls: None,
            trusted_proxies: vec![],
            oidc: None,
            clock: crate::calendar::Clock::system(),
            stop_on_stdin_close: false,
            pseudonym_key: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let doc = include_str!("config.rs");
        let example: String = doc
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| l.trim_start_matches("//!").trim_start_matches(' '))
            .collect::<Vec<_>>()
            .join("\n");
        let c = ConfigFile::parse("voorbeeld.toml", &example).unwrap();
        assert_eq!(c.server.public_tenant.as_deref(), Some("enschede"));
        assert_eq!(c.privacy().min_count, 5);
        assert_eq!(c.privacy().min_count_per_group.get("1.4.1"), Some(&10));
        assert_eq!(c.privacy().min_count_per_group.get("inbraak"), Some(&10));
        assert_eq!(c.limits().requests_per_minute, 6000);
        assert_eq!(c.limits().cache_bytes, 2 << 30);
        assert_eq!(c.limits().concurrent_builds, 1);
        assert_eq!(c.oidc.unwrap().username_claim, "preferred_username");
        assert_eq!(c.proxy.trusted.len(), 2);
    }

    #[test]
    fn the_default_cache_budget_is_a_quarter_of_mem_total() {
        let meminfo = "MemTotal:       16318480 kB\nMemFree:         1234 kB\n";
        assert_eq!(quarter_of_mem_total(meminfo), Some(16318480 * 1024 / 4));
        assert_eq!(quarter_of_mem_total("MemFree: 1 kB\n"), None);
        assert_eq!(quarter_of_mem_total("MemTotal: veel kB\n"), None);
        assert_eq!(quarter_of_mem_total("MemTotal: 0 kB\n"), None);
        assert!(default_cache_bytes() > 0);
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let c = ConfigFile::parse("leeg.toml", "").unwrap();
        assert_eq!(c.limits(), Limits::default());
        assert_eq!(c.privacy(), PrivacyConfig::default());
        assert!(c.tls.is_none() && c.oidc.is_none());
    }

    #[test]
    fn mistakes_name_the_file_and_key() {
        let e = ConfigFile::parse("b.toml", "[server]\nadres = \"x\"\n").unwrap_err();
        assert!(e.to_string().starts_with("b.toml: "), "{e}");
        assert!(e.to_string().contains("adres"), "{e}");
        let e = ConfigFile::parse("b.toml", "[limits]\nmin_zoom = 9\nmax_zoom = 3\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "b.toml: [limits] min_zoom: groter dan max_zoom"
        );
        let e = ConfigFile::parse("b.toml", "[privacy]\nmin_count = 0\n").unwrap_err();
        assert!(e.to_string().contains("min_count"), "{e}");
        let e = ConfigFile::parse("b.toml", "[proxy]\ntrusted = [\"10.0.0.0/40\"]\n").unwrap_err();
        assert!(e.to_string().contains("[proxy] trusted"), "{e}");
        let e = ConfigFile::parse("b.toml", "[server]\naddr = \"geen adres\"\n").unwrap_err();
        assert!(e.to_string().contains("addr"), "{e}");
        let e =
            ConfigFile::parse("b.toml", "[privacy.min_count_per_group]\nzeden = 10\n").unwrap_err();
        assert!(
            e.to_string().starts_with(
                "b.toml: [privacy.min_count_per_group] sleutel: 'zeden' is geen categoriegroep"
            ),
            "{e}"
        );
        let e = ConfigFile::parse("b.toml", "[limits]\ncache_bytes = 0\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "b.toml: [limits] cache_bytes: moet minstens 1 zijn"
        );
        let e = ConfigFile::parse("b.toml", "[limits]\nconcurrent_builds = 0\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "b.toml: [limits] concurrent_builds: minstens 1"
        );
        let ok = "[privacy.min_count_per_group]\nGeweld = 8\n\"1.4.1\" = 10\n";
        assert!(ConfigFile::parse("b.toml", ok).is_ok());
    }
}
