//! `Application::build(settings)`: opens the store, builds the Dinero client and pipeline,
//! binds the port (0 in tests) and serves until stopped, the way the binary and the tests
//! both start it.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{ConfigError, Settings};
use crate::dinero::DineroClient;
use crate::http::{self, AppState, KafkaState};
use crate::ingest::kafka::{ensure_topics, Consumer, EventProducer, OutboxPublisher};
use crate::pipeline::{Pipeline, Shared};
use crate::retention::Pruner;
use crate::store::{self, Store, StoreError};

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
    listener: TcpListener,
    addr: SocketAddr,
    state: Arc<AppState>,
    kafka: Option<KafkaParts>,
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
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let keys = settings.encryption_keys()?;
        let admin_tokens = settings.admin_tokens()?;
        let store: Arc<dyn Store> =
            store::open(&settings.store, keys, settings.store.migrate_on_start).await?;
        let dinero = DineroClient::new(settings.dinero.clone())?;
        let pipeline = Pipeline::new(Shared {
            owner: uuid::Uuid::new_v4().to_string(),
            call_timeout: settings.dinero.request_timeout(),
            store: store.clone(),
            dinero: dinero.clone(),
            settings: settings.pipeline.clone(),
            time_zone: settings.time_zone(),
        });
        let (kafka, kafka_state) = if settings.kafka.enabled {
            if settings.kafka.create_topics {
                ensure_topics(&settings.kafka).await?;
            }
            let producer = EventProducer::new(&settings.kafka)?;
            let consumer = Consumer::new(&settings.kafka, store.clone(), pipeline.clone())?;
            let state = KafkaState {
                producer: producer.clone(),
                health: consumer.health(),
            };
            let publisher = OutboxPublisher {
                store: store.clone(),
                producer,
            };
            (
                Some(KafkaParts {
                    consumer,
                    publisher,
                }),
                Some(state),
            )
        } else {
            (None, None)
        };
        let addr = settings.http.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        let state = Arc::new(AppState {
            settings,
            store,
            dinero,
            pipeline,
            admin_tokens,
            accepting: std::sync::atomic::AtomicBool::new(true),
            kafka: kafka_state,
        });
        Ok(Application {
            listener,
            addr,
            state,
            kafka,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serve until `stop` fires: stop intake, let lanes finish their Dinero calls (bounded by
    /// `pipeline.shutdown_grace_secs`), then return with the ledger consistent.
    pub async fn run_until_stopped(self, stop: watch::Receiver<bool>) -> std::io::Result<()> {
        let Application {
            listener,
            state,
            kafka,
            ..
        } = self;
        let mut background = Vec::new();
        if let Some(retention) = state.settings.store.retention() {
            let pruner = Pruner {
                store: state.store.clone(),
                retention,
                interval: Duration::from_secs(state.settings.store.prune_interval_secs),
            };
            background.push(tokio::spawn(pruner.run(stop.clone())));
        }
        match kafka {
            // In Kafka mode a replica works the tenants of its partitions: lanes start on
            // assignment and as records arrive.
            Some(KafkaParts {
                consumer,
                publisher,
            }) => {
                background.push(tokio::spawn(consumer.run(stop.clone())));
                background.push(tokio::spawn(publisher.run(stop.clone())));
            }
            None => match state.pipeline.start().await {
                Ok(count) if count > 0 => {
                    tracing::info!(tenants = count, "resuming lanes with waiting events")
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(%error, "cannot read the inbox at start; lanes start as events arrive")
                }
            },
        }
        let mut stopped = stop.clone();
        let shutdown_signal = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let router = http::router(state.clone());
        let served = axum::serve(listener, router).with_graceful_shutdown({
            let state = state.clone();
            async move {
                shutdown_signal.await;
                state.accepting.store(false, Ordering::SeqCst);
                tracing::info!("stopping: intake closed");
            }
        });
        let result = served.await;
        for task in background {
            // The consumer commits and leaves its group; the publisher stops between records.
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        let grace = Duration::from_secs(state.settings.pipeline.shutdown_grace_secs);
        state.pipeline.shutdown(grace).await;
        tracing::info!("stopped");
        result
    }

    /// Run in the background; the handle stops it, the join handle waits for it.
    pub fn spawn(self) -> (StopHandle, tokio::task::JoinHandle<std::io::Result<()>>) {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(self.run_until_stopped(stopped));
        (StopHandle(stop), task)
    }
}
