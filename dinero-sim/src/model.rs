//! The simulator's own reading of Dinero's request and response bodies (PascalCase JSON),
//! written from `dinero-openapi.json`; nothing here is shared with the service's client.
//!
//! Request models reject unknown properties: the schemas say `additionalProperties: false`,
//! and a strict simulator catches a client that misspells a field.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ContactInput {
    #[serde(default)]
    pub contact_guid: Option<Uuid>,
    #[serde(default)]
    pub external_reference: Option<String>,
    pub name: String,
    #[serde(default)]
    pub street: Option<String>,
    #[serde(default)]
    pub zip_code: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    pub country_key: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub webpage: Option<String>,
    #[serde(default)]
    pub att_person: Option<String>,
    #[serde(default)]
    pub vat_number: Option<String>,
    #[serde(default)]
    pub ean_number: Option<String>,
    #[serde(default, rename = "SENumber")]
    pub se_number: Option<String>,
    #[serde(default, rename = "PNumber")]
    pub p_number: Option<String>,
    #[serde(default)]
    pub payment_condition_type: Option<String>,
    #[serde(default)]
    pub payment_condition_number_of_days: Option<i32>,
    pub is_person: bool,
    pub is_member: bool,
    #[serde(default)]
    pub member_number: Option<String>,
    pub use_cvr: bool,
    #[serde(default)]
    pub company_type_key: Option<String>,
    #[serde(default)]
    pub invoice_mail_out_option_key: Option<String>,
    #[serde(default)]
    pub preferred_invoice_language_key: Option<String>,
    #[serde(default)]
    pub preferred_invoice_currency_key: Option<String>,
}

/// Invoice and credit-note bodies: create, fetch and update share one shape; `Timestamp` is
/// required on update only and `CreditNoteFor` is accepted on credit notes only.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct VoucherInput {
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub credit_note_for: Option<Uuid>,
    #[serde(default)]
    pub payment_condition_number_of_days: Option<i32>,
    #[serde(default)]
    pub payment_condition_type: Option<String>,
    #[serde(default, with = "rust_decimal::serde::float_option")]
    pub reminder_fee: Option<Decimal>,
    #[serde(default, with = "rust_decimal::serde::float_option")]
    pub reminder_interest_rate: Option<Decimal>,
    #[serde(default)]
    pub is_mobile_pay_invoice_enabled: Option<bool>,
    #[serde(default)]
    pub is_penso_pay_enabled: Option<bool>,
    #[serde(default)]
    pub contact_guid: Option<Uuid>,
    #[serde(default)]
    pub guid: Option<Uuid>,
    #[serde(default)]
    pub show_lines_incl_vat: Option<bool>,
    #[serde(default)]
    pub invoice_template_id: Option<Uuid>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub external_reference: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
    pub product_lines: Vec<LineInput>,
    #[serde(default)]
    pub address: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LineInput {
    #[serde(with = "rust_decimal::serde::float")]
    pub base_amount_value: Decimal,
    #[serde(default)]
    pub product_guid: Option<Uuid>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub comments: Option<String>,
    #[serde(with = "rust_decimal::serde::float")]
    pub quantity: Decimal,
    pub account_number: i32,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(with = "rust_decimal::serde::float")]
    pub discount: Decimal,
    #[serde(default)]
    pub line_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BookInput {
    pub timestamp: String,
    #[serde(default)]
    pub number: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TimestampInput {
    #[serde(default)]
    pub timestamp: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PaymentInput {
    pub timestamp: String,
    pub deposit_account_number: i32,
    pub remainder_is_fee: bool,
    #[serde(default, with = "rust_decimal::serde::float_option")]
    pub amount_in_foreign_currency: Option<Decimal>,
    #[serde(default)]
    pub external_reference: Option<String>,
    #[serde(default)]
    pub payment_date: Option<String>,
    pub description: String,
    #[serde(with = "rust_decimal::serde::float")]
    pub amount: Decimal,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatedResponse {
    pub guid: Uuid,
    pub time_stamp: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pagination {
    pub max_page_size_allowed: i32,
    pub page_size: i32,
    pub result: i32,
    pub result_without_filter: i32,
    pub page: i32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Collection {
    pub collection: Vec<serde_json::Value>,
    pub pagination: Pagination,
}
