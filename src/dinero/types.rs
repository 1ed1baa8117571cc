//! What the client's callers see: Dinero's objects in our own types (exact decimals, dates,
//! uuids), independent of the wire format.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use uuid::Uuid;

/// An object's version; every write needs the current one and returns the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: i64,
    pub name: String,
    pub is_pro: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EntryAccount {
    pub number: i32,
    pub name: String,
    pub vat_code: Option<String>,
    pub category: Option<String>,
    pub hidden: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DepositAccount {
    pub number: i32,
    pub name: String,
    pub is_default: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VatType {
    pub code: String,
    pub name: String,
    pub rate: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Country {
    pub key: String,
    pub english_name: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewContact {
    pub guid: Option<Uuid>,
    pub external_reference: Option<String>,
    pub name: String,
    pub is_person: bool,
    pub street: Option<String>,
    pub zip_code: Option<String>,
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country_key: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub att_person: Option<String>,
    /// CVR for Danish companies, the VAT number otherwise.
    pub vat_number: Option<String>,
    pub ean_number: Option<String>,
    /// `da` or `en`.
    pub preferred_language: Option<String>,
    pub preferred_currency: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub guid: Uuid,
    pub name: String,
    pub external_reference: Option<String>,
    pub email: Option<String>,
    pub vat_number: Option<String>,
    pub country_key: Option<String>,
    pub is_person: Option<bool>,
    pub deleted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Product,
    /// A visual line: description only, no amount.
    Text,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewInvoiceLine {
    pub description: String,
    pub comments: Option<String>,
    pub quantity: Decimal,
    /// One of Dinero's units (`parts`, `shipment`, `hours`, ...).
    pub unit: String,
    /// Unit price: excluding VAT unless the invoice shows lines including VAT.
    pub unit_price: Decimal,
    pub discount_percent: Decimal,
    pub account_number: i32,
    pub kind: LineKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentCondition {
    /// Due the given number of days after the invoice date.
    Netto(i32),
    /// Due at once.
    NettoCash,
    /// Due at the end of the month plus the given number of days.
    CurrentMonthOut(i32),
    /// Already paid.
    Paid,
}

/// An invoice or credit note to create (or preview with `fetch`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewInvoice {
    pub guid: Option<Uuid>,
    pub contact_guid: Option<Uuid>,
    pub date: Option<NaiveDate>,
    /// ISO 4217; Dinero defaults to DKK.
    pub currency: String,
    /// `da-DK` or `en-GB`.
    pub language: Option<String>,
    pub external_reference: Option<String>,
    /// The heading ("Description" in Dinero).
    pub heading: Option<String>,
    pub comment: Option<String>,
    pub payment_condition: Option<PaymentCondition>,
    pub lines_include_vat: bool,
    pub address: Option<String>,
    pub lines: Vec<NewInvoiceLine>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    pub excl_vat: Decimal,
    pub vat: Decimal,
    pub incl_vat: Decimal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    pub guid: Uuid,
    pub version: Version,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceStatus {
    Draft,
    Booked,
}

/// An invoice or credit note as Dinero holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invoice {
    pub guid: Uuid,
    pub version: Version,
    pub status: InvoiceStatus,
    /// Set once booked.
    pub number: Option<i64>,
    pub payment_status: Option<String>,
    pub contact_guid: Option<Uuid>,
    pub currency: Option<String>,
    pub external_reference: Option<String>,
    pub heading: Option<String>,
    pub comment: Option<String>,
    pub date: Option<String>,
    pub totals: Totals,
    pub line_count: usize,
    /// Credit notes: the invoice credited.
    pub credit_note_for: Option<Uuid>,
    /// Whether it was sent to the customer (`NotSent`, `Sent`, `SeenByCustomer`, `Failed`).
    pub mail_out_status: Option<String>,
}

impl Invoice {
    /// Sent to the customer already, by e-mail or e-invoice (seen or not).
    pub fn was_sent(&self) -> bool {
        matches!(
            self.mail_out_status.as_deref(),
            Some("Sent" | "SeenByCustomer")
        )
    }
}

/// One row of an invoice list.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceSummary {
    pub guid: Uuid,
    pub number: Option<i64>,
    pub status: Option<String>,
    pub external_reference: Option<String>,
    pub deleted: bool,
    pub currency: Option<String>,
    /// In the invoice's currency.
    pub total_incl_vat: Option<Decimal>,
    /// The same, converted by Dinero at the rate it applied to the invoice.
    pub total_incl_vat_dkk: Option<Decimal>,
}

impl InvoiceSummary {
    /// DKK per unit of the invoice's currency, as Dinero converted the invoice: its DKK total
    /// over its total. `None` for an empty invoice or a list without the figures.
    pub fn dkk_rate(&self) -> Option<Decimal> {
        let total = self.total_incl_vat.filter(|t| !t.is_zero())?;
        Some(self.total_incl_vat_dkk? / total)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewPayment {
    pub deposit_account: i32,
    /// The amount in DKK that reached the deposit account.
    pub amount: Decimal,
    /// For invoices in another currency: the amount in that currency.
    pub amount_in_invoice_currency: Option<Decimal>,
    pub date: Option<NaiveDate>,
    pub description: String,
    pub external_reference: Option<String>,
    pub remainder_is_fee: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreatedPayment {
    pub guid: Uuid,
    /// The invoice's new version.
    pub invoice_version: Version,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    pub guid: Uuid,
    pub amount: Decimal,
    pub deposit_account: Option<i32>,
    pub external_reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InvoicePayments {
    pub payments: Vec<Payment>,
    pub paid: Decimal,
    pub remaining: Decimal,
}
