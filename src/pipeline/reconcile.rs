//! Reconciliation's reads: the tenant's ledger vouchers and Dinero's invoice and credit-note
//! lists for a date range (paged, 1,000 a call), and a look-up for each voucher one side has
//! and the other did not list. What they mean is `domain::reconciliation`'s to say.

use std::collections::BTreeSet;

use chrono::{Days, NaiveDate, TimeZone};
use serde::Serialize;

use super::error::TransferError;
use super::Pipeline;
use crate::dinero::{every_page, OrganizationClient, MAX_PAGE};
use crate::domain::reconciliation::{self, DineroVoucher, Finding, LedgerVoucher, VoucherKind};
use crate::domain::Tenant;

/// A reconciliation's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tenant_id: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Vouchers the ledger holds for the range (and a day either side).
    pub ledger_vouchers: usize,
    /// Booked vouchers Dinero lists for the range.
    pub dinero_invoices: usize,
    pub dinero_credit_notes: usize,
    /// Calls made to Dinero: list pages and look-ups.
    pub dinero_calls: usize,
    pub findings: Vec<Described>,
}

/// A finding, with a sentence for a person.
#[derive(Debug, Clone, Serialize)]
pub struct Described {
    #[serde(flatten)]
    pub finding: Finding,
    pub description: String,
}

impl Pipeline {
    /// Compare the tenant's ledger with Dinero's lists for vouchers dated `from` to `to`
    /// (days in the service's time zone, both included).
    pub async fn reconcile(
        &self,
        tenant: &Tenant,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Report, TransferError> {
        let shared = &self.shared;
        let store = shared.store.as_ref();
        // Rows written before voucher dates were kept have none: those first written from the
        // day before `from` to the day after `to` (an order is mostly transferred around the
        // date its invoice carries).
        let midnight = |day: NaiveDate| {
            shared
                .time_zone
                .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
                .earliest()
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or_else(|| day.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
        };
        let rows = store
            .ledger_vouchers(
                &tenant.id,
                (from, to),
                (midnight(from - Days::new(1)), midnight(to + Days::new(2))),
            )
            .await?;
        let mut ledger = reconciliation::ledger_vouchers(&rows);
        let read = ledger.len();
        let credentials = super::credentials::stored_credentials(shared.store.clone(), tenant);
        let dinero = shared
            .dinero
            .organization(tenant.organization_id, credentials);
        let range = (from, to);
        let (invoices, mut calls) = list(&dinero, VoucherKind::Invoice, range, None).await?;
        let (paid, paid_calls) =
            list(&dinero, VoucherKind::Invoice, range, Some("Paid,OverPaid")).await?;
        let paid: BTreeSet<_> = paid.into_iter().map(|v| v.guid).collect();
        let (notes, note_calls) = list(&dinero, VoucherKind::CreditNote, range, None).await?;
        calls += paid_calls + note_calls;
        let (dinero_invoices, dinero_credit_notes) = (invoices.len(), notes.len());
        let listed: Vec<DineroVoucher> = invoices.into_iter().chain(notes).collect();

        let mut gone = BTreeSet::new();
        for ours in reconciliation::unlisted(&ledger, &listed) {
            calls += 1;
            let found = match ours.kind {
                VoucherKind::Invoice => dinero.get_invoice(ours.guid).await?,
                VoucherKind::CreditNote => dinero.get_credit_note(ours.guid).await?,
            };
            // Found: dated outside the range, or a draft (which a date range leaves out).
            if found.is_none() {
                gone.insert(ours.guid);
            }
        }
        let mut known: Vec<LedgerVoucher> = Vec::new();
        for theirs in reconciliation::unknown(&ledger, &listed) {
            let Some(reference) = &theirs.external_reference else {
                continue;
            };
            for order in reconciliation::referenced_orders(&tenant.id, reference) {
                let rows = store.documents(&tenant.id, &order).await?;
                let found: Vec<LedgerVoucher> = reconciliation::ledger_vouchers(&rows)
                    .into_iter()
                    .filter(|v| v.guid == theirs.guid)
                    .collect();
                if !found.is_empty() {
                    known.extend(found);
                    break;
                }
            }
        }
        ledger.extend(known);
        Ok(Report {
            tenant_id: tenant.id.clone(),
            from,
            to,
            ledger_vouchers: read,
            dinero_invoices,
            dinero_credit_notes,
            dinero_calls: calls,
            findings: reconciliation::findings(&ledger, &listed, &paid, &gone)
                .into_iter()
                .map(|finding| Described {
                    description: finding.describe(),
                    finding,
                })
                .collect(),
        })
    }
}

/// Every page of a list of vouchers dated in `range`; and the calls it took.
async fn list(
    dinero: &OrganizationClient,
    kind: VoucherKind,
    range: (NaiveDate, NaiveDate),
    statuses: Option<&str>,
) -> Result<(Vec<DineroVoucher>, usize), TransferError> {
    Ok(every_page(|page| dinero.list_vouchers(kind, range, statuses, page, MAX_PAGE)).await?)
}
