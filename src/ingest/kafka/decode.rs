//! A Kafka record as a CloudEvent: structured mode (the JSON event is the value) or binary
//! mode (attributes in `ce_*` headers, the order as the value).

use rdkafka::message::{BorrowedMessage, Headers, Message};
use serde_json::{Map, Value};

/// The event's JSON, or why the record is not one.
pub fn event_json(message: &BorrowedMessage<'_>) -> Result<Value, String> {
    let payload = message.payload().ok_or("the record has no value")?;
    let attributes: Vec<(String, String)> = message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .filter_map(|h| {
                    let name = h.key.strip_prefix("ce_")?;
                    Some((
                        name.to_owned(),
                        String::from_utf8_lossy(h.value?).into_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let data: Value =
        serde_json::from_slice(payload).map_err(|e| format!("the value is not JSON: {e}"))?;
    if attributes.is_empty() {
        return Ok(data);
    }
    // Binary mode: rebuild the structured event the rest of the service reads.
    let mut event = Map::new();
    for (name, value) in attributes {
        event.insert(name, Value::String(value));
    }
    event.insert("data".into(), data);
    Ok(Value::Object(event))
}

/// The record's key as text (the tenant id).
pub fn key(message: &BorrowedMessage<'_>) -> Option<String> {
    message
        .key()
        .map(|k| String::from_utf8_lossy(k).into_owned())
}

/// A header's value as text, when the record has it.
pub fn header(message: &BorrowedMessage<'_>, name: &str) -> Option<String> {
    let headers = message.headers()?;
    headers
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
        .map(|value| String::from_utf8_lossy(value).into_owned())
}
