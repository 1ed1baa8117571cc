//! What happens to an order's money after it was completed: `order.refunded`,
//! `order.cancelled` and `order.paid`, in the same CloudEvents envelope as `order.completed`.
//! Each names the Dinero document it makes (its ledger row), so a resend is a duplicate and a
//! second refund of the same order is a document of its own.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::order::{
    is_money, Envelope, OrderEvent, Payment, Violations, ORDER_COMPLETED, ORDER_UPDATED,
};

pub const ORDER_REFUNDED: &str = "order.refunded";
pub const ORDER_CANCELLED: &str = "order.cancelled";
pub const ORDER_PAID: &str = "order.paid";

/// Every event type the service takes.
pub const EVENT_TYPES: &[&str] = &[
    ORDER_COMPLETED,
    ORDER_UPDATED,
    ORDER_REFUNDED,
    ORDER_CANCELLED,
    ORDER_PAID,
];

/// Money back to the customer: some lines, shipping, an amount, or (none of these) the whole
/// order. Amounts are in the order's currency, including VAT.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refund {
    pub order_id: String,
    /// The shop's id of this refund: one credit note per refund id.
    pub refund_id: String,
    pub refunded_at: DateTime<Utc>,
    /// Order lines taken back, by their position in the order's `lines` (from 0).
    #[serde(default)]
    pub lines: Vec<RefundLine>,
    /// Shipping refunded, including VAT (booked like the order's shipping line).
    #[serde(default)]
    pub shipping: Option<Decimal>,
    /// An amount refunded beyond lines and shipping (a goodwill reduction), including VAT.
    #[serde(default)]
    pub amount: Option<Decimal>,
    /// How the money went back; without it the credit note is booked and left open.
    #[serde(default)]
    pub payment: Option<Payment>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundLine {
    /// The line's position in the order's `lines`, from 0.
    pub line: usize,
    pub quantity: Decimal,
}

impl Refund {
    /// No lines, shipping or amount named: everything the order was invoiced for.
    pub fn is_full(&self) -> bool {
        self.lines.is_empty() && self.shipping.is_none() && self.amount.is_none()
    }
}

/// The order is called off. Not transferred yet: nothing is made. Booked: credited in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cancellation {
    pub order_id: String,
    pub cancelled_at: DateTime<Utc>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// A payment arriving after the order was booked on credit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatePayment {
    pub order_id: String,
    /// The shop's id of this payment: registered once per id.
    pub payment_id: String,
    pub payment: Payment,
}

pub type RefundEvent = Envelope<Refund>;
pub type CancelEvent = Envelope<Cancellation>;
pub type PaidEvent = Envelope<LatePayment>;

/// Any event the service takes, by its `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyEvent {
    Completed(Box<OrderEvent>),
    Refunded(RefundEvent),
    Cancelled(CancelEvent),
    Paid(PaidEvent),
}

/// The ledger document an invoice is: the order's first and main one.
pub const INVOICE: &str = "invoice";
/// The document a cancellation makes.
pub const CANCELLATION: &str = "cancel";

/// The credit note of a rebook: the invoice made from the order's earlier version, credited
/// so that the version of event `seq` can be invoiced.
pub fn correction_document(seq: i64) -> String {
    format!("correction:{seq}")
}

/// Where a rebook moves the credited invoice's ledger row, to make room for the new one.
pub fn replaced_invoice_document(seq: i64) -> String {
    format!("invoice@{seq}")
}

impl AnyEvent {
    /// Read an event of any type from its JSON; `None` for a type the service does not take.
    pub fn from_json(json: serde_json::Value) -> Option<Result<AnyEvent, serde_json::Error>> {
        let kind = json.get("type")?.as_str()?.to_owned();
        Some(match kind.as_str() {
            ORDER_COMPLETED | ORDER_UPDATED => {
                serde_json::from_value(json).map(|e| AnyEvent::Completed(Box::new(e)))
            }
            ORDER_REFUNDED => serde_json::from_value(json).map(AnyEvent::Refunded),
            ORDER_CANCELLED => serde_json::from_value(json).map(AnyEvent::Cancelled),
            ORDER_PAID => serde_json::from_value(json).map(AnyEvent::Paid),
            _ => return None,
        })
    }

