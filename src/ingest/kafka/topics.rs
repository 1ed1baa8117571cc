//! Creating the topics at start, for brokers that do not create them (tansu).

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use super::client::{base, KafkaError};
use crate::config::KafkaSettings;

pub async fn ensure_topics(settings: &KafkaSettings) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = base(settings).create()?;
    let replication = || TopicReplication::Fixed(settings.replication_factor);
    let topics = [
        NewTopic::new(&settings.input_topic, settings.partitions, replication()),
        NewTopic::new(
            &settings.dead_letter_topic,
            settings.partitions,
            replication(),
        ),
    ];
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&topics, &options).await? {
        match result {
            Ok(topic) => tracing::info!(%topic, "topic created"),
            Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => {
                tracing::debug!(%topic, "topic exists")
            }
            Err((topic, code)) => {
                return Err(KafkaError::AdminOp(code))
                    .inspect_err(|_| tracing::error!(%topic, ?code, "cannot create topic"))
            }
        }
    }
    Ok(())
}
