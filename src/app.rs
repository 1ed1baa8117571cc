//! `Application::build(settings)`: opens the store, builds the Dinero client, the pipeline
//! and the core, binds the port (0 in tests) and serves until stopped, the way the binary and
//! the tests both start it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::{ConfigError, Settings};
use crate::dinero::DineroClient;
use crate::http::{self, HttpState};
use crate::ingest::kafka::{
    ensure_topics, Consumer, ConsumerHealth, EventProducer, OutboxPublisher,
};
use crate::nightly::Nightly;
use crate::notifications::Notifier;
use crate::pipeline::{Pipeline, Shared};
use crate::retention::Pruner;
use crate::service::Core;
use crate::store::{self, ObservedStore, Store, StoreError};
use crate::telemetry::{GaugeRefresher, Metrics};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("Kafka: {0}")]
    Kafka(#[from] crate::ingest::kafka::KafkaError),
}

/// Kafka mode's background parts, started with the server.
struct KafkaParts {
    consumer: Consumer,
    publisher: OutboxPublisher,
}

pub struct Application {
    listener: std::net::TcpListener,
    addr: SocketAddr,
    metrics_listener: Option<(std::net::TcpListener, SocketAddr)>,
    settings: Settings,
    store: Arc<dyn Store>,
    core: Arc<Core>,
    http: Option<HttpState>,
    kafka: Option<KafkaParts>,
    metrics: Arc<Metrics>,
}

