//! Read models: organizations (v1, v1.1), entry and deposit accounts, VAT types, countries.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::gate::Caller;
use super::listing::{fields, param, project};
use crate::error::ApiResult;
use crate::state::reference::COUNTRIES;
use crate::Sim;

type Params = HashMap<String, String>;

fn organization_rows(sim: &Sim, caller: &Caller, v1_1: bool) -> Vec<Value> {
    let mut rows = Vec::new();
    for id in caller.0.organizations() {
        let Some(org) = sim.world.org(id) else {
            continue;
        };
        let org = org.lock();
        let mut row = json!({
            "Name": org.name, "Id": org.id, "IsVatFree": org.is_vat_free, "IsTaxFreeUnion": false,
            "Email": null, "Phone": null, "Street": null, "City": null, "ZipCode": null,
            "AttPerson": null, "VatNumber": null, "CountryKey": "DK", "Website": null,
        });
        if v1_1 {
            row["CompanyTypeKey"] = json!("ApS");
            row["RoleKey"] = json!("Owner");
            row["Subscription"] = json!({
                "HasPro": org.is_pro, "HasPayingPro": org.is_pro, "HasStarterPlus": false,
                "HasTotal": false, "HasYfs": false,
            });
        } else {
            row["Type"] = json!("Company");
            row["IsPro"] = json!(org.is_pro);
            row["IsPayingPro"] = json!(org.is_pro);
        }
        rows.push(row);
    }
    rows
}

pub async fn organizations(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<Params>,
) -> Json<Vec<Value>> {
    let wanted = fields(&params, "id,name,isPro");
    Json(
        organization_rows(&sim, &caller, false)
            .iter()
            .map(|r| project(r, &wanted))
            .collect(),
    )
}

pub async fn organizations_v1_1(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<Params>,
) -> Json<Vec<Value>> {
    maybe_project(&params, organization_rows(&sim, &caller, true))
}

pub async fn countries() -> Json<Vec<Value>> {
    Json(
        COUNTRIES
            .iter()
            .map(|(key, da, en)| json!({"Key": key, "DanishName": da, "EnglishName": en}))
            .collect(),
    )
}

fn maybe_project(params: &Params, rows: Vec<Value>) -> Json<Vec<Value>> {
    match param(params, "fields") {
        Some(_) => {
            let wanted = fields(params, "");
            Json(rows.iter().map(|r| project(r, &wanted)).collect())
        }
        None => Json(rows),
    }
}

pub async fn entry_accounts(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<i64>,
    Query(params): Query<Params>,
) -> ApiResult<Json<Vec<Value>>> {
    let org = super::org(&sim, id)?;
    let org = org.lock();
    let category = param(&params, "categoryFilter").map(str::to_ascii_lowercase);
    let rows = org
        .accounts
        .values()
        .filter(|a| {
            category
                .as_ref()
                .is_none_or(|c| a.seed.category.to_ascii_lowercase() == *c)
        })
        .map(|a| {
            json!({
                "AccountNumber": a.seed.number, "PublicStandardNumber": null, "Name": a.seed.name,
                "VatCode": a.seed.vat_code, "Category": a.seed.category,
                "CategoryName": a.seed.category, "IsHidden": a.seed.hidden,
                "IsDefaultSalesAccount": a.seed.default_sales,
            })
        })
        .collect();
    Ok(maybe_project(&params, rows))
}

pub async fn deposit_accounts(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<i64>,
    Query(params): Query<Params>,
) -> ApiResult<Json<Vec<Value>>> {
    let org = super::org(&sim, id)?;
    let org = org.lock();
    let rows = org
        .deposit_accounts
        .values()
        .map(|d| {
            json!({
                "AccountNumber": d.number, "PublicStandardNumber": null, "Name": d.name,
                "IsDefault": d.default, "IsHidden": false, "BankRegistrationNumber": null,
                "BankAccountNumber": null, "BankSwiftNumber": null, "BankIbanNumber": null,
            })
        })
        .collect();
    Ok(maybe_project(&params, rows))
}

pub async fn vat_types(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<Value>>> {
    let org = super::org(&sim, id)?;
    let org = org.lock();
    Ok(Json(
        org.vat_types
            .iter()
            .map(|v| json!({"VatCode": v.code, "Name": v.name, "VatRate": crate::state::org::num(v.rate)}))
            .collect(),
    ))
}
