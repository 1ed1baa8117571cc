//! An order's later money events through Dinero: a refund or cancellation becomes a booked
//! credit note (with the refund paid out on it), a late payment is registered on the invoice.
//! Each is its own ledger document, advanced step by step like the invoice, with the same
//! in-flight marks and look-ups after a lost answer, so nothing is made twice.

use rust_decimal::{Decimal, RoundingStrategy};
use uuid::Uuid;

use super::documents;
use super::error::TransferError;
use super::transfer::{payment_marker, Context, Overrides, Voucher};
use crate::dinero::{DineroError, Invoice, InvoiceStatus, Version};
use crate::domain::identity;
use crate::domain::mapping::{self, CreditPlan, PaymentDraft};
use crate::domain::money_events::{Cancellation, LatePayment, Refund, CANCELLATION, INVOICE};
use crate::domain::order::OrderEvent;
use crate::domain::{EventStatus, OrderRecord, Reached, Step, StoredEvent};

const CREATE_CREDIT_NOTE: &str = "create_credit_note";

/// A document's row: finished already, or to work on.
enum Opened {
    Done(OrderRecord),
    ToDo(OrderRecord),
}

/// The order's booked invoice a later event applies to, with the order it was made from.
struct Invoiced {
    record: OrderRecord,
    order: OrderEvent,
}

