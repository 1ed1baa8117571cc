//! The OpenAPI document as served: `openapi/dinero-bridge.openapi.json` with the webhook's
//! body schema (`schemas/order-event.schema.json`) inlined, so every reference resolves
//! within the document (a generator or client can load every operation).

use std::sync::LazyLock;

use serde_json::Value;

const DOCUMENT: &str = include_str!("../../openapi/dinero-bridge.openapi.json");
const ORDER_EVENT: &str = include_str!("../../schemas/order-event.schema.json");

/// The prefix of the order event's definitions among the document's component schemas.
const PREFIX: &str = "OrderEvent_";

/// Point `#/$defs/x` at `#/components/schemas/OrderEvent_x`, everywhere in `value`.
fn rebase(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            if let Some(Value::String(target)) = fields.get_mut("$ref") {
                if let Some(name) = target.strip_prefix("#/$defs/") {
                    *target = format!("#/components/schemas/{PREFIX}{name}");
                }
            }
            fields.values_mut().for_each(rebase);
        }
        Value::Array(items) => items.iter_mut().for_each(rebase),
        _ => {}
    }
}

/// Point every `$ref` to the schema file `id` at the `OrderEvent` component instead.
fn point_at_component(value: &mut Value, id: &str) {
    match value {
        Value::Object(fields) => {
            if let Some(Value::String(target)) = fields.get_mut("$ref") {
                if target == id {
                    *target = "#/components/schemas/OrderEvent".into();
                }
            }
            fields.values_mut().for_each(|v| point_at_component(v, id));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| point_at_component(v, id)),
        _ => {}
    }
}

pub static SERVED: LazyLock<String> = LazyLock::new(|| {
    let mut document: Value = serde_json::from_str(DOCUMENT).expect("the OpenAPI file is JSON");
    let mut event: Value = serde_json::from_str(ORDER_EVENT).expect("the order schema is JSON");
    let defs = event
        .as_object_mut()
        .and_then(|e| e.remove("$defs"))
        .and_then(|d| d.as_object().cloned())
        .unwrap_or_default();
    let id = event["$id"].as_str().unwrap_or_default().to_owned();
    if let Some(fields) = event.as_object_mut() {
        // Meta keywords of a standalone schema file, not of a component.
        for key in ["$schema", "$id"] {
            fields.remove(key);
        }
    }
    let schemas = document["components"]["schemas"]
        .as_object_mut()
        .expect("the document has component schemas");
    for (name, mut schema) in defs {
        rebase(&mut schema);
        schemas.insert(format!("{PREFIX}{name}"), schema);
    }
    rebase(&mut event);
    schemas.insert("OrderEvent".into(), event);
    // The bodies that name the published schema by its URL (the webhook, the preview).
    point_at_component(&mut document, &id);
    document.to_string()
});

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(fields) => {
                if let Some(Value::String(target)) = fields.get("$ref") {
                    found.push(target.clone());
                }
                fields.values().for_each(|v| refs(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_of_the_served_document_resolves_within_it() {
        let document: Value = serde_json::from_str(&SERVED).unwrap();
        let mut found = Vec::new();
        refs(&document, &mut found);
        assert!(found.iter().any(|r| r == "#/components/schemas/OrderEvent"));
        for target in found {
            let pointer = target
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{target} points outside the document"));
            assert!(
                document.pointer(pointer).is_some(),
                "{target} resolves to nothing"
            );
        }
    }
}
