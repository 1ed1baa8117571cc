//! What an order would become in Dinero, making nothing: the invoice the transfer would
//! create (accounts, lines, VAT situation), which contact it would go to, and Dinero's own
//! totals for it from `invoices/fetch`. Only reading calls reach Dinero.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use super::documents;
use super::error::TransferError;
use super::transfer::{find_contact, mapping_settings, ContactMatch, Overrides};
use super::Pipeline;
use crate::dinero::Totals;
use crate::domain::mapping::{self, PaymentTerms, VatSituation};
use crate::domain::order::OrderEvent;
use crate::domain::Tenant;

#[derive(Debug, Serialize)]
pub struct Preview {
    pub situation: VatSituation,
    pub contact: ContactPreview,
    pub invoice: InvoicePreview,
    /// What Dinero totals the invoice at (`invoices/fetch`), in its currency.
    pub dinero_totals: TotalsView,
    /// The order's own totals, as the event gives them.
    pub order_totals: TotalsView,
    /// Dinero's total including VAT and its VAT equal the order's to the øre.
    pub totals_match: bool,
}

#[derive(Debug, Serialize)]
pub struct ContactPreview {
    /// `cached`, `found` (in Dinero), or `new`: the transfer would create it.
    #[serde(rename = "match")]
    pub matched: &'static str,
    /// The contact's guid in Dinero; for a new one, the guid it would be created with.
    pub guid: Uuid,
    pub name: String,
    /// What the customer is matched by: `email:…`, `vat:…` or the shop's reference.
    pub key: String,
}

#[derive(Debug, Serialize)]
pub struct InvoicePreview {
    pub guid: Uuid,
    pub external_reference: String,
    pub heading: String,
    pub date: NaiveDate,
    pub currency: String,
    pub language: &'static str,
    pub lines_include_vat: bool,
    /// The shop's invoice number to book with ("lock voucher number").
    pub number: Option<i64>,
    /// Days of credit; absent when paid at checkout.
    pub payment_terms_days: Option<u32>,
    pub lines: Vec<LinePreview>,
    /// Payments the transfer would register: deposit account and amount.
    pub payments: Vec<PaymentPreview>,
}

#[derive(Debug, Serialize)]
pub struct LinePreview {
    pub description: String,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub discount_percent: Decimal,
    pub account: i32,
}

#[derive(Debug, Serialize)]
pub struct PaymentPreview {
    pub deposit_account: i32,
    pub amount: Decimal,
    pub amount_dkk: Option<Decimal>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct TotalsView {
    pub total_incl_vat: Decimal,
    pub vat: Decimal,
}

impl From<Totals> for TotalsView {
    fn from(totals: Totals) -> Self {
        TotalsView {
            total_incl_vat: totals.incl_vat,
            vat: totals.vat,
        }
    }
}

impl Pipeline {
    /// The invoice `event` would become for `tenant`, with Dinero's totals; nothing is made.
    pub async fn preview(
        &self,
        tenant: &Tenant,
        event: &OrderEvent,
        overrides: Overrides,
    ) -> Result<Preview, TransferError> {
        let shared = &self.shared;
        let settings = mapping_settings(
            tenant,
            overrides,
            shared.time_zone,
            shared.settings.totals_tolerance,
        );
        let plan = mapping::plan(&tenant.id, event, &settings)?;
        let credentials = super::credentials::stored_credentials(shared.store.clone(), tenant);
        let dinero = shared
            .dinero
            .organization(tenant.organization_id, credentials);
        let found = find_contact(
            shared.store.as_ref(),
            &dinero,
            &tenant.id,
            &plan.contact,
            false,
        )
        .await?;
        // A new contact is not made: Dinero totals a draft without one.
        let mut body = documents::invoice(&plan.invoice, plan.contact.guid);
        body.contact_guid = found.map(|(guid, _)| guid);
        let dinero_totals = TotalsView::from(dinero.fetch_invoice_totals(&body).await?);
        let order = &event.data.totals;
        let order_totals = TotalsView {
            total_incl_vat: order.total,
            vat: order.vat,
        };
        let invoice = &plan.invoice;
        Ok(Preview {
            situation: plan.situation,
            contact: ContactPreview {
                matched: match found {
                    Some((_, ContactMatch::Cached)) => "cached",
                    Some((_, ContactMatch::Found)) => "found",
                    None => "new",
                },
                guid: found.map_or(plan.contact.guid, |(guid, _)| guid),
                name: plan.contact.name.clone(),
                key: plan.contact.cache_key(),
            },
            invoice: InvoicePreview {
                guid: invoice.guid,
                external_reference: invoice.external_reference.clone(),
                heading: invoice.heading.clone(),
                date: invoice.date,
                currency: invoice.currency.clone(),
                language: invoice.language,
                lines_include_vat: invoice.lines_include_vat,
                number: invoice.number,
                payment_terms_days: match invoice.terms {
                    PaymentTerms::Paid => None,
                    PaymentTerms::Net { days } => Some(days),
                },
                lines: invoice
                    .lines
                    .iter()
                    .map(|line| LinePreview {
                        description: line.description.clone(),
                        quantity: line.quantity,
                        unit_price: line.unit_price,
                        discount_percent: line.discount_percent,
                        account: line.account,
                    })
                    .collect(),
                payments: plan
                    .payments
                    .iter()
                    .map(|payment| PaymentPreview {
                        deposit_account: payment.deposit_account,
                        amount: payment.amount,
                        amount_dkk: payment.amount_dkk,
                    })
                    .collect(),
            },
            totals_match: dinero_totals.total_incl_vat == order_totals.total_incl_vat
                && dinero_totals.vat == order_totals.vat,
            dinero_totals,
            order_totals,
        })
    }
}
