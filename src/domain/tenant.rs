//! A tenant (one shop, one Dinero organization): how its orders are transferred, its
//! write-only secrets, whether it is paused.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::mapping::{AccountMapping, SendInvoice};

/// Net 8 days: the common Danish terms for an invoice.
pub const DEFAULT_PAYMENT_TERMS_DAYS: u32 = 8;

/// How a tenant's orders are transferred.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantSettings {
    /// Transfer every order as it arrives; off: only by manual transfer.
    pub auto_transfer: bool,
    /// Book with the shop's own invoice number.
    pub lock_voucher_number: bool,
    /// Book the invoice; off: leave it as a draft.
    pub book: bool,
    /// Register the payment (and gift cards) on the booked invoice.
    pub register_payment: bool,
    /// Credit terms in days for orders sold without a payment (B2B on invoice), unless the
    /// order gives its own.
    pub payment_terms_days: u32,
    /// How orders map onto the organization's accounts.
    pub accounts: AccountMapping,
    /// Send each booked invoice to the customer from Dinero: `off`, `email` (Dinero's own
    /// template to the customer's e-mail) or `e_invoice` (NemHandel to customers with an EAN
    /// number, e-mail to the others).
    pub send_invoice: SendInvoice,
    /// Without Kafka: this shop's own receiver of its dead letters, pauses and resumes
    /// (instead of the deployment's `notifications.url`).
    pub notification_url: Option<String>,
    /// Before creating each invoice, ask Dinero to total it (`invoices/fetch`, one more call
    /// an order) and stop with the figures when they differ from the order's.
    pub check_totals_with_dinero: bool,
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            auto_transfer: true,
            lock_voucher_number: false,
            book: true,
            register_payment: false,
            payment_terms_days: DEFAULT_PAYMENT_TERMS_DAYS,
            send_invoice: SendInvoice::Off,
            accounts: AccountMapping::default(),
            notification_url: None,
            check_totals_with_dinero: false,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DineroCredentials {
    ApiKey { api_key: String },
    VismaConnect { refresh_token: String },
}

/// Write-only secrets of a tenant; encrypted at rest, never shown.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSecrets {
    pub dinero: DineroCredentials,
    /// `whsec_...`; several while one is rotated.
    pub webhook_secrets: Vec<String>,
}

impl fmt::Debug for TenantSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TenantSecrets([REDACTED])")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pause {
    pub reason: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    pub organization_id: i64,
    pub settings: TenantSettings,
    /// VAT percent of each entry account in Dinero, read when the tenant was saved.
    pub account_vat: BTreeMap<i32, Decimal>,
    pub secrets: TenantSecrets,
    pub paused: Option<Pause>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A tenant's waiting events and open dead letters, for its view.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TenantCounts {
    pub pending_events: i64,
    pub open_dead_letters: i64,
}

/// A Standard Webhooks secret: `whsec_` followed by base64. The shops' webhook secrets and the
/// deployment's notification secret are both.
pub fn is_webhook_secret(secret: &str) -> bool {
    secret.starts_with("whsec_") && standardwebhooks::Webhook::new(secret).is_ok()
}
