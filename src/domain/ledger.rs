//! The ledger: where each order stands in its transfer to Dinero, step by step.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::UnknownValue;

/// The in-flight mark of an invoice's create: once it is written, the order's version is
/// fixed (a newer one becomes a conflict, never a replacement).
pub const CREATE_INVOICE: &str = "create_invoice";

/// Where an order stands in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Received,
    Contact,
    InvoiceCreated,
    Booked,
    Paid,
    /// A credit note made in Dinero (a refund or cancellation), not yet booked.
    CreditNoteCreated,
    /// Called off before anything was made in Dinero.
    Cancelled,
    /// Sent to the customer from Dinero (e-mail or e-invoice).
    Sent,
    /// Booked on credit: transferred, the customer's payment still to come (`order.paid`).
    AwaitingPayment,
    Done,
    Failed,
}

impl Step {
    /// Nothing more to do in Dinero for this event.
    pub fn is_final(self) -> bool {
        matches!(self, Step::Done | Step::AwaitingPayment | Step::Cancelled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Received => "received",
            Step::Contact => "contact",
            Step::InvoiceCreated => "invoice_created",
            Step::Booked => "booked",
            Step::Paid => "paid",
            Step::CreditNoteCreated => "credit_note_created",
            Step::Cancelled => "cancelled",
            Step::Sent => "sent",
            Step::AwaitingPayment => "awaiting_payment",
            Step::Done => "done",
            Step::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Result<Self, UnknownValue> {
        Ok(match text {
            "received" => Step::Received,
            "contact" => Step::Contact,
            "invoice_created" => Step::InvoiceCreated,
            "booked" => Step::Booked,
            "paid" => Step::Paid,
            "credit_note_created" => Step::CreditNoteCreated,
            "cancelled" => Step::Cancelled,
            "sent" => Step::Sent,
            "awaiting_payment" => Step::AwaitingPayment,
            "done" => Step::Done,
            "failed" => Step::Failed,
            other => return Err(UnknownValue(format!("ledger step '{other}'"))),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderRecord {
    pub tenant_id: String,
    pub order_id: String,
    /// `invoice`, or a later document of the order (`refund:<id>`, `cancel`, `paid:<id>`),
    /// whose Dinero object (a credit note; the invoice, for a payment) the `invoice_*`
    /// fields then hold.
    pub document: String,
    pub event_seq: i64,
    pub step: Step,
    /// A Dinero write sent whose answer was not recorded: look it up before sending again.
    pub in_flight: Option<String>,
    /// The owner epoch that sent it.
    pub in_flight_epoch: Option<i64>,
    pub contact_guid: Option<Uuid>,
    pub invoice_guid: Option<Uuid>,
    pub invoice_version: Option<String>,
    pub invoice_number: Option<i64>,
    pub payments_done: u32,
    pub attempts: u32,
    pub error_class: Option<String>,
    pub error: Option<String>,
    /// The voucher's total including VAT, in the order's currency: a credit note's, and an
    /// invoice's (rows written before invoices kept it have none).
    pub amount: Option<rust_decimal::Decimal>,
    /// The date the voucher carries in Dinero (in the service's time zone).
    pub voucher_date: Option<chrono::NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OrderRecord {
    pub fn new(tenant_id: &str, order_id: &str, event_seq: i64) -> Self {
        Self::for_document(tenant_id, order_id, super::money_events::INVOICE, event_seq)
    }

    pub fn for_document(tenant_id: &str, order_id: &str, document: &str, event_seq: i64) -> Self {
        let now = Utc::now();
        OrderRecord {
            tenant_id: tenant_id.into(),
            order_id: order_id.into(),
            document: document.into(),
            event_seq,
            step: Step::Received,
            in_flight: None,
            in_flight_epoch: None,
            contact_guid: None,
            invoice_guid: None,
            invoice_version: None,
            invoice_number: None,
            payments_done: 0,
            attempts: 0,
            error_class: None,
            error: None,
            amount: None,
            voucher_date: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A step reached, to be written to the order's history: when, and what it made.
#[derive(Debug, Clone, PartialEq)]
pub struct Reached<'a> {
    pub step: &'a str,
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

impl<'a> Reached<'a> {
    /// Reached now.
    pub fn now(step: &'a str, detail: Option<String>) -> Self {
        Reached {
            step,
            detail,
            at: Utc::now(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub step: String,
    pub detail: Option<String>,
}

/// Where an order stands, as the orders list shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderSummary {
    /// The sequence number of its event: the list's cursor.
    #[serde(skip)]
    pub seq: i64,
    pub order_id: String,
    /// done, failed, resolved, held, pending or in_progress.
    pub status: String,
    pub event_id: String,
    pub received_at: DateTime<Utc>,
    pub step: Option<Step>,
    pub dinero: DineroRefs,
    pub error: Option<String>,
    pub error_class: Option<String>,
    pub attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DineroRefs {
    pub invoice_guid: Option<Uuid>,
    pub invoice_number: Option<i64>,
    pub contact_guid: Option<Uuid>,
}
