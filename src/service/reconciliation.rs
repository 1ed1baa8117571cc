//! Reconciliation: does the ledger agree with Dinero for a shop and a date range? On
//! request (admin API, `dinero-bridge reconcile`) and, when configured, every night for
//! yesterday and every shop, its findings counted in the metrics.

use chrono::NaiveDate;

use super::{Core, CoreError, CoreResult};
use crate::domain::TenantId;
use crate::pipeline::{Report, TransferError};

/// The longest range one reconciliation covers: a quarter (VAT periods are quarters).
pub const MAX_DAYS: i64 = 92;

/// What started a reconciliation: the metrics tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Request,
    Schedule,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Request => "request",
            Trigger::Schedule => "schedule",
        }
    }
}

/// Tenants read per page by the nightly run.
const TENANT_PAGE: i64 = 500;

impl Core {
    /// Reconcile a tenant's vouchers dated `from` to `to` (both included).
    pub async fn reconcile(
        &self,
        id: &TenantId,
        from: NaiveDate,
        to: NaiveDate,
        trigger: Trigger,
    ) -> CoreResult<Report> {
        let tenant = self.existing(id).await?;
        if to < from {
            return Err(CoreError::bad_input("invalid_range", "from is after to"));
        }
        if (to - from).num_days() >= MAX_DAYS {
            return Err(CoreError::bad_input(
                "invalid_range",
                format!("a reconciliation covers at most {MAX_DAYS} days"),
            ));
        }
        let result = self.pipeline.reconcile(&tenant, from, to).await;
        let outcome = if result.is_ok() { "ok" } else { "failed" };
        self.metrics
            .reconciliations
            .with_label_values(&[outcome, trigger.as_str()])
            .inc();
        let report = result.map_err(|error| match error {
            TransferError::Dinero(error) => CoreError::from_dinero(&error),
            TransferError::Store(error) => CoreError::Store(error),
            other => CoreError::Unavailable(other.to_string()),
        })?;
        for finding in &report.findings {
            self.metrics
                .reconciliation_findings
                .with_label_values(&[finding.finding.kind()])
                .inc();
        }
        if !report.findings.is_empty() {
            tracing::warn!(tenant = %id, %from, %to, findings = report.findings.len(),
                "the ledger and Dinero disagree: {}",
                report.findings.iter().map(|f| f.description.as_str()).collect::<Vec<_>>().join("; "));
        }
        Ok(report)
    }

    /// Reconcile `day` for every tenant, one after another (each through its organization's
    /// rate limit): how many were reconciled, and how many of them had findings.
    pub async fn reconcile_everyone(&self, day: NaiveDate) -> CoreResult<(usize, usize)> {
        let (mut tenants, mut with_findings) = (0, 0);
        let mut after = String::new();
        loop {
            let page = self.store.tenants(&after, TENANT_PAGE).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.id.clone();
            for tenant in &page {
                let Some(id) = TenantId::parse(&tenant.id) else {
                    continue;
                };
                tenants += 1;
                match self.reconcile(&id, day, day, Trigger::Schedule).await {
                    Ok(report) if !report.findings.is_empty() => with_findings += 1,
                    Ok(_) => {}
                    // One shop's failure (Dinero refusing its credentials) stops only its own.
                    Err(error) => {
                        tracing::warn!(tenant = %tenant.id, %error, "reconciliation failed")
                    }
                }
            }
        }
        Ok((tenants, with_findings))
    }
}
