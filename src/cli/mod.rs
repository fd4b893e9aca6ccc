//! Command-line interface: the binary's edge. Parses arguments, opens the store, calls the library and prints
//! results. Errors are `anyhow` here only; the library speaks `thiserror`.

mod access;
mod analyse;
mod audit;
mod backup;
mod context;
mod demo;

mod geocode;
mod import;
mod relations;
mod retention;
mod serve;
mod stats;
mod store;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// brandpunt: hotspot analysis for municipal safety intelligence.
#[derive(Parser, Debug)]
#[command(name = "brandpunt", version, about, long_about = None)]
pub struct Cli {
    /// The store: a SQLite file path (embedded), or a PostgreSQL URL `postgres://user:pass@host:port/db`.
    #[arg(
        long,
        global = true,
        env = "BRANDPUNT_DB",
        default_value = "./data/brandpunt.db"
    )]
    pub db: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Import source data (CBS boundaries, BAG addresses, incident deliveries, open data, indicators).
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Geocode a CSV of addresses against the imported BAG.
    Geocode(geocode::GeocodeArgs),
    /// Counts of located incidents per area and category.
    Stats(stats::StatsArgs),
    /// Manage tenants (municipalities or cooperations sharing this instance).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Hotspot and trend analyses (KDE, Gi*, local Moran, emerging hot spots, time profiles).
    #[command(subcommand)]
    Analyse(analyse::AnalyseCommand),
    /// Serve the API, tiles, WMS and the web map over HTTP.
    Serve(serve::ServeArgs),
    /// Generate the demo city in the real formats and import it.
    Demo(demo::DemoArgs),
    /// Users and their roles per tenant.
    #[command(subcommand)]
    User(access::UserCommand),
    /// API and delivery tokens (stored only as argon2 hashes).
    #[command(subcommand)]
    Token(access::TokenCommand),
    /// The hash-chained audit log (export, verify).
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// The network of registrations, addresses and pseudonymised subjects (persons, vehicles, ...).
    #[command(subcommand)]
    Relations(relations::RelationsCommand),
    /// Retention: delete address-level incidents older than a period.
    #[command(subcommand)]
    Retention(retention::RetentionCommand),
    /// Online backup of the store into FILE.
    Backup { file: PathBuf },
    /// Replace the store by the backup FILE (checked first; the store must not be in use).
    Restore { file: PathBuf },
    /// Move a whole store between backends (`store copy --from FILE.db --to postgres://...`, and back).
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// List the imported deliveries of a tenant.
    Deliveries {
        #[arg(long, env = "BRANDPUNT_TENANT", default_value = "default")]
        tenant: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Add a tenant.
    Add {
        /// Short code, e.g. `enschede`.
        code: String,
        /// Display name, e.g. `Gemeente Enschede`.
        name: String,
        /// CBS gemeenten the tenant covers (comma-separated, `0153` or `GM0153`); its areas, tiles and
        /// statistics are limited to them. Default: not limited.
        #[arg(long, value_delimiter = ',')]
        gemeenten: Vec<String>,
    },
    /// Set the CBS gemeenten a tenant covers (replaces the list; none = not limited).
    Gemeenten {
        code: String,
        #[arg(value_delimiter = ',')]
        gemeenten: Vec<String>,
    },
    /// Change a tenant's display name (shown in the web app and the reports).
    Rename { code: String, name: String },
    /// List tenants (code, name, gemeenten).
    List,
}

/// Parse the command line, run it and turn the outcome into an exit code (0 = success).
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BRANDPUNT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fout: {}", error_chain(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, skipping a cause whose text the message already contains.
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Import(cmd) => import::run(&cli.db, cmd),
        Command::Geocode(args) => geocode::run(&cli.db, args),
        Command::Stats(args) => stats::run(&cli.db, args),
        Command::Demo(args) => demo::run(&cli.db, args),
        Command::Analyse(cmd) => analyse::run(&cli.db, cmd),
        Command::Serve(args) => serve::run(&cli.db, args),
        Command::User(cmd) => access::run_user(&cli.db, cmd),
        Command::Token(cmd) => access::run_token(&cli.db, cmd),
        Command::Audit(cmd) => audit::run(&cli.db, cmd),
        Command::Relations(cmd) => relations::run(&cli.db, cmd),
        Command::Retention(cmd) => retention::run(&cli.db, cmd),
        Command::Backup { file } => backup::backup(&cli.db, &file),
        Command::Restore { file } => backup::restore(&cli.db, &file),
        Command::Store(cmd) => store::run(cmd),

        Command::Tenant(TenantCommand::Add {
            code,
            name,
            gemeenten,
        }) => {
            let mut store = context::open_store(&cli.db)?;
            // Check the codes before anything is written.
            for g in &gemeenten {
                if brandpunt::store::normalize_gemeentecode(g).is_none() {
                    anyhow::bail!("--gemeenten: '{g}' is geen CBS-gemeentecode (4 cijfers)");
                }
            }
            store.add_tenant(&code, &name)?;
            store.set_tenant_gemeenten(&code, &gemeenten)?;
            println!("Tenant '{code}' toegevoegd.");
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenant(TenantCommand::Gemeenten { code, gemeenten }) => {
            let mut store = context::open_store(&cli.db)?;
            store.set_tenant_gemeenten(&code, &gemeenten)?;
            let now = store.tenant_gemeenten(&code)?;
            if now.is_empty() {
                println!("Tenant '{code}': niet beperkt tot gemeenten.");
            } else {
                println!("Tenant '{code}': {}", now.join(","));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenant(TenantCommand::Rename { code, name }) => {
            let mut store = context::open_store(&cli.db)?;
            store.rename_tenant(&code, &name)?;
            println!("Tenant '{code}' heet nu '{}'.", name.trim());
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenant(TenantCommand::List) => {
            let store = context::open_store(&cli.db)?;
            for (code, name) in store.tenants()? {
                let g = store.tenant_gemeenten(&code)?;
                let g = if g.is_empty() {
                    "alle".to_string()
                } else {
                    g.join(",")
                };
                println!("{code}\t{name}\t{g}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Deliveries { tenant } => {
            let store = context::open_store(&cli.db)?;
            println!("id\tbron\tsoort\tbestand\tingelezen\trijen\tnieuw\tvervangen\tongewijzigd\trapport");
            for d in store.deliveries(&tenant)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    d.id,
                    d.source,
                    d.kind,
                    d.file_name,
                    d.imported_at,
                    d.total_rows,
                    d.inserted,
                    d.replaced,
                    d.unchanged,
                    d.reported
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
