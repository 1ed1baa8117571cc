//! `dinero-bridge` binary: thin on purpose; everything lives in the library.

use clap::{Parser, Subcommand};
use dinero_bridge::dinero::{Credentials, DineroClient, DineroConfig};

#[derive(Parser)]
#[command(
    name = "dinero-bridge",
    version,
    about = "Turns completed webshop orders into booked invoices in Dinero"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // The message only: a backtrace helps nobody who mistyped a key.
            eprintln!("dinero-bridge: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    match Cli::parse().command {
        Command::CheckDinero {
            organization,
            base_url,
            client_id,
            client_secret,
            api_key,
        } => {
            let config = match base_url {
                Some(url) => DineroConfig::for_simulator(&url, &client_id, &client_secret),
                None => DineroConfig {
                    client_id,
                    client_secret: client_secret.into(),
                    ..DineroConfig::default()
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
            Ok(())
        }
    }
}
