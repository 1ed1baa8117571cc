//! Deterministic identities of what the service creates in Dinero: the same order always
//! gives the same invoice Guid and ExternalReference, so a lost answer can be looked up and
//! nothing is created twice (design.md §2).

use uuid::Uuid;

/// The namespace of every UUIDv5 the service derives.
const NAMESPACE: Uuid = Uuid::from_u128(0x6d3c_0f4e_2b7a_4c1e_9a55_d1e2_b0a7_c3f1);

fn derive(tenant: &str, kind: &str, id: &str) -> Uuid {
    // Lengths first, so no two (tenant, kind, id) triples can spell the same name.
    let name = format!("{}:{tenant}/{}:{kind}/{id}", tenant.len(), kind.len());
    Uuid::new_v5(&NAMESPACE, name.as_bytes())
}

pub fn invoice_guid(tenant: &str, order_id: &str) -> Uuid {
    derive(tenant, "invoice", order_id)
}

pub fn contact_guid(tenant: &str, identity: &str) -> Uuid {
    derive(tenant, "contact", identity)
}

/// `<tenant>:<order id>`, the invoice's ExternalReference.
pub fn order_reference(tenant: &str, order_id: &str) -> String {
    format!("{tenant}:{order_id}")
}

/// E-mail addresses compare case-insensitively and without surrounding space.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// VAT numbers compare without spaces, dots or dashes, upper-cased ("DK 12 34 56 78").
pub fn normalise_vat_number(vat: &str) -> String {
    vat.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_stable_and_distinct() {
        assert_eq!(invoice_guid("shop1", "42"), invoice_guid("shop1", "42"));
        assert_ne!(invoice_guid("shop1", "42"), invoice_guid("shop2", "42"));
        assert_ne!(invoice_guid("shop1", "42"), contact_guid("shop1", "42"));
        assert_ne!(invoice_guid("a", "b/c"), invoice_guid("a/b", "c"));
        assert_eq!(invoice_guid("shop1", "42").get_version_num(), 5);
    }

    #[test]
    fn keys_are_normalised() {
        assert_eq!(normalise_email("  Anna@Example.DE "), "anna@example.de");
        assert_eq!(normalise_vat_number("dk 12.34-56 78"), "DK12345678");
    }
}
