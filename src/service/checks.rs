//! The checks every event passes at the door, whichever way it came (webhook or Kafka): JSON,
//! `schemas/order-event.schema.json`, no NUL, the order's own rules.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde_json::Value;

use crate::domain::money_events::AnyEvent;

/// The published schema, compiled once.
static SCHEMA: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(include_str!("../../schemas/order-event.schema.json"))
        .expect("the order schema is JSON");
    jsonschema::validator_for(&schema).expect("the order schema compiles")
});

/// Why an event is refused at the door.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IntakeError {
    #[error("the body is not JSON: {0}")]
    MalformedJson(String),
    #[error("the event does not match the order event schema")]
    Schema(BTreeMap<String, String>),
    #[error("the order breaks the event's rules")]
    Invalid(BTreeMap<String, String>),
}

impl IntakeError {
    pub fn code(&self) -> &'static str {
        match self {
            IntakeError::MalformedJson(_) => "malformed_json",
            IntakeError::Schema(_) => "schema_violation",
            IntakeError::Invalid(_) => "invalid_order",
        }
    }

    pub fn violations(&self) -> BTreeMap<String, String> {
        match self {
            IntakeError::MalformedJson(_) => BTreeMap::new(),
            IntakeError::Schema(v) | IntakeError::Invalid(v) => v.clone(),
        }
    }

    /// One line with every violation, for dead-letter headers and logs.
    pub fn describe(&self) -> String {
        let violations: Vec<String> = self
            .violations()
            .iter()
            .map(|(at, why)| format!("{at}: {why}"))
            .collect();
        if violations.is_empty() {
            self.to_string()
        } else {
            format!("{}: {}", self, violations.join("; "))
        }
    }
}

/// Violations by JSON pointer (at most 20, for a readable answer).
fn schema_violations(body: &Value) -> BTreeMap<String, String> {
    SCHEMA
        .iter_errors(body)
        .take(20)
        .map(|error| {
            let pointer = error.instance_path().to_string();
            (
                if pointer.is_empty() {
                    "/".to_owned()
                } else {
                    pointer
                },
                error.to_string(),
            )
        })
        .collect()
}

/// A checked event and its JSON.
pub struct Checked {
    pub event: AnyEvent,
    pub json: Value,
}

pub fn check(body: &[u8]) -> Result<Checked, IntakeError> {
    let json: Value =
        serde_json::from_slice(body).map_err(|e| IntakeError::MalformedJson(e.to_string()))?;
    check_json(json)
}

/// Strings holding a NUL, by JSON pointer. No store keeps one (PostgreSQL refuses it in
/// text), so such an event is refused here rather than failing later.
fn nul_violations(value: &Value, at: &str, found: &mut BTreeMap<String, String>) {
    match value {
        Value::String(text) if text.contains('\0') => {
            let at = if at.is_empty() { "/" } else { at };
            found.insert(at.to_owned(), "must not contain a NUL character".into());
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                nul_violations(item, &format!("{at}/{i}"), found);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                let key = key.replace('~', "~0").replace('/', "~1");
                nul_violations(item, &format!("{at}/{key}"), found);
            }
        }
        _ => {}
    }
}

