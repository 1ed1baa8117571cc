//! One order through Dinero, step by step: contact → invoice → book → payments. The ledger is
//! written before each Dinero write (`in_flight`) and after it, so a restart resumes from the
//! last recorded step and looks a possibly-made object up before making it again.

use std::time::Duration;

use chrono_tz::Tz;
use rust_decimal::{Decimal, RoundingStrategy};
use uuid::Uuid;

use super::documents;
use super::error::TransferError;
use crate::dinero::{DineroError, InvoiceStatus, OrganizationClient};
use crate::domain::identity;
use crate::domain::mapping::{
    self, ContactDraft, ContactKey, Delivery, MappingSettings, PaymentTerms, TransferPlan,
};
use crate::domain::money_events::{self, AnyEvent, CANCELLATION, INVOICE};
use crate::domain::order::OrderEvent;
use crate::domain::{OrderRecord, Reached, Step, StoredEvent, Tenant, CREATE_INVOICE};
use crate::store::{Fence, Store};

/// Per-call changes to the tenant's settings (manual transfer).
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// E.g. `false`: transfer without the shop's invoice number after a number collision.
    pub lock_voucher_number: Option<bool>,
}

pub struct Context<'a> {
    /// The shop's contact cache read Dinero's contact list lately: a customer it does not
    /// know is new, and is created without look-ups.
    pub contacts_fresh: bool,
    pub store: &'a dyn Store,
    pub dinero: &'a OrganizationClient,
    pub tenant: &'a Tenant,
    pub time_zone: Tz,
    pub tolerance: Decimal,
    /// The lane's claim on the tenant; every ledger write is fenced by it.
    pub fence: &'a Fence,
    /// How long a Dinero call can take: a call sent by a previous owner has ended by then.
    pub call_timeout: Duration,
    /// Steps reached but not yet written: they go with the next write (the next call's
    /// in-flight mark, or the last write), since a restart looks up what they record.
    pub noted: parking_lot::Mutex<Vec<Reached<'static>>>,
}

/// Which kind of Dinero voucher a payment or look-up concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Voucher {
    Invoice,
    CreditNote,
}

impl Voucher {
    fn noun(self) -> &'static str {
        match self {
            Voucher::Invoice => "invoice",
            Voucher::CreditNote => "credit note",
        }
    }
}

const BOOK_CREDIT_NOTE: &str = "book_credit_note";
const BOOK: &str = "book";
const SEND: &str = "send";

pub(super) fn payment_marker(index: u32) -> String {
    format!("payment:{index}")
}

