//! Reconciliation: the ledger's vouchers beside Dinero's lists for a date range, and what
//! differs: a voucher missing in Dinero, one Dinero has that the ledger does not know, a
//! total or a payment status that is not what the ledger recorded. Pure: the pipeline reads
//! both sides and asks here what they mean.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use super::ledger::{OrderRecord, Step};

/// Which kind of voucher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VoucherKind {
    Invoice,
    CreditNote,
}

impl VoucherKind {
    pub fn noun(self) -> &'static str {
        match self {
            VoucherKind::Invoice => "invoice",
            VoucherKind::CreditNote => "credit note",
        }
    }
}

/// A voucher the ledger says it made.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerVoucher {
    pub kind: VoucherKind,
    pub order_id: String,
    /// Its ledger document (`invoice`, `refund:<id>`, `cancel`, `correction:<seq>`,
    /// `invoice@<seq>` for an invoice a rebook credited).
    pub document: String,
    pub guid: Uuid,
    pub number: Option<i64>,
    /// Its total including VAT, when the ledger kept it.
    pub amount: Option<Decimal>,
    /// An invoice: whether the ledger expects it paid (`None`: no expectation).
    pub paid: Option<bool>,
}

/// A voucher as Dinero lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct DineroVoucher {
    pub kind: VoucherKind,
    pub guid: Uuid,
    pub number: Option<i64>,
    pub external_reference: Option<String>,
    pub currency: Option<String>,
    pub total: Option<Decimal>,
    pub date: Option<NaiveDate>,
}

/// Something the two sides disagree on.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// The ledger made it; Dinero no longer has it (deleted).
    MissingInDinero {
        order_id: String,
        document: String,
        voucher: VoucherKind,
        dinero_guid: Uuid,
        number: Option<i64>,
    },
    /// Dinero has it for the range; the ledger did not make it (made by hand, or by
    /// something else).
    UnknownToLedger {
        voucher: VoucherKind,
        dinero_guid: Uuid,
        number: Option<i64>,
        external_reference: Option<String>,
        total: Option<Decimal>,
        currency: Option<String>,
        date: Option<NaiveDate>,
    },
    TotalDiffers {
        order_id: String,
        document: String,
        voucher: VoucherKind,
        dinero_guid: Uuid,
        number: Option<i64>,
        ledger: Decimal,
        dinero: Decimal,
    },
    /// Paid per the ledger and not in Dinero (a payment removed), or the other way round.
    PaymentDiffers {
        order_id: String,
        dinero_guid: Uuid,
        number: Option<i64>,
        ledger: &'static str,
        dinero: &'static str,
    },
}

impl Finding {
    /// One word, for the metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            Finding::MissingInDinero { .. } => "missing_in_dinero",
            Finding::UnknownToLedger { .. } => "unknown_to_ledger",
            Finding::TotalDiffers { .. } => "total_differs",
            Finding::PaymentDiffers { .. } => "payment_differs",
        }
    }

    /// One line for a person.
    pub fn describe(&self) -> String {
        let number = |n: &Option<i64>| n.map_or("(no number)".to_owned(), |n| format!("{n}"));
        match self {
            Finding::MissingInDinero {
                order_id,
                document,
                voucher,
                number: n,
                ..
            } => format!(
                "order {order_id} ({document}): {} {} is not in Dinero (deleted?)",
                voucher.noun(),
                number(n)
            ),
            Finding::UnknownToLedger {
                voucher,
                number: n,
                external_reference,
                total,
                currency,
                date,
                ..
            } => format!(
                "{} {} of {} {}{} is unknown to the service (reference {})",
                voucher.noun(),
                number(n),
                total.map_or("?".to_owned(), |t| format!("{t:.2}")),
                currency.as_deref().unwrap_or(""),
                date.map(|d| format!(", dated {d}")).unwrap_or_default(),
                external_reference.as_deref().unwrap_or("none")
            ),
            Finding::TotalDiffers {
                order_id,
                document,
                voucher,
                number: n,
                ledger,
                dinero,
                ..
            } => format!(
                "order {order_id} ({document}): {} {} totals {dinero:.2} in Dinero, {ledger:.2} in the ledger",
                voucher.noun(),
                number(n)
            ),
            Finding::PaymentDiffers {
                order_id,
                number: n,
                ledger,
                dinero,
                ..
            } => format!(
                "order {order_id}: invoice {} is {dinero} in Dinero, {ledger} in the ledger",
                number(n)
            ),
        }
    }
}

