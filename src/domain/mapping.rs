//! Order → Dinero documents: the contact, the invoice draft with an account per line (by line
//! kind and VAT situation), the payments, and a check of the invoice's totals against the
//! order's before anything is created. Pure: no I/O, no wire types.
//!
//! Decisions (see the README's mapping section): Dinero lines carry no VAT field, so the VAT
//! of a line is the VAT of its account; gift cards are payments, not discounts; a VOEC
//! order's Norwegian VAT is moved from revenue to a liability account by two text-free lines.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

mod credit;

pub use credit::{cancellation, credit_note_guid, late_payment, refund, CreditPlan};

use super::countries::is_eu_other_than_denmark;
use super::dinero_totals::{self, TotalsLine};
use super::identity;
use super::order::{CustomerKind, Line, LineKind, Order, OrderEvent};

/// Where an order's VAT belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VatSituation {
    /// Danish customer: Danish VAT.
    Domestic,
    /// EU consumer: Danish VAT, or the destination's under OSS (the account decides).
    EuConsumer,
    /// EU business with a VAT number: reverse charge, no VAT.
    EuBusiness,
    /// Outside the EU: export, no VAT.
    Export,
    /// Norwegian consumer under VOEC: Norwegian VAT, kept out of Danish VAT.
    Voec,
}

impl VatSituation {
    pub fn of(order: &Order) -> Self {
        let country = order.customer.address.country.as_str();
        let business = order.customer.kind == CustomerKind::Company
            && order
                .customer
                .vat_number
                .as_deref()
                .is_some_and(|v| !v.trim().is_empty());
        match country {
            "DK" => VatSituation::Domestic,
            "NO" if order.voec && !business => VatSituation::Voec,
            c if is_eu_other_than_denmark(c) && business => VatSituation::EuBusiness,
            c if is_eu_other_than_denmark(c) => VatSituation::EuConsumer,
            _ => VatSituation::Export,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VatSituation::Domestic => "domestic",
            VatSituation::EuConsumer => "eu_consumer",
            VatSituation::EuBusiness => "eu_business",
            VatSituation::Export => "export",
            VatSituation::Voec => "voec",
        }
    }
}

/// Revenue accounts of one VAT situation; shipping, fee and discount fall back to product.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindAccounts {
    pub product: Option<i32>,
    pub shipping: Option<i32>,
    pub fee: Option<i32>,
    pub discount: Option<i32>,
    /// Accounts for lines at another VAT rate (percent, e.g. `"0"` for a zero-rated book
    /// beside 25% goods); a line at a rate not listed uses the accounts above.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_vat_rate: BTreeMap<String, KindAccounts>,
}

impl KindAccounts {
    fn for_kind(&self, kind: LineKind) -> Option<i32> {
        let specific = match kind {
            LineKind::Product | LineKind::GiftCard => None,
            LineKind::Shipping => self.shipping,
            LineKind::Fee => self.fee,
            LineKind::Discount => self.discount,
        };
        specific.or(self.product)
    }

    /// The account for a line of this kind at this rate: the rate's own, else the general.
    fn for_line(&self, kind: LineKind, rate: Decimal) -> Option<i32> {
        self.by_vat_rate
            .iter()
            .find(|(key, _)| key.trim().parse::<Decimal>().ok() == Some(rate))
            .and_then(|(_, accounts)| accounts.for_kind(kind))
            .or_else(|| self.for_kind(kind))
    }

    fn all(&self) -> Vec<Option<i32>> {
        let mut all = vec![self.product, self.shipping, self.fee, self.discount];
        for accounts in self.by_vat_rate.values() {
            all.extend(accounts.all());
        }
        all
    }

    /// VAT-rate keys that are not percentages from 0 to 100.
    fn bad_rates(&self) -> Vec<String> {
        self.by_vat_rate
            .keys()
            .filter(|key| {
                !key.trim()
                    .parse::<Decimal>()
                    .is_ok_and(|r| (Decimal::ZERO..=Decimal::ONE_HUNDRED).contains(&r))
            })
            .cloned()
            .collect()
    }
}