impl Context<'_> {
    /// The document's ledger row, made (as `received`) on first sight.
    async fn document_row(&self, stored: &StoredEvent) -> Result<OrderRecord, TransferError> {
        let tenant = &self.tenant.id;
        if let Some(record) = self
            .store
            .document(tenant, &stored.order_id, &stored.document)
            .await?
        {
            return Ok(record);
        }
        let mut record =
            OrderRecord::for_document(tenant, &stored.order_id, &stored.document, stored.seq);
        self.note(
            &mut record,
            Step::Received,
            format!("event {}", stored.event_id),
        );
        Ok(record)
    }

    /// The document's row to work on, or the row of a document finished already (its event
    /// then completed: a resend after retention removed the first). A call another owner
    /// may still have in flight is waited out first.
    async fn open_document(&self, stored: &StoredEvent) -> Result<Opened, TransferError> {
        let mut record = self.document_row(stored).await?;
        if record.step.is_final() {
            self.complete(&mut record, stored, None, None).await?;
            return Ok(Opened::Done(record));
        }
        self.settle_foreign_call(&record).await;
        Ok(Opened::ToDo(record))
    }

    /// The order's invoice row and the order event it was made from. An order never received
    /// is a permanent failure (the dead letter says so); one received but not transferred
    /// yet cannot be here in automatic mode, whose lane takes the order's events in order.
    async fn invoiced(
        &self,
        stored: &StoredEvent,
        what: &'static str,
    ) -> Result<(Option<OrderRecord>, Option<OrderEvent>), TransferError> {
        let tenant = &self.tenant.id;
        let order_event = self
            .store
            .events_for_order(tenant, &stored.order_id)
            .await?
            .into_iter()
            .find(|e| e.document == INVOICE && e.status.is_current_version());
        let Some(order_event) = order_event else {
            let why = match self.store.order(tenant, &stored.order_id).await? {
                None => "has never been received".to_owned(),
                // Retention removed the order's event (store.retention_days): the lines a
                // credit note is made of are gone with it.
                Some(_) => "was transferred, but its order event was removed by retention \
                            (store.retention_days): credit it in Dinero by hand"
                    .to_owned(),
            };
            return Err(TransferError::NoInvoice {
                order: stored.order_id.clone(),
                event: what,
                why,
            });
        };
        let order: OrderEvent = serde_json::from_str(&order_event.payload)
            .map_err(|e| TransferError::Payload(e.to_string()))?;
        let record = self.store.order(tenant, &stored.order_id).await?;
        if record.is_none() && order_event.status != EventStatus::Resolved {
            return Err(TransferError::NoInvoice {
                order: stored.order_id.clone(),
                event: what,
                why: format!(
                    "is not transferred yet (its order.completed event is {})",
                    order_event.status.as_str()
                ),
            });
        }
        Ok((record, Some(order)))
    }

    /// The booked invoice, or why there is none to apply `what` to.
    fn booked_invoice(
        stored: &StoredEvent,
        what: &'static str,
        record: Option<OrderRecord>,
        order: Option<OrderEvent>,
    ) -> Result<Invoiced, TransferError> {
        let no_invoice = |why: &str| TransferError::NoInvoice {
            order: stored.order_id.clone(),
            event: what,
            why: why.to_owned(),
        };
        match (record, order) {
            (Some(record), Some(order)) if record.invoice_number.is_some() => {
                Ok(Invoiced { record, order })
            }
            (Some(record), Some(_)) if record.invoice_guid.is_some() => Err(no_invoice(
                "has a draft invoice in Dinero (the shop does not book): credit or delete it there",
            )),
            _ => Err(no_invoice(
                "was never transferred (its dead letter was resolved by hand)",
            )),
        }
    }

    /// `order.refunded`: a credit note for all of the invoice or the lines refunded, booked,
    /// with the refund registered on it.
    pub(super) async fn refund(
        &self,
        stored: &StoredEvent,
        refund: &Refund,
    ) -> Result<OrderRecord, TransferError> {
        let mut record = match self.open_document(stored).await? {
            Opened::Done(record) => return Ok(record),
            Opened::ToDo(record) => record,
        };
        let (invoice, order) = self.invoiced(stored, "refund").await?;
        if invoice.as_ref().is_some_and(|i| i.step == Step::Cancelled) {
            let why = "nothing to credit: the order was cancelled before transfer";
            self.complete(&mut record, stored, Some(Step::Done), Some(why.into()))
                .await?;
            return Ok(record);
        }
        let invoiced = Self::booked_invoice(stored, "refund", invoice, order)?;
        let settings = self.mapping_settings(Overrides::default());
        let invoiced_total = mapping::plan(&self.tenant.id, &invoiced.order, &settings)?
            .invoice
            .total;
        let credited = self.credited(stored).await?;
        let plan = mapping::refund(
            &self.tenant.id,
            &invoiced.order,
            refund,
            &settings,
            invoiced_total,
            credited,
        )?;
        self.credit(&mut record, stored, &invoiced, &plan).await?;
        Ok(record)
    }

    /// `order.cancelled` after transfer: all of the invoice credited. Before transfer the
    /// invoice's own step saw the cancellation and made nothing.
    pub(super) async fn cancel(
        &self,
        stored: &StoredEvent,
        cancellation: &Cancellation,
    ) -> Result<OrderRecord, TransferError> {
        let mut record = match self.open_document(stored).await? {
            Opened::Done(record) => return Ok(record),
            Opened::ToDo(record) => record,
        };
        let (invoice, order) = self.invoiced(stored, "cancellation").await?;
        let made_nothing = match &invoice {
            None => true,
            Some(invoice) => invoice.step == Step::Cancelled || invoice.invoice_guid.is_none(),
        };
        if made_nothing {
            let why = "nothing to credit: nothing was made in Dinero for the order";
            self.complete(&mut record, stored, Some(Step::Done), Some(why.into()))
                .await?;
            return Ok(record);
        }
        let invoiced = Self::booked_invoice(stored, "cancellation", invoice, order)?;
        if self.credited(stored).await? > Decimal::ZERO {
            return Err(TransferError::NoInvoice {
                order: stored.order_id.clone(),
                event: "cancellation",
                why: "is partly refunded already: refund the rest by lines or amount".into(),
            });
        }
        let settings = self.mapping_settings(Overrides::default());
        let plan = mapping::cancellation(
            &self.tenant.id,
            &invoiced.order,
            &settings,
            cancellation.cancelled_at,
            cancellation.reason.as_deref(),
        )?;
        self.credit(&mut record, stored, &invoiced, &plan).await?;
        Ok(record)
    }

    /// What the order's other credit notes took back so far (those made in Dinero).
    async fn credited(&self, stored: &StoredEvent) -> Result<Decimal, TransferError> {
        Ok(self
            .store
            .documents(&self.tenant.id, &stored.order_id)
            .await?
            .iter()
            .filter(|d| d.document != stored.document && d.invoice_guid.is_some())
            .filter(|d| d.document == CANCELLATION || d.document.starts_with("refund:"))
            .filter_map(|d| d.amount)
            .sum())
    }

    /// Create, book and pay out a credit note, then complete its event.
    async fn credit(
        &self,
        record: &mut OrderRecord,
        stored: &StoredEvent,
        invoiced: &Invoiced,
        plan: &CreditPlan,
    ) -> Result<(), TransferError> {
        let detail = self.credit_steps(record, invoiced, plan).await?;
        self.complete(record, stored, Some(Step::Done), Some(detail))
            .await
    }

    /// Create, book and pay out a credit note, each step recorded before and after its call;
    /// what was made, for the last write's history.
    async fn credit_steps(
        &self,
        record: &mut OrderRecord,
        invoiced: &Invoiced,
        plan: &CreditPlan,
    ) -> Result<String, TransferError> {
        record.amount = Some(plan.total());
        record.voucher_date = Some(plan.note.date);
        record.contact_guid = invoiced.record.contact_guid;
        if record.invoice_guid.is_none() {
            self.create_credit_note(record, invoiced, plan).await?;
        }
        if record.invoice_number.is_none() {
            self.book(record, Voucher::CreditNote, None).await?;
        }
        if let Some(refund) = &plan.refund {
            if record.payments_done == 0 {
                let currency = &invoiced.order.data.currency;
                self.pay_out(record, refund, currency, &plan.note.external_reference)
                    .await?;
            }
        }
        record.error = None;
        record.error_class = None;
        let number = record.invoice_number.unwrap_or_default();
        Ok(format!(
            "credit note {number} of {:.2} {} booked{}",
            plan.total(),
            invoiced.order.data.currency,
            if plan.refund.is_some() {
                ", refund registered"
            } else {
                ""
            }
        ))
    }

    async fn create_credit_note(
        &self,
        record: &mut OrderRecord,
        invoiced: &Invoiced,
        plan: &CreditPlan,
    ) -> Result<(), TransferError> {
        let invoice = invoiced
            .record
            .invoice_guid
            .expect("a booked invoice has a guid");
        if record.in_flight.as_deref() == Some(CREATE_CREDIT_NOTE) {
            if let Some(note) = self
                .find_credit_note(invoice, &invoiced.order.data.order_id, plan)
                .await?
            {
                return self
                    .adopt_credit_note(record, note, "found after a lost answer")
                    .await;
            }
        }
        self.mark_in_flight(record, CREATE_CREDIT_NOTE.into());
        self.save(record, None, None).await?;
        let created = if plan.full {
            // Dinero copies the invoice exactly: the credit is right to the øre.
            self.dinero.generate_credit_note(invoice, None).await
        } else {
            let contact = invoiced
                .record
                .contact_guid
                .expect("an invoice has a contact");
            self.dinero
                .create_credit_note(Some(invoice), &documents::credit_note(&plan.note, contact))
                .await
        };
        let created = match created {
            Ok(created) => created,
            // Refused: perhaps because our guid exists already (a call we never heard back
            // from); if so it is ours, otherwise the refusal stands.
            Err(error @ DineroError::Rejected { .. }) if !plan.full => {
                match self.dinero.get_credit_note(plan.note.guid).await? {
                    Some(note) => return self.adopt_credit_note(record, note, "it existed").await,
                    None => return Err(error.into()),
                }
            }
            Err(error) => return Err(error.into()),
        };
        record.invoice_guid = Some(created.guid);
        record.invoice_version = Some(created.version.0);
        record.in_flight = None;
        let kind = if plan.full {
            "for all of the invoice"
        } else {
            "for the lines refunded"
        };
        self.note(
            record,
            Step::CreditNoteCreated,
            format!("{} ({kind})", created.guid),
        );
        Ok(())
    }

    /// The credit note a lost create made, if any: a partial one by its own guid; a full one
    /// (Dinero chose its guid) among the credit notes carrying the invoice's reference, by
    /// the invoice it credits.
    async fn find_credit_note(
        &self,
        invoice: Uuid,
        order_id: &str,
        plan: &CreditPlan,
    ) -> Result<Option<Invoice>, TransferError> {
        if !plan.full {
            return Ok(self.dinero.get_credit_note(plan.note.guid).await?);
        }
        let reference = identity::order_reference(&self.tenant.id, order_id);
        for row in self
            .dinero
            .find_credit_notes_by_external_reference(&reference)
            .await?
        {
            if let Some(note) = self.dinero.get_credit_note(row.guid).await? {
                if note.credit_note_for == Some(invoice) {
                    return Ok(Some(note));
                }
            }
        }
        Ok(None)
    }

    async fn adopt_credit_note(
        &self,
        record: &mut OrderRecord,
        note: Invoice,
        how: &str,
    ) -> Result<(), TransferError> {
        record.invoice_guid = Some(note.guid);
        record.invoice_version = Some(note.version.0);
        record.in_flight = None;
        if note.status == InvoiceStatus::Booked {
            record.invoice_number = note.number;
            // Booked already: its refund may be registered too, so look before paying.
            self.mark_in_flight(record, payment_marker(0));
            let detail = format!("{} ({how}, booked already)", note.guid);
            return self.save(record, Some(Step::Booked), Some(detail)).await;
        }
        let detail = format!("{} ({how})", note.guid);
        self.save(record, Some(Step::CreditNoteCreated), Some(detail))
            .await
    }

    /// The refund paid out on the booked credit note, once: a lost answer is looked up by the
    /// payment's reference first.
    async fn pay_out(
        &self,
        record: &mut OrderRecord,
        refund: &PaymentDraft,
        currency: &str,
        reference: &str,
    ) -> Result<(), TransferError> {
        let guid = record.invoice_guid.expect("booked before the refund");
        let marker = payment_marker(0);
        if record.in_flight.as_deref() == Some(marker.as_str()) {
            let existing = self.dinero.credit_note_payments(guid).await?;
            let ours = Some(refund.external_reference.clone());
            if existing
                .payments
                .iter()
                .any(|p| p.external_reference == ours)
            {
                self.refresh_version(record, Voucher::CreditNote).await?;
                record.payments_done = 1;
                record.in_flight = None;
                let detail = "refund found registered after a lost answer".to_owned();
                self.note(record, Step::Paid, detail);
                return Ok(());
            }
        }
        let amount_dkk = match refund.amount_dkk {
            Some(dkk) => dkk,
            None => {
                let rate = self
                    .dkk_rate(Voucher::CreditNote, guid, reference, currency)
                    .await?;
                (refund.amount * rate)
                    .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
            }
        };
        self.mark_in_flight(record, marker);
        self.save(record, None, None).await?;
        let version = Version(record.invoice_version.clone().unwrap_or_default());
        let payment = documents::payment(refund, currency, amount_dkk);
        match self
            .dinero
            .create_credit_note_payment(guid, &version, &payment)
            .await
        {
            Ok(created) => {
                record.invoice_version = Some(created.invoice_version.0);
                record.payments_done = 1;
                record.in_flight = None;
                let detail = format!(
                    "refund of {} {currency} ({amount_dkk} DKK) from {}",
                    refund.amount, refund.deposit_account
                );
                self.note(record, Step::Paid, detail);
                Ok(())
            }
            Err(error @ DineroError::StaleTimestamp { .. }) => {
                self.refresh_version(record, Voucher::CreditNote).await?;
                self.save(record, None, None).await?;
                Err(error.into())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// `order.paid`: a payment for an order booked on credit, registered on its invoice once.
    /// When it settles the invoice, the order moves from `awaiting_payment` to `done`.
    pub(super) async fn late_payment(
        &self,
        stored: &StoredEvent,
        paid: &LatePayment,
    ) -> Result<OrderRecord, TransferError> {
        let mut record = match self.open_document(stored).await? {
            Opened::Done(record) => return Ok(record),
            Opened::ToDo(record) => record,
        };
        let (invoice, order) = self.invoiced(stored, "payment").await?;
        let mut invoiced = Self::booked_invoice(stored, "payment", invoice, order)?;
        let settings = self.mapping_settings(Overrides::default());
        let draft = mapping::late_payment(&self.tenant.id, &invoiced.order.data, paid, &settings)?;
        let guid = invoiced.record.invoice_guid.expect("booked");
        record.invoice_guid = Some(guid);
        record.invoice_number = invoiced.record.invoice_number;
        let currency = invoiced.order.data.currency.clone();
        let marker = payment_marker(0);
        let mut found = false;
        if record.in_flight.as_deref() == Some(marker.as_str()) {
            let ours = Some(draft.external_reference.clone());
            found = self
                .dinero
                .invoice_payments(guid)
                .await?
                .payments
                .iter()
                .any(|p| p.external_reference == ours);
        }
        if !found {
            let reference = identity::order_reference(&self.tenant.id, &stored.order_id);
            let amount_dkk = match draft.amount_dkk {
                Some(dkk) => dkk,
                None => {
                    let rate = self
                        .dkk_rate(Voucher::Invoice, guid, &reference, &currency)
                        .await?;
                    (draft.amount * rate)
                        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
                }
            };
            // The invoice's version now: credit notes and earlier payments may have moved it.
            let invoice = self
                .dinero
                .get_invoice(guid)
                .await?
                .ok_or(TransferError::Payload(format!(
                    "invoice {guid} disappeared from Dinero"
                )))?;
            self.mark_in_flight(&mut record, marker);
            self.save(&mut record, None, None).await?;
            self.dinero
                .create_payment(
                    guid,
                    &invoice.version,
                    &documents::payment(&draft, &currency, amount_dkk),
                )
                .await?;
        }
        record.payments_done = 1;
        record.in_flight = None;
        record.error = None;
        record.error_class = None;
        let detail = format!(
            "payment of {} {currency} to {}{}",
            draft.amount,
            draft.deposit_account,
            if found {
                " (found after a lost answer)"
            } else {
                ""
            }
        );
        // The invoice first: a crash before the payment's last write repeats this check,
        // never the payment (its in-flight mark is looked up).
        if invoiced.record.step == Step::AwaitingPayment {
            let left = self.dinero.invoice_payments(guid).await?.remaining;
            if left <= Decimal::ZERO {
                invoiced.record.step = Step::Done;
                let detail = format!("paid in full by payment {}", paid.payment_id);
                self.store
                    .save_order(
                        &invoiced.record,
                        &[Reached::now(Step::Done.as_str(), Some(detail))],
                        self.fence,
                    )
                    .await?;
            }
        }
        self.complete(&mut record, stored, Some(Step::Done), Some(detail))
            .await?;
        Ok(record)
    }

    /// A rebook's first half: the invoice made from the order's earlier version (`booked`)
    /// credited in full, with what was paid on it paid back from the same account, so the
    /// version of `stored` can be invoiced in its place. Its credit note is the document
    /// `correction:<seq>`; once it is booked, the credited invoice's row moves aside and the
    /// new version's row (returned) takes its place, in one write.
    pub(super) async fn credit_for_rebook(
        &self,
        stored: &StoredEvent,
        booked: OrderRecord,
        mut note: OrderRecord,
    ) -> Result<OrderRecord, TransferError> {
        let tenant = &self.tenant.id;
        let no_invoice = |why: &str| TransferError::NoInvoice {
            order: stored.order_id.clone(),
            event: "corrected version",
            why: why.to_owned(),
        };
        let booked_event = self
            .store
            .events_for_order(tenant, &stored.order_id)
            .await?
            .into_iter()
            .find(|e| e.seq == booked.event_seq)
            .ok_or_else(|| {
                no_invoice("was invoiced from an event that retention removed: credit it by hand")
            })?;
        let order: OrderEvent = serde_json::from_str(&booked_event.payload)
            .map_err(|e| TransferError::Payload(e.to_string()))?;
        if booked.invoice_number.is_none() {
            return Err(no_invoice("has no booked invoice to credit"));
        }
        if !note.step.is_final() {
            self.settle_foreign_call(&note).await;
            let settings = self.mapping_settings(Overrides::default());
            let invoiced_total = mapping::plan(tenant, &order, &settings)?.invoice.total;
            let refund = Refund {
                order_id: stored.order_id.clone(),
                refund_id: format!("rebook-{}", stored.seq),
                refunded_at: chrono::Utc::now(),
                lines: Vec::new(),
                shipping: None,
                amount: None,
                // What was registered as paid on the credited invoice goes back, so the new
                // invoice's own payment is the only one left.
                payment: order
                    .data
                    .payment
                    .clone()
                    .filter(|_| booked.payments_done > 0)
                    .map(|payment| crate::domain::order::Payment {
                        paid_at: chrono::Utc::now(),
                        ..payment
                    }),
                reason: Some(format!(
                    "order corrected: invoiced again from event {}",
                    stored.event_id
                )),
            };
            let plan = mapping::refund(
                tenant,
                &order,
                &refund,
                &settings,
                invoiced_total,
                Decimal::ZERO,
            )?;
            let invoiced = Invoiced {
                record: booked.clone(),
                order,
            };
            let detail = self.credit_steps(&mut note, &invoiced, &plan).await?;
            self.save(&mut note, Some(Step::Done), Some(detail)).await?;
        }
        let mut fresh = OrderRecord::new(tenant, &stored.order_id, stored.seq);
        fresh.step = Step::Received;
        let detail = format!(
            "invoice {} credited by credit note {}; the version of event {} is invoiced next",
            booked.invoice_number.unwrap_or_default(),
            note.invoice_number.unwrap_or_default(),
            stored.event_id
        );
        self.store
            .move_invoice_aside(
                &booked,
                &fresh,
                &[Reached::now("rebook", Some(detail))],
                self.fence,
            )
            .await?;
        Ok(fresh)
    }
}
