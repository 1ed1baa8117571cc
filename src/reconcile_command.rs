//! The `reconcile` command: a running service reconciles a shop's ledger with Dinero for a
//! date range (`POST /v1/tenants/{id}/reconciliations`); the report is printed for a person,
//! or as it came with `--json`.

use chrono::NaiveDate;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("the service refused the reconciliation ({status}): {detail}")]
    Refused { status: u16, detail: String },
    #[error("the service cannot be reached: {0}")]
    Unreachable(String),
}

/// Where to ask, as whom, about which shop and days.
pub struct ReconcileTarget<'a> {
    pub url: &'a str,
    pub token: &'a str,
    pub tenant: &'a str,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The service's report (JSON).
pub async fn reconcile(target: &ReconcileTarget<'_>) -> Result<Value, ReconcileError> {
    let url = format!(
        "{}/v1/tenants/{}/reconciliations",
        target.url.trim_end_matches('/'),
        target.tenant
    );
    let response = reqwest::Client::new()
        .post(url)
        .bearer_auth(target.token)
        .json(&serde_json::json!({"from": target.from, "to": target.to}))
        .send()
        .await
        .map_err(|e| ReconcileError::Unreachable(e.to_string()))?;
    let status = response.status().as_u16();
    let body: Value = response
        .json()
        .await
        .map_err(|e| ReconcileError::Unreachable(e.to_string()))?;
    if status != 200 {
        let detail = body["detail"].as_str().unwrap_or("no detail").to_owned();
        return Err(ReconcileError::Refused { status, detail });
    }
    Ok(body)
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
