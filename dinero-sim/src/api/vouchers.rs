//! Invoices and credit notes: create, fetch totals, get, list, update, delete, book; payments
//! on invoices; credit notes generated from an invoice or created on their own.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde_json::{json, Value};

use super::listing::{self, bool_param, changes_since, fields, param, Params};
use super::{org, parse_body, parse_guid};
use crate::error::{ApiError, ApiResult};
use crate::model::{
    BookInput, Collection, CreatedResponse, PaymentInput, TimestampInput, VoucherInput,
};
use crate::state::org::VoucherKind::{self, CreditNote, Invoice};
use crate::state::{filter, reference};
use crate::Sim;

const FILTERABLE: &[&str] = &["ExternalReference", "ContactGuid", "Description"];

fn optional_body<T: serde::de::DeserializeOwned + Default>(bytes: &Bytes) -> ApiResult<T> {
    if bytes.is_empty() {
        Ok(T::default())
    } else {
        parse_body(bytes)
    }
}

fn create(sim: &Sim, id: i64, kind: VoucherKind, body: &Bytes) -> ApiResult<Json<CreatedResponse>> {
    let input: VoucherInput = parse_body(body)?;
    if input.timestamp.is_some() {
        return Err(ApiError::field(
            "Timestamp",
            "is not a property of a new voucher",
        ));
    }
    let org = org(sim, id)?;
    let mut org = org.lock();
    let voucher = org.prepare(kind, input, &sim.world.behaviour)?;
    let (guid, time_stamp) = org.insert_voucher(voucher)?;
    Ok(Json(CreatedResponse { guid, time_stamp }))
}

fn get(sim: &Sim, id: i64, kind: VoucherKind, guid: &str) -> ApiResult<Json<Value>> {
    let guid = parse_guid(guid, "Voucher")?;
    let org = org(sim, id)?;
    let org = org.lock();
    let voucher = org.voucher(kind, guid)?;
    Ok(Json(org.voucher_json(voucher, sim.world.behaviour.today())))
}

fn book(sim: &Sim, id: i64, kind: VoucherKind, guid: &str, body: &Bytes) -> ApiResult<Json<Value>> {
    let guid = parse_guid(guid, "Voucher")?;
    let input: BookInput = parse_body(body)?;
    let org = org(sim, id)?;
    let mut org = org.lock();
    org.book(kind, guid, input, &sim.world.behaviour)?;
    let voucher = org.voucher(kind, guid)?;
    Ok(Json(org.voucher_json(voucher, sim.world.behaviour.today())))
}

fn list(sim: &Sim, id: i64, kind: VoucherKind, params: &Params) -> ApiResult<Collection> {
    let conditions = match param(params, "queryFilter") {
        Some(text) => filter::parse(text, FILTERABLE)
            .map_err(|e| ApiError::field("queryFilter", e.to_string()))?,
        None => Vec::new(),
    };
    let statuses: Option<Vec<String>> = param(params, "statusFilter").map(|s| {
        s.split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .collect()
    });
    let dates = match (param(params, "startDate"), param(params, "endDate")) {
        (Some(start), Some(end)) => Some((parse_date(start)?, parse_date(end)?)),
        (None, None) => None,
        _ => {
            return Err(ApiError::validation(
                "startDate and endDate must be given together",
            ))
        }
    };
    let since = changes_since(params)?;
    let deleted_only = bool_param(params, "deletedOnly")?.unwrap_or(false);
    let free_text = param(params, "freeTextSearch").map(str::to_lowercase);
    let today = sim.world.behaviour.today();
    let org = org(sim, id)?;
    let org = org.lock();
    let all = org.vouchers(kind);
    let mut rows: Vec<_> = all
        .values()
        .filter(|v| v.deleted_at.is_some() == deleted_only)
        .filter(|v| since.is_none_or(|since| v.updated_at >= since))
        .filter(|v| match &statuses {
            Some(wanted) => wanted.contains(&v.payment_status(today).to_ascii_lowercase()),
            None => true,
        })
        // Dinero ignores drafts when a date range is given.
        .filter(|v| {
            dates.is_none_or(|(start, end)| v.is_booked() && v.date >= start && v.date <= end)
        })
        .filter(|v| {
            let contact = v.input.contact_guid.map(|g| g.to_string());
            filter::matches(&conditions, |field| match field {
                "ExternalReference" => v.input.external_reference.as_deref(),
                "Description" => v.input.description.as_deref(),
                "ContactGuid" => contact.as_deref(),
                _ => None,
            })
        })
        .map(|v| org.voucher_json(v, today))
        .filter(|row| match &free_text {
            Some(text) => ["Number", "ContactName", "Description", "TotalInclVat"]
                .iter()
                .any(|key| row[key].to_string().to_lowercase().contains(text)),
            None => true,
        })
        .collect();
    let descending =
        !param(params, "sortOrder").is_some_and(|o| o.eq_ignore_ascii_case("ascending"));
    let sort = param(params, "sort")
        .unwrap_or("VoucherNumber")
        .to_ascii_lowercase();
    let key = |row: &Value| match sort.split(',').next().unwrap_or_default() {
        "voucherdate" => row["Date"].as_str().unwrap_or_default().to_owned(),
        "status" => row["Status"].as_str().unwrap_or_default().to_owned(),
        "contact" => row["ContactName"].as_str().unwrap_or_default().to_owned(),
        _ => format!("{:020}", row["Number"].as_i64().unwrap_or(0)),
    };
    rows.sort_by_cached_key(key);
    if descending {
        rows.reverse();
    }
    for row in &mut rows {
        if kind == Invoice {
            row["Type"] = json!("Invoice");
        }
        // At the day's rate (state::reference::DKK_PER_100), as Dinero converts.
        let rate = row["Currency"]
            .as_str()
            .and_then(reference::dkk_per_100)
            .unwrap_or(rust_decimal::Decimal::ONE_HUNDRED);
        for (total, in_dkk) in [
            ("TotalExclVat", "TotalExclVatInDkk"),
            ("TotalInclVat", "TotalInclVatInDkk"),
        ] {
            row[in_dkk] = in_dkk_value(&row[total], rate);
        }
    }
    listing::page(
        params,
        rows,
        all.len(),
        &fields(params, "Guid,ContactName,Date,Description"),
    )
}