/// A tenant's account mapping (its Dinero chart is its own: nothing is assumed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountMapping {
    pub domestic: KindAccounts,
    pub eu_consumer: KindAccounts,
    pub eu_business: KindAccounts,
    pub export: KindAccounts,
    pub voec: KindAccounts,
    /// EU consumers of these countries (OSS: the destination's VAT) book on their own
    /// accounts, e.g. `{"DE": {"product": 1060}, "FR": {"product": 1061}}`; other EU
    /// consumers, and kinds a country leaves out, use `eu_consumer`.
    pub eu_consumer_by_country: BTreeMap<String, KindAccounts>,
    /// Liability account for Norwegian VAT collected under VOEC.
    pub voec_vat_account: Option<i32>,
    /// Deposit account per payment method (`card`, `mobilepay`, ...).
    pub deposit_accounts: BTreeMap<String, i32>,
    /// Deposit account for methods not listed.
    pub default_deposit_account: Option<i32>,
    /// Deposit account that gift-card redemptions are paid to.
    pub gift_card_deposit_account: Option<i32>,
}

impl AccountMapping {
    fn accounts(&self, situation: VatSituation) -> &KindAccounts {
        match situation {
            VatSituation::Domestic => &self.domestic,
            VatSituation::EuConsumer => &self.eu_consumer,
            VatSituation::EuBusiness => &self.eu_business,
            VatSituation::Export => &self.export,
            VatSituation::Voec => &self.voec,
        }
    }

    /// The account a line books on: the customer's country's (OSS) before the situation's,
    /// and within each the line's VAT rate's before the general ones.
    fn account_for(
        &self,
        situation: VatSituation,
        country: &str,
        kind: LineKind,
        rate: Decimal,
    ) -> Option<i32> {
        let by_country = match situation {
            VatSituation::EuConsumer => self.eu_consumer_by_country.get(country),
            _ => None,
        };
        by_country
            .and_then(|accounts| accounts.for_line(kind, rate))
            .or_else(|| self.accounts(situation).for_line(kind, rate))
    }

    /// What is wrong with the mapping's keys (countries, VAT rates), for the tenant's save.
    pub fn key_problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = self
            .eu_consumer_by_country
            .keys()
            .filter(|c| !is_eu_other_than_denmark(c))
            .map(|c| format!("eu_consumer_by_country: '{c}' is not an EU country other than DK"))
            .collect();
        let situations = [
            ("domestic", &self.domestic),
            ("eu_consumer", &self.eu_consumer),
            ("eu_business", &self.eu_business),
            ("export", &self.export),
            ("voec", &self.voec),
        ];
        let countries = self
            .eu_consumer_by_country
            .iter()
            .map(|(c, a)| (c.as_str(), a));
        for (name, accounts) in situations.into_iter().chain(countries) {
            for rate in accounts.bad_rates() {
                problems.push(format!(
                    "{name}.by_vat_rate: '{rate}' is not a percentage from 0 to 100"
                ));
            }
        }
        problems
    }

    /// Account numbers that cannot be Dinero accounts (zero or negative).
    pub fn impossible_accounts(&self) -> Vec<i32> {
        let deposits = self
            .deposit_accounts
            .values()
            .chain(&self.default_deposit_account)
            .chain(&self.gift_card_deposit_account)
            .copied();
        self.entry_accounts()
            .into_iter()
            .chain(deposits)
            .filter(|n| *n <= 0)
            .collect()
    }

    /// Every account the mapping names, to check against the tenant's chart.
    pub fn entry_accounts(&self) -> Vec<i32> {
        let mut accounts: Vec<i32> = [
            &self.domestic,
            &self.eu_consumer,
            &self.eu_business,
            &self.export,
            &self.voec,
        ]
        .into_iter()
        .chain(self.eu_consumer_by_country.values())
        .flat_map(KindAccounts::all)
        .chain([self.voec_vat_account])
        .flatten()
        .collect();
        accounts.sort_unstable();
        accounts.dedup();
        accounts
    }
}