/// The vouchers among the ledger rows of a tenant: invoices (also those a rebook credited)
/// and credit notes. A late payment's row names the invoice it paid: it makes that invoice
/// expected paid, and is no voucher of its own.
pub fn ledger_vouchers(rows: &[OrderRecord]) -> Vec<LedgerVoucher> {
    let paid_later: BTreeSet<(&str, Uuid)> = rows
        .iter()
        .filter(|r| r.document.starts_with("paid:") && r.step == Step::Done)
        .filter_map(|r| Some((r.order_id.as_str(), r.invoice_guid?)))
        .collect();
    rows.iter()
        .filter_map(|row| {
            let guid = row.invoice_guid?;
            let kind = if row.document == super::money_events::INVOICE
                || row.document.starts_with("invoice@")
            {
                VoucherKind::Invoice
            } else if row.document.starts_with("paid:") {
                return None;
            } else {
                VoucherKind::CreditNote
            };
            let paid = match (kind, row.step) {
                (VoucherKind::Invoice, Step::AwaitingPayment) => Some(false),
                (VoucherKind::Invoice, Step::Done) => Some(
                    row.payments_done > 0 || paid_later.contains(&(row.order_id.as_str(), guid)),
                )
                // Done without a payment and none later: left as a draft, or paid
                // elsewhere; no expectation.
                .filter(|paid| *paid),
                _ => None,
            };
            Some(LedgerVoucher {
                kind,
                order_id: row.order_id.clone(),
                document: row.document.clone(),
                guid,
                number: row.invoice_number,
                amount: row.amount,
                paid,
            })
        })
        .collect()
}

/// The ledger's vouchers Dinero did not list for the range: each is looked up by its guid
/// (it may be dated outside the range, or a draft, or gone).
pub fn unlisted(ledger: &[LedgerVoucher], listed: &[DineroVoucher]) -> Vec<LedgerVoucher> {
    let listed: BTreeSet<Uuid> = listed.iter().map(|v| v.guid).collect();
    ledger
        .iter()
        .filter(|v| !listed.contains(&v.guid))
        .cloned()
        .collect()
}

/// Dinero's vouchers the ledger rows read do not hold: each is looked for in the ledger by
/// its reference (an order transferred long after its date is outside the rows read).
pub fn unknown<'a>(
    ledger: &[LedgerVoucher],
    listed: &'a [DineroVoucher],
) -> Vec<&'a DineroVoucher> {
    let known: BTreeSet<Uuid> = ledger.iter().map(|v| v.guid).collect();
    listed.iter().filter(|v| !known.contains(&v.guid)).collect()
}

/// The order ids a voucher's `ExternalReference` may name for this tenant, longest first:
/// `<tenant>:<order>` for invoices and full credit notes, with a document after it for a
/// partial credit note (`:refund:<id>`). Order ids may hold `:` themselves.
pub fn referenced_orders(tenant: &str, reference: &str) -> Vec<String> {
    let Some(rest) = reference
        .strip_prefix(tenant)
        .and_then(|r| r.strip_prefix(':'))
    else {
        return Vec::new();
    };
    let mut candidates = vec![rest.to_owned()];
    let mut cut = rest;
    for _ in 0..3 {
        match cut.rfind(':') {
            Some(at) if at > 0 => {
                cut = &cut[..at];
                candidates.push(cut.to_owned());
            }
            _ => break,
        }
    }
    candidates
}

