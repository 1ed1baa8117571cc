//! `dinero-sim`: a stateful simulator of the Dinero REST API parts that dinero-bridge uses,
//! like stripe-mock for Stripe. Start it in-process with [`Simulator::start`] (port 0 in
//! tests) or run the `dinero-sim` binary.

pub mod api;
pub mod config;
pub mod error;
pub mod faults;
pub mod model;
pub mod reqlog;
pub mod scenario;
pub mod serve;
pub mod spec;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;

pub use config::{FaultConfig, SimConfig};
pub use scenario::Scenario;

use faults::Faults;
use reqlog::RequestLog;
use spec::Spec;
use state::World;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Shared state behind every handler.
pub struct Sim {
    pub world: World,
    pub faults: Faults,
    pub log: RequestLog,
    pub spec: Option<Spec>,
}

impl Sim {
    pub fn config(&self) -> &SimConfig {
        &self.world.behaviour.config
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read scenario {path}: {reason}")]
    Scenario { path: String, reason: String },
}

/// A running simulator. Dropping it stops accepting connections.
pub struct Simulator {
    addr: SocketAddr,
    sim: Arc<Sim>,
    stop: watch::Sender<bool>,
}

impl Simulator {
    /// Bind, seed (the scenario file, or the demo world) and serve in the background.
    pub async fn start(config: SimConfig) -> Result<Self, StartError> {
        let scenario = match &config.scenario {
            Some(path) => {
                let reason = |e: &dyn std::fmt::Display| StartError::Scenario {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                };
                let text = std::fs::read_to_string(path).map_err(|e| reason(&e))?;
                serde_json::from_str(&text).map_err(|e| reason(&e))?
            }
            None => scenario::demo(),
        };
        Self::start_with(config, scenario).await
    }

    /// Start with an explicit scenario (tests build theirs in code).
    pub async fn start_with(config: SimConfig, scenario: Scenario) -> Result<Self, StartError> {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let spec = config.validate_spec.then(Spec::load);
        let log = RequestLog::new(config.request_log_capacity);
        let faults = Faults::new(config.faults.clone());
        let world = World::new(config, scenario).map_err(|e| StartError::Scenario {
            path: "(scenario)".into(),
            reason: e.message,
        })?;
        let sim = Arc::new(Sim {
            world,
            faults,
            log,
            spec,
        });
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(serve::serve(listener, api::router(sim.clone()), stopped));
        Ok(Simulator { addr, sim, stop })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, the base of every URL the simulator serves.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Direct access to the state, for tests that inspect or change it in-process.
    pub fn sim(&self) -> &Arc<Sim> {
        &self.sim
    }

    /// Wait until stopped (the binary runs until Ctrl-C).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
