//! `brandpunt user ...` and `brandpunt token ...`: users, roles and API/delivery tokens; and reading the
//! pseudonymisation key from configuration (environment or key file).

use super::context;
use anyhow::Context;
use brandpunt::access::Role;
use brandpunt::audit::AuditEntry;
use brandpunt::pseudonym::PseudonymKey;
use brandpunt::store::{ServerStore, TokenOwner};
use std::path::Path;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user to a tenant with a role (viewer, analyst, admin).
    Add {
        /// Unique user name.
        name: String,
        #[arg(long)]
        tenant: String,
        /// viewer | analyst | admin
        #[arg(long)]
        role: String,
        /// Categories whose address-level incidents the user may see: codes and/or group names, comma-separated
        /// (`inbraak,2.5.1`), or `*` for all. Default: none.
        #[arg(long, default_value = "")]
        categories: String,
        /// Also set a web login password, read as one line from standard input (never from the command line).
        #[arg(long)]
        password_stdin: bool,
        /// Give the `relations` grant (the network of registrations, addresses and pseudonymised persons and
        /// vehicles; analysts and admins only). Default: off.
        #[arg(long)]
        relations: bool,
    },
    /// Give a user a grant: `--relations` (analysts and admins only).
    Grant {
        name: String,
        /// The network of registrations, addresses and pseudonymised subjects.
        #[arg(long, required = true)]
        relations: bool,
    },
    /// Take a grant from a user: `--relations`.
    Revoke {
        name: String,
        #[arg(long, required = true)]
        relations: bool,
    },
    /// Set a user's web login password: read as one line from standard input (at least 12 characters; not
    /// echoed when typed at a terminal).
    Password { name: String },
    /// List users (of one tenant, or all).
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Disable a user: their tokens stop working.
    Disable { name: String },
}

#[derive(clap::Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token and print it once (only a hash is stored).
    Create {
        /// The user the token is for.
        #[arg(long, conflicts_with_all = ["delivery", "source", "tenant"], required_unless_present = "delivery")]
        user: Option<String>,
        /// A delivery token: may only upload deliveries of --source for --tenant.
        #[arg(long, requires_all = ["source", "tenant"])]
        delivery: bool,
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        tenant: Option<String>,
        /// Days until the token expires (default: no expiry).
        #[arg(long)]
        expires_days: Option<u32>,
    },
    /// Revoke a token by its id (the part after `bp_`).
    Revoke { id: String },
    /// List tokens (ids, owners, dates; never secrets).
    List,
}

/// Actor name of command-line acts in the audit log.
pub fn cli_actor() -> String {
    match std::env::var("USER") {
        Ok(u) if !u.trim().is_empty() => format!("cli:{}", u.trim()),
        _ => "cli".to_string(),
    }
}

fn audit(
    store: &mut dyn ServerStore,
    tenant: &str,
    action: &str,
    endpoint: &str,
    filter: String,
) -> anyhow::Result<()> {
    store.append_audit(&AuditEntry {
        actor: cli_actor(),
        tenant: tenant.to_string(),
        action: action.to_string(),
        endpoint: endpoint.to_string(),
        filter,
        records: 1,
    })?;
    Ok(())
}

/// One line from standard input without its line ending: a password. At a terminal a Dutch prompt goes to
/// stderr and echo is switched off while typing (`stty`); the password is never printed or logged.
fn read_password_line() -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    let mut echo_off = false;
    if terminal {
        eprint!(
            "Nieuw wachtwoord (minstens {} tekens): ",
            brandpunt::store::MIN_PASSWORD_CHARS
        );
        let _ = std::io::stderr().flush();
        echo_off = stty("-echo");
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if echo_off {
        stty("echo");
        eprintln!();
    }
    let n = read.context("wachtwoord lezen van standaardinvoer mislukt")?;
    anyhow::ensure!(n > 0, "geen wachtwoord op standaardinvoer");
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    Ok(password.to_string())
}

