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

/// The invoice of a corrected version of an order, rebooked after its first invoice was
/// credited: its own guid, from the event that carried the version.
pub fn corrected_invoice_guid(tenant: &str, order_id: &str, event_id: &str) -> Uuid {
    derive(
        tenant,
        "corrected-invoice",
        &format!("{}:{order_id}/{event_id}", order_id.len()),
    )
}

/// A later document of an order (`refund:<id>`, `cancel`): its own guid, never the invoice's.
pub fn document_guid(tenant: &str, order_id: &str, document: &str) -> Uuid {
    derive(tenant, document, order_id)
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

/// The one form a VAT number is matched by: separators gone, upper case, and the country
/// prefix present (`12345678` of a Danish customer is `DK12345678`; Greece's prefix is EL).
pub fn canonical_vat_number(vat: &str, country: &str) -> String {
    let vat = normalise_vat_number(vat);
    if vat.len() > 2 && vat.as_bytes()[..2].iter().all(u8::is_ascii_alphabetic) {
        return vat;
    }
    let prefix = match country.to_ascii_uppercase().as_str() {
        "GR" => "EL".to_owned(),
        other => other.to_owned(),
    };
    format!("{prefix}{vat}")
}

/// The number without its country prefix, as many Danish books hold a CVR number.
pub fn vat_number_without_prefix(canonical: &str) -> &str {
    canonical.get(2..).unwrap_or(canonical)
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

    #[test]
    fn a_vat_number_is_the_same_with_or_without_prefix_and_separators() {
        for given in ["DK12345678", "12345678", "DK 12 34 56 78", "dk-12.34.56.78"] {
            assert_eq!(canonical_vat_number(given, "DK"), "DK12345678", "{given}");
        }
        assert_eq!(canonical_vat_number("123456789", "GR"), "EL123456789");
        assert_eq!(canonical_vat_number("DE 123456789", "DK"), "DE123456789");
        assert_eq!(vat_number_without_prefix("DK12345678"), "12345678");
    }
}