impl Context<'_> {
    /// Reach a step without writing it yet: the next write carries it. Only for a step whose
    /// loss a restart repairs by looking the object up in Dinero (the in-flight mark before
    /// the call that made it is written), so nothing is made twice and writes are saved.
    pub(super) fn note(&self, record: &mut OrderRecord, step: Step, detail: String) {
        record.step = step;
        let detail = Self::labelled(record, Some(detail));
        self.noted.lock().push(Reached::now(step.as_str(), detail));
    }

    /// One history per order: a later document's entries say which document they are.
    fn labelled(record: &OrderRecord, detail: Option<String>) -> Option<String> {
        match detail {
            Some(detail) if record.document != INVOICE => {
                Some(format!("{}: {detail}", record.document))
            }
            detail => detail,
        }
    }

    /// What is noted, plus this step, as history rows for one write.
    fn history(
        &self,
        record: &mut OrderRecord,
        step: Option<Step>,
        detail: Option<String>,
    ) -> Vec<Reached<'static>> {
        let mut history = std::mem::take(&mut *self.noted.lock());
        if let Some(step) = step {
            record.step = step;
            history.push(Reached::now(step.as_str(), Self::labelled(record, detail)));
        }
        history
    }

    /// Write the row, with what was noted and (given) this step.
    pub(super) async fn save(
        &self,
        record: &mut OrderRecord,
        step: Option<Step>,
        detail: Option<String>,
    ) -> Result<(), TransferError> {
        let history = self.history(record, step, detail);
        self.store.save_order(record, &history, self.fence).await?;
        Ok(())
    }

    /// The document's last write: its row at its final step, what was noted, and its event
    /// done (its dead letter replayed), in one transaction.
    pub(super) async fn complete(
        &self,
        record: &mut OrderRecord,
        stored: &StoredEvent,
        step: Option<Step>,
        detail: Option<String>,
    ) -> Result<(), TransferError> {
        let history = self.history(record, step, detail);
        self.store
            .complete_order(record, &history, stored.seq, self.fence)
            .await?;
        Ok(())
    }

    pub(super) fn mark_in_flight(&self, record: &mut OrderRecord, call: String) {
        record.in_flight = Some(call);
        record.in_flight_epoch = Some(self.fence.epoch);
    }

    /// Before looking up what a lost call may have done: if another owner sent it, that call
    /// may still be running there; wait until it must have ended, so the look-up sees it.
    pub(super) async fn settle_foreign_call(&self, record: &OrderRecord) {
        if record.in_flight.is_some() && record.in_flight_epoch != Some(self.fence.epoch) {
            tracing::info!(order = %record.order_id, "an earlier owner's call was in flight; waiting it out before the look-up");
            tokio::time::sleep(self.call_timeout).await;
        }
    }

    pub fn plan(
        &self,
        event: &OrderEvent,
        overrides: Overrides,
    ) -> Result<TransferPlan, TransferError> {
        Ok(mapping::plan(
            &self.tenant.id,
            event,
            &self.mapping_settings(overrides),
        )?)
    }

    pub(super) fn mapping_settings(&self, overrides: Overrides) -> MappingSettings<'_> {
        mapping_settings(self.tenant, overrides, self.time_zone, self.tolerance)
    }

    /// Run the event's document from wherever its ledger row stands to its end: the order's
    /// invoice, or a refund's or cancellation's credit note, or a late payment.
    pub async fn transfer(
        &self,
        stored: &StoredEvent,
        overrides: Overrides,
    ) -> Result<OrderRecord, TransferError> {
        let unreadable = |why: String| TransferError::Payload(why);
        let json: serde_json::Value =
            serde_json::from_str(&stored.payload).map_err(|e| unreadable(e.to_string()))?;
        let event = AnyEvent::from_json(json)
            .ok_or_else(|| unreadable("unknown event type".into()))?
            .map_err(|e| unreadable(e.to_string()))?;
        match event {
            AnyEvent::Completed(event) => self.transfer_invoice(stored, &event, overrides).await,
            AnyEvent::Refunded(event) => self.refund(stored, &event.data).await,
            AnyEvent::Cancelled(event) => self.cancel(stored, &event.data).await,
            AnyEvent::Paid(event) => self.late_payment(stored, &event.data).await,
        }
    }

    /// The order's invoice, from wherever its ledger row stands to `done`; nothing at all
    /// when a cancellation waits behind it.
    async fn transfer_invoice(
        &self,
        stored: &StoredEvent,
        event: &OrderEvent,
        overrides: Overrides,
    ) -> Result<OrderRecord, TransferError> {
        let tenant = &self.tenant.id;
        let existing = self.store.order(tenant, &stored.order_id).await?;
        // A rebook (a conflict resolved by invoicing this version anew) has its credit-note
        // row; looked for only when the order has a row already, never on a first transfer.
        let rebook = match &existing {
            Some(_) => {
                let document = money_events::correction_document(stored.seq);
                self.store
                    .document(tenant, &stored.order_id, &document)
                    .await?
            }
            None => None,
        };
        let fresh = || {
            let mut record = OrderRecord::new(tenant, &stored.order_id, stored.seq);
            let detail = format!("event {}", stored.event_id);
            self.note(&mut record, Step::Received, detail);
            record
        };
        let mut record = match existing {
            Some(booked) if booked.event_seq != stored.seq => match rebook.clone() {
                Some(note) => self.credit_for_rebook(stored, booked, note).await?,
                // Left by a version this one replaced before anything was made in Dinero.
                None if booked.invoice_guid.is_none()
                    && booked.in_flight.as_deref() != Some(CREATE_INVOICE)
                    && !booked.step.is_final() =>
                {
                    fresh()
                }
                None => booked,
            },
            Some(record) => record,
            None => fresh(),
        };
        if record.step.is_final() {
            // A resend after retention removed the first event: nothing more to do.
            self.complete(&mut record, stored, None, None).await?;
            return Ok(record);
        }
        if record.invoice_guid.is_none() && record.in_flight.is_none() {
            if let Some(cancel) = self.later_cancellation(stored).await? {
                let detail = format!(
                    "cancelled before transfer (event {cancel}): nothing was made in Dinero"
                );
                self.complete(&mut record, stored, Some(Step::Cancelled), Some(detail))
                    .await?;
                return Ok(record);
            }
        }
        self.settle_foreign_call(&record).await;
        let mut plan = self.plan(event, overrides)?;
        if rebook.is_some() {
            // Its own invoice: the credited one keeps the order's guid and the shop's number
            // (a voucher number is never used twice), so Dinero numbers this one.
            plan.invoice.guid =
                identity::corrected_invoice_guid(tenant, &stored.order_id, &stored.event_id);
            plan.invoice.number = None;
        }
        // What the invoice totals, and its date: a reconciliation compares them with Dinero's
        // lists.
        record.amount = Some(plan.invoice.total);
        record.voucher_date = Some(plan.invoice.date);
        let contact = match record.contact_guid {
            Some(guid) => guid,
            None => {
                let guid = self.contact(&plan).await?;
                record.contact_guid = Some(guid);
                self.note(&mut record, Step::Contact, guid.to_string());
                guid
            }
        };
        if record.invoice_guid.is_none() {
            self.create_invoice(&mut record, &plan, contact).await?;
        }
        if self.tenant.settings.book && record.invoice_number.is_none() {
            self.book(&mut record, Voucher::Invoice, plan.invoice.number)
                .await?;
        }
        if self.tenant.settings.book {
            self.payments(&mut record, &plan, event).await?;
            self.deliver(&mut record, &plan).await?;
        }
        record.error = None;
        record.error_class = None;
        let (step, detail) = match (record.invoice_number, plan.invoice.terms) {
            (None, _) => (Step::Done, "left as a draft".to_owned()),
            (Some(number), PaymentTerms::Paid) => (Step::Done, format!("invoice {number}")),
            (Some(number), PaymentTerms::Net { days }) => (
                Step::AwaitingPayment,
                format!("invoice {number}, sold on credit: due in {days} days"),
            ),
        };
        self.complete(&mut record, stored, Some(step), Some(detail))
            .await?;
        Ok(record)
    }

    /// A cancellation of this order received after its event and still waiting: the order is
    /// called off before anything is made. Its event id.
    async fn later_cancellation(
        &self,
        stored: &StoredEvent,
    ) -> Result<Option<String>, TransferError> {
        Ok(self
            .store
            .events_for_order(&self.tenant.id, &stored.order_id)
            .await?
            .into_iter()
            .find(|e| {
                e.document == CANCELLATION
                    && e.seq > stored.seq
                    && e.status == crate::domain::EventStatus::Pending
            })
            .map(|e| e.event_id))
    }

    /// The cache first (a known customer costs no call), then Dinero by reference, then by
    /// e-mail or VAT number, and only then a new contact with a deterministic guid.
    async fn contact(&self, plan: &TransferPlan) -> Result<Uuid, TransferError> {
        let draft = &plan.contact;
        let key = draft.cache_key();
        let tenant = &self.tenant.id;
        let found = match find_contact(self.store, self.dinero, tenant, draft, self.contacts_fresh)
            .await?
        {
            Some((guid, ContactMatch::Cached)) => return Ok(guid),
            Some((guid, _)) => Some(guid),
            None => None,
        };
        let guid = match found {
            Some(guid) => guid,
            None => match self.dinero.create_contact(&documents::contact(draft)).await {
                Ok(guid) => guid,
                // Refused: perhaps because our deterministic guid exists already (an answer
                // lost, or the previous owner of this tenant created it a moment ago, after
                // our look-ups); if so it is this customer's, otherwise the refusal stands.
                Err(error @ DineroError::Rejected { .. }) => {
                    match self.dinero.get_contact(draft.guid).await? {
                        Some(contact) => contact.guid,
                        None => return Err(error.into()),
                    }
                }
                Err(error) => return Err(error.into()),
            },
        };
        self.store.put_contact(tenant, &key, guid).await?;
        Ok(guid)
    }

    async fn create_invoice(
        &self,
        record: &mut OrderRecord,
        plan: &TransferPlan,
        contact: Uuid,
    ) -> Result<(), TransferError> {
        let guid = plan.invoice.guid;
        if record.in_flight.as_deref() == Some(CREATE_INVOICE) {
            // An earlier create may have gone through without our hearing of it.
            if let Some(invoice) = self.dinero.get_invoice(guid).await? {
                return self
                    .adopt(record, guid, invoice, "found after a lost answer")
                    .await;
            }
        }
        let body = documents::invoice(&plan.invoice, contact);
        if self.tenant.settings.check_totals_with_dinero {
            self.check_totals(&body, plan).await?;
        }
        self.mark_in_flight(record, CREATE_INVOICE.into());
        self.save(record, None, None).await?;
        let created = match self.dinero.create_invoice(&body).await {
            Ok(created) => created,
            // Refused: perhaps because this guid exists already (a call we never heard back
            // from); if so it is ours, otherwise the refusal stands.
            Err(error @ DineroError::Rejected { .. }) => match self.dinero.get_invoice(guid).await?
            {
                Some(invoice) => return self.adopt(record, guid, invoice, "it existed").await,
                None => return Err(error.into()),
            },
            Err(error) => return Err(error.into()),
        };
        record.invoice_guid = Some(created.guid);
        record.invoice_version = Some(created.version.0);
        record.in_flight = None;
        self.note(record, Step::InvoiceCreated, created.guid.to_string());
        Ok(())
    }

    /// The shop opted in: Dinero's own totals for the invoice (nothing made) must be the ones
    /// the plan worked out, which the mapping held to the order's, to the øre.
    async fn check_totals(
        &self,
        body: &crate::dinero::NewInvoice,
        plan: &TransferPlan,
    ) -> Result<(), TransferError> {
        let totals = self.dinero.fetch_invoice_totals(body).await?;
        let invoice = &plan.invoice;
        if totals.incl_vat == invoice.total && totals.vat == invoice.vat {
            return Ok(());
        }
        Err(mapping::MappingError::TotalsMismatch {
            currency: invoice.currency.clone(),
            invoice: totals.incl_vat,
            invoice_vat: totals.vat,
            order: invoice.total,
            order_vat: invoice.vat,
        }
        .into())
    }

    /// An invoice with this order's guid exists already (a lost answer, or a ledger restored
    /// from an older backup): carry on from where it stands. A booked one may be paid as well,
    /// so its first payment is looked up before one is sent.
    async fn adopt(
        &self,
        record: &mut OrderRecord,
        guid: Uuid,
        invoice: crate::dinero::Invoice,
        how: &str,
    ) -> Result<(), TransferError> {
        record.invoice_guid = Some(guid);
        record.invoice_version = Some(invoice.version.0);
        record.invoice_number = invoice.number;
        record.in_flight = None;
        if invoice.status == InvoiceStatus::Booked {
            self.mark_in_flight(record, payment_marker(record.payments_done));
            let detail = format!("{guid} ({how}, booked already)");
            return self.save(record, Some(Step::Booked), Some(detail)).await;
        }
        let detail = format!("{guid} ({how})");
        self.save(record, Some(Step::InvoiceCreated), Some(detail))
            .await
    }

    /// Re-read the voucher the row holds, taking its current version; one that vanished
    /// from Dinero is a permanent failure.
    pub(super) async fn refresh_version(
        &self,
        record: &mut OrderRecord,
        voucher: Voucher,
    ) -> Result<crate::dinero::Invoice, TransferError> {
        let guid = record.invoice_guid.expect("read after it was created");
        let found = match voucher {
            Voucher::Invoice => self.dinero.get_invoice(guid).await?,
            Voucher::CreditNote => self.dinero.get_credit_note(guid).await?,
        };
        let read = found.ok_or(TransferError::Payload(format!(
            "{} {guid} disappeared from Dinero",
            voucher.noun()
        )))?;
        record.invoice_version = Some(read.version.0.clone());
        Ok(read)
    }

    /// Book the voucher the row holds, once: a booking whose answer was lost is looked up
    /// first, and a stale version re-read (booked meanwhile means done). The invoice is
    /// booked with the shop's own number when `number` is given.
    pub(super) async fn book(
        &self,
        record: &mut OrderRecord,
        voucher: Voucher,
        number: Option<i64>,
    ) -> Result<(), TransferError> {
        let guid = record.invoice_guid.expect("created before booking");
        let marker = match voucher {
            Voucher::Invoice => BOOK,
            Voucher::CreditNote => BOOK_CREDIT_NOTE,
        };
        if record.in_flight.as_deref() == Some(marker) {
            let read = self.refresh_version(record, voucher).await?;
            if read.status == InvoiceStatus::Booked {
                self.booked_noted(
                    record,
                    voucher,
                    read.number,
                    "found booked after a lost answer",
                );
                return Ok(());
            }
        }
        self.mark_in_flight(record, marker.into());
        self.save(record, None, None).await?;
        let version = crate::dinero::Version(record.invoice_version.clone().unwrap_or_default());
        let booked = match voucher {
            Voucher::Invoice => self.dinero.book_invoice(guid, &version, number).await,
            Voucher::CreditNote => self.dinero.book_credit_note(guid, &version, None).await,
        };
        match booked {
            Ok(read) => {
                record.invoice_version = Some(read.version.0);
                self.booked_noted(record, voucher, read.number, "booked");
                Ok(())
            }
            Err(error @ DineroError::StaleTimestamp { .. }) => {
                // Re-read: booked meanwhile means done; otherwise retry with the new version.
                let read = self.refresh_version(record, voucher).await?;
                if read.status == InvoiceStatus::Booked {
                    self.booked_noted(record, voucher, read.number, "found booked");
                    return Ok(());
                }
                self.save(record, None, None).await?;
                Err(error.into())
            }
            Err(error) => Err(error.into()),
        }
    }

    fn booked_noted(
        &self,
        record: &mut OrderRecord,
        voucher: Voucher,
        number: Option<i64>,
        how: &str,
    ) {
        record.invoice_number = number;
        record.in_flight = None;
        let what = match voucher {
            Voucher::Invoice => "",
            Voucher::CreditNote => "credit note ",
        };
        let detail = format!(
            "{what}{how}: number {}",
            number.map(|n| n.to_string()).unwrap_or_default()
        );
        self.note(record, Step::Booked, detail);
    }

    async fn payments(
        &self,
        record: &mut OrderRecord,
        plan: &TransferPlan,
        event: &OrderEvent,
    ) -> Result<(), TransferError> {
        let guid = record.invoice_guid.expect("created before payments");
        let currency = &event.data.currency;
        // DKK per unit as Dinero converted the invoice, asked for once when a payment needs it.
        let mut dinero_rate: Option<Decimal> = None;
        while let Some(payment) = plan.payments.get(record.payments_done as usize) {
            let index = record.payments_done;
            let (amount_dkk, converted) = match payment.amount_dkk {
                Some(dkk) => (dkk, None),
                None => {
                    let rate = match dinero_rate {
                        Some(rate) => rate,
                        None => *dinero_rate.insert(
                            self.dkk_rate(
                                Voucher::Invoice,
                                guid,
                                &plan.invoice.external_reference,
                                currency,
                            )
                            .await?,
                        ),
                    };
                    let dkk = (payment.amount * rate)
                        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
                    (dkk, Some(rate))
                }
            };
            let marker = payment_marker(index);
            if record.in_flight.as_deref() == Some(marker.as_str()) {
                let existing = self.dinero.invoice_payments(guid).await?;
                let reference = Some(payment.external_reference.clone());
                if existing
                    .payments
                    .iter()
                    .any(|p| p.external_reference == reference)
                {
                    self.refresh_version(record, Voucher::Invoice).await?;
                    record.payments_done += 1;
                    record.in_flight = None;
                    let detail = format!("payment {} found after a lost answer", index + 1);
                    self.note(record, Step::Paid, detail);
                    continue;
                }
            }
            self.mark_in_flight(record, marker);
            self.save(record, None, None).await?;
            let version =
                crate::dinero::Version(record.invoice_version.clone().unwrap_or_default());
            match self
                .dinero
                .create_payment(
                    guid,
                    &version,
                    &documents::payment(payment, currency, amount_dkk),
                )
                .await
            {
                Ok(created) => {
                    record.invoice_version = Some(created.invoice_version.0);
                    record.payments_done += 1;
                    record.in_flight = None;
                    let detail = match converted {
                        None => format!(
                            "payment {} of {} {currency} to {}",
                            index + 1,
                            payment.amount,
                            payment.deposit_account
                        ),
                        // The history keeps the rate, for the merchant's agio questions.
                        Some(rate) => format!(
                            "payment {} of {} {currency} = {amount_dkk} DKK at Dinero's rate {} per 100, to {}",
                            index + 1,
                            payment.amount,
                            (rate * Decimal::ONE_HUNDRED).round_dp(4).normalize(),
                            payment.deposit_account
                        ),
                    };
                    self.note(record, Step::Paid, detail);
                }
                Err(error @ DineroError::StaleTimestamp { .. }) => {
                    self.refresh_version(record, Voucher::Invoice).await?;
                    self.save(record, None, None).await?;
                    return Err(error.into());
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }

    /// DKK per unit of `currency` as Dinero converted this invoice or credit note (its list
    /// shows the DKK total beside the total): a payment given in the order's currency only is
    /// registered with the DKK amount Dinero itself used. One call.
    pub(super) async fn dkk_rate(
        &self,
        voucher: Voucher,
        guid: Uuid,
        reference: &str,
        currency: &str,
    ) -> Result<Decimal, TransferError> {
        let rows = match voucher {
            Voucher::Invoice => {
                self.dinero
                    .find_invoices_by_external_reference(reference)
                    .await?
            }
            Voucher::CreditNote => {
                self.dinero
                    .find_credit_notes_by_external_reference(reference)
                    .await?
            }
        };
        rows.into_iter()
            .find(|row| row.guid == guid)
            .and_then(|row| row.dkk_rate())
            .ok_or_else(|| TransferError::NoDkkFigure(guid, currency.to_owned()))
    }

    /// Send the booked invoice from Dinero when the shop does, once: a call whose answer
    /// was lost is looked up (`MailOutStatus`) before sending again. A failed send is retried
    /// like any step; the invoice is never made again for it.
    async fn deliver(
        &self,
        record: &mut OrderRecord,
        plan: &TransferPlan,
    ) -> Result<(), TransferError> {
        if record.step == Step::Sent || record.invoice_number.is_none() {
            return Ok(());
        }
        let guid = record.invoice_guid.expect("booked before sending");
        let how = match plan.delivery {
            Delivery::Off => return Ok(()),
            Delivery::NoAddress => {
                let why = "not sent: the order gives no e-mail address (nor an EAN number)";
                self.note(record, Step::Sent, why.into());
                return Ok(());
            }
            Delivery::Email => "by e-mail",
            Delivery::EInvoice => "as an e-invoice (NemHandel)",
        };
        if record.in_flight.as_deref() == Some(SEND) {
            let invoice = self.refresh_version(record, Voucher::Invoice).await?;
            if invoice.was_sent() {
                record.in_flight = None;
                let detail = format!("sent {how} (found sent after a lost answer)");
                self.note(record, Step::Sent, detail);
                return Ok(());
            }
        }
        self.mark_in_flight(record, SEND.into());
        self.save(record, None, None).await?;
        match plan.delivery {
            Delivery::EInvoice => self.dinero.e_invoice(guid).await?,
            _ => self.dinero.email_invoice(guid).await?,
        }
        record.in_flight = None;
        self.note(record, Step::Sent, format!("sent {how}"));
        Ok(())
    }
}

/// Where a customer's contact was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactMatch {
    /// The service's contact cache.
    Cached,
    /// In Dinero, by the shop's reference, e-mail or VAT number.
    Found,
}

/// The customer's contact without making one: the cache, then Dinero by reference, then by
/// e-mail or VAT number (books hold a VAT number with or without its country prefix).
pub(super) async fn find_contact(
    store: &dyn Store,
    dinero: &OrganizationClient,
    tenant: &str,
    draft: &ContactDraft,
    cache_is_fresh: bool,
) -> Result<Option<(Uuid, ContactMatch)>, TransferError> {
    if let Some(guid) = store.contact(tenant, &draft.cache_key()).await? {
        return Ok(Some((guid, ContactMatch::Cached)));
    }
    if cache_is_fresh {
        // The cache holds Dinero's contacts as of a moment ago: not in it means new.
        return Ok(None);
    }
    let mut found = dinero
        .find_contact_by_external_reference(&draft.external_reference)
        .await?;
    if found.is_none() {
        found = match &draft.key {
            ContactKey::Email(email) => dinero.find_contact_by_email(email).await?,
            ContactKey::VatNumber(vat) => match dinero.find_contact_by_vat_number(vat).await? {
                Some(found) => Some(found),
                None => {
                    let bare = identity::vat_number_without_prefix(vat);
                    dinero.find_contact_by_vat_number(bare).await?
                }
            },
            ContactKey::ShopCustomer(_) => None,
        };
    }
    Ok(found.map(|contact| (contact.guid, ContactMatch::Found)))
}

/// How a tenant's orders are mapped: its settings, with a call's overrides.
pub(super) fn mapping_settings(
    tenant: &Tenant,
    overrides: Overrides,
    time_zone: Tz,
    tolerance: Decimal,
) -> MappingSettings<'_> {
    let settings = &tenant.settings;
    MappingSettings {
        accounts: &settings.accounts,
        account_vat: &tenant.account_vat,
        register_payment: settings.register_payment && settings.book,
        lock_voucher_number: overrides
            .lock_voucher_number
            .unwrap_or(settings.lock_voucher_number),
        payment_terms_days: settings.payment_terms_days,
        send_invoice: settings.send_invoice,
        time_zone,
        tolerance,
    }
}