pub fn check_json(json: Value) -> Result<Checked, IntakeError> {
    let mut violations = schema_violations(&json);
    nul_violations(&json, "", &mut violations);
    if !violations.is_empty() {
        return Err(IntakeError::Schema(violations));
    }
    let schema_error = |e: String| IntakeError::Schema(BTreeMap::from([("/".to_owned(), e)]));
    let event = AnyEvent::from_json(json.clone())
        .ok_or_else(|| schema_error("unknown event type".into()))?
        .map_err(|e| schema_error(e.to_string()))?;
    event.validate().map_err(IntakeError::Invalid)?;
    Ok(Checked { event, json })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Value {
        serde_json::json!({
            "specversion": "1.0", "id": "evt-1", "source": "/shop", "type": "order.completed",
            "subject": "1", "tenantid": "shop",
            "data": {
                "order_id": "1", "order_number": "1", "completed_at": "2026-11-20T10:00:00Z",
                "currency": "DKK", "prices_include_vat": true,
                "customer": {"kind": "person", "name": "Anna", "address": {"country": "DK"}},
                "lines": [{"kind": "product", "name": "Vare", "quantity": 1, "unit_price": "10.00", "vat_rate": 25}],
                "totals": {"total": "10.00", "vat": "2.00"}
            }
        })
    }

    /// A JSON number exactly as written (serde_json keeps its digits).
    fn number(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    fn refused_at(event: Value) -> Vec<String> {
        match check(&serde_json::to_vec(&event).unwrap()) {
            Ok(_) => panic!("accepted: {event}"),
            Err(error) => error.violations().into_keys().collect(),
        }
    }

    #[test]
    fn the_reference_event_is_accepted() {
        assert!(check(&serde_json::to_vec(&event()).unwrap()).is_ok());
    }

    /// Refused at the door, with the field named, never a panic: the webhook and the Kafka
    /// consumer both check here.
    #[test]
    fn amounts_beyond_a_decimal_or_the_money_limits_are_refused() {
        let cases = [
            ("1e15", "1e15"),
            ("1e20", "1"),
            ("\"999999999999999\"", "\"999999999999999\""),
            ("1", "199.95000000000000000001"),
            ("1e-20", "10.00"),
        ];
        for (quantity, price) in cases {
            let mut event = event();
            event["data"]["lines"][0]["quantity"] = number(quantity);
            event["data"]["lines"][0]["unit_price"] = number(price);
            let at = refused_at(event);
            assert!(
                at.iter().any(|p| p.starts_with("/data/lines/0/")),
                "{quantity} x {price}: {at:?}"
            );
        }
    }

    #[test]
    fn numbers_are_read_as_exact_decimals() {
        let mut event = event();
        event["data"]["lines"][0]["unit_price"] = number("10.05");
        event["data"]["totals"]["total"] = number("10.05");
        let checked = check(&serde_json::to_vec(&event).unwrap()).unwrap();
        assert_eq!(
            match checked.event {
                AnyEvent::Completed(event) => event.data.lines[0].unit_price,
                _ => panic!("an order.completed event"),
            },
            rust_decimal::Decimal::new(1005, 2)
        );
    }

    #[test]
    fn a_nul_anywhere_is_refused() {
        for pointer in ["/id", "/data/order_id", "/data/customer/name"] {
            let mut event = event();
            *event.pointer_mut(pointer).unwrap() = Value::String("a\u{0}b".into());
            if pointer == "/data/order_id" {
                event["subject"] = Value::String("a\u{0}b".into());
            }
            assert!(refused_at(event).iter().any(|p| p == pointer), "{pointer}");
        }
    }

    fn money_event(kind: &str, data: Value) -> Value {
        let mut data = data;
        data["order_id"] = "1".into();
        serde_json::json!({"specversion": "1.0", "id": "evt-2", "source": "/shop", "type": kind,
            "subject": "1", "tenantid": "shop", "data": data})
    }

    #[test]
    fn refunds_cancellations_and_late_payments_are_checked_at_the_door() {
        let refund = money_event(
            "order.refunded",
            serde_json::json!({"refund_id": "r1", "refunded_at": "2026-11-21T10:00:00Z",
                "lines": [{"line": 0, "quantity": 1}], "payment": {"method": "card", "amount": "10", "paid_at": "2026-11-21T10:00:00Z"}}),
        );
        let checked = check(&serde_json::to_vec(&refund).unwrap()).unwrap();
        assert_eq!(checked.event.document(), "refund:r1");
        let cancel = money_event(
            "order.cancelled",
            serde_json::json!({"cancelled_at": "2026-11-21T10:00:00Z"}),
        );
        assert_eq!(
            check(&serde_json::to_vec(&cancel).unwrap())
                .unwrap()
                .event
                .document(),
            "cancel"
        );
        let paid = money_event(
            "order.paid",
            serde_json::json!({"payment_id": "p1", "payment": {"method": "card", "amount": "10", "paid_at": "2026-11-21T10:00:00Z"}}),
        );
        assert_eq!(
            check(&serde_json::to_vec(&paid).unwrap())
                .unwrap()
                .event
                .document(),
            "paid:p1"
        );

        // The same line twice, a zero quantity, a refund without an id: refused, named.
        let mut twice = refund.clone();
        twice["data"]["lines"] =
            serde_json::json!([{"line": 0, "quantity": 1}, {"line": 0, "quantity": 1}]);
        assert!(refused_at(twice).contains(&"/data/lines/1/line".to_owned()));
        let mut zero = refund.clone();
        zero["data"]["lines"][0]["quantity"] = 0.into();
        assert!(refused_at(zero)
            .iter()
            .any(|p| p.starts_with("/data/lines/0/quantity")));
        let mut no_id = refund.clone();
        no_id["data"].as_object_mut().unwrap().remove("refund_id");
        assert!(!refused_at(no_id).is_empty());
        // An order's fields in a refund are not a refund.
        let mut mixed = refund;
        mixed["data"]["currency"] = "DKK".into();
        assert!(!refused_at(mixed).is_empty());
        let mut unknown = cancel;
        unknown["type"] = "order.shipped".into();
        assert!(refused_at(unknown).contains(&"/type".to_owned()));
    }
}
