//! One simulated Dinero organization: its chart of accounts, contacts and sales vouchers
//! (invoices and credit notes), and the rules Dinero applies when they change.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use indexmap::IndexMap;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use uuid::Uuid;

use super::reference::{self, CURRENCIES, UNITS};
use super::totals::{self, LineInput as TotalsLine, Totals};
use super::Behaviour;
use crate::error::{code, ApiError, ApiResult};
use crate::model::{BookInput, ContactInput, LineInput, PaymentInput, VoucherInput};
use crate::scenario::{AccountSeed, DepositSeed, OrganizationSeed, VatTypeSeed};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoucherKind {
    Invoice,
    CreditNote,
}

impl VoucherKind {
    pub fn noun(self) -> &'static str {
        match self {
            VoucherKind::Invoice => "Invoice",
            VoucherKind::CreditNote => "Credit note",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Contact {
    pub input: ContactInput,
    pub guid: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Payment {
    pub guid: Uuid,
    pub input: PaymentInput,
    pub currency: String,
    pub exchange_rate: Decimal,
}

#[derive(Debug, Clone)]
pub struct Voucher {
    pub kind: VoucherKind,
    pub guid: Uuid,
    pub input: VoucherInput,
    pub date: NaiveDate,
    pub currency: String,
    pub number: Option<i64>,
    pub timestamp: String,
    pub totals: Totals,
    pub payments: Vec<Payment>,
    /// What was sent to the customer (`email`, `e-invoice`), oldest first.
    pub mail_outs: Vec<MailOut>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// One mail-out of a booked voucher.
#[derive(Debug, Clone)]
pub struct MailOut {
    /// `LatestMailOutType`: `Mailout` (e-mail) or `Einvoice` (NemHandel).
    pub kind: &'static str,
    /// The e-mail receivers, or the EAN number.
    pub to: String,
}

impl Voucher {
    pub fn is_booked(&self) -> bool {
        self.number.is_some()
    }

    fn paid_in_currency(&self) -> Decimal {
        self.payments
            .iter()
            .map(|p| p.input.amount_in_foreign_currency.unwrap_or(p.input.amount))
            .sum()
    }

    /// Draft | Booked | Paid | OverPaid | Overdue, as in `statusFilter`.
    pub fn payment_status(&self, today: NaiveDate) -> &'static str {
        if !self.is_booked() {
            return "Draft";
        }
        let paid = self.paid_in_currency();
        let total = self.totals.total_incl_vat;
        if paid > total {
            "OverPaid"
        } else if paid == total && !total.is_zero() {
            "Paid"
        } else if self.payment_date() < today {
            "Overdue"
        } else {
            "Booked"
        }
    }

    pub fn payment_date(&self) -> NaiveDate {
        let days = i64::from(self.input.payment_condition_number_of_days.unwrap_or(0));
        match self.input.payment_condition_type.as_deref() {
            Some("CurrentMonthOut") => {
                let (year, month) = if self.date.month() == 12 {
                    (self.date.year() + 1, 1)
                } else {
                    (self.date.year(), self.date.month() + 1)
                };
                let first_of_next = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(self.date);
                first_of_next - Duration::days(1) + Duration::days(days)
            }
            Some("NettoCash") | Some("Paid") => self.date,
            _ => self.date + Duration::days(days),
        }
    }
}

pub struct Account {
    pub seed: AccountSeed,
    pub vat_rate: Decimal,
}

/// A fixed rate-limit window: Dinero counts requests per organization per minute.
#[derive(Default)]
pub struct RateWindow {
    pub window: u64,
    pub count: u32,
}

pub struct Org {
    pub id: i64,
    pub name: String,
    pub is_pro: bool,
    pub is_vat_free: bool,
    pub api_keys: Vec<String>,
    pub accounts: BTreeMap<i32, Account>,
    pub deposit_accounts: BTreeMap<i32, DepositSeed>,
    pub vat_types: Vec<VatTypeSeed>,
    pub contacts: IndexMap<Uuid, Contact>,
    pub invoices: IndexMap<Uuid, Voucher>,
    pub credit_notes: IndexMap<Uuid, Voucher>,
    pub used_invoice_numbers: BTreeSet<i64>,
    pub used_credit_note_numbers: BTreeSet<i64>,
    pub rate: RateWindow,
}

impl Org {
    pub fn from_seed(seed: OrganizationSeed, behaviour: &Behaviour) -> ApiResult<Self> {
        let vat_types = seed
            .vat_types
            .unwrap_or_else(crate::scenario::standard_vat_types);
        let rate_of = |code: &Option<String>| {
            code.as_ref()
                .and_then(|code| vat_types.iter().find(|v| &v.code == code))
                .map(|v| v.rate)
                .unwrap_or(Decimal::ZERO)
        };
        let accounts = seed
            .accounts
            .unwrap_or_else(crate::scenario::standard_accounts)
            .into_iter()
            .map(|a| {
                (
                    a.number,
                    Account {
                        vat_rate: rate_of(&a.vat_code),
                        seed: a,
                    },
                )
            })
            .collect();
        let deposit_accounts = seed
            .deposit_accounts
            .unwrap_or_else(crate::scenario::standard_deposit_accounts)
            .into_iter()
            .map(|d| (d.number, d))
            .collect();
        let mut org = Org {
            id: seed.id,
            name: seed.name,
            is_pro: seed.is_pro,
            is_vat_free: seed.is_vat_free,
            api_keys: seed.api_keys,
            accounts,
            deposit_accounts,
            vat_types: vat_types.clone(),
            contacts: IndexMap::new(),
            invoices: IndexMap::new(),
            credit_notes: IndexMap::new(),
            used_invoice_numbers: seed.used_invoice_numbers.into_iter().collect(),
            used_credit_note_numbers: BTreeSet::new(),
            rate: RateWindow::default(),
        };
        for contact in seed.contacts {
            let input: ContactInput = serde_json::from_value(contact)
                .map_err(|e| ApiError::validation(format!("seed contact: {e}")))?;
            org.create_contact(input, behaviour.now())?;
        }
        Ok(org)
    }

    // ----- contacts -----

    pub fn create_contact(&mut self, input: ContactInput, now: DateTime<Utc>) -> ApiResult<Uuid> {
        validate_contact(&input)?;
        let guid = input.contact_guid.unwrap_or_else(Uuid::new_v4);
        if self.contacts.contains_key(&guid) {
            return Err(ApiError::field(
                "ContactGuid",
                format!("a contact {guid} already exists"),
            ));
        }
        let contact = Contact {
            input,
            guid,
            created_at: now,
            updated_at: now,
        };
        self.contacts.insert(guid, contact);
        Ok(guid)
    }

    pub fn update_contact(
        &mut self,
        guid: Uuid,
        mut input: ContactInput,
        now: DateTime<Utc>,
    ) -> ApiResult<()> {
        validate_contact(&input)?;
        let contact = self
            .contacts
            .get_mut(&guid)
            .ok_or_else(|| ApiError::not_found("Contact"))?;
        input.contact_guid = Some(guid);
        contact.input = input;
        contact.updated_at = now;
        Ok(())
    }

    // ----- vouchers -----

    pub fn vouchers(&self, kind: VoucherKind) -> &IndexMap<Uuid, Voucher> {
        match kind {
            VoucherKind::Invoice => &self.invoices,
            VoucherKind::CreditNote => &self.credit_notes,
        }
    }

    fn vouchers_mut(&mut self, kind: VoucherKind) -> &mut IndexMap<Uuid, Voucher> {
        match kind {
            VoucherKind::Invoice => &mut self.invoices,
            VoucherKind::CreditNote => &mut self.credit_notes,
        }
    }

    pub fn voucher(&self, kind: VoucherKind, guid: Uuid) -> ApiResult<&Voucher> {
        self.vouchers(kind)
            .get(&guid)
            .filter(|v| v.deleted_at.is_none())
            .ok_or_else(|| ApiError::not_found(kind.noun()))
    }

    fn voucher_mut(&mut self, kind: VoucherKind, guid: Uuid) -> ApiResult<&mut Voucher> {
        self.vouchers_mut(kind)
            .get_mut(&guid)
            .filter(|v| v.deleted_at.is_none())
            .ok_or_else(|| ApiError::not_found(kind.noun()))
    }

    /// Validate a voucher body and compute what Dinero would store, without storing it
    /// (`invoices/fetch` stops here).
    pub fn prepare(
        &self,
        kind: VoucherKind,
        input: VoucherInput,
        behaviour: &Behaviour,
    ) -> ApiResult<Voucher> {
        if input.product_lines.is_empty() {
            return Err(ApiError::field(
                "ProductLines",
                "at least one product line is required",
            ));
        }
        if kind == VoucherKind::Invoice && input.credit_note_for.is_some() {
            return Err(ApiError::field(
                "CreditNoteFor",
                "is not a property of an invoice",
            ));
        }
        if let Some(reference) = &input.external_reference {
            if reference.chars().count() > 128 {
                return Err(ApiError::field(
                    "ExternalReference",
                    "must be at most 128 characters",
                ));
            }
        }
        let currency = input.currency.clone().unwrap_or_else(|| "DKK".to_owned());
        if !CURRENCIES.contains(&currency.as_str()) {
            return Err(ApiError::field(
                "Currency",
                format!("unknown currency '{currency}'"),
            ));
        }
        if let Some(language) = &input.language {
            if !["da-DK", "en-GB"].contains(&language.as_str()) {
                return Err(ApiError::field("Language", "must be da-DK or en-GB"));
            }
        }
        validate_payment_condition(
            input.payment_condition_type.as_deref(),
            input.payment_condition_number_of_days,
        )?;
        let date = match &input.date {
            Some(text) => parse_date("Date", text)?,
            None => behaviour.today(),
        };
        if let Some(contact) = input.contact_guid {
            if !self.contacts.contains_key(&contact) {
                return Err(ApiError::field(
                    "ContactGuid",
                    format!("contact {contact} not found"),
                ));
            }
        }
        let mut lines = Vec::with_capacity(input.product_lines.len());
        for (index, line) in input.product_lines.iter().enumerate() {
            lines.push(self.validate_line(index, line)?);
        }
        let totals = totals::compute(
            &lines,
            input.show_lines_incl_vat.unwrap_or(false),
            behaviour.config.rounding,
        );
        let now = behaviour.now();
        Ok(Voucher {
            kind,
            guid: input.guid.unwrap_or_else(Uuid::new_v4),
            input,
            date,
            currency,
            number: None,
            timestamp: behaviour.next_timestamp(),
            totals,
            payments: Vec::new(),
            mail_outs: Vec::new(),
            created_at: now,
            updated_at: now,
            deleted_at: None,
        })
    }

    fn validate_line(&self, index: usize, line: &LineInput) -> ApiResult<TotalsLine> {
        let field = |name: &str| format!("ProductLines[{index}].{name}");
        let is_text = line.line_type.as_deref() == Some("Text");
        match line.line_type.as_deref() {
            None | Some("Product") | Some("Text") => {}
            Some(other) => {
                return Err(ApiError::field(
                    &field("LineType"),
                    format!("'{other}' is not Product or Text"),
                ))
            }
        }
        if line.description.as_deref().unwrap_or("").trim().is_empty()
            && line.product_guid.is_none()
        {
            return Err(ApiError::field(
                &field("Description"),
                "is required without a ProductGuid",
            ));
        }
        if is_text {
            return Ok(TotalsLine {
                quantity: Decimal::ZERO,
                base_amount: Decimal::ZERO,
                discount_percent: Decimal::ZERO,
                vat_rate: Decimal::ZERO,
            });
        }
        match line.unit.as_deref() {
            Some(unit) if UNITS.contains(&unit) => {}
            Some(unit) => {
                return Err(ApiError::field(
                    &field("Unit"),
                    format!("'{unit}' is not a valid unit"),
                ))
            }
            None => {
                return Err(ApiError::field(
                    &field("Unit"),
                    "is required on product lines",
                ))
            }
        }
        if line.discount < Decimal::ZERO || line.discount > Decimal::ONE_HUNDRED {
            return Err(ApiError::field(
                &field("Discount"),
                "must be a percentage from 0 to 100",
            ));
        }
        let account = self
            .accounts
            .get(&line.account_number)
            .filter(|a| !a.seed.hidden);
        let Some(account) = account else {
            return Err(ApiError::field(
                &field("AccountNumber"),
                format!(
                    "account {} does not exist or cannot be used",
                    line.account_number
                ),
            ));
        };
        Ok(TotalsLine {
            quantity: line.quantity,
            base_amount: line.base_amount_value,
            discount_percent: line.discount,
            vat_rate: if self.is_vat_free {
                Decimal::ZERO
            } else {
                account.vat_rate
            },
        })
    }

    pub fn insert_voucher(&mut self, voucher: Voucher) -> ApiResult<(Uuid, String)> {
        let guid = voucher.guid;
        if self.invoices.contains_key(&guid) || self.credit_notes.contains_key(&guid) {
            // Undocumented in Dinero; the likeliest answer is a validation error.
            return Err(ApiError::field(
                "Guid",
                format!("a voucher with guid {guid} already exists"),
            ));
        }
        if let Some(original) = voucher.input.credit_note_for {
            if self.voucher(VoucherKind::Invoice, original).is_err() {
                return Err(ApiError::field(
                    "CreditNoteFor",
                    format!("invoice {original} not found"),
                ));
            }
        }
        let timestamp = voucher.timestamp.clone();
        self.vouchers_mut(voucher.kind).insert(guid, voucher);
        Ok((guid, timestamp))
    }

    pub fn update_voucher(
        &mut self,
        kind: VoucherKind,
        guid: Uuid,
        input: VoucherInput,
        behaviour: &Behaviour,
    ) -> ApiResult<String> {
        let given = input
            .timestamp
            .clone()
            .ok_or_else(|| ApiError::field("Timestamp", "is required"))?;
        let existing = self.voucher(kind, guid)?;
        check_timestamp(existing, &given, behaviour)?;
        if existing.is_booked() {
            return Err(ApiError::validation(format!(
                "{} is booked and cannot be changed",
                kind.noun()
            )));
        }
        let created_at = existing.created_at;
        let mut updated = self.prepare(kind, input, behaviour)?;
        updated.guid = guid;
        updated.created_at = created_at;
        let timestamp = updated.timestamp.clone();
        *self.voucher_mut(kind, guid)? = updated;
        Ok(timestamp)
    }

    pub fn delete_voucher(
        &mut self,
        kind: VoucherKind,
        guid: Uuid,
        timestamp: Option<String>,
        behaviour: &Behaviour,
    ) -> ApiResult<()> {
        let voucher = self.voucher_mut(kind, guid)?;
        if let Some(given) = timestamp {
            check_timestamp(voucher, &given, behaviour)?;
        }
        if voucher.is_booked() {
            return Err(ApiError::validation(format!(
                "{} is booked; cancel it with a credit note",
                kind.noun()
            )));
        }
        voucher.deleted_at = Some(behaviour.now());
        Ok(())
    }

    pub fn book(
        &mut self,
        kind: VoucherKind,
        guid: Uuid,
        input: BookInput,
        behaviour: &Behaviour,
    ) -> ApiResult<()> {
        let voucher = self.voucher(kind, guid)?;
        check_timestamp(voucher, &input.timestamp, behaviour)?;
        if voucher.is_booked() {
            return Err(ApiError::validation(format!(
                "{} is already booked",
                kind.noun()
            )));
        }
        if voucher.input.contact_guid.is_none() {
            return Err(ApiError::field(
                "ContactGuid",
                "a contact is required to book",
            ));
        }
        let used = match kind {
            VoucherKind::Invoice => &mut self.used_invoice_numbers,
            VoucherKind::CreditNote => &mut self.used_credit_note_numbers,
        };
        let number = match input.number {
            Some(number) if number < 1 => {
                return Err(ApiError::field("Number", "must be a positive number"));
            }
            Some(number) if used.contains(&number) => {
                let mut error = ApiError::new(
                    behaviour.config.number_taken_status,
                    code::VALIDATION,
                    format!("The voucher number {number} is already in use"),
                );
                error
                    .validation_errors
                    .insert("Number".into(), format!("{number} is already used"));
                return Err(error);
            }
            Some(number) => number,
            None => used.last().copied().unwrap_or(0) + 1,
        };
        used.insert(number);
        let voucher = self.voucher_mut(kind, guid)?;
        voucher.number = Some(number);
        voucher.timestamp = behaviour.next_timestamp();
        voucher.updated_at = behaviour.now();
        Ok(())
    }

    /// `POST .../email` and `POST /v3/.../e-invoice`: booked vouchers only; the receiver is
    /// the given address or the contact's e-mail (an e-invoice needs the contact's EAN).
    /// Any mail-out turns `MailOutStatus` from NotSent to Sent.
    pub fn mail_out(
        &mut self,
        guid: Uuid,
        kind: &'static str,
        receiver: Option<String>,
        timestamp: Option<&str>,
        behaviour: &Behaviour,
    ) -> ApiResult<()> {
        let contact = self
            .vouchers(VoucherKind::Invoice)
            .get(&guid)
            .and_then(|v| v.input.contact_guid)
            .and_then(|c| self.contacts.get(&c))
            .map(|c| (c.input.email.clone(), c.input.ean_number.clone()));
        let voucher = self.voucher_mut(VoucherKind::Invoice, guid)?;
        if let Some(timestamp) = timestamp {
            check_timestamp(voucher, timestamp, behaviour)?;
        }
        if !voucher.is_booked() {
            return Err(ApiError::validation("only booked invoices can be sent"));
        }
        let (email, ean) = contact.unwrap_or_default();
        let to = match kind {
            "Einvoice" => ean.filter(|e| !e.trim().is_empty()).ok_or_else(|| {
                ApiError::validation("the contact has no EAN number for an e-invoice")
            })?,
            _ => receiver
                .filter(|r| !r.trim().is_empty())
                .or(email.filter(|e| !e.trim().is_empty()))
                .ok_or_else(|| {
                    ApiError::field("Receiver", "is required when the contact has no e-mail")
                })?,
        };
        voucher.mail_outs.push(MailOut { kind, to });
        voucher.updated_at = behaviour.now();
        Ok(())
    }

    pub fn add_payment(
        &mut self,
        kind: VoucherKind,
        guid: Uuid,
        input: PaymentInput,
        behaviour: &Behaviour,
    ) -> ApiResult<(Uuid, String)> {
        if !self
            .deposit_accounts
            .contains_key(&input.deposit_account_number)
        {
            return Err(ApiError::field(
                "DepositAccountNumber",
                format!(
                    "deposit account {} does not exist",
                    input.deposit_account_number
                ),
            ));
        }
        if input.amount.is_zero() {
            return Err(ApiError::field("Amount", "must not be 0"));
        }
        if input.description.trim().is_empty() {
            return Err(ApiError::field("Description", "is required"));
        }
        if let Some(date) = &input.payment_date {
            parse_date("PaymentDate", date)?;
        }
        let voucher = self.voucher_mut(kind, guid)?;
        check_timestamp(voucher, &input.timestamp, behaviour)?;
        if !voucher.is_booked() {
            return Err(ApiError::validation(
                "payments can only be added to booked vouchers",
            ));
        }
        let exchange_rate = if voucher.currency == "DKK" {
            Decimal::ONE_HUNDRED
        } else {
            let foreign = input
                .amount_in_foreign_currency
                .filter(|a| !a.is_zero())
                .ok_or_else(|| {
                    ApiError::field(
                        "AmountInForeignCurrency",
                        "is required for foreign currency",
                    )
                })?;
            (input.amount / foreign * Decimal::ONE_HUNDRED).round_dp(4)
        };
        let payment_guid = Uuid::new_v4();
        voucher.payments.push(Payment {
            guid: payment_guid,
            input,
            currency: voucher.currency.clone(),
            exchange_rate,
        });
        voucher.timestamp = behaviour.next_timestamp();
        voucher.updated_at = behaviour.now();
        Ok((payment_guid, voucher.timestamp.clone()))
    }

    pub fn delete_payment(
        &mut self,
        guid: Uuid,
        payment: Uuid,
        timestamp: &str,
        behaviour: &Behaviour,
    ) -> ApiResult<String> {
        let voucher = self.voucher_mut(VoucherKind::Invoice, guid)?;
        check_timestamp(voucher, timestamp, behaviour)?;
        let before = voucher.payments.len();
        voucher.payments.retain(|p| p.guid != payment);
        if voucher.payments.len() == before {
            return Err(ApiError::not_found("Payment"));
        }
        voucher.timestamp = behaviour.next_timestamp();
        Ok(voucher.timestamp.clone())
    }

    /// `generate-creditnote`: a draft credit note for all of a booked invoice.
    pub fn generate_credit_note(
        &mut self,
        invoice: Uuid,
        timestamp: Option<String>,
        behaviour: &Behaviour,
    ) -> ApiResult<(Uuid, String)> {
        let original = self.voucher(VoucherKind::Invoice, invoice)?;
        if let Some(given) = timestamp {
            check_timestamp(original, &given, behaviour)?;
        }
        if !original.is_booked() {
            return Err(ApiError::validation("only booked invoices can be credited"));
        }
        let mut input = original.input.clone();
        input.guid = None;
        input.timestamp = None;
        input.credit_note_for = Some(invoice);
        input.payment_condition_type = None;
        input.payment_condition_number_of_days = None;
        input.reminder_fee = None;
        input.reminder_interest_rate = None;
        input.is_mobile_pay_invoice_enabled = None;
        input.is_penso_pay_enabled = None;
        input.date = None;
        let note = self.prepare(VoucherKind::CreditNote, input, behaviour)?;
        self.insert_voucher(note)
    }

    // ----- read models -----

    pub fn contact_json(&self, contact: &Contact) -> Value {
        let c = &contact.input;
        json!({
            "ContactGuid": contact.guid,
            "CreatedAt": contact.created_at.to_rfc3339(),
            "UpdatedAt": contact.updated_at.to_rfc3339(),
            "DeletedAt": null,
            "IsDebitor": true,
            "IsCreditor": false,
            "CompanyStatus": null,
            "VatRegionKey": reference::vat_region(&c.country_key),
            "ExternalReference": c.external_reference,
            "Name": c.name,
            "Street": c.street,
            "ZipCode": c.zip_code,
            "City": c.city,
            "CountryKey": c.country_key,
            "Phone": c.phone,
            "Email": c.email,
            "Webpage": c.webpage,
            "AttPerson": c.att_person,
            "VatNumber": c.vat_number,
            "EanNumber": c.ean_number,
            "SENumber": c.se_number,
            "PNumber": c.p_number,
            "PaymentConditionType": c.payment_condition_type,
            "PaymentConditionNumberOfDays": c.payment_condition_number_of_days,
            "IsPerson": c.is_person,
            "IsMember": c.is_member,
            "MemberNumber": c.member_number,
            "UseCvr": c.use_cvr,
            "CompanyTypeKey": c.company_type_key,
            "InvoiceMailOutOptionKey": c.invoice_mail_out_option_key,
            "PreferredInvoiceLanguageKey": c.preferred_invoice_language_key,
            "PreferredInvoiceCurrencyKey": c.preferred_invoice_currency_key,
        })
    }

    fn contact_name(&self, voucher: &Voucher) -> Option<String> {
        voucher
            .input
            .contact_guid
            .and_then(|guid| self.contacts.get(&guid))
            .map(|c| c.input.name.clone())
    }

    /// The fields shared by `InvoiceReadModel`, `SalesCreditNoteReadModel` and the fetch model.
    pub fn voucher_json(&self, voucher: &Voucher, today: NaiveDate) -> Value {
        let input = &voucher.input;
        let t = &voucher.totals;
        let lines: Vec<Value> = input
            .product_lines
            .iter()
            .zip(&t.lines)
            .map(|(line, totals)| {
                json!({
                    "AccountName": self.accounts.get(&line.account_number).map(|a| a.seed.name.clone()),
                    "BaseAmountValue": num(totals.base_amount_excl_vat),
                    "BaseAmountValueInclVat": num(totals.base_amount_incl_vat),
                    "TotalAmount": num(totals.total_excl_vat),
                    "TotalAmountInclVat": num(totals.total_incl_vat),
                    "ProductGuid": line.product_guid,
                    "Description": line.description,
                    "Comments": line.comments,
                    "Quantity": num(line.quantity),
                    "AccountNumber": line.account_number,
                    "Unit": line.unit,
                    "Discount": num(line.discount),
                    "LineType": line.line_type.clone().unwrap_or_else(|| "Product".into()),
                })
            })
            .collect();
        let mut total_lines = vec![json!({
            "Type": "SubTotal", "TotalAmount": num(t.total_excl_vat), "Position": 0, "Label": "Subtotal"
        })];
        for (position, (rate, vat)) in t.vat_by_rate.iter().enumerate() {
            total_lines.push(json!({
                "Type": "Vat",
                "TotalAmount": num(*vat),
                "Position": position + 1,
                "Label": format!("Moms {}%", (rate * Decimal::ONE_HUNDRED).normalize()),
            }));
        }
        total_lines.push(json!({
            "Type": "Total", "TotalAmount": num(t.total_incl_vat),
            "Position": t.vat_by_rate.len() + 1, "Label": "Total"
        }));
        json!({
            "Guid": voucher.guid,
            "TimeStamp": voucher.timestamp,
            "Number": voucher.number.unwrap_or(0),
            "Status": if voucher.is_booked() { "Booked" } else { "Draft" },
            "PaymentStatus": voucher.payment_status(today),
            "ContactGuid": input.contact_guid,
            "ContactName": self.contact_name(voucher),
            "ShowLinesInclVat": input.show_lines_incl_vat.unwrap_or(false),
            "TotalExclVat": num(t.total_excl_vat),
            "TotalVatableAmount": num(t.total_vatable),
            "TotalInclVat": num(t.total_incl_vat),
            "TotalNonVatableAmount": num(t.total_non_vatable),
            "TotalVat": num(t.total_vat),
            "TotalLines": total_lines,
            "InvoiceTemplateId": input.invoice_template_id,
            "Currency": voucher.currency,
            "Language": input.language.clone().unwrap_or_else(|| "da-DK".into()),
            "ExternalReference": input.external_reference,
            "Description": input.description.clone().unwrap_or_else(|| voucher.kind.noun().into()),
            "Comment": input.comment,
            "Date": voucher.date.to_string(),
            "ProductLines": lines,
            "Address": input.address,
            "PaymentDate": voucher.payment_date().to_string(),
            "PaymentConditionType": input.payment_condition_type,
            "PaymentConditionNumberOfDays": input.payment_condition_number_of_days.unwrap_or(0),
            "MailOutStatus": if voucher.mail_outs.is_empty() { "NotSent" } else { "Sent" },
            "LatestMailOutType": voucher.mail_outs.last().map_or("None", |m| m.kind),
            "CreatedAt": voucher.created_at.to_rfc3339(),
            "UpdatedAt": voucher.updated_at.to_rfc3339(),
            "DeletedAt": voucher.deleted_at.map(|d| d.to_rfc3339()),
        })
    }

    pub fn payments_json(&self, voucher: &Voucher) -> Value {
        let paid = voucher.paid_in_currency();
        let payments: Vec<Value> = voucher
            .payments
            .iter()
            .map(|p| {
                json!({
                    "Guid": p.guid,
                    "DepositAccountNumber": p.input.deposit_account_number,
                    "Currency": p.currency,
                    "ExchangeRate": num(p.exchange_rate),
                    "PaymentClass": "Payment",
                    "RelatedVoucherId": voucher.guid,
                    "ExternalReference": p.input.external_reference,
                    "PaymentDate": p.input.payment_date,
                    "Description": p.input.description,
                    "Amount": num(p.input.amount_in_foreign_currency.unwrap_or(p.input.amount)),
                })
            })
            .collect();
        json!({
            "Payments": payments,
            "RemainingAmount": num(voucher.totals.total_incl_vat - paid),
            "PaidAmount": num(paid),
            "InvoiceTotalIncludingReminderExpenses": num(voucher.totals.total_incl_vat),
            "RemainderAsFeeAvailable": false,
        })
    }
}

/// A JSON number from an exact decimal (Dinero's amounts are doubles on the wire).
pub fn num(value: Decimal) -> Value {
    use rust_decimal::prelude::ToPrimitive;
    value.to_f64().map(Value::from).unwrap_or(Value::Null)
}

fn check_timestamp(voucher: &Voucher, given: &str, behaviour: &Behaviour) -> ApiResult<()> {
    if voucher.timestamp == given {
        return Ok(());
    }
    Err(ApiError::new(
        behaviour.config.stale_timestamp_status,
        code::TIMESTAMP_OUTDATED,
        format!(
            "Timestamp outdated: {given} is not the current version of the {}; fetch it again",
            voucher.kind.noun().to_lowercase()
        ),
    ))
}

fn parse_date(field: &str, text: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| ApiError::field(field, format!("'{text}' is not a date (YYYY-MM-DD)")))
}

fn validate_payment_condition(kind: Option<&str>, days: Option<i32>) -> ApiResult<()> {
    match kind {
        None | Some("Netto") | Some("CurrentMonthOut") => Ok(()),
        Some("NettoCash") | Some("Paid") if days.is_some() => Err(ApiError::field(
            "PaymentConditionNumberOfDays",
            "must be null with NettoCash or Paid",
        )),
        Some("NettoCash") | Some("Paid") => Ok(()),
        Some(other) => Err(ApiError::field(
            "PaymentConditionType",
            format!("'{other}' is not Netto, NettoCash, CurrentMonthOut or Paid"),
        )),
    }
}

fn validate_contact(input: &ContactInput) -> ApiResult<()> {
    if input.name.trim().is_empty() {
        return Err(ApiError::field("Name", "is required"));
    }
    if !reference::is_country(&input.country_key) {
        return Err(ApiError::field(
            "CountryKey",
            format!("'{}' is not a known country key", input.country_key),
        ));
    }
    if input
        .external_reference
        .as_deref()
        .is_some_and(|r| r.chars().count() > 128)
    {
        return Err(ApiError::field(
            "ExternalReference",
            "must be at most 128 characters",
        ));
    }
    if let Some(email) = input.email.as_deref().filter(|e| !e.is_empty()) {
        if !email.contains('@') {
            return Err(ApiError::field(
                "Email",
                format!("'{email}' is not an e-mail address"),
            ));
        }
    }
    validate_payment_condition(
        input.payment_condition_type.as_deref(),
        input.payment_condition_number_of_days,
    )
}
