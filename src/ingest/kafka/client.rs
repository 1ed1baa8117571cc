//! librdkafka settings shared by the consumer, the producer and the admin client.

use rdkafka::ClientConfig;

use crate::config::KafkaSettings;

pub type KafkaError = rdkafka::error::KafkaError;

pub fn base(settings: &KafkaSettings) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &settings.bootstrap_servers)
        .set("security.protocol", settings.security_protocol.as_str())
        .set(
            "client.id",
            concat!("dinero-bridge/", env!("CARGO_PKG_VERSION")),
        );
    if let Some(mechanism) = settings.sasl_mechanism {
        config.set("sasl.mechanism", mechanism.as_str());
    }
    if let Some(username) = &settings.sasl_username {
        config.set("sasl.username", username);
    }
    if let Some(password) = &settings.sasl_password {
        config.set("sasl.password", password);
    }
    if let Some(ca) = &settings.ssl_ca_location {
        config.set("ssl.ca.location", ca.display().to_string());
    }
    for (key, value) in &settings.properties {
        config.set(key, value);
    }
    config
}
