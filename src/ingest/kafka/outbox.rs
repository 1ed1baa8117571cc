//! Publishes the outbox (dead letters, poison records, pauses, resumes) to the dead-letter
//! topic in order, marking each published only after the broker acknowledged it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::producer::EventProducer;
use crate::store::DeadLetterStore;

pub struct OutboxPublisher {
    pub store: Arc<dyn DeadLetterStore>,
    pub producer: EventProducer,
}

impl OutboxPublisher {
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            let published = self.publish_some().await;
            if published == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    _ = stop.wait_for(|stop| *stop) => break,
                }
            }
        }
    }

    async fn publish_some(&self) -> usize {
        let records = match self.store.unpublished(100).await {
            Ok(records) => records,
            Err(error) => {
                tracing::error!(%error, "cannot read the outbox");
                return 0;
            }
        };
        let mut published = 0;
        for record in records {
            let mut headers = record.headers.clone();
            headers.insert("recorded-at".into(), record.created_at.to_rfc3339());
            if let Err(error) = self
                .producer
                .send_dead_letter(&record.tenant_id, record.value.as_bytes(), &headers)
                .await
            {
                tracing::warn!(%error, "cannot publish to the dead-letter topic; will retry");
                return published;
            }
            if let Err(error) = self.store.mark_published(record.id).await {
                // Published twice at worst: the record carries its facts, consumers dedupe.
                tracing::error!(%error, "published but not marked");
                return published;
            }
            published += 1;
        }
        published
    }
}