    pub fn order_id(&self) -> &str {
        match self {
            AnyEvent::Completed(e) => &e.data.order_id,
            AnyEvent::Refunded(e) => &e.data.order_id,
            AnyEvent::Cancelled(e) => &e.data.order_id,
            AnyEvent::Paid(e) => &e.data.order_id,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            AnyEvent::Completed(e) => &e.id,
            AnyEvent::Refunded(e) => &e.id,
            AnyEvent::Cancelled(e) => &e.id,
            AnyEvent::Paid(e) => &e.id,
        }
    }

    pub fn tenant(&self) -> &str {
        match self {
            AnyEvent::Completed(e) => &e.tenantid,
            AnyEvent::Refunded(e) => &e.tenantid,
            AnyEvent::Cancelled(e) => &e.tenantid,
            AnyEvent::Paid(e) => &e.tenantid,
        }
    }

    /// The CloudEvents distributed-tracing extension, when the platform sent it.
    pub fn traceparent(&self) -> Option<&str> {
        match self {
            AnyEvent::Completed(e) => e.traceparent.as_deref(),
            AnyEvent::Refunded(e) => e.traceparent.as_deref(),
            AnyEvent::Cancelled(e) => e.traceparent.as_deref(),
            AnyEvent::Paid(e) => e.traceparent.as_deref(),
        }
    }

    /// The ledger document this event makes: `invoice`, `refund:<id>`, `cancel` or
    /// `paid:<id>`. Duplicates and conflicts are told per order and document.
    pub fn document(&self) -> String {
        match self {
            AnyEvent::Completed(_) => INVOICE.to_owned(),
            AnyEvent::Refunded(e) => format!("refund:{}", e.data.refund_id),
            AnyEvent::Cancelled(_) => CANCELLATION.to_owned(),
            AnyEvent::Paid(e) => format!("paid:{}", e.data.payment_id),
        }
    }

    /// The rules a schema cannot express.
    pub fn validate(&self) -> Result<(), Violations> {
        let mut v = Violations::new();
        match self {
            AnyEvent::Completed(e) => return e.validate(),
            AnyEvent::Refunded(e) => {
                e.check_envelope(ORDER_REFUNDED, &e.data.order_id, &mut v);
                check_refund(&e.data, &mut v);
            }
            AnyEvent::Cancelled(e) => {
                e.check_envelope(ORDER_CANCELLED, &e.data.order_id, &mut v);
            }
            AnyEvent::Paid(e) => {
                e.check_envelope(ORDER_PAID, &e.data.order_id, &mut v);
                check_id(&e.data.payment_id, "/data/payment_id", &mut v);
                check_payment(&e.data.payment, "/data/payment", &mut v);
            }
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(v)
        }
    }
}

/// A refund or payment id: it becomes part of a Dinero ExternalReference (at most 128).
fn check_id(id: &str, at: &str, v: &mut Violations) {
    if id.trim().is_empty() || id.chars().count() > 40 || id.chars().any(char::is_control) {
        v.insert(
            at.into(),
            "must be 1-40 characters, no control characters".into(),
        );
    }
}

fn check_positive(amount: Decimal, at: &str, v: &mut Violations) {
    if !is_money(amount) {
        v.insert(
            at.into(),
            "at most 15 digits before the point and 6 after".into(),
        );
    } else if amount <= Decimal::ZERO {
        v.insert(at.into(), "must be positive".into());
    }
}

fn check_payment(payment: &Payment, at: &str, v: &mut Violations) {
    check_positive(payment.amount, &format!("{at}/amount"), v);
    if let Some(dkk) = payment.amount_dkk {
        check_positive(dkk, &format!("{at}/amount_dkk"), v);
    }
    if payment.method.trim().is_empty() {
        v.insert(format!("{at}/method"), "is required".into());
    }
}

fn check_refund(refund: &Refund, v: &mut Violations) {
    check_id(&refund.refund_id, "/data/refund_id", v);
    for (i, line) in refund.lines.iter().enumerate() {
        check_positive(line.quantity, &format!("/data/lines/{i}/quantity"), v);
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, line) in refund.lines.iter().enumerate() {
        if !seen.insert(line.line) {
            v.insert(
                format!("/data/lines/{i}/line"),
                "names an order line already refunded above".into(),
            );
        }
    }
    if let Some(shipping) = refund.shipping {
        check_positive(shipping, "/data/shipping", v);
    }
    if let Some(amount) = refund.amount {
        check_positive(amount, "/data/amount", v);
    }
    if let Some(payment) = &refund.payment {
        check_payment(payment, "/data/payment", v);
    }
}
