//! GDPR erasure of a customer's personal data from stored events: which events belong to the
//! customer, and the same event with the personal fields replaced. What accounting needs
//! (order number, lines, amounts, country) stays, so the ledger and totals remain whole.

use serde_json::Value;

use super::identity::normalise_email;
use super::mapping::contact_of;
use super::order::OrderEvent;

/// The customer to erase, by the shop's customer id, e-mail address, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRef {
    pub customer_id: Option<String>,
    pub email: Option<String>,
}

/// What replaces an erased text field.
pub const ERASED: &str = "erased";

/// Customer fields that identify a person; `country` and `kind` stay (VAT depends on them).
const PERSONAL_FIELDS: [&str; 7] = [
    "id",
    "email",
    "phone",
    "attention",
    "ean",
    "vat_number",
    "name",
];
const ADDRESS_FIELDS: [&str; 3] = ["street", "zip", "city"];

impl CustomerRef {
    /// Neither an id nor an e-mail address: nothing could be matched.
    pub fn is_empty(&self) -> bool {
        self.customer_id
            .as_deref()
            .is_none_or(|s| s.trim().is_empty())
            && self.email.as_deref().is_none_or(|s| s.trim().is_empty())
    }

    /// Plain strings every payload of this customer contains: a cheap pre-filter for a query.
    /// JSON may escape characters, so a payload without them can still be checked in full;
    /// ids and addresses with nothing to escape (the usual) are found by it exactly.
    pub fn needles(&self) -> Vec<String> {
        let mut needles = Vec::new();
        if let Some(id) = &self.customer_id {
            needles.push(id.clone());
        }
        if let Some(email) = &self.email {
            needles.push(normalise_email(email));
        }
        needles
    }

    fn matches(&self, customer: &Value) -> bool {
        let id_matches = self
            .customer_id
            .as_deref()
            .is_some_and(|wanted| customer.get("id").and_then(Value::as_str) == Some(wanted));
        let email_matches = self.email.as_deref().is_some_and(|wanted| {
            customer
                .get("email")
                .and_then(Value::as_str)
                .is_some_and(|e| normalise_email(e) == normalise_email(wanted))
        });
        id_matches || email_matches
    }
}

/// The event (a CloudEvent JSON text) with its customer's personal data erased, or `None`
/// when it is not this customer's (or not an order event at all).
pub fn redact_event(payload: &str, who: &CustomerRef) -> Option<String> {
    let mut event: Value = serde_json::from_str(payload).ok()?;
    let customer = event.pointer_mut("/data/customer")?;
    if !who.matches(customer) {
        return None;
    }
    let customer = customer.as_object_mut()?;
    for field in PERSONAL_FIELDS {
        if let Some(value) = customer.get_mut(field) {
            // `name` is required by the schema, so it keeps a placeholder; the rest go null.
            *value = if field == "name" {
                Value::from(ERASED)
            } else {
                Value::Null
            };
        }
    }
    if let Some(address) = customer.get_mut("address").and_then(Value::as_object_mut) {
        for field in ADDRESS_FIELDS {
            if let Some(value) = address.get_mut(field) {
                *value = Value::Null;
            }
        }
    }
    Some(event.to_string())
}

/// The contact-cache key of the customer of this event (it holds their e-mail or id).
pub fn contact_cache_key(tenant: &str, payload: &str) -> Option<String> {
    let event: OrderEvent = serde_json::from_str(payload).ok()?;
    contact_of(tenant, &event.data).ok().map(|c| c.cache_key())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(email: &str, id: &str) -> String {
        json!({"id": "e1", "data": {"order_id": "1", "order_number": "1001",
            "customer": {"kind": "person", "id": id, "name": "Anna Berg", "email": email,
                "phone": "+45 1234", "address": {"street": "Vej 1", "zip": "8000", "city": "Aarhus", "country": "DK"}},
            "lines": [{"name": "Mug", "unit_price": "10"}], "totals": {"total": "10", "vat": "2"}}})
        .to_string()
    }

    #[test]
    fn erases_the_personal_fields_and_keeps_what_accounting_needs() {
        let who = CustomerRef {
            customer_id: None,
            email: Some(" ANNA@example.dk".into()),
        };
        let erased = redact_event(&event("anna@example.dk", "c7"), &who).expect("matched");
        let value: Value = serde_json::from_str(&erased).unwrap();
        let customer = &value["data"]["customer"];
        assert_eq!(customer["name"], "erased");
        for field in ["email", "phone", "id"] {
            assert!(customer[field].is_null(), "{field}");
        }
        assert_eq!(
            customer["address"],
            json!({"street": null, "zip": null, "city": null, "country": "DK"})
        );
        assert_eq!(value["data"]["order_number"], "1001");
        assert_eq!(value["data"]["totals"]["total"], "10");
        assert!(!erased.contains("Anna") && !erased.contains("Aarhus"));
    }

    #[test]
    fn matches_by_customer_id_or_email_and_nothing_else() {
        let by_id = CustomerRef {
            customer_id: Some("c7".into()),
            email: None,
        };
        assert!(redact_event(&event("x@y.dk", "c7"), &by_id).is_some());
        assert!(redact_event(&event("x@y.dk", "c8"), &by_id).is_none());
        let by_mail = CustomerRef {
            customer_id: None,
            email: Some("x@y.dk".into()),
        };
        assert!(redact_event(&event("other@y.dk", "c7"), &by_mail).is_none());
        assert!(redact_event("not json", &by_mail).is_none());
        assert!(CustomerRef {
            customer_id: Some(" ".into()),
            email: None
        }
        .is_empty());
    }
}