/// What the mapping needs from the tenant's settings.
#[derive(Debug, Clone)]
pub struct MappingSettings<'a> {
    pub accounts: &'a AccountMapping,
    /// VAT rate in percent of each entry account, as Dinero's chart says.
    pub account_vat: &'a BTreeMap<i32, Decimal>,
    pub register_payment: bool,
    pub lock_voucher_number: bool,
    /// The shop's credit terms for orders sold without a payment.
    pub payment_terms_days: u32,
    /// Whether Dinero sends the booked invoice to the customer.
    pub send_invoice: SendInvoice,
    pub time_zone: Tz,
    /// Largest accepted difference between the invoice's and the order's totals.
    pub tolerance: Decimal,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ContactKey {
    Email(String),
    VatNumber(String),
    /// No e-mail or VAT number: a contact of its own, found again by its reference only.
    ShopCustomer(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContactDraft {
    pub guid: Uuid,
    pub external_reference: String,
    pub key: ContactKey,
    pub name: String,
    pub is_person: bool,
    pub street: Option<String>,
    pub zip: Option<String>,
    pub city: Option<String>,
    pub country: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub vat_number: Option<String>,
    pub ean: Option<String>,
    pub attention: Option<String>,
    /// `da` or `en`.
    pub language: &'static str,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DraftLine {
    pub description: String,
    pub comments: Option<String>,
    pub quantity: Decimal,
    pub unit: &'static str,
    pub unit_price: Decimal,
    pub discount_percent: Decimal,
    pub account: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceDraft {
    pub guid: Uuid,
    pub external_reference: String,
    pub heading: String,
    pub comment: String,
    pub date: NaiveDate,
    pub currency: String,
    /// `da-DK` or `en-GB`.
    pub language: &'static str,
    pub lines_include_vat: bool,
    pub lines: Vec<DraftLine>,
    /// The shop's invoice number to book with, when "lock voucher number" is on.
    pub number: Option<i64>,
    /// What Dinero will total, computed the way it computes.
    pub total: Decimal,
    pub vat: Decimal,
    /// Paid at checkout, or sold on credit.
    pub terms: PaymentTerms,
}

/// When the customer pays an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentTerms {
    /// Paid when the order was placed: the payment is registered on the invoice.
    Paid,
    /// Sold on credit: due this many days after the invoice date.
    Net { days: u32 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct PaymentDraft {
    pub deposit_account: i32,
    /// In the invoice's currency.
    pub amount: Decimal,
    /// In DKK, required by Dinero for invoices in other currencies.
    pub amount_dkk: Option<Decimal>,
    pub date: NaiveDate,
    pub description: String,
    pub external_reference: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TransferPlan {
    pub situation: VatSituation,
    pub contact: ContactDraft,
    pub invoice: InvoiceDraft,
    pub payments: Vec<PaymentDraft>,
    /// How the booked invoice reaches the customer from Dinero.
    pub delivery: Delivery,
}

/// Whether and how Dinero sends the booked invoice to the customer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendInvoice {
    #[default]
    Off,
    Email,
    EInvoice,
}

/// How Dinero sends the booked invoice, by the shop's `send_invoice` and the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The shop does not send from Dinero.
    Off,
    Email,
    /// NemHandel, to the customer's EAN number.
    EInvoice,
    /// The shop sends, but the order gives no e-mail address (nor an EAN for e-invoices).
    NoAddress,
}

fn delivery(send: SendInvoice, contact: &ContactDraft) -> Delivery {
    let has = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.trim().is_empty());
    match send {
        SendInvoice::Off => Delivery::Off,
        SendInvoice::EInvoice if has(&contact.ean) => Delivery::EInvoice,
        SendInvoice::Email | SendInvoice::EInvoice if has(&contact.email) => Delivery::Email,
        SendInvoice::Email | SendInvoice::EInvoice => Delivery::NoAddress,
    }
}

/// Why an order cannot be mapped: permanent until the tenant's mapping (or the order) changes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MappingError {
    #[error("no {kind} account is mapped for {situation} sales")]
    NoAccount {
        situation: &'static str,
        kind: &'static str,
    },
    #[error("line {line} ({name}) has {order_rate}% VAT but account {account} carries {account_rate}% in Dinero")]
    VatMismatch {
        line: usize,
        name: String,
        order_rate: Decimal,
        account: i32,
        account_rate: Decimal,
    },
    #[error("account {account} is not in the organization's chart of accounts in Dinero")]
    UnknownAccount { account: i32 },
    #[error("no deposit account is mapped for payment method '{method}'")]
    NoDepositAccount { method: String },
    #[error("the invoice would total {invoice:.2} {currency} (VAT {invoice_vat:.2}) but the order totals {order:.2} (VAT {order_vat:.2})")]
    TotalsMismatch {
        currency: String,
        invoice: Decimal,
        invoice_vat: Decimal,
        order: Decimal,
        order_vat: Decimal,
    },
    #[error("{field} is longer than Dinero's {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("refund line {index} names order line {line}, but the order has {lines} lines (numbered from 0)")]
    NoSuchLine {
        index: usize,
        line: usize,
        lines: usize,
    },
    #[error("order line {line} is a {kind} line: it cannot be refunded as a line")]
    NotRefundable { line: usize, kind: &'static str },
    #[error("order line {line} refunds {refunded}, but only {ordered} were ordered")]
    QuantityBeyond {
        line: usize,
        refunded: Decimal,
        ordered: Decimal,
    },
    #[error("the refund names shipping, but the order has no shipping line")]
    NoShippingLine,
    #[error("the refund names an amount, but the order has no product line to book it like")]
    NoProductLine,
    #[error("refund {refund} of {amount:.2} {currency} goes beyond the invoice: {credited:.2} of its {invoiced:.2} {currency} are credited already")]
    BeyondInvoice {
        refund: String,
        currency: String,
        amount: Decimal,
        credited: Decimal,
        invoiced: Decimal,
    },
    #[error("refund {refund} is a full refund, but {credited:.2} of the invoice's {invoiced:.2} {currency} are credited already: refund the rest by lines or amount")]
    FullAfterPartial {
        refund: String,
        currency: String,
        credited: Decimal,
        invoiced: Decimal,
    },
}

const MAX_REFERENCE: usize = 128;

pub fn plan(
    tenant: &str,
    event: &OrderEvent,
    settings: &MappingSettings,
) -> Result<TransferPlan, MappingError> {
    let order = &event.data;
    let situation = VatSituation::of(order);
    let english = english(order);
    let date = local_date(order.completed_at, settings.time_zone);
    let contact = contact(tenant, order, english)?;
    let invoice = invoice(tenant, order, situation, settings, english, date)?;
    let payments = if settings.register_payment {
        payments(tenant, order, settings, date)?
    } else {
        Vec::new()
    };
    Ok(TransferPlan {
        situation,
        delivery: delivery(settings.send_invoice, &contact),
        contact,
        invoice,
        payments,
    })
}

/// English documents unless the customer's language is Danish (or, without one, the
/// customer is in Denmark).
fn english(order: &Order) -> bool {
    match order.is_danish() {
        Some(danish) => !danish,
        None => order.customer.address.country != "DK",
    }
}

/// The deposit account a payment method's money reaches.
fn deposit_account(settings: &MappingSettings, method: &str) -> Result<i32, MappingError> {
    settings
        .accounts
        .deposit_accounts
        .get(method)
        .copied()
        .or(settings.accounts.default_deposit_account)
        .ok_or_else(|| MappingError::NoDepositAccount {
            method: method.to_owned(),
        })
}

fn local_date(at: DateTime<Utc>, zone: Tz) -> NaiveDate {
    at.with_timezone(&zone).date_naive()
}

impl ContactDraft {
    /// The key of the service's contact cache: the identity the customer is matched by.
    pub fn cache_key(&self) -> String {
        match &self.key {
            ContactKey::Email(email) => format!("email:{email}"),
            ContactKey::VatNumber(vat) => format!("vat:{vat}"),
            ContactKey::ShopCustomer(_) => format!("ref:{}", self.external_reference),
        }
    }
}

/// The contact-cache keys a Dinero contact answers to, as `ContactDraft::cache_key` makes
/// them: its e-mail, its VAT number (with the country's prefix), and the service's own
/// reference of a customer known only to the shop. A contact list read into the cache makes
/// later look-ups unnecessary.
pub fn cache_keys_of(
    tenant: &str,
    external_reference: Option<&str>,
    email: Option<&str>,
    vat_number: Option<&str>,
    country: Option<&str>,
) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(reference) =
        external_reference.filter(|r| r.starts_with(&format!("{tenant}:customer:")))
    {
        keys.push(format!("ref:{reference}"));
    }
    if let Some(email) = email
        .map(identity::normalise_email)
        .filter(|e| !e.is_empty())
    {
        keys.push(format!("email:{email}"));
    }
    let vat = vat_number
        .map(identity::normalise_vat_number)
        .filter(|v| !v.is_empty());
    if let (Some(vat), Some(country)) = (vat, country) {
        keys.push(format!(
            "vat:{}",
            identity::canonical_vat_number(&vat, country)
        ));
    }
    keys
}

/// The contact an order is matched to, without the rest of its plan.
pub fn contact_of(tenant: &str, order: &Order) -> Result<ContactDraft, MappingError> {
    contact(tenant, order, false)
}

fn contact(tenant: &str, order: &Order, english: bool) -> Result<ContactDraft, MappingError> {
    let customer = &order.customer;
    let email = customer
        .email
        .as_deref()
        .map(identity::normalise_email)
        .filter(|e| !e.is_empty());
    let vat_number = customer
        .vat_number
        .as_deref()
        .map(identity::normalise_vat_number)
        .filter(|v| !v.is_empty());
    let key = match (customer.kind, &vat_number, &email) {
        (CustomerKind::Company, Some(vat), _) => ContactKey::VatNumber(
            identity::canonical_vat_number(vat, &customer.address.country),
        ),
        (_, _, Some(email)) => ContactKey::Email(email.clone()),
        _ => ContactKey::ShopCustomer(
            customer
                .id
                .clone()
                .unwrap_or_else(|| format!("order:{}", order.order_id)),
        ),
    };
    let identity = match (&customer.id, &key) {
        (Some(id), _) => format!("id:{id}"),
        (None, ContactKey::Email(email)) => format!("email:{email}"),
        (None, ContactKey::VatNumber(vat)) => format!("vat:{vat}"),
        (None, ContactKey::ShopCustomer(id)) => id.clone(),
    };
    let external_reference = format!("{tenant}:customer:{identity}");
    if external_reference.chars().count() > MAX_REFERENCE {
        return Err(MappingError::TooLong {
            field: "the contact's ExternalReference",
            max: MAX_REFERENCE,
        });
    }
    Ok(ContactDraft {
        guid: identity::contact_guid(tenant, &identity),
        external_reference,
        key,
        name: customer.name.trim().to_owned(),
        is_person: customer.kind == CustomerKind::Person,
        street: customer.address.street.clone(),
        zip: customer.address.zip.clone(),
        city: customer.address.city.clone(),
        country: customer.address.country.clone(),
        phone: customer.phone.clone(),
        email: customer.email.as_ref().map(|e| e.trim().to_owned()),
        vat_number,
        ean: customer.ean.clone(),
        attention: customer.attention.clone(),
        language: if english { "en" } else { "da" },
        currency: order.currency.clone(),
    })
}

fn unit(kind: LineKind) -> &'static str {
    match kind {
        LineKind::Shipping => "shipment",
        _ => "parts",
    }
}