/// A listener on `addr` (port 0: any), non-blocking as actix takes it, and its real address.
fn bind(addr: SocketAddr) -> Result<(std::net::TcpListener, SocketAddr), StartError> {
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| StartError::Bind { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| StartError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;
    Ok((listener, bound))
}

struct StopServerOnDrop(actix_web::dev::ServerHandle);

impl Drop for StopServerOnDrop {
    fn drop(&mut self) {
        // The command is sent now; the server's own task carries it out.
        drop(self.0.stop(false));
    }
}

/// Stops a running application (graceful, like SIGTERM).
#[derive(Clone)]
pub struct StopHandle(watch::Sender<bool>);

impl StopHandle {
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

impl Application {
    /// Everything is built on the calling runtime, which becomes the application's: lanes,
    /// background tasks and core calls run there, never on an HTTP worker's.
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let keys = settings.encryption_keys()?;
        let admin_tokens = settings.admin_tokens()?;
        let metrics = Arc::new(Metrics::new());
        let store: Arc<dyn Store> = Arc::new(ObservedStore::new(
            store::open(&settings.store, keys, settings.store.migrate_on_start).await?,
            metrics.clone(),
        ));
        let dinero = DineroClient::observed(settings.dinero.clone(), Some(metrics.clone()))?;
        let pipeline = Pipeline::new(Shared {
            owner: uuid::Uuid::new_v4().to_string(),
            call_timeout: settings.dinero.request_timeout(),
            store: store.clone(),
            dinero: dinero.clone(),
            settings: settings.pipeline.clone(),
            time_zone: settings.time_zone(),
            metrics: metrics.clone(),
        });
        let (core, kafka) = if settings.kafka.enabled {
            if settings.kafka.create_topics {
                ensure_topics(&settings.kafka).await?;
            }
            let producer = EventProducer::new(&settings.kafka)?;
            let health = Arc::new(ConsumerHealth::default());
            let core = Core::new(
                store.clone(),
                dinero,
                pipeline,
                Some(Arc::new(producer.clone())),
                Some(health.clone()),
                metrics.clone(),
            );
            let consumer = Consumer::new(
                &settings.kafka,
                store.clone(),
                core.clone(),
                health,
                metrics.clone(),
            )?;
            let publisher = OutboxPublisher {
                store: store.clone(),
                producer,
            };
            (
                core,
                Some(KafkaParts {
                    consumer,
                    publisher,
                }),
            )
        } else {
            (
                Core::new(store.clone(), dinero, pipeline, None, None, metrics.clone()),
                None,
            )
        };
        let (listener, addr) = bind(settings.http.listen)?;
        let metrics_listener = settings.metrics.listen.map(bind).transpose()?;
        Ok(Application {
            listener,
            addr,
            metrics_listener,
            settings,
            store,
            http: Some(HttpState {
                core: core.clone(),
                admin_tokens,
                metrics: metrics.clone(),
            }),
            metrics,
            core,
            kafka,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics` is served on its own, when `metrics.listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().map(|(_, addr)| *addr)
    }

    /// Serve until `stop` fires: close intake, stop the HTTP server (in-flight requests get a
    /// few seconds), let lanes finish their Dinero calls (bounded by
    /// `pipeline.shutdown_grace_secs`), then return with the ledger consistent.
    pub async fn run_until_stopped(
        mut self,
        mut stop: watch::Receiver<bool>,
    ) -> std::io::Result<()> {
        let mut background = Vec::new();
        let refresher = GaugeRefresher {
            store: self.store.clone(),
            metrics: self.metrics.clone(),
            interval: Duration::from_secs(self.settings.metrics.refresh_secs),
        };
        background.push(tokio::spawn(refresher.run(stop.clone())));
        if let Some(retention) = self.settings.store.retention() {
            let pruner = Pruner {
                store: self.store.clone(),
                retention,
                interval: Duration::from_secs(self.settings.store.prune_interval_secs),
            };
            background.push(tokio::spawn(pruner.run(stop.clone())));
        }
        if let Some(at) = self.settings.reconciliation.daily_at() {
            let nightly = Nightly {
                core: self.core.clone(),
                store: self.store.clone(),
                at,
                time_zone: self.settings.time_zone(),
                owner: self.core.pipeline().owner().to_owned(),
            };
            background.push(tokio::spawn(nightly.run(stop.clone())));
        }
        match self.kafka.take() {
            // In Kafka mode a replica works the tenants of its partitions: lanes start on
            // assignment and as records arrive.
            Some(KafkaParts {
                consumer,
                publisher,
            }) => {
                background.push(tokio::spawn(consumer.run(stop.clone())));
                background.push(tokio::spawn(publisher.run(stop.clone())));
            }
            None => {
                let notifier = Notifier {
                    outbox: self.store.clone(),
                    tenants: self.store.clone(),
                    settings: self.settings.notifications.clone(),
                    http: reqwest::Client::new(),
                };
                background.push(tokio::spawn(notifier.run(stop.clone())));
                self.start_lanes().await;
            }
        }
        self.core.resume_jobs().await;
        let mut metrics_server = None;
        if let Some((listener, _)) = self.metrics_listener.take() {
            let server = http::metrics_server(listener, self.metrics.clone())?;
            metrics_server = Some(StopServerOnDrop(server.handle()));
            tokio::spawn(server);
        }
        let state = self.http.take().expect("run once");
        let server = http::server(self.listener, state, &self.settings.http)?;
        let handle = server.handle();
        // The server runs in a task of its own with worker threads of its own: if this future
        // is dropped (a task aborted, as tests do to simulate a crash), they stop too and
        // free the port.
        let _stop_on_drop = StopServerOnDrop(handle.clone());
        let mut serving = tokio::spawn(server);
        let stopped = async move {
            let _ = stop.wait_for(|stop| *stop).await;
        };
        let result = tokio::select! {
            served = &mut serving => served.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            () = stopped => {
                self.core.close_intake();
                tracing::info!("stopping: intake closed");
                handle.stop(true).await;
                serving.await.unwrap_or_else(|e| Err(std::io::Error::other(e)))
            }
        };
        if let Some(metrics_server) = metrics_server.take() {
            metrics_server.0.stop(true).await;
        }
        for task in background {
            // The consumer commits and leaves its group; the publisher stops between records.
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        let grace = Duration::from_secs(self.settings.pipeline.shutdown_grace_secs);
        self.core.pipeline().shutdown(grace).await;
        tracing::info!("stopped");
        result
    }

    /// Embedded mode: lanes for every tenant with waiting events (after a restart).
    async fn start_lanes(&self) {
        match self.core.pipeline().start().await {
            Ok(count) if count > 0 => {
                tracing::info!(tenants = count, "resuming lanes with waiting events")
            }
            Ok(_) => {}
            Err(error) => {
                tracing::error!(%error, "cannot read the inbox at start; lanes start as events arrive")
            }
        }
    }

    /// Run in the background; the handle stops it, the join handle waits for it.
    pub fn spawn(self) -> (StopHandle, tokio::task::JoinHandle<std::io::Result<()>>) {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(self.run_until_stopped(stopped));
        (StopHandle(stop), task)
    }
}
