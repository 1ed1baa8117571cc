//! The core the adapters call. The webhook, the admin API and the Kafka consumer each
//! authenticate and parse in their own terms, then make one call here: intake, tenant
//! onboarding, order queries, transfers, dead letters, erasure, readiness. Nothing here knows HTTP.

pub mod checks;
mod dead_letters;
mod erasure;
mod error;
mod imports;
mod intake;
mod orders;
mod preview;
mod readiness;
mod reconciliation;
mod tenants;
mod transfers;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tracing::Instrument;

pub use error::CoreError;
pub use imports::{ImportReport, RefusedLine};
pub use intake::{InputTopic, Origin, Receipt};
pub use orders::{OrderPage, OrderQuery, ORDER_STATUSES};
pub use readiness::{ConsumerStatus, Readiness};
pub use reconciliation::Trigger;
pub use tenants::{TenantInput, TenantView};
pub use transfers::Selection;

use crate::dinero::DineroClient;
use crate::domain::Tenant;
use crate::domain::TenantId;
use crate::pipeline::Pipeline;
use crate::store::Store;
use crate::telemetry::Metrics;

pub type CoreResult<T> = Result<T, CoreError>;

pub struct Core {
    store: Arc<dyn Store>,
    dinero: DineroClient,
    pipeline: Arc<Pipeline>,
    /// Kafka mode: webhooks go through the input topic, so each tenant has one ordered stream.
    input_topic: Option<Arc<dyn InputTopic>>,
    /// Kafka mode: the consumer's standing in its group, for readiness.
    consumer: Option<Arc<dyn ConsumerStatus>>,
    metrics: Arc<Metrics>,
    /// False once shutdown began: intake stops, readiness says so.
    accepting: AtomicBool,
    /// The application's runtime. HTTP workers run runtimes of their own that end with them;
    /// lanes and store connections must not live on those.
    runtime: tokio::runtime::Handle,
    /// One import job at a time per tenant, in the order they were made (the lock is fair).
    imports: transfers::ImportTurns,
}

impl Core {
    /// Built on the application's runtime, which it keeps for every call.
    pub fn new(
        store: Arc<dyn Store>,
        dinero: DineroClient,
        pipeline: Arc<Pipeline>,
        input_topic: Option<Arc<dyn InputTopic>>,
        consumer: Option<Arc<dyn ConsumerStatus>>,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Arc::new(Core {
            store,
            dinero,
            pipeline,
            input_topic,
            consumer,
            metrics,
            accepting: AtomicBool::new(true),
            runtime: tokio::runtime::Handle::current(),
            imports: Default::default(),
        })
    }

    /// Run a core call on the application's runtime and wait for it: what it starts (a
    /// lane, a pooled connection) outlives the caller's runtime. It runs in the caller's
    /// span, so its spans stay in the request's trace.
    pub async fn run<T, F>(self: &Arc<Self>, call: impl FnOnce(Arc<Core>) -> F) -> CoreResult<T>
    where
        F: Future<Output = CoreResult<T>> + Send + 'static,
        T: Send + 'static,
    {
        self.runtime
            .spawn(call(self.clone()).instrument(tracing::Span::current()))
            .await
            .map_err(|_| CoreError::Unavailable("the call was cut short by shutdown".into()))?
    }

    pub fn pipeline(&self) -> &Arc<Pipeline> {
        &self.pipeline
    }

    /// Stop taking events (shutdown began).
    pub fn close_intake(&self) {
        self.accepting.store(false, Ordering::SeqCst);
    }

    fn accepting(&self) -> bool {
        self.accepting.load(Ordering::SeqCst)
    }

    /// The stored tenant, or `NotFound`.
    async fn existing(&self, tenant: &TenantId) -> CoreResult<Tenant> {
        self.store
            .tenant(tenant.as_str())
            .await?
            .ok_or_else(|| CoreError::unknown_tenant(tenant))
    }

    /// The webhook secrets of a tenant, for the adapter that checks signatures.
    pub async fn webhook_secrets(&self, tenant: &TenantId) -> CoreResult<Vec<String>> {
        Ok(self.existing(tenant).await?.secrets.webhook_secrets)
    }
}