fn invoice(
    tenant: &str,
    order: &Order,
    situation: VatSituation,
    settings: &MappingSettings,
    english: bool,
    date: NaiveDate,
) -> Result<InvoiceDraft, MappingError> {
    let country = order.customer.address.country.as_str();
    let mut lines = Vec::new();
    let mut totals_lines = Vec::new();
    let mut voec_vat = Decimal::ZERO;
    for (index, line) in order.lines.iter().enumerate() {
        if line.kind == LineKind::GiftCard {
            continue; // a payment, not revenue
        }
        let account = settings
            .accounts
            .account_for(situation, country, line.kind, line.vat_rate)
            .ok_or(MappingError::NoAccount {
                situation: situation.as_str(),
                kind: line.kind.as_str(),
            })?;
        let account_rate = *settings
            .account_vat
            .get(&account)
            .ok_or(MappingError::UnknownAccount { account })?;
        let expected_rate = if situation == VatSituation::Voec {
            Decimal::ZERO
        } else {
            line.vat_rate
        };
        if account_rate != expected_rate {
            return Err(MappingError::VatMismatch {
                line: index + 1,
                name: line.name.clone(),
                order_rate: line.vat_rate,
                account,
                account_rate,
            });
        }
        if situation == VatSituation::Voec {
            voec_vat += vat_in(order, line);
        }
        lines.push(DraftLine {
            description: line.name.clone(),
            comments: line.sku.as_ref().map(|sku| format!("SKU {sku}")),
            quantity: line.quantity,
            unit: unit(line.kind),
            unit_price: voec_price(order, line, situation),
            discount_percent: line.discount_percent,
            account,
        });
        totals_lines.push(TotalsLine {
            quantity: line.quantity,
            unit_price: voec_price(order, line, situation),
            discount_percent: line.discount_percent,
            vat_rate: account_rate,
        });
    }
    // Norwegian VAT collected under VOEC: off the revenue account onto the liability account.
    let voec_vat = voec_vat.round_dp(2);
    if situation == VatSituation::Voec && !voec_vat.is_zero() {
        let liability = settings
            .accounts
            .voec_vat_account
            .ok_or(MappingError::NoAccount {
                situation: "voec",
                kind: "Norwegian VAT",
            })?;
        let revenue = lines.first().map(|l| l.account).unwrap_or(liability);
        let label = if english {
            "Norwegian VAT (VOEC)"
        } else {
            "Norsk moms (VOEC)"
        };
        for (account, amount) in [(revenue, -voec_vat), (liability, voec_vat)] {
            lines.push(DraftLine {
                description: label.into(),
                comments: None,
                quantity: Decimal::ONE,
                unit: "parts",
                unit_price: amount,
                discount_percent: Decimal::ZERO,
                account,
            });
            totals_lines.push(TotalsLine {
                quantity: Decimal::ONE,
                unit_price: amount,
                discount_percent: Decimal::ZERO,
                vat_rate: Decimal::ZERO,
            });
        }
    }

    let computed = dinero_totals::compute(&totals_lines, order.prices_include_vat);
    let gift_cards: Decimal = gift_card_lines(order)
        .map(|line| -order.line_gross(line))
        .sum();
    let expected_total = order.totals.total + gift_cards;
    let expected_vat = if situation == VatSituation::Voec {
        Decimal::ZERO
    } else {
        order.totals.vat
    };
    if (computed.total - expected_total).abs() > settings.tolerance
        || (computed.vat - expected_vat).abs() > settings.tolerance
    {
        return Err(MappingError::TotalsMismatch {
            currency: order.currency.clone(),
            invoice: computed.total,
            invoice_vat: computed.vat,
            order: expected_total,
            order_vat: expected_vat,
        });
    }

    let external_reference = identity::order_reference(tenant, &order.order_id);
    if external_reference.chars().count() > MAX_REFERENCE {
        return Err(MappingError::TooLong {
            field: "the invoice's ExternalReference",
            max: MAX_REFERENCE,
        });
    }
    let (heading, comment) = if english {
        (
            format!("Order {}", order.order_number),
            format!("Webshop order {}", order.order_number),
        )
    } else {
        (
            format!("Ordre {}", order.order_number),
            format!("Webshopordre {}", order.order_number),
        )
    };
    Ok(InvoiceDraft {
        guid: identity::invoice_guid(tenant, &order.order_id),
        external_reference,
        heading,
        comment,
        date,
        currency: order.currency.clone(),
        language: if english { "en-GB" } else { "da-DK" },
        lines_include_vat: order.prices_include_vat,
        lines,
        number: if settings.lock_voucher_number {
            order.invoice_number
        } else {
            None
        },
        total: computed.total,
        vat: computed.vat,
        terms: terms(order, settings.payment_terms_days, date),
    })
}

