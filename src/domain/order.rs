//! The `order.completed` event: a CloudEvents 1.0 envelope whose `data` is the order. Money is
//! decimal (JSON numbers and strings both accepted, never binary floating point inside).
//! `schemas/order-event.schema.json` publishes the same rules; `validate` enforces them in code.
//! The order's later money events (`order.refunded`, `.cancelled`, `.paid`) share the envelope
//! and live in `money_events`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::countries;
pub use super::ids::is_identifier;

/// A CloudEvents 1.0 envelope (structured mode) around one kind of `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope<D> {
    pub specversion: String,
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// The order id.
    pub subject: String,
    pub tenantid: String,
    #[serde(default)]
    pub time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub datacontenttype: Option<String>,
    #[serde(default)]
    pub dataschema: Option<String>,
    /// W3C trace context, when the platform propagates it in the event (CloudEvents
    /// distributed-tracing extension).
    #[serde(default)]
    pub traceparent: Option<String>,
    pub data: D,
}

/// `order.completed`: the order itself.
pub type OrderEvent = Envelope<Order>;

impl<D> Envelope<D> {
    /// The envelope's own rules, for an event of type `event_type` about `order_id`.
    pub fn check_envelope(&self, event_type: &str, order_id: &str, v: &mut Violations) {
        let mut check = |ok: bool, pointer: &str, message: &str| {
            if !ok {
                v.insert(pointer.to_owned(), message.to_owned());
            }
        };
        check(self.specversion == "1.0", "/specversion", "must be 1.0");
        check(
            self.event_type == event_type,
            "/type",
            &format!("must be {event_type}"),
        );
        check(
            super::ids::EventId::parse(&self.id).is_some(),
            "/id",
            "must be 1-200 characters",
        );
        check(
            is_identifier(&self.tenantid),
            "/tenantid",
            "must be 1-64 of [A-Za-z0-9_-]",
        );
        check(
            self.subject == order_id,
            "/subject",
            "must equal data.order_id",
        );
        check(
            super::ids::OrderId::parse(order_id).is_some(),
            "/data/order_id",
            "must be 1-100 characters",
        );
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    pub order_id: String,
    /// What the customer and the merchant see, e.g. "100234".
    pub order_number: String,
    /// The shop's own invoice number, used with "lock voucher number".
    #[serde(default)]
    pub invoice_number: Option<i64>,
    pub completed_at: DateTime<Utc>,
    /// ISO 4217.
    pub currency: String,
    pub prices_include_vat: bool,
    pub customer: Customer,
    pub lines: Vec<Line>,
    #[serde(default)]
    pub payment: Option<Payment>,
    pub totals: Totals,
    /// Sold to a Norwegian consumer under VOEC (Norwegian VAT collected by the shop).
    #[serde(default)]
    pub voec: bool,
    /// The customer's language, a BCP 47 tag (`da`, `de`, `en-GB`, ...): Danish invoices
    /// for `da`, English otherwise (Dinero has those two).
    #[serde(default)]
    pub language: Option<String>,
    /// Days the customer has to pay, for an order sold on credit (no `payment`).
    #[serde(default)]
    pub payment_terms_days: Option<u32>,
    /// Or the day the payment is due, for an order sold on credit.
    #[serde(default)]
    pub due_date: Option<chrono::NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerKind {
    Person,
    Company,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    pub kind: CustomerKind,
    /// The shop's customer id, when it has one (guests have none).
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub vat_number: Option<String>,
    #[serde(default)]
    pub ean: Option<String>,
    #[serde(default)]
    pub attention: Option<String>,
    pub address: Address,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[serde(default)]
    pub street: Option<String>,
    #[serde(default)]
    pub zip: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Product,
    Shipping,
    Fee,
    Discount,
    GiftCard,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Product => "product",
            LineKind::Shipping => "shipping",
            LineKind::Fee => "fee",
            LineKind::Discount => "discount",
            LineKind::GiftCard => "gift_card",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    pub kind: LineKind,
    #[serde(default)]
    pub sku: Option<String>,
    pub name: String,
    pub quantity: Decimal,
    /// Per unit, including VAT when the order's prices include VAT. Negative for discount
    /// and gift-card lines.
    pub unit_price: Decimal,
    /// Percent, e.g. 25.
    pub vat_rate: Decimal,
    /// Percent off this line, 0-100.
    #[serde(default)]
    pub discount_percent: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payment {
    /// E.g. `card`, `mobilepay`, `paypal`: picks the deposit account.
    pub method: String,
    /// In the order's currency.
    pub amount: Decimal,
    /// What reached the account in DKK, for orders in another currency.
    #[serde(default)]
    pub amount_dkk: Option<Decimal>,
    #[serde(default)]
    pub reference: Option<String>,
    pub paid_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    /// Everything the customer owes, including VAT, after discounts and gift cards.
    pub total: Decimal,
    /// The VAT included in `total`.
    pub vat: Decimal,
}

pub const ORDER_COMPLETED: &str = "order.completed";
/// A newer version of an order already completed: the same data as `order.completed`.
pub const ORDER_UPDATED: &str = "order.updated";

/// Known ISO 4217 codes accepted on orders.
pub const CURRENCIES: &[&str] = &[
    "DKK", "EUR", "USD", "GBP", "SEK", "NOK", "CHF", "PLN", "ISK", "CAD", "AUD", "JPY", "CZK",
    "HUF", "NZD",
];

/// The rounding tolerance when the lines are added up against `totals` at the door.
pub const LINE_SUM_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

/// Violations found by [`OrderEvent::validate`], by JSON pointer.
pub type Violations = BTreeMap<String, String>;

impl Envelope<Order> {
    /// The rules of `schemas/order-event.schema.json` that serde does not already enforce,
    /// plus the arithmetic a schema cannot express.
    pub fn validate(&self) -> Result<(), Violations> {
        let mut v = Violations::new();
        // `order.updated` carries the same order, in a newer version.
        let kind = if self.event_type == ORDER_UPDATED {
            ORDER_UPDATED
        } else {
            ORDER_COMPLETED
        };
        self.check_envelope(kind, &self.data.order_id, &mut v);
        let mut check = |ok: bool, pointer: &str, message: &str| {
            if !ok {
                v.insert(pointer.to_owned(), message.to_owned());
            }
        };
        let order = &self.data;
        check(
            !order.order_number.trim().is_empty(),
            "/data/order_number",
            "is required",
        );
        check(
            order.invoice_number.is_none_or(|n| n > 0),
            "/data/invoice_number",
            "must be a positive integer",
        );
        check(
            CURRENCIES.contains(&order.currency.as_str()),
            "/data/currency",
            "unknown currency",
        );
        check(
            order.language.as_deref().is_none_or(is_language_tag),
            "/data/language",
            "must be a BCP 47 language tag, e.g. da, de or en-GB",
        );
        check(
            order.payment_terms_days.is_none() || order.due_date.is_none(),
            "/data/due_date",
            "give payment_terms_days or due_date, not both",
        );
        check(
            order
                .payment_terms_days
                .is_none_or(|days| days <= MAX_TERMS_DAYS),
            "/data/payment_terms_days",
            "must be at most 365 days",
        );
        check(
            order
                .due_date
                .is_none_or(|due| due >= order.completed_at.date_naive()),
            "/data/due_date",
            "must not be before the order was completed",
        );
        let customer = &order.customer;
        check(
            !customer.name.trim().is_empty(),
            "/data/customer/name",
            "is required",
        );
        check(
            countries::is_iso_country(&customer.address.country),
            "/data/customer/address/country",
            "must be an ISO 3166-1 alpha-2 code",
        );
        check(
            customer
                .email
                .as_deref()
                .is_none_or(|e| e.contains('@') && e.len() <= 254),
            "/data/customer/email",
            "must be an e-mail address",
        );
        check(
            customer.kind == CustomerKind::Person || customer.vat_number.is_some(),
            "/data/customer/vat_number",
            "is required for companies",
        );
        check(
            !order.lines.is_empty(),
            "/data/lines",
            "at least one line is required",
        );
        let mut money = |value: Decimal, at: String| {
            if !is_money(value) {
                v.insert(
                    at,
                    format!("at most 15 digits before the point and {MONEY_DECIMALS} after"),
                );
            }
        };
        money(order.totals.total, "/data/totals/total".into());
        money(order.totals.vat, "/data/totals/vat".into());
        if let Some(payment) = &order.payment {
            money(payment.amount, "/data/payment/amount".into());
            if let Some(dkk) = payment.amount_dkk {
                money(dkk, "/data/payment/amount_dkk".into());
            }
        }
        for (i, line) in order.lines.iter().enumerate() {
            money(line.quantity, format!("/data/lines/{i}/quantity"));
            money(line.unit_price, format!("/data/lines/{i}/unit_price"));
        }
        for (i, line) in order.lines.iter().enumerate() {
            let at = |field: &str| format!("/data/lines/{i}/{field}");
            for (field, percent) in [
                ("vat_rate", line.vat_rate),
                ("discount_percent", line.discount_percent),
            ] {
                if percent.scale() > PERCENT_DECIMALS {
                    v.insert(at(field), format!("at most {PERCENT_DECIMALS} decimals"));
                }
            }
            if v.is_empty() && order.checked_line_gross(line).is_none() {
                v.insert(at("quantity"), "the line's amount is too large".into());
            }
            if line.quantity <= Decimal::ZERO {
                v.insert(at("quantity"), "must be positive".into());
            }
            if line.vat_rate < Decimal::ZERO || line.vat_rate > Decimal::ONE_HUNDRED {
                v.insert(at("vat_rate"), "must be a percentage from 0 to 100".into());
            }
            if line.discount_percent < Decimal::ZERO || line.discount_percent > Decimal::ONE_HUNDRED
            {
                v.insert(at("discount_percent"), "must be from 0 to 100".into());
            }
            let negative_kind = matches!(line.kind, LineKind::Discount | LineKind::GiftCard);
            if negative_kind && line.unit_price > Decimal::ZERO {
                v.insert(
                    at("unit_price"),
                    "discount and gift-card lines must not be positive".into(),
                );
            }
            if !negative_kind && line.unit_price < Decimal::ZERO {
                v.insert(
                    at("unit_price"),
                    "must not be negative on this kind of line".into(),
                );
            }
            if line.name.trim().is_empty() {
                v.insert(at("name"), "is required".into());
            }
        }
        if let Some(payment) = &order.payment {
            if payment.amount <= Decimal::ZERO {
                v.insert("/data/payment/amount".into(), "must be positive".into());
            }
        }
        if v.is_empty() {
            let lines_total = order.lines_total();
            if (lines_total - order.totals.total).abs() > LINE_SUM_TOLERANCE {
                v.insert(
                    "/data/totals/total".into(),
                    format!(
                        "the lines add up to {lines_total}, not {}",
                        order.totals.total
                    ),
                );
            }
            // Checked like the total, so a rate sent as a fraction (0.25 for 25%) is refused
            // here with the figures, not found later as a paused shop.
            let lines_vat = order.lines_vat();
            if (lines_vat - order.totals.vat).abs() > order.vat_tolerance() {
                v.insert(
                    "/data/totals/vat".into(),
                    format!(
                        "the lines' VAT adds up to {lines_vat}, not {} (vat_rate is a percentage: 25 for 25%)",
                        order.totals.vat
                    ),
                );
            }
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(v)
        }
    }
}

impl Order {
    /// What a line comes to, including VAT, after its discount; `None` when it does not fit
    /// a decimal (a quantity and a price of 10^15 each) or exceeds the money limit.
    pub fn checked_line_gross(&self, line: &Line) -> Option<Decimal> {
        let amount = line
            .quantity
            .checked_mul(line.unit_price)?
            .checked_mul(Decimal::ONE_HUNDRED - line.discount_percent)?
            .checked_div(Decimal::ONE_HUNDRED)?;
        let gross = if self.prices_include_vat {
            amount
        } else {
            amount.checked_mul(Decimal::ONE + line.vat_rate / Decimal::ONE_HUNDRED)?
        };
        let gross = gross.round_dp(2);
        (gross.abs() <= MAX_MONEY).then_some(gross)
    }

    /// What a line comes to, including VAT, after its discount. Only for validated orders,
    /// whose lines `validate` has computed with checked arithmetic.
    pub fn line_gross(&self, line: &Line) -> Decimal {
        self.checked_line_gross(line)
            .expect("line amounts are checked when the event is validated")
    }

    /// The lines added up, including VAT (gift cards included, as negative lines).
    pub fn lines_total(&self) -> Decimal {
        self.lines.iter().map(|line| self.line_gross(line)).sum()
    }

    /// The VAT the lines carry at their rates, each line rounded to øre as shops do. Gift
    /// cards are a means of payment: they carry none.
    pub fn lines_vat(&self) -> Decimal {
        self.lines
            .iter()
            .filter(|line| line.kind != LineKind::GiftCard)
            .map(|line| {
                let gross = self.line_gross(line);
                let rate = line.vat_rate / Decimal::ONE_HUNDRED;
                (gross - gross / (Decimal::ONE + rate)).round_dp(2)
            })
            .sum()
    }

    /// How far the stated VAT may be from the lines' VAT: a shop that rounds the VAT once
    /// per rate instead of per line differs by up to half an øre a line.
    fn vat_tolerance(&self) -> Decimal {
        LINE_SUM_TOLERANCE + Decimal::new(5, 3) * Decimal::from(self.lines.len())
    }

    /// Whether the invoice language is Danish (`da`, `da-DK`, ...); English otherwise.
    pub fn is_danish(&self) -> Option<bool> {
        self.language.as_deref().map(|tag| {
            tag.split('-')
                .next()
                .is_some_and(|primary| primary.eq_ignore_ascii_case("da"))
        })
    }
}

/// The longest credit an order may give.
pub const MAX_TERMS_DAYS: u32 = 365;

/// A well-formed BCP 47 tag in its common shape: a 2-3 letter language, then subtags of 1-8
/// letters or digits (`da`, `en-GB`, `zh-Hant-TW`, `sv-x-shop`).
pub fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or_default();
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
        && tag.len() <= 35
}

/// The largest amount an order may carry: 15 digits before the decimal point, as the
/// schema's pattern for amounts in strings says. Numbers are held to the same.
pub const MAX_MONEY: Decimal = Decimal::from_parts(2_764_472_319, 232_830, 0, false, 0);
/// At most this many decimals in an amount.
pub const MONEY_DECIMALS: u32 = 6;
/// At most this many decimals in a percentage.
pub const PERCENT_DECIMALS: u32 = 4;

/// Whether an amount keeps the limits the schema sets for amounts written as strings.
pub fn is_money(value: Decimal) -> bool {
    value.scale() <= MONEY_DECIMALS && value.abs() <= MAX_MONEY
}
