//! The `reconcile` command: a running service reconciles a shop's ledger with Dinero for a
//! date range (`POST /v1/tenants/{id}/reconciliations`); the report is printed for a person,
//! or as it came with `--json`.

use chrono::NaiveDate;
use serde_json::Value;

use crate::admin_client::{AdminApi, AdminApiError, Body};

/// Where to ask, as whom, about which shop and days.
pub struct ReconcileTarget<'a> {
    pub url: &'a str,
    pub token: &'a str,
    pub tenant: &'a str,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The service's report (JSON).
pub async fn reconcile(target: &ReconcileTarget<'_>) -> Result<Value, AdminApiError> {
    let path = format!("/v1/tenants/{}/reconciliations", target.tenant);
    let range = serde_json::json!({"from": target.from, "to": target.to});
    AdminApi::new(target.url, target.token)
        .call(reqwest::Method::POST, &path, Body::Json(&range))
        .await
}

/// The report for a person: what was compared, then each difference on a line.
pub fn readable(report: &Value) -> String {
    let count = |key: &str| report[key].as_u64().unwrap_or(0);
    let mut text = format!(
        "{}, {} to {}: {} vouchers in the ledger, {} invoices and {} credit notes in Dinero ({} calls)\n",
        report["tenant_id"].as_str().unwrap_or("?"),
        report["from"].as_str().unwrap_or("?"),
        report["to"].as_str().unwrap_or("?"),
        count("ledger_vouchers"),
        count("dinero_invoices"),
        count("dinero_credit_notes"),
        count("dinero_calls"),
    );
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    if findings.is_empty() {
        text.push_str("the ledger and Dinero agree\n");
        return text;
    }
    text.push_str(&format!("{} differences:\n", findings.len()));
    for finding in &findings {
        text.push_str(&format!(
            "  {:<18} {}\n",
            finding["kind"].as_str().unwrap_or("?"),
            finding["description"].as_str().unwrap_or("?")
        ));
    }
    text
}

/// Differences were found.
pub fn has_findings(report: &Value) -> bool {
    report["findings"].as_array().is_some_and(|f| !f.is_empty())
}
