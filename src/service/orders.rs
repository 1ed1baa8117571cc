//! Orders: the per-order log that operators and merchants read, and the manual transfer.

use serde::Serialize;
use serde_json::Value;

use super::{Core, CoreError, CoreResult};
use crate::domain::money_events::{CANCELLATION, INVOICE};
use crate::domain::{DeadLetter, HistoryEntry, OrderSummary, Tenant};
use crate::domain::{OrderId, TenantId};
use crate::pipeline::{ManualError, Overrides, PipelineError};
use crate::store::{ConflictResolution, ConflictResolved, OrderFilter};

/// The statuses an order can be listed by.
pub const ORDER_STATUSES: &[&str] = &[
    "pending",
    "held",
    "in_progress",
    "awaiting_payment",
    "cancelled",
    "done",
    "failed",
    "resolved",
    "imported",
    "conflict",
];

/// The most orders one page holds.
pub const MAX_PAGE: i64 = 5_000;

/// A page of the orders list.
#[derive(Debug, Clone, Default)]
pub struct OrderQuery {
    pub status: Option<String>,
    /// The cursor: the `next_after` of the page before.
    pub after: Option<i64>,
    pub limit: i64,
}

#[derive(Debug, Serialize)]
pub struct OrderPage {
    pub orders: Vec<OrderSummary>,
    /// Pass as `after` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<i64>,
}

/// One order in full: its summary, history, events and dead letters.
#[derive(Debug, Serialize)]
pub struct OrderDetail {
    #[serde(flatten)]
    pub summary: OrderSummary,
    pub history: Vec<HistoryEntry>,
    /// The order's later documents: credit notes of refunds and a cancellation, payments
    /// registered after booking.
    pub documents: Vec<DocumentView>,
    pub events: Vec<EventView>,
    pub dead_letters: Vec<DeadLetter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_paused: Option<PauseView>,
}

#[derive(Debug, Serialize)]
pub struct EventView {
    pub event_id: String,
    /// The document it makes: `invoice`, `refund:<id>`, `cancel` or `paid:<id>`.
    pub document: String,
    pub sequence: i64,
    pub status: &'static str,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub payload: Value,
}

