//! Dinero's JSON, as its OpenAPI document spells it (PascalCase; `TimeStamp` in answers,
//! `Timestamp` in requests; amounts as JSON numbers). Private to the client.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::types::{self, LineKind, PaymentCondition};

#[derive(Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    pub expires_in: Option<u64>,
    pub refresh_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Organization {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub is_pro: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EntryAccount {
    pub account_number: i32,
    pub name: Option<String>,
    pub vat_code: Option<String>,
    pub category: Option<String>,
    #[serde(default)]
    pub is_hidden: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DepositAccount {
    pub account_number: i32,
    pub name: Option<String>,
    #[serde(default)]
    pub is_default: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VatType {
    pub vat_code: Option<String>,
    pub name: Option<String>,
    pub vat_rate: Decimal,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Country {
    pub key: String,
    pub english_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub collection: Vec<T>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContactCreate<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_guid: Option<Uuid>,
    pub external_reference: Option<&'a str>,
    pub name: &'a str,
    pub street: Option<&'a str>,
    pub zip_code: Option<&'a str>,
    pub city: Option<&'a str>,
    pub country_key: &'a str,
    pub phone: Option<&'a str>,
    pub email: Option<&'a str>,
    pub att_person: Option<&'a str>,
    pub vat_number: Option<&'a str>,
    pub ean_number: Option<&'a str>,
    pub is_person: bool,
    pub is_member: bool,
    pub use_cvr: bool,
    pub preferred_invoice_language_key: Option<&'a str>,
    pub preferred_invoice_currency_key: Option<&'a str>,
}

impl<'a> From<&'a types::NewContact> for ContactCreate<'a> {
    fn from(c: &'a types::NewContact) -> Self {
        ContactCreate {
            contact_guid: c.guid,
            external_reference: c.external_reference.as_deref(),
            name: &c.name,
            street: c.street.as_deref(),
            zip_code: c.zip_code.as_deref(),
            city: c.city.as_deref(),
            country_key: &c.country_key,
            phone: c.phone.as_deref(),
            email: c.email.as_deref(),
            att_person: c.att_person.as_deref(),
            vat_number: c.vat_number.as_deref(),
            ean_number: c.ean_number.as_deref(),
            is_person: c.is_person,
            is_member: false,
            // Companies with a Danish CVR let Dinero fill in the company from the CVR register.
            use_cvr: !c.is_person && c.country_key == "DK" && c.vat_number.is_some(),
            preferred_invoice_language_key: c.preferred_language.as_deref(),
            preferred_invoice_currency_key: c.preferred_currency.as_deref(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContactCreated {
    pub contact_guid: Uuid,
}

/// A contact row or read model, fetched with the fields named in `CONTACT_FIELDS`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Contact {
    pub contact_guid: Uuid,
    pub name: String,
    pub external_reference: Option<String>,
    pub email: Option<String>,
    pub vat_number: Option<String>,
    pub country_key: Option<String>,
    pub is_person: Option<bool>,
    pub deleted_at: Option<String>,
}

pub const CONTACT_FIELDS: &str =
    "ContactGuid,Name,ExternalReference,Email,VatNumber,CountryKey,IsPerson,DeletedAt";

impl From<Contact> for types::Contact {
    fn from(c: Contact) -> Self {
        types::Contact {
            guid: c.contact_guid,
            name: c.name,
            external_reference: c.external_reference,
            email: c.email,
            vat_number: c.vat_number,
            country_key: c.country_key,
            is_person: c.is_person,
            deleted: c.deleted_at.is_some(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvoiceCreate<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guid: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit_note_for: Option<Uuid>,
    pub contact_guid: Option<Uuid>,
    pub date: Option<String>,
    pub currency: &'a str,
    pub language: Option<&'a str>,
    pub external_reference: Option<&'a str>,
    pub description: Option<&'a str>,
    pub comment: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_condition_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_condition_number_of_days: Option<i32>,
    pub show_lines_incl_vat: bool,
    pub address: Option<&'a str>,
    pub product_lines: Vec<InvoiceLine<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvoiceLine<'a> {
    pub description: &'a str,
    pub comments: Option<&'a str>,
    #[serde(with = "rust_decimal::serde::float")]
    pub quantity: Decimal,
    pub unit: Option<&'a str>,
    #[serde(with = "rust_decimal::serde::float")]
    pub base_amount_value: Decimal,
    #[serde(with = "rust_decimal::serde::float")]
    pub discount: Decimal,
    pub account_number: i32,
    pub line_type: &'static str,
}

impl<'a> InvoiceCreate<'a> {
    pub fn new(invoice: &'a types::NewInvoice, credit_note_for: Option<Uuid>) -> Self {
        let (condition, days) = match invoice.payment_condition {
            None => (None, None),
            Some(PaymentCondition::Netto(days)) => (Some("Netto"), Some(days)),
            Some(PaymentCondition::NettoCash) => (Some("NettoCash"), None),
            Some(PaymentCondition::CurrentMonthOut(days)) => (Some("CurrentMonthOut"), Some(days)),
            Some(PaymentCondition::Paid) => (Some("Paid"), None),
        };
        // Credit notes carry no payment terms.
        let (condition, days) = if credit_note_for.is_some() {
            (None, None)
        } else {
            (condition, days)
        };
        InvoiceCreate {
            guid: invoice.guid,
            credit_note_for,
            contact_guid: invoice.contact_guid,
            date: invoice.date.map(|d| d.format("%Y-%m-%d").to_string()),
            currency: &invoice.currency,
            language: invoice.language.as_deref(),
            external_reference: invoice.external_reference.as_deref(),
            description: invoice.heading.as_deref(),
            comment: invoice.comment.as_deref(),
            payment_condition_type: condition,
            payment_condition_number_of_days: days,
            show_lines_incl_vat: invoice.lines_include_vat,
            address: invoice.address.as_deref(),
            product_lines: invoice
                .lines
                .iter()
                .map(|line| InvoiceLine {
                    description: &line.description,
                    comments: line.comments.as_deref(),
                    quantity: line.quantity,
                    unit: (line.kind == LineKind::Product).then_some(line.unit.as_str()),
                    base_amount_value: line.unit_price,
                    discount: line.discount_percent,
                    account_number: line.account_number,
                    line_type: match line.kind {
                        LineKind::Product => "Product",
                        LineKind::Text => "Text",
                    },
                })
                .collect(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatedResponse {
    pub guid: Uuid,
    pub time_stamp: Option<String>,
}

/// The parts of `InvoiceReadModel`, `InvoiceFetchReadModel` and `SalesCreditNoteReadModel`
/// the service uses.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvoiceRead {
    pub guid: Option<Uuid>,
    pub time_stamp: Option<String>,
    pub status: Option<String>,
    #[serde(default)]
    pub number: i64,
    pub payment_status: Option<String>,
    pub contact_guid: Option<Uuid>,
    pub currency: Option<String>,
    pub external_reference: Option<String>,
    pub description: Option<String>,
    pub comment: Option<String>,
    pub date: Option<String>,
    pub total_excl_vat: Decimal,
    pub total_vat: Decimal,
    pub total_incl_vat: Decimal,
    #[serde(default)]
    pub product_lines: Vec<serde_json::Value>,
    pub credit_note_for: Option<Uuid>,
    /// NotSent, Sent, SeenByCustomer or Failed.
    #[serde(default)]
    pub mail_out_status: Option<String>,
}

impl InvoiceRead {
    pub fn totals(&self) -> types::Totals {
        types::Totals {
            excl_vat: self.total_excl_vat,
            vat: self.total_vat,
            incl_vat: self.total_incl_vat,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvoiceRow {
    pub guid: Uuid,
    pub number: Option<i64>,
    pub status: Option<String>,
    pub external_reference: Option<String>,
    pub deleted_at: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub total_incl_vat: Option<Decimal>,
    /// Dinero's own conversion at the day's rate: how foreign payments learn their DKK amount.
    #[serde(default, rename = "TotalInclVatInDkk")]
    pub total_incl_vat_in_dkk: Option<Decimal>,
}

/// A row of a voucher list read for reconciliation: also its date.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VoucherListRow {
    pub guid: Uuid,
    pub number: Option<i64>,
    pub external_reference: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub total_incl_vat: Option<Decimal>,
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub deleted_at: Option<String>,
}

pub const VOUCHER_LIST_FIELDS: &str =
    "Guid,Number,ExternalReference,Currency,TotalInclVat,Date,DeletedAt";

pub const INVOICE_ROW_FIELDS: &str =
    "Guid,Number,Status,ExternalReference,DeletedAt,Currency,TotalInclVat,TotalInclVatInDkk";

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Book<'a> {
    pub timestamp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<i64>,
}

/// `ApiMailoutModel`: Dinero's own template to the contact's e-mail address.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MailOut {
    pub should_add_trust_pilot_email_as_bcc: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimestampBody<'a> {
    pub timestamp: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PaymentCreate<'a> {
    pub timestamp: &'a str,
    pub deposit_account_number: i32,
    pub remainder_is_fee: bool,
    #[serde(with = "rust_decimal::serde::float")]
    pub amount: Decimal,
    #[serde(with = "rust_decimal::serde::float_option")]
    pub amount_in_foreign_currency: Option<Decimal>,
    pub description: &'a str,
    pub payment_date: Option<String>,
    pub external_reference: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PaymentCreated {
    pub guid: Uuid,
    pub time_stamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Payments {
    #[serde(default)]
    pub payments: Option<Vec<PaymentRow>>,
    pub paid_amount: Decimal,
    pub remaining_amount: Decimal,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PaymentRow {
    pub guid: Uuid,
    pub amount: Decimal,
    pub deposit_account_number: Option<i32>,
    pub external_reference: Option<String>,
}
