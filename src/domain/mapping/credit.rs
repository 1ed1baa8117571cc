//! Refunds, cancellations and late payments → credit notes and payments. A partial credit
//! note is planned like an invoice of the lines taken back, so each line lands on the account
//! (and VAT) its invoice line used.

use rust_decimal::Decimal;
use uuid::Uuid;

use super::{
    deposit_account, english, invoice, local_date, InvoiceDraft, MappingError, MappingSettings,
    PaymentDraft, MAX_REFERENCE,
};
use crate::domain::identity;
use crate::domain::money_events::{LatePayment, Refund};
use crate::domain::order::{Line, LineKind, Order, OrderEvent, Payment, Totals};

/// A credit note to make for an order, and the refund to register on it.
#[derive(Debug, Clone, PartialEq)]
pub struct CreditPlan {
    /// All of the invoice (`generate-creditnote`), or the lines of `note` (`CreditNoteFor`).
    pub full: bool,
    /// For a partial credit: the credit note to create. For a full one: the invoice's own
    /// draft, whose total is the credit's.
    pub note: InvoiceDraft,
    pub refund: Option<PaymentDraft>,
}

impl CreditPlan {
    /// What the credit note comes to, including VAT, in the order's currency.
    pub fn total(&self) -> Decimal {
        self.note.total
    }
}

/// The deterministic guid of a refund's credit note.
pub fn credit_note_guid(tenant: &str, order_id: &str, document: &str) -> Uuid {
    identity::document_guid(tenant, order_id, document)
}

/// A refund as a credit note. `invoiced` is what the invoice totals, `credited` what earlier
/// credit notes of the order already took back: a refund beyond the rest is refused with the
/// figures.
pub fn refund(
    tenant: &str,
    event: &OrderEvent,
    refund: &Refund,
    settings: &MappingSettings,
    invoiced: Decimal,
    credited: Decimal,
) -> Result<CreditPlan, MappingError> {
    let order = &event.data;
    let document = format!("refund:{}", refund.refund_id);
    let date = local_date(refund.refunded_at, settings.time_zone);
    let full = refund.is_full() && credited.is_zero();
    let mut note = if refund.is_full() {
        let plan = super::plan(tenant, event, settings)?;
        plan.invoice
    } else {
        let taken_back = taken_back(order, refund)?;
        invoice(
            tenant,
            &taken_back,
            super::VatSituation::of(order),
            settings,
            english(order),
            date,
        )?
    };
    let total = if refund.is_full() {
        invoiced - credited
    } else {
        note.total
    };
    if credited + total > invoiced + settings.tolerance || total <= Decimal::ZERO {
        return Err(MappingError::BeyondInvoice {
            refund: refund.refund_id.clone(),
            currency: order.currency.clone(),
            amount: total,
            credited,
            invoiced,
        });
    }
    if refund.is_full() && !full {
        // The rest of an order partly refunded before: its lines are no longer the invoice's.
        return Err(MappingError::FullAfterPartial {
            refund: refund.refund_id.clone(),
            currency: order.currency.clone(),
            credited,
            invoiced,
        });
    }
    dress(
        tenant,
        order,
        &mut note,
        &document,
        date,
        refund.reason.as_deref(),
    )?;
    let refund_payment = refund
        .payment
        .as_ref()
        .map(|payment| {
            refund_payment(
                tenant,
                order,
                payment,
                settings,
                &document,
                &refund.refund_id,
            )
        })
        .transpose()?;
    Ok(CreditPlan {
        full,
        note,
        refund: refund_payment,
    })
}

/// A cancellation of a booked order: all of its invoice, nothing paid back here.
pub fn cancellation(
    tenant: &str,
    event: &OrderEvent,
    settings: &MappingSettings,
    cancelled_at: chrono::DateTime<chrono::Utc>,
    reason: Option<&str>,
) -> Result<CreditPlan, MappingError> {
    let order = &event.data;
    let mut note = super::plan(tenant, event, settings)?.invoice;
    let date = local_date(cancelled_at, settings.time_zone);
    dress(
        tenant,
        order,
        &mut note,
        crate::domain::money_events::CANCELLATION,
        date,
        reason,
    )?;
    Ok(CreditPlan {
        full: true,
        note,
        refund: None,
    })
}

/// A payment that came after the order was booked on credit, for its invoice.
pub fn late_payment(
    tenant: &str,
    order: &Order,
    paid: &LatePayment,
    settings: &MappingSettings,
) -> Result<PaymentDraft, MappingError> {
    let payment = &paid.payment;
    let reference = identity::order_reference(tenant, &order.order_id);
    let description = format!("{} payment, order {}", payment.method, order.order_number);
    let reference = format!("{reference}:paid:{}", paid.payment_id);
    draft(order, payment, settings, description, reference)
}

