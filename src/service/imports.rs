//! History import: a shop's past order events (JSON lines, each as the webhook takes it)
//! through the same checks and inbox, marked imported, and a job that transfers them through
//! the shop's lane after its live orders. Importing the same lines again changes nothing: the
//! inbox knows every event id.

use std::sync::Arc;

use serde::Serialize;

use super::checks;
use super::{Core, CoreError, CoreResult, Origin, Receipt};
use crate::domain::transfer_job::{JobKind, TransferJob, MAX_JOB_ORDERS};
use crate::domain::{Accepted, TenantId};
use crate::pipeline::Overrides;

/// What an import took.
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    /// Lines with an event (blank lines are skipped).
    pub lines: usize,
    pub accepted: usize,
    /// In the inbox already: imported before, or sent live.
    pub duplicates: usize,
    /// The same order and document with other content: kept aside, as for webhooks.
    pub conflicts: usize,
    pub refused: Vec<RefusedLine>,
    /// The job transferring what was accepted (one entry an event, in the file's order);
    /// absent when nothing new was accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<TransferJob>,
}

/// A line that is not an acceptable event, and why.
#[derive(Debug, Serialize)]
pub struct RefusedLine {
    /// Its number in the file (from `first_line`).
    pub line: usize,
    pub code: &'static str,
    pub reason: String,
}

impl Core {
    /// Import `body`'s lines, the first numbered `first_line`.
    pub async fn import(
        self: Arc<Self>,
        id: &TenantId,
        body: &[u8],
        first_line: usize,
    ) -> CoreResult<ImportReport> {
        self.existing(id).await?;
        let lines: Vec<(usize, &[u8])> = body
            .split(|b| *b == b'\n')
            .enumerate()
            .map(|(index, line)| (first_line + index, line.trim_ascii()))
            .filter(|(_, line)| !line.is_empty())
            .collect();
        if lines.is_empty() {
            return Err(CoreError::bad_input(
                "no_lines",
                "the body holds no events: one JSON event a line",
            ));
        }
        if lines.len() > MAX_JOB_ORDERS {
            return Err(CoreError::bad_input(
                "too_many_lines",
                format!("{} events in one request; send at most {MAX_JOB_ORDERS} (the CLI splits a file)", lines.len()),
            ));
        }
        let mut report = ImportReport {
            lines: lines.len(),
            ..ImportReport::default()
        };
        let mut imported = Vec::new();
        for (number, line) in lines {
            let refuse = |code, reason| RefusedLine {
                line: number,
                code,
                reason,
            };
            let checked = match checks::check(line) {
                Ok(checked) => checked,
                Err(error) => {
                    report.refused.push(refuse(error.code(), error.describe()));
                    continue;
                }
            };
            if checked.event.tenant() != id.as_str() {
                let reason = "the event's tenantid is not this tenant".to_owned();
                report.refused.push(refuse("tenant_mismatch", reason));
                continue;
            }
            match self.submit(&checked, Origin::Import).await? {
                Receipt::Inbox(Accepted::New { .. } | Accepted::Replaced { .. }) => {
                    report.accepted += 1;
                    imported.push(checked.event.order_id().to_owned());
                }
                Receipt::Inbox(
                    Accepted::DuplicateEvent { .. } | Accepted::DuplicateOrder { .. },
                ) => report.duplicates += 1,
                Receipt::Inbox(Accepted::Conflict { .. }) => report.conflicts += 1,
                // Imports go to the inbox, never the input topic.
                Receipt::Topic { .. } => report.accepted += 1,
            }
        }
        if !imported.is_empty() {
            // An order's later events (a refund) are entries of their own: each turn of the
            // job transfers the order's earliest waiting event.
            let job = self
                .clone()
                .create_job(id, JobKind::Import, imported, Overrides::default())
                .await?;
            report.job = Some(job);
        }
        Ok(report)
    }
}
