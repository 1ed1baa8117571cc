//! Domain drafts → the Dinero client's request types (the one place the two meet).

use crate::dinero::{
    LineKind, NewContact, NewInvoice, NewInvoiceLine, NewPayment, PaymentCondition,
};
use crate::domain::mapping::{ContactDraft, InvoiceDraft, PaymentDraft, PaymentTerms};

pub fn contact(draft: &ContactDraft) -> NewContact {
    NewContact {
        guid: Some(draft.guid),
        external_reference: Some(draft.external_reference.clone()),
        name: draft.name.clone(),
        is_person: draft.is_person,
        street: draft.street.clone(),
        zip_code: draft.zip.clone(),
        city: draft.city.clone(),
        country_key: draft.country.clone(),
        phone: draft.phone.clone(),
        email: draft.email.clone(),
        att_person: draft.attention.clone(),
        vat_number: draft.vat_number.clone(),
        ean_number: draft.ean.clone(),
        preferred_language: Some(draft.language.to_owned()),
        preferred_currency: Some(draft.currency.clone()),
    }
}

pub fn invoice(draft: &InvoiceDraft, contact: uuid::Uuid) -> NewInvoice {
    NewInvoice {
        guid: Some(draft.guid),
        contact_guid: Some(contact),
        date: Some(draft.date),
        currency: draft.currency.clone(),
        language: Some(draft.language.to_owned()),
        external_reference: Some(draft.external_reference.clone()),
        heading: Some(draft.heading.clone()),
        comment: Some(draft.comment.clone()),
        payment_condition: Some(match draft.terms {
            PaymentTerms::Paid => PaymentCondition::Paid,
            PaymentTerms::Net { days } => {
                PaymentCondition::Netto(i32::try_from(days).unwrap_or(i32::MAX))
            }
        }),
        lines_include_vat: draft.lines_include_vat,
        address: None,
        lines: draft
            .lines
            .iter()
            .map(|line| NewInvoiceLine {
                description: line.description.clone(),
                comments: line.comments.clone(),
                quantity: line.quantity,
                unit: line.unit.to_owned(),
                unit_price: line.unit_price,
                discount_percent: line.discount_percent,
                account_number: line.account,
                kind: LineKind::Product,
            })
            .collect(),
    }
}

/// Dinero wants the DKK amount, plus the invoice-currency amount for foreign invoices.
pub fn payment(
    draft: &PaymentDraft,
    currency: &str,
    amount_dkk: rust_decimal::Decimal,
) -> NewPayment {
    NewPayment {
        deposit_account: draft.deposit_account,
        amount: amount_dkk,
        amount_in_invoice_currency: (currency != "DKK").then_some(draft.amount),
        date: Some(draft.date),
        description: draft.description.clone(),
        external_reference: Some(draft.external_reference.clone()),
        remainder_is_fee: false,
    }
}

/// A partial credit note: the invoice's shape without payment terms (credit notes have none).
pub fn credit_note(draft: &InvoiceDraft, contact: uuid::Uuid) -> NewInvoice {
    NewInvoice {
        payment_condition: None,
        ..invoice(draft, contact)
    }
}