/// What differs. `ledger` holds every ledger voucher known (the rows read and those found
/// by reference), `listed` what Dinero listed for the range, `paid` the listed invoices
/// Dinero counts as paid, and `gone` the ledger's vouchers Dinero no longer has.
pub fn findings(
    ledger: &[LedgerVoucher],
    listed: &[DineroVoucher],
    paid: &BTreeSet<Uuid>,
    gone: &BTreeSet<Uuid>,
) -> Vec<Finding> {
    let by_guid: BTreeMap<Uuid, &LedgerVoucher> = ledger.iter().map(|v| (v.guid, v)).collect();
    let mut findings = Vec::new();
    for voucher in ledger.iter().filter(|v| gone.contains(&v.guid)) {
        findings.push(Finding::MissingInDinero {
            order_id: voucher.order_id.clone(),
            document: voucher.document.clone(),
            voucher: voucher.kind,
            dinero_guid: voucher.guid,
            number: voucher.number,
        });
    }
    for dinero in listed {
        let Some(ours) = by_guid.get(&dinero.guid) else {
            findings.push(Finding::UnknownToLedger {
                voucher: dinero.kind,
                dinero_guid: dinero.guid,
                number: dinero.number,
                external_reference: dinero.external_reference.clone(),
                total: dinero.total,
                currency: dinero.currency.clone(),
                date: dinero.date,
            });
            continue;
        };
        if let (Some(ledger), Some(total)) = (ours.amount, dinero.total) {
            if ledger != total {
                findings.push(Finding::TotalDiffers {
                    order_id: ours.order_id.clone(),
                    document: ours.document.clone(),
                    voucher: ours.kind,
                    dinero_guid: dinero.guid,
                    number: dinero.number,
                    ledger,
                    dinero: total,
                });
            }
        }
        if let (VoucherKind::Invoice, Some(expected)) = (dinero.kind, ours.paid) {
            let in_dinero = paid.contains(&dinero.guid);
            if expected != in_dinero {
                let word = |paid: bool| if paid { "paid" } else { "unpaid" };
                findings.push(Finding::PaymentDiffers {
                    order_id: ours.order_id.clone(),
                    dinero_guid: dinero.guid,
                    number: dinero.number,
                    ledger: word(expected),
                    dinero: word(in_dinero),
                });
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn row(order: &str, document: &str, step: Step, payments: u32) -> OrderRecord {
        let mut record = OrderRecord::for_document("shop", order, document, 1);
        record.invoice_guid = Some(Uuid::new_v4());
        record.invoice_number = Some(7);
        record.step = step;
        record.payments_done = payments;
        record.amount = Some(dec!(100));
        record
    }

    fn listed(voucher: &LedgerVoucher, total: Decimal) -> DineroVoucher {
        DineroVoucher {
            kind: voucher.kind,
            guid: voucher.guid,
            number: voucher.number,
            external_reference: None,
            currency: Some("DKK".into()),
            total: Some(total),
            date: None,
        }
    }

    #[test]
    fn each_disagreement_is_found_and_agreement_is_silent() {
        let mut late = row("C", "paid:p1", Step::Done, 1);
        let credit = row("C", "invoice", Step::Done, 0);
        late.invoice_guid = credit.invoice_guid;
        let rows = vec![
            row("A", "invoice", Step::Done, 1),
            row("B", "invoice", Step::Done, 1),
            credit,
            late,
            row("D", "invoice", Step::AwaitingPayment, 0),
            row("A", "refund:r1", Step::Done, 1),
        ];
        let ledger = ledger_vouchers(&rows);
        assert_eq!(ledger.len(), 5, "the late payment's row is no voucher");
        let (a, b, c, d, note) = (&ledger[0], &ledger[1], &ledger[2], &ledger[3], &ledger[4]);
        assert_eq!(
            (a.paid, c.paid, d.paid, note.paid),
            (Some(true), Some(true), Some(false), None)
        );
        let stranger = DineroVoucher {
            kind: VoucherKind::Invoice,
            guid: Uuid::new_v4(),
            number: Some(99),
            external_reference: None,
            currency: Some("DKK".into()),
            total: Some(dec!(5)),
            date: None,
        };
        // B is gone from Dinero; C's total differs; A lost its payment; D was paid in
        // Dinero without the ledger knowing; the credit note agrees.
        let dinero = vec![
            listed(a, dec!(100)),
            listed(c, dec!(101)),
            listed(d, dec!(100)),
            listed(note, dec!(100)),
            stranger.clone(),
        ];
        assert_eq!(unlisted(&ledger, &dinero), vec![b.clone()]);
        assert_eq!(unknown(&ledger, &dinero), vec![&stranger]);
        let paid = BTreeSet::from([c.guid, d.guid]);
        let gone = BTreeSet::from([b.guid]);
        let kinds: Vec<(&str, String)> = findings(&ledger, &dinero, &paid, &gone)
            .iter()
            .map(|f| (f.kind(), f.describe()))
            .collect();
        assert_eq!(
            kinds,
            [
                (
                    "missing_in_dinero",
                    "order B (invoice): invoice 7 is not in Dinero (deleted?)".to_owned()
                ),
                (
                    "payment_differs",
                    "order A: invoice 7 is unpaid in Dinero, paid in the ledger".to_owned()
                ),
                (
                    "total_differs",
                    "order C (invoice): invoice 7 totals 101.00 in Dinero, 100.00 in the ledger"
                        .to_owned()
                ),
                (
                    "payment_differs",
                    "order D: invoice 7 is paid in Dinero, unpaid in the ledger".to_owned()
                ),
                (
                    "unknown_to_ledger",
                    "invoice 99 of 5.00 DKK is unknown to the service (reference none)".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_reference_names_its_order_even_with_colons_in_the_order_id() {
        assert_eq!(referenced_orders("shop", "shop:A-1"), ["A-1"]);
        assert_eq!(
            referenced_orders("shop", "shop:2024:7:refund:r1"),
            ["2024:7:refund:r1", "2024:7:refund", "2024:7", "2024"]
        );
        assert!(referenced_orders("shop", "other:A").is_empty());
        assert!(referenced_orders("shop", "shopper:A").is_empty());
    }
}
