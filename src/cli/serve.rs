//! `brandpunt serve`: run the HTTP service. Settings come from `--config FILE` (see
//! [`brandpunt::config`]); flags given on the command line override the file.

use brandpunt::config::ConfigFile;
use brandpunt::config::ServerConfig;
use brandpunt::server::serve;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Configuration file (TOML: [server], [tls], [proxy], [limits], [privacy], [oidc]).
    #[arg(long, env = "BRANDPUNT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on (`127.0.0.1:0` picks a free port; the chosen address is printed). Default
    /// 127.0.0.1:8080.
    #[arg(long, env = "BRANDPUNT_ADDR")]
    pub addr: Option<SocketAddr>,
    /// Tenant whose aggregates anonymous callers may see (viewer rights, small counts protected). Without it,
    /// every request needs a token or a login.
    #[arg(long, env = "BRANDPUNT_PUBLIC_TENANT")]
    pub public_tenant: Option<String>,
    /// Directory of the built web app (default: `web/dist` next to the current directory, when present).
    #[arg(long, env = "BRANDPUNT_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
    /// Origin allowed by CORS (repeatable), e.g. `https://app.powerbi.com`.
    #[arg(long = "cors-origin")]
    pub cors_origins: Vec<String>,
    /// Seconds between checks for changes committed by other processes (default 1).
    #[arg(long)]
    pub poll_seconds: Option<f64>,
    /// Inbox folder for automated deliveries (SFTP drop): files are imported when stable and moved to
    /// `done/` or `failed/` with their report; a sub-folder name is the source (default `politie`).
    #[arg(long, env = "BRANDPUNT_INBOX")]
    pub inbox: Option<PathBuf>,
    /// Tenant the inbox deliveries belong to.
    #[arg(long, default_value = "default")]
    pub inbox_tenant: String,
    /// File with the cooperation's pseudonymisation key for uploaded and inbox deliveries with `[personal]`
    /// columns; default: the environment variable BRANDPUNT_PSEUDONYM_KEY. Without a key such deliveries are
    /// refused.
    #[arg(long)]
    pub pseudonym_key_file: Option<PathBuf>,
    /// Evaluate date-relative rules (retention) as if the clock read this moment at start (`YYYY-MM-DD`,
    /// `YYYY-MM-DDTHH:MM:SS` or RFC 3339, UTC); the clock runs on from there. For reproducing a run.
    #[arg(long, value_parser = parse_now)]
    pub now: Option<chrono::NaiveDateTime>,
    /// Stop gracefully when standard input reaches its end (run under a supervisor that holds a pipe to it).
    #[arg(long)]
    pub stop_on_stdin_close: bool,
}

/// `--now`: a moment, with the parameter named in the error.
pub fn parse_now(s: &str) -> Result<chrono::NaiveDateTime, String> {
    brandpunt::calendar::parse_moment(s).map_err(|e| format!("--now: {e}"))
}

/// The server configuration from the file (if any) with the flags over it.
pub fn config(db: &Path, args: ServeArgs) -> anyhow::Result<ServerConfig> {
    let file = match &args.config {
        Some(path) => ConfigFile::read(path)?,
        None => ConfigFile::default(),
    };
    let addr = args
        .addr
        .or(file.server.addr)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let poll_seconds = args
        .poll_seconds
        .or(file.server.poll_seconds)
        .unwrap_or(1.0);
    anyhow::ensure!(
        poll_seconds > 0.0 && poll_seconds.is_finite(),
        "--poll-seconds moet groter dan 0 zijn"
    );
    let mut config = ServerConfig::new(db.to_path_buf(), addr);
    config.public_tenant = args.public_tenant.or(file.server.public_tenant.clone());
    config.web_dir = args
        .web_dir
        .or(file.server.web_dir.clone())
        .or_else(|| Some(PathBuf::from("web/dist")).filter(|d| d.join("index.html").exists()));
    config.cors_origins = if args.cors_origins.is_empty() {
        file.server.cors_origins.clone().unwrap_or_default()
    } else {
        args.cors_origins
    };
    config.poll_interval = std::time::Duration::from_secs_f64(poll_seconds);
    config.inbox = args.inbox.or(file.server.inbox.clone());
    config.inbox_tenant = args.inbox_tenant;
    config.limits = file.limits();
    config.privacy = file.privacy();
    config.tls = file.tls.clone();
    config.trusted_proxies = file.proxy.trusted.clone();
    config.oidc = file.oidc.clone();
    if let Some(now) = args.now {
        config.clock = brandpunt::calendar::Clock::starting_at(now);
    }
    config.stop_on_stdin_close = args.stop_on_stdin_close;
    config.pseudonym_key = super::access::pseudonym_key(args.pseudonym_key_file.as_deref())?;
    Ok(config)
}

pub fn run(db: &Path, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = config(db, args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(config))?;
    Ok(ExitCode::SUCCESS)
}
