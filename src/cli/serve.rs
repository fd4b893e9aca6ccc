//! `brandpunt serve`: run the HTTP service.

use brandpunt::server::{serve, ServerConfig};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (`127.0.0.1:0` picks a free port; the chosen address is printed).
    #[arg(long, env = "BRANDPUNT_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Tenant whose data are served.
    #[arg(long, env = "BRANDPUNT_TENANT", default_value = "default")]
    pub tenant: String,
    /// Directory of the built web app (default: `web/dist` next to the current directory, when present).
    #[arg(long, env = "BRANDPUNT_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
    /// Origin allowed by CORS (repeatable), e.g. `https://app.powerbi.com`.
    #[arg(long = "cors-origin")]
    pub cors_origins: Vec<String>,
    /// Seconds between checks for changes committed by other processes.
    #[arg(long, default_value_t = 1.0)]
    pub poll_seconds: f64,
    /// Inbox folder for automated deliveries (SFTP drop): files are imported when stable and moved to
    /// `done/` or `failed/` with their report; a sub-folder name is the source (default `politie`).
    #[arg(long, env = "BRANDPUNT_INBOX")]
    pub inbox: Option<PathBuf>,
}

pub fn run(db: &Path, args: ServeArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.poll_seconds > 0.0 && args.poll_seconds.is_finite(),
        "--poll-seconds moet groter dan 0 zijn"
    );
    let mut config = ServerConfig::new(db.to_path_buf(), &args.tenant, args.addr);
    config.web_dir = args
        .web_dir
        .or_else(|| Some(PathBuf::from("web/dist")).filter(|d| d.join("index.html").exists()));
    config.cors_origins = args.cors_origins;
    config.poll_interval = std::time::Duration::from_secs_f64(args.poll_seconds);
    config.inbox = args.inbox;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(config))?;
    Ok(ExitCode::SUCCESS)
}