fn refund_payment(
    tenant: &str,
    order: &Order,
    payment: &Payment,
    settings: &MappingSettings,
    document: &str,
    refund_id: &str,
) -> Result<PaymentDraft, MappingError> {
    let reference = identity::order_reference(tenant, &order.order_id);
    let description = format!(
        "Refund {refund_id} by {}, order {}",
        payment.method, order.order_number
    );
    let reference = format!("{reference}:{document}:payment");
    draft(order, payment, settings, description, reference)
}

/// A payment of the order's currency from its method's deposit account (DKK given for DKK
/// orders; for others as the event gives it, else found from Dinero's rate later).
fn draft(
    order: &Order,
    payment: &Payment,
    settings: &MappingSettings,
    description: String,
    reference: String,
) -> Result<PaymentDraft, MappingError> {
    Ok(PaymentDraft {
        deposit_account: deposit_account(settings, &payment.method)?,
        amount: payment.amount,
        amount_dkk: if order.currency == "DKK" {
            Some(payment.amount)
        } else {
            payment.amount_dkk
        },
        date: local_date(payment.paid_at, settings.time_zone),
        description,
        external_reference: checked_reference(reference)?,
    })
}

fn checked_reference(reference: String) -> Result<String, MappingError> {
    if reference.chars().count() > MAX_REFERENCE {
        return Err(MappingError::TooLong {
            field: "the ExternalReference",
            max: MAX_REFERENCE,
        });
    }
    Ok(reference)
}

/// A credit note's own guid, reference, heading and date; booked with Dinero's next number.
fn dress(
    tenant: &str,
    order: &Order,
    note: &mut InvoiceDraft,
    document: &str,
    date: chrono::NaiveDate,
    reason: Option<&str>,
) -> Result<(), MappingError> {
    let reference = identity::order_reference(tenant, &order.order_id);
    note.guid = credit_note_guid(tenant, &order.order_id, document);
    note.external_reference = checked_reference(format!("{reference}:{document}"))?;
    let english = note.language == "en-GB";
    note.heading = if english {
        format!("Credit note, order {}", order.order_number)
    } else {
        format!("Kreditnota, ordre {}", order.order_number)
    };
    note.comment = match reason {
        Some(reason) if !reason.trim().is_empty() => reason.trim().to_owned(),
        _ if english => format!("Webshop order {}", order.order_number),
        _ => format!("Webshopordre {}", order.order_number),
    };
    note.date = date;
    note.number = None;
    Ok(())
}

/// The order as far as this refund takes it back: its refunded lines at their quantities,
/// shipping and an amount as lines on the accounts the invoice used for them.
fn taken_back(order: &Order, refund: &Refund) -> Result<Order, MappingError> {
    let mut lines = Vec::new();
    for (index, wanted) in refund.lines.iter().enumerate() {
        let line = order
            .lines
            .get(wanted.line)
            .ok_or(MappingError::NoSuchLine {
                index,
                line: wanted.line,
                lines: order.lines.len(),
            })?;
        if matches!(line.kind, LineKind::Discount | LineKind::GiftCard) {
            return Err(MappingError::NotRefundable {
                line: wanted.line,
                kind: line.kind.as_str(),
            });
        }
        if wanted.quantity > line.quantity {
            return Err(MappingError::QuantityBeyond {
                line: wanted.line,
                refunded: wanted.quantity,
                ordered: line.quantity,
            });
        }
        lines.push(Line {
            quantity: wanted.quantity,
            ..line.clone()
        });
    }
    let gross_line = |like: &Line, name: String, gross: Decimal| Line {
        name,
        sku: None,
        quantity: Decimal::ONE,
        unit_price: if order.prices_include_vat {
            gross
        } else {
            (gross / (Decimal::ONE + like.vat_rate / Decimal::ONE_HUNDRED)).round_dp(2)
        },
        discount_percent: Decimal::ZERO,
        ..like.clone()
    };
    if let Some(shipping) = refund.shipping {
        let like = order
            .lines
            .iter()
            .find(|l| l.kind == LineKind::Shipping)
            .ok_or(MappingError::NoShippingLine)?;
        lines.push(gross_line(like, like.name.clone(), shipping));
    }
    if let Some(amount) = refund.amount {
        // The order's largest product line decides the account (and VAT) of an amount.
        let like = order
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Product)
            .max_by_key(|l| order.line_gross(l))
            .ok_or(MappingError::NoProductLine)?;
        let name = if english(order) { "Refund" } else { "Refusion" };
        lines.push(gross_line(like, name.to_owned(), amount));
    }
    let mut taken = Order {
        lines,
        payment: None,
        invoice_number: None,
        totals: Totals {
            total: Decimal::ZERO,
            vat: Decimal::ZERO,
        },
        ..order.clone()
    };
    taken.totals = Totals {
        total: taken.lines_total(),
        vat: taken.lines_vat(),
    };
    Ok(taken)
}
