//! Contacts: list (v1, v2) with `queryFilter`, `fields` and paging; create; get; update (v2).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde_json::{json, Value};

use super::listing::{self, bool_param, changes_since, fields, param, Params};
use super::{org, parse_body, parse_guid};
use crate::error::ApiResult;
use crate::model::{Collection, ContactInput};
use crate::state::filter;
use crate::Sim;

const FILTERABLE: &[&str] = &[
    "ExternalReference",
    "Name",
    "Email",
    "VatNumber",
    "EanNumber",
    "IsPerson",
    "Phone",
];

pub async fn list_v1(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<i64>,
    Query(params): Query<Params>,
) -> ApiResult<Json<Collection>> {
    list(&sim, id, &params).map(Json)
}

/// v2 lists deleted and live contacts unless `deletedOnly` says otherwise; the simulator
/// never deletes contacts, so both versions list the same rows.
pub async fn list_v2(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<i64>,
    Query(params): Query<Params>,
) -> ApiResult<Json<Collection>> {
    list(&sim, id, &params).map(Json)
}

fn list(sim: &Sim, id: i64, params: &Params) -> ApiResult<Collection> {
    let conditions = match param(params, "queryFilter") {
        Some(text) => filter::parse(text, FILTERABLE)
            .map_err(|e| crate::error::ApiError::field("queryFilter", e.to_string()))?,
        None => Vec::new(),
    };
    let since = changes_since(params)?;
    let deleted_only = bool_param(params, "deletedOnly")?.unwrap_or(false);
    let org = org(sim, id)?;
    let org = org.lock();
    let rows: Vec<Value> = org
        .contacts
        .values()
        .filter(|_| !deleted_only)
        .filter(|c| since.is_none_or(|since| c.updated_at >= since))
        .filter(|c| {
            let is_person = if c.input.is_person { "true" } else { "false" };
            filter::matches(&conditions, |field| match field {
                "ExternalReference" => c.input.external_reference.as_deref(),
                "Name" => Some(c.input.name.as_str()),
                "Email" => c.input.email.as_deref(),
                "VatNumber" => c.input.vat_number.as_deref(),
                "EanNumber" => c.input.ean_number.as_deref(),
                "Phone" => c.input.phone.as_deref(),
                "IsPerson" => Some(is_person),
                _ => None,
            })
        })
        .map(|c| org.contact_json(c))
        .collect();
    listing::page(
        params,
        rows,
        org.contacts.len(),
        &fields(params, "name,contactGuid"),
    )
}

pub async fn create(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let input: ContactInput = parse_body(&body)?;
    let org = org(&sim, id)?;
    let guid = org
        .lock()
        .create_contact(input, sim.world.behaviour.now())?;
    Ok(Json(json!({ "ContactGuid": guid })))
}

pub async fn get_one(
    State(sim): State<Arc<Sim>>,
    Path((id, guid)): Path<(i64, String)>,
) -> ApiResult<Json<Value>> {
    let guid = parse_guid(&guid, "Contact")?;
    let org = org(&sim, id)?;
    let org = org.lock();
    let contact = org
        .contacts
        .get(&guid)
        .ok_or_else(|| crate::error::ApiError::not_found("Contact"))?;
    Ok(Json(org.contact_json(contact)))
}

pub async fn update(
    State(sim): State<Arc<Sim>>,
    Path((id, guid)): Path<(i64, String)>,
    body: Bytes,
) -> ApiResult<()> {
    let guid = parse_guid(&guid, "Contact")?;
    let input: ContactInput = parse_body(&body)?;
    if input.contact_guid.is_some() {
        return Err(crate::error::ApiError::field(
            "ContactGuid",
            "cannot be changed",
        ));
    }
    let org = org(&sim, id)?;
    let now = sim.world.behaviour.now();
    let result = org.lock().update_contact(guid, input, now);
    result
}