/// An order with a payment was paid at checkout; one without was sold on credit, on its own
/// terms (days, or a due date) or else the shop's default. Never "Paid" without a payment.
fn terms(order: &Order, shop_default_days: u32, invoice_date: NaiveDate) -> PaymentTerms {
    if order.payment.is_some() {
        return PaymentTerms::Paid;
    }
    let days = match (order.payment_terms_days, order.due_date) {
        (Some(days), _) => days,
        (None, Some(due)) => u32::try_from((due - invoice_date).num_days()).unwrap_or(0),
        (None, None) => shop_default_days,
    };
    PaymentTerms::Net { days }
}

/// VOEC lines go to zero-rated accounts; with prices excluding VAT the Norwegian VAT is
/// added to the line so that the invoice still totals what the customer paid.
fn voec_price(order: &Order, line: &Line, situation: VatSituation) -> Decimal {
    if situation == VatSituation::Voec && !order.prices_include_vat {
        line.unit_price * (Decimal::ONE + line.vat_rate / Decimal::ONE_HUNDRED)
    } else {
        line.unit_price
    }
}

fn vat_in(order: &Order, line: &Line) -> Decimal {
    let gross = order.line_gross(line);
    gross * line.vat_rate / (Decimal::ONE_HUNDRED + line.vat_rate)
}

