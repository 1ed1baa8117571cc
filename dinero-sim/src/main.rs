//! `dinero-sim` binary: parse flags, start the simulator, run until Ctrl-C or SIGTERM.

use clap::Parser;
use dinero_sim::{SimConfig, Simulator};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let config = SimConfig::parse();
    let simulator = match Simulator::start(config).await {
        Ok(simulator) => simulator,
        Err(error) => {
            eprintln!("dinero-sim: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing::info!(url = %simulator.url(), "dinero-sim listening");
    println!("dinero-sim listening on {}", simulator.url());
    wait_for_signal().await;
    simulator.stop().await;
    std::process::ExitCode::SUCCESS
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