/// A total converted to DKK at `rate` (per 100), rounded to øre, as a JSON number.
fn in_dkk_value(total: &Value, rate: rust_decimal::Decimal) -> Value {
    let amount: Option<rust_decimal::Decimal> = match total {
        Value::Number(n) => n.to_string().parse().ok(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    match amount {
        Some(amount) => {
            let dkk = (amount * rate / rust_decimal::Decimal::ONE_HUNDRED)
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            serde_json::from_str(&dkk.to_string()).unwrap_or(Value::Null)
        }
        None => Value::Null,
    }
}

fn uuid_of(row: &Value) -> uuid::Uuid {
    row["Guid"]
        .as_str()
        .and_then(|g| g.parse().ok())
        .unwrap_or_default()
}

fn parse_date(text: &str) -> ApiResult<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| ApiError::validation(format!("'{text}' is not a date (YYYY-MM-DD)")))
}

pub async fn create_invoice(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<CreatedResponse>> {
    create(&sim, id, Invoice, &body)
}

pub async fn fetch_invoice(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let input: VoucherInput = parse_body(&body)?;
    let org = org(&sim, id)?;
    let org = org.lock();
    let voucher = org.prepare(Invoice, input, &sim.world.behaviour)?;
    let mut json = org.voucher_json(&voucher, sim.world.behaviour.today());
    // The fetch model is the read model without identity, status, mail-out or change times.
    let map = json.as_object_mut().expect("voucher json is an object");
    for key in [
        "Guid",
        "TimeStamp",
        "Status",
        "PaymentStatus",
        "MailOutStatus",
        "LatestMailOutType",
        "CreatedAt",
        "UpdatedAt",
        "DeletedAt",
    ] {
        map.remove(key);
    }
    map.insert("CanEnableMobilePayInvoice".into(), json!(false));
    map.insert("CanEnablePensoPay".into(), json!(false));
    Ok(Json(json))
}

pub async fn get_invoice(
    State(sim): State<Arc<Sim>>,
    Path((id, guid)): Path<(i64, String)>,
) -> ApiResult<Json<Value>> {
    let Json(json) = get(&sim, id, Invoice, &guid)?;
    Ok(Json(invoice_read_model(json)))
}

/// `InvoiceReadModel`: the shared voucher fields plus the invoice-only ones.
fn invoice_read_model(mut json: Value) -> Value {
    for key in [
        "IsSentToDebtCollection",
        "IsMobilePayInvoiceEnabled",
        "IsPensoPayEnabled",
    ] {
        json[key] = json!(false);
    }
    for key in ["FikCode", "DepositAccountNumber"] {
        json[key] = Value::Null;
    }
    json
}

pub async fn list_invoices(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<i64>,
    Query(params): Query<Params>,
) -> ApiResult<Json<Collection>> {
    list(&sim, id, Invoice, &params).map(Json)
}

pub async fn update_invoice(
    State(sim): State<Arc<Sim>>,
    Path((id, guid)): Path<(i64, String)>,
    body: Bytes,
) -> ApiResult<Json<CreatedResponse>> {
    let guid = parse_guid(&guid, "Invoice")?;
    let input: VoucherInput = parse_body(&body)?;
    let org = org(&sim, id)?;
    let time_stamp = org
        .lock()
        .update_voucher(Invoice, guid, input, &sim.world.behaviour)?;
    Ok(Json(CreatedResponse { guid, time_stamp }))
}

pub async fn delete_invoice(
    State(sim): State<Arc<Sim>>,
    Path((id, guid)): Path<(i64, String)>,
    body: Bytes,
) -> ApiResult<()> {
    let guid = parse_guid(&guid, "Invoice")?;
    let input: TimestampInput = optional_body(&body)?;
    let org = org(&sim, id)?;
    let mut org = org.lock();
    org.delete_voucher(Invoice, guid, input.timestamp, &sim.world.behaviour)
}

pub async fn book_invoice(
    State(sim): State<Arc<Sim>>,
    Path((id, guid)): Path<(i64, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let Json(json) = book(&sim, id, Invoice, &guid, &body)?;
    Ok(Json(invoice_read_model(json)))
}

/// `ApiMailoutModel`: only `ShouldAddTrustPilotEmailAsBcc` is required.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MailOutInput {
    should_add_trust_pilot_email_as_bcc: bool,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    receiver: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

pub async fn email_invoice(
    State(sim): State<Arc<Sim>>,
    Path((id, guid)): Path<(i64, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let guid = parse_guid(&guid, "Invoice")?;
    let input: MailOutInput = parse_body(&body)?;
    let _ = input.should_add_trust_pilot_email_as_bcc;
    if input
        .message
        .as_deref()
        .is_some_and(|m| !m.contains("[link-to-pdf]"))
    {
        return Err(ApiError::field("Message", "must contain [link-to-pdf]"));
    }
    org(&sim, id)?.lock().mail_out(
        guid,
        "Mailout",
        input.receiver,
        input.timestamp.as_deref(),
        &sim.world.behaviour,
    )?;
    Ok(Json(json!({})))
}

/// `POST /v3/{org}/invoices/{guid}/e-invoice` (NemHandel to the contact's EAN). Its body is
/// not in the published document ([U] in ../shared/dinero): an optional `Timestamp` is read.
pub async fn e_invoice(
    State(sim): State<Arc<Sim>>,
    Path((id, guid)): Path<(i64, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let guid = parse_guid(&guid, "Invoice")?;
    let timestamp = if body.is_empty() {
        None
    } else {
        let json: Value = parse_body(&body)?;
        json["Timestamp"].as_str().map(str::to_owned)
    };
    org(&sim, id)?.lock().mail_out(
        guid,
        "Einvoice",
        None,
        timestamp.as_deref(),
        &sim.world.behaviour,
    )?;
    Ok(Json(json!({})))
}

pub async fn create_payment(
    State(sim): State<Arc<Sim>>,
    Path((id, guid)): Path<(i64, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    add_payment(&sim, id, Invoice, &guid, &body)
}

/// `POST sales/creditnotes/{guid}/payments`: a refund paid out; same model as on invoices.
pub async fn create_credit_note_payment(
    State(sim): State<Arc<Sim>>,
    Path((id, guid)): Path<(i64, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    add_payment(&sim, id, CreditNote, &guid, &body)
}

fn add_payment(
    sim: &Sim,
    id: i64,
    kind: VoucherKind,
    guid: &str,
    body: &Bytes,
) -> ApiResult<Json<Value>> {
    let guid = parse_guid(guid, kind.noun())?;
    let input: PaymentInput = parse_body(body)?;
    let org = org(sim, id)?;
    let (payment, time_stamp) = org
        .lock()
        .add_payment(kind, guid, input, &sim.world.behaviour)?;
    Ok(Json(
        json!({"Guid": payment, "TimeStamp": time_stamp, "RelatedVoucherGuid": guid}),
    ))
}

pub async fn list_payments(
    State(sim): State<Arc<Sim>>,
    Path((id, guid)): Path<(i64, String)>,
) -> ApiResult<Json<Value>> {
    read_payments(&sim, id, Invoice, &guid)
}

/// `GET sales/creditnotes/{guid}/payments` answers `InvoicePaymentsModel`, as on invoices.
pub async fn list_credit_note_payments(
    State(sim): State<Arc<Sim>>,
    Path((id, guid)): Path<(i64, String)>,
) -> ApiResult<Json<Value>> {
    read_payments(&sim, id, CreditNote, &guid)
}

fn read_payments(sim: &Sim, id: i64, kind: VoucherKind, guid: &str) -> ApiResult<Json<Value>> {
    let guid = parse_guid(guid, kind.noun())?;
    let org = org(sim, id)?;
    let org = org.lock();
    let voucher = org.voucher(kind, guid)?;
    Ok(Json(org.payments_json(voucher)))
}

pub async fn delete_payment(
    State(sim): State<Arc<Sim>>,
    Path((id, guid, payment)): Path<(i64, String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let guid = parse_guid(&guid, "Invoice")?;
    let payment = parse_guid(&payment, "Payment")?;
    let input: TimestampInput = parse_body(&body)?;
    let timestamp = input
        .timestamp
        .ok_or_else(|| ApiError::field("Timestamp", "is required"))?;
    let org = org(&sim, id)?;
    let time_stamp = org
        .lock()
        .delete_payment(guid, payment, &timestamp, &sim.world.behaviour)?;
    Ok(Json(json!({ "TimeStamp": time_stamp })))
}

pub async fn generate_credit_note(
    State(sim): State<Arc<Sim>>,
    Path((id, guid)): Path<(i64, String)>,
    body: Bytes,
) -> ApiResult<Json<CreatedResponse>> {
    let guid = parse_guid(&guid, "Invoice")?;
    let input: TimestampInput = optional_body(&body)?;
    let org = org(&sim, id)?;
    let (guid, time_stamp) =
        org.lock()
            .generate_credit_note(guid, input.timestamp, &sim.world.behaviour)?;
    Ok(Json(CreatedResponse { guid, time_stamp }))
}

pub async fn create_credit_note(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<CreatedResponse>> {
    let input: VoucherInput = parse_body(&body)?;
    for (present, field) in [
        (
            input.payment_condition_type.is_some(),
            "PaymentConditionType",
        ),
        (
            input.payment_condition_number_of_days.is_some(),
            "PaymentConditionNumberOfDays",
        ),
        (input.reminder_fee.is_some(), "ReminderFee"),
        (
            input.reminder_interest_rate.is_some(),
            "ReminderInterestRate",
        ),
    ] {
        if present {
            return Err(ApiError::field(field, "is not a property of a credit note"));
        }
    }
    create(&sim, id, CreditNote, &body)
}

pub async fn list_credit_notes(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<i64>,
    Query(params): Query<Params>,
) -> ApiResult<Json<Collection>> {
    list(&sim, id, CreditNote, &params).map(Json)
}

pub async fn get_credit_note(
    State(sim): State<Arc<Sim>>,
    Path((id, guid)): Path<(i64, String)>,
) -> ApiResult<Json<Value>> {
    let Json(mut json) = get(&sim, id, CreditNote, &guid)?;
    add_credit_note_fields(&sim, id, &mut json)?;
    Ok(Json(json))
}

/// Dinero's OpenAPI document gives this answer the `InvoiceReadModel` schema (no
/// `CreditNoteFor`), so the simulator answers in that shape.
pub async fn book_credit_note(
    State(sim): State<Arc<Sim>>,
    Path((id, guid)): Path<(i64, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let Json(json) = book(&sim, id, CreditNote, &guid, &body)?;
    Ok(Json(invoice_read_model(json)))
}

/// The credit-note read model: `CreditNoteFor` instead of the invoice's payment terms.
fn add_credit_note_fields(sim: &Sim, id: i64, json: &mut Value) -> ApiResult<()> {
    let guid = uuid_of(json);
    let org = org(sim, id)?;
    let org = org.lock();
    let note = org.voucher(CreditNote, guid)?;
    let map = json.as_object_mut().expect("voucher json is an object");
    for key in [
        "PaymentDate",
        "PaymentConditionType",
        "PaymentConditionNumberOfDays",
    ] {
        map.remove(key);
    }
    map.insert("CreditNoteFor".into(), json!(note.input.credit_note_for));
    map.insert("MailOutStatus".into(), Value::Null);
    map.insert("LatestMailOutType".into(), Value::Null);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_in_dkk_are_converted_at_the_days_rate_to_the_ore() {
        let eur = reference::dkk_per_100("EUR").unwrap();
        assert_eq!(in_dkk_value(&json!(100), eur), json!(746.04));
        // 248.655: half an øre rounds away from zero.
        assert_eq!(in_dkk_value(&json!("33.33"), eur), json!(248.66));
        let dkk = reference::dkk_per_100("dkk").unwrap();
        assert_eq!(in_dkk_value(&json!(12.5), dkk), json!(12.5));
        assert_eq!(in_dkk_value(&Value::Null, eur), Value::Null);
        assert_eq!(reference::dkk_per_100("XYZ"), None);
    }
}