#[derive(Debug, Serialize)]
pub struct DocumentView {
    pub document: String,
    pub step: crate::domain::Step,
    /// The credit note in Dinero (for `paid:<id>`, the invoice paid).
    pub dinero_guid: Option<uuid::Uuid>,
    pub number: Option<i64>,
    /// A credit note's total including VAT, in the order's currency.
    pub amount: Option<rust_decimal::Decimal>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct PauseView {
    pub reason: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Its waiting orders are held: paused, or transferring by hand only.
pub(super) fn held(tenant: &Tenant) -> bool {
    tenant.paused.is_some() || !tenant.settings.auto_transfer
}

fn unknown_order(order: &OrderId) -> CoreError {
    CoreError::NotFound {
        code: "unknown_order",
        message: format!("no order '{order}' for this tenant"),
    }
}

impl Core {
    pub async fn orders(&self, id: &TenantId, query: OrderQuery) -> CoreResult<OrderPage> {
        let tenant = self.existing(id).await?;
        if let Some(wanted) = &query.status {
            if !ORDER_STATUSES.contains(&wanted.as_str()) {
                return Err(CoreError::bad_input(
                    "invalid_status",
                    format!("status is one of {}", ORDER_STATUSES.join(", ")),
                ));
            }
        }
        if !(1..=MAX_PAGE).contains(&query.limit) {
            return Err(CoreError::bad_input(
                "invalid_limit",
                format!("limit is 1 to {MAX_PAGE}"),
            ));
        }
        if query.after.is_some_and(|after| after < 0) {
            return Err(CoreError::bad_input(
                "invalid_cursor",
                "after is the next_after of an earlier page",
            ));
        }
        let limit = query.limit;
        let orders = self
            .store
            .order_summaries(&OrderFilter {
                tenant: id.as_str(),
                held: held(&tenant),
                status: query.status.as_deref(),
                order_id: None,
                after_seq: query.after.unwrap_or(0),
                limit,
            })
            .await?;
        let next_after = (orders.len() as i64 == limit)
            .then(|| orders.last().map(|o| o.seq))
            .flatten();
        Ok(OrderPage { orders, next_after })
    }

    async fn summary(&self, tenant: &Tenant, order: &OrderId) -> CoreResult<OrderSummary> {
        self.store
            .order_summaries(&OrderFilter {
                tenant: &tenant.id,
                held: held(tenant),
                status: None,
                order_id: Some(order.as_str()),
                after_seq: 0,
                limit: 1,
            })
            .await?
            .pop()
            .ok_or_else(|| unknown_order(order))
    }

    pub async fn order(&self, id: &TenantId, order: &OrderId) -> CoreResult<OrderDetail> {
        let tenant = self.existing(id).await?;
        let summary = self.summary(&tenant, order).await?;
        let (tenant_id, order_id) = (id.as_str(), order.as_str());
        let events = self
            .store
            .events_for_order(tenant_id, order_id)
            .await?
            .into_iter()
            .map(|e| EventView {
                event_id: e.event_id,
                document: e.document,
                sequence: e.seq,
                status: e.status.as_str(),
                received_at: e.received_at,
                payload: serde_json::from_str(&e.payload).unwrap_or(Value::Null),
            })
            .collect();
        let dead_letters = self
            .store
            .dead_letters(tenant_id)
            .await?
            .into_iter()
            .filter(|d| d.order_id == order_id)
            .collect();
        let documents = self
            .store
            .documents(tenant_id, order_id)
            .await?
            .into_iter()
            .filter(|d| d.document != crate::domain::money_events::INVOICE)
            .map(|d| DocumentView {
                document: d.document,
                step: d.step,
                dinero_guid: d.invoice_guid,
                number: d.invoice_number,
                amount: d.amount,
                error: d.error,
            })
            .collect();
        Ok(OrderDetail {
            summary,
            history: self.store.order_history(tenant_id, order_id).await?,
            documents,
            events,
            dead_letters,
            tenant_paused: tenant.paused.map(|p| PauseView {
                reason: p.reason,
                at: p.at,
            }),
        })
    }

    /// The shop's "transfer" button: one order now, also while the tenant is paused. The
    /// summary afterwards, and whether it is done.
    pub async fn transfer(
        &self,
        id: &TenantId,
        order: &OrderId,
        overrides: Overrides,
    ) -> CoreResult<(OrderSummary, bool)> {
        self.existing(id).await?;
        let record = self
            .pipeline
            .transfer_now(id.as_str(), order.as_str(), overrides)
            .await
            .map_err(|error| match error {
                PipelineError::Manual(ManualError::NotReceived(_)) => unknown_order(order),
                PipelineError::Manual(ManualError::Store(store)) => CoreError::Store(store),
                PipelineError::ShuttingDown => {
                    CoreError::Unavailable("shutting down; retry later".into())
                }
            })?;
        let tenant = self.existing(id).await?;
        Ok((self.summary(&tenant, order).await?, record.step.is_final()))
    }

    /// Resolve an order's conflict: keep the booked invoice (the other versions set aside),
    /// or credit it and invoice the newest version instead, now, also while the tenant is
    /// paused. What changed, the summary afterwards, and whether the order is through.
    pub async fn resolve_conflict(
        &self,
        id: &TenantId,
        order: &OrderId,
        resolution: ConflictResolution,
    ) -> CoreResult<(ConflictResolved, OrderSummary, bool)> {
        let tenant = self.existing(id).await?;
        let documents = self.store.documents(id.as_str(), order.as_str()).await?;
        let invoice = documents.iter().find(|d| d.document == INVOICE);
        let number = invoice.and_then(|i| i.invoice_number);
        let conflict = |code, message: String| CoreError::Conflict {
            code,
            message,
            details: Default::default(),
        };
        let note = match resolution {
            ConflictResolution::KeepBooked => format!(
                "conflict resolved: the invoice{} made from the first version kept, the other \
                 versions set aside",
                number.map(|n| format!(" {n}")).unwrap_or_default()
            ),
            ConflictResolution::Rebook => {
                let Some(number) = number.filter(|_| invoice.is_some_and(|i| i.step.is_final()))
                else {
                    return Err(conflict(
                        "not_booked",
                        format!(
                            "order '{order}' has no booked invoice to credit: a rebook credits \
                             one; keep the booked version, or book it first"
                        ),
                    ));
                };
                // A refund or cancellation credited the invoice in part or in full: a full
                // credit note on top would take back more than is left. (An earlier rebook's
                // credit note is of the invoice before this one.)
                let credited = documents.iter().any(|d| {
                    d.invoice_guid.is_some()
                        && (d.document == CANCELLATION || d.document.starts_with("refund:"))
                });
                if credited {
                    return Err(conflict(
                        "credited",
                        format!(
                            "invoice {number} of order '{order}' was credited in part or in \
                             full already (a refund or cancellation): correct it in Dinero by \
                             hand and keep the booked version"
                        ),
                    ));
                }
                format!(
                    "conflict resolved: invoice {number} to be credited and the newest version \
                     invoiced instead"
                )
            }
        };
        let resolved = self
            .store
            .resolve_conflict(id.as_str(), order.as_str(), resolution, &note)
            .await?
            .ok_or_else(|| {
                conflict(
                    "no_conflict",
                    format!("order '{order}' has no conflicting version to resolve"),
                )
            })?;
        if resolved.rebook.is_none() {
            return Ok((resolved, self.summary(&tenant, order).await?, true));
        }
        let (summary, done) = self.transfer(id, order, Overrides::default()).await?;
        Ok((resolved, summary, done))
    }
}