fn gift_card_lines(order: &Order) -> impl Iterator<Item = &Line> {
    order
        .lines
        .iter()
        .filter(|line| line.kind == LineKind::GiftCard)
}

fn payments(
    tenant: &str,
    order: &Order,
    settings: &MappingSettings,
    date: NaiveDate,
) -> Result<Vec<PaymentDraft>, MappingError> {
    let mut payments = Vec::new();
    let reference = identity::order_reference(tenant, &order.order_id);
    let gift_cards: Decimal = gift_card_lines(order)
        .map(|line| -order.line_gross(line))
        .sum();
    if gift_cards > Decimal::ZERO {
        let account =
            settings
                .accounts
                .gift_card_deposit_account
                .ok_or(MappingError::NoDepositAccount {
                    method: "gift_card".into(),
                })?;
        payments.push(PaymentDraft {
            deposit_account: account,
            amount: gift_cards,
            amount_dkk: (order.currency == "DKK").then_some(gift_cards),
            date,
            description: format!("Gift card, order {}", order.order_number),
            external_reference: format!("{reference}:gift-card"),
        });
    }
    if let Some(payment) = &order.payment {
        let account = deposit_account(settings, &payment.method)?;
        let amount_dkk = if order.currency == "DKK" {
            Some(payment.amount)
        } else {
            payment.amount_dkk
        };
        payments.push(PaymentDraft {
            deposit_account: account,
            amount: payment.amount,
            amount_dkk,
            date: local_date(payment.paid_at, settings.time_zone),
            description: format!("{} payment, order {}", payment.method, order.order_number),
            external_reference: format!("{reference}:payment"),
        });
    }
    Ok(payments)
}