pub fn run_user(db: &Path, cmd: UserCommand) -> anyhow::Result<ExitCode> {
    let mut store = context::open_store(db)?;
    match cmd {
        UserCommand::Password { name } => {
            let password = read_password_line()?;
            store.set_password(&name, &password)?;
            audit(
                store.as_mut(),
                "-",
                "user_password",
                "cli:user password",
                format!("user={name}"),
            )?;
            println!("Wachtwoord van '{name}' ingesteld.");
        }
        UserCommand::Add {
            name,
            tenant,
            role,
            categories,
            password_stdin,
            relations,
        } => {
            let role = Role::parse(&role)?;
            if relations {
                // Refused before anything is stored.
                brandpunt::access::check_relations_grant(&name, role)?;
            }
            // Read (and check) the password before the user is added, so a refused password adds nobody.
            let password = if password_stdin {
                let p = read_password_line()?;
                anyhow::ensure!(
                    p.chars().count() >= brandpunt::store::MIN_PASSWORD_CHARS,
                    "wachtwoord te kort: minstens {} tekens",
                    brandpunt::store::MIN_PASSWORD_CHARS
                );
                Some(p)
            } else {
                None
            };
            let grants: Vec<String> = categories
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            store.add_user(&tenant, &name, role, &grants)?;
            if let Some(p) = password {
                store.set_password(&name, &p)?;
            }
            if relations {
                store.set_relations_grant(&name, true)?;
            }
            audit(
                store.as_mut(),
                &tenant,
                "user_add",
                "cli:user add",
                format!(
                    "user={name};role={};categories={};relations={relations}",
                    role.as_str(),
                    grants.join(",")
                ),
            )?;
            println!(
                "Gebruiker '{name}' toegevoegd aan '{tenant}' als {}.",
                role.as_str()
            );
        }
        UserCommand::List { tenant } => {
            println!("naam\ttenant\trol\tcategorieen\tstatus\taangemaakt\trelaties");
            for u in store.users(tenant.as_deref())? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    u.name,
                    u.tenant,
                    u.role.as_str(),
                    u.categories.join(","),
                    if u.disabled {
                        "uitgeschakeld"
                    } else {
                        "actief"
                    },
                    u.created_at,
                    if u.relations { "ja" } else { "nee" }
                );
            }
        }
        UserCommand::Grant { name, relations } | UserCommand::Revoke { name, relations }
            if !relations =>
        {
            anyhow::bail!("geef het recht: --relations (gebruiker '{name}')");
        }
        UserCommand::Grant { name, .. } => {
            store.set_relations_grant(&name, true)?;
            audit(
                store.as_mut(),
                "-",
                "user_grant",
                "cli:user grant",
                format!("user={name};relations=true"),
            )?;
            println!("Gebruiker '{name}' heeft nu het recht 'relations'.");
        }
        UserCommand::Revoke { name, .. } => {
            store.set_relations_grant(&name, false)?;
            audit(
                store.as_mut(),
                "-",
                "user_revoke",
                "cli:user revoke",
                format!("user={name};relations=false"),
            )?;
            println!("Gebruiker '{name}' heeft het recht 'relations' niet meer.");
        }
        UserCommand::Disable { name } => {
            store.disable_user(&name)?;
            audit(
                store.as_mut(),
                "-",
                "user_disable",
                "cli:user disable",
                format!("user={name}"),
            )?;
            println!("Gebruiker '{name}' uitgeschakeld.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_token(db: &Path, cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    let mut store = context::open_store(db)?;
    match cmd {
        TokenCommand::Create {
            user,
            delivery,
            source,
            tenant,
            expires_days,
        } => {
            let owner = match (user, delivery, source, tenant) {
                (Some(u), false, None, None) => TokenOwner::User(u),
                (None, true, Some(source), Some(tenant)) => TokenOwner::Delivery { tenant, source },
                _ => anyhow::bail!(
                    "geef --user NAAM, of --delivery met --source BRON en --tenant TENANT"
                ),
            };
            let expires = expires_days.map(|d| {
                (chrono::Utc::now() + chrono::Duration::days(i64::from(d)))
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string()
            });
            let new = store.create_token(&owner, expires.as_deref())?;
            let (tenant, who) = match &owner {
                TokenOwner::User(u) => ("-".to_string(), format!("user={u}")),
                TokenOwner::Delivery { tenant, source } => {
                    (tenant.clone(), format!("delivery={source}"))
                }
            };
            audit(
                store.as_mut(),
                &tenant,
                "token_create",
                "cli:token create",
                format!("id={};{who}", new.id),
            )?;
            eprintln!(
                "Token {} aangemaakt{}. Bewaar het nu: het wordt niet opnieuw getoond.",
                new.id,
                expires
                    .map(|e| format!(" (verloopt {e})"))
                    .unwrap_or_default()
            );
            println!("{}", new.token);
        }
        TokenCommand::Revoke { id } => {
            if !store.revoke_token(&id)? {
                anyhow::bail!("geen actief token met id '{id}'");
            }
            audit(
                store.as_mut(),
                "-",
                "token_revoke",
                "cli:token revoke",
                format!("id={id}"),
            )?;
            println!("Token {id} ingetrokken.");
        }
        TokenCommand::List => {
            println!("id\ttenant\teigenaar\taangemaakt\tverloopt\tingetrokken");
            for t in store.tokens()? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.tenant,
                    t.owner,
                    t.created_at,
                    t.expires_at.unwrap_or_default(),
                    t.revoked_at.unwrap_or_default()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The cooperation's pseudonymisation key: from `key_file` when given, else from the environment variable
/// `BRANDPUNT_PSEUDONYM_KEY`; `None` when neither is set. The key is never printed.
pub fn pseudonym_key(key_file: Option<&Path>) -> anyhow::Result<Option<PseudonymKey>> {
    if let Some(f) = key_file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("sleutelbestand {} niet leesbaar", f.display()))?;
        return Ok(Some(
            PseudonymKey::parse(&text)
                .with_context(|| format!("sleutelbestand {}", f.display()))?,
        ));
    }
    match std::env::var("BRANDPUNT_PSEUDONYM_KEY") {
        Ok(text) if !text.trim().is_empty() => Ok(Some(
            PseudonymKey::parse(&text).context("BRANDPUNT_PSEUDONYM_KEY")?,
        )),
        _ => Ok(None),
    }
}
