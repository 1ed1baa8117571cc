//! `dinero-bridge` binary: thin on purpose; everything lives in the library.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use dinero_bridge::app::Application;
use dinero_bridge::config::{LogFormat, Settings};
use dinero_bridge::dinero::{Credentials, DineroClient, DineroConfig};
use dinero_bridge::import_command::{self, ImportTarget};
use dinero_bridge::reconcile_command::{self, ReconcileTarget};
use dinero_bridge::store;
use dinero_bridge::telemetry::init_logging;
use dinero_bridge::telemetry::traces::TraceExport;

#[derive(Parser)]
#[command(
    name = "dinero-bridge",
    version,
    about = "Turns completed webshop orders into booked invoices in Dinero",
    long_about = "Turns completed webshop orders into booked invoices in Dinero.\n\n\
Without a command it runs `serve`: embedded defaults (SQLite under ./data, HTTP on \
127.0.0.1:8080). Settings come from the TOML file given with --config (every key is \
documented in config/dinero-bridge.toml), overridden by DINERO_BRIDGE__SECTION__KEY \
environment variables (e.g. DINERO_BRIDGE__HTTP__LISTEN=0.0.0.0:8080)."
)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, short, global = true, env = "DINERO_BRIDGE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: webhook intake, tenant lanes, admin API, health (the default).
    Serve,
    /// Apply the store's pending migrations (`store.url`) and exit; for deployments with
    /// `store.migrate_on_start = false`, e.g. a Kubernetes Job before a rollout.
    Migrate,
    /// Check Dinero credentials: get a token, confirm the organization is reachable and has Pro,
    /// and list its sales accounts and deposit accounts (for the tenant's account mapping).
    CheckDinero {
        /// Dinero organization id.
        #[arg(long)]
        organization: i64,
        /// Base URL serving the API and token endpoints (e.g. dinero-sim); default: real Dinero.
        #[arg(long)]
        base_url: Option<String>,
        #[arg(long, env = "DINERO_CLIENT_ID")]
        client_id: String,
        #[arg(long, env = "DINERO_CLIENT_SECRET", hide_env_values = true)]
        client_secret: String,
        /// The organization's API key.
        #[arg(long, env = "DINERO_API_KEY", hide_env_values = true)]
        api_key: String,
    },
    /// Reconcile a shop's ledger with Dinero for voucher dates FROM to TO (both included, in
    /// the service's time zone): vouchers missing in Dinero, unknown to the ledger, or with
    /// another total or payment status. Exits 1 when there are differences.
    Reconcile {
        /// The shop (tenant).
        #[arg(long)]
        tenant: String,
        /// The first day, YYYY-MM-DD.
        #[arg(long)]
        from: chrono::NaiveDate,
        /// The last day; default: FROM.
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        /// The running service's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// An admin token of the service.
        #[arg(long, env = "DINERO_BRIDGE_ADMIN_TOKEN", hide_env_values = true)]
        token: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Import a shop's order history: a file of order events, one JSON event a line (as the
    /// webhook takes them), sent to a running service, which checks them as it checks
    /// webhooks and transfers them after the shop's live orders. The same file again changes
    /// nothing.
    Import {
        /// The shop (tenant) the events belong to.
        #[arg(long)]
        tenant: String,
        /// The file: JSON lines.
        file: PathBuf,
        /// The running service's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// An admin token of the service.
        #[arg(long, env = "DINERO_BRIDGE_ADMIN_TOKEN", hide_env_values = true)]
        token: String,
        /// Wait until the imported orders are transferred, showing their progress.
        #[arg(long)]
        wait: bool,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(code) => code,
        Err(error) => {
            // The message only: a backtrace helps nobody who mistyped a key.
            eprintln!("dinero-bridge: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The process's exit status: 0, or 1 when a reconciliation found differences.
async fn run() -> anyhow::Result<std::process::ExitCode> {
    use std::process::ExitCode;
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let settings = Settings::load(cli.config.as_deref())?;
            let traces = TraceExport::resolve(&settings.traces, |name| std::env::var(name).ok())?
                .map(|export| export.provider())
                .transpose()?;
            init_logging(settings.log.format, &settings.log.level, traces.as_ref());
            let app = Application::build(settings).await?;
            tracing::info!(addr = %app.addr(), traces = traces.is_some(), "dinero-bridge listening");
            let (stop, task) = app.spawn();
            wait_for_signal().await;
            stop.stop();
            let stopped = task.await;
            if let Some(traces) = traces {
                // The last spans (the shutdown's) go out before the process ends.
                if let Err(error) = traces.shutdown() {
                    eprintln!("dinero-bridge: flushing traces: {error}");
                }
            }
            stopped??;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let settings = Settings::load(cli.config.as_deref())?;
            init_logging(settings.log.format, &settings.log.level, None);
            store::open(&settings.store, settings.encryption_keys()?, true).await?;
            println!("store migrated");
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            tenant,
            file,
            url,
            token,
            wait,
        } => {
            let target = ImportTarget {
                url: &url,
                token: &token,
                tenant: &tenant,
                wait,
            };
            let summary = import_command::import(&file, &target).await?;
            println!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Reconcile {
            tenant,
            from,
            to,
            url,
            token,
            json,
        } => {
            let target = ReconcileTarget {
                url: &url,
                token: &token,
                tenant: &tenant,
                from,
                to: to.unwrap_or(from),
            };
            let report = reconcile_command::reconcile(&target).await?;
            if json {
                println!("{report:#}");
            } else {
                print!("{}", reconcile_command::readable(&report));
            }
            Ok(if reconcile_command::has_findings(&report) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::CheckDinero {
            organization,
            base_url,
            client_id,
            client_secret,
            api_key,
        } => {
            init_logging(LogFormat::Text, "warn", None);
            let config = match base_url {
                Some(url) => {
                    Settings::defaults()
                        .dinero
                        .for_simulator(&url, &client_id, &client_secret)
                }
                None => DineroConfig {
                    client_id,
                    client_secret: client_secret.into(),
                    ..Settings::defaults().dinero
                },
            };
            let client = DineroClient::new(config)?
                .organization(organization, Credentials::api_key(api_key));
            let org = client.verify_access().await?;
            println!("organization {} ({}): reachable, Pro", org.id, org.name);
            for account in client.entry_accounts().await?.iter().filter(|a| !a.hidden) {
                let vat = account.vat_code.as_deref().unwrap_or("-");
                println!(
                    "  entry account {:>6}  {:<6} {}",
                    account.number, vat, account.name
                );
            }
            for account in client.deposit_accounts().await? {
                println!("  deposit account {:>6}  {}", account.number, account.name);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
