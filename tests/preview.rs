//! Preview: what an order would become in Dinero, with Dinero's own totals, making nothing;
//! and the same check before each create, for a shop that opts in.

mod common;

use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

fn writes(calls: &[String]) -> Vec<&String> {
    calls
        .iter()
        .filter(|c| !c.starts_with("GET") && !c.ends_with("/invoices/fetch"))
        .collect()
}

async fn preview(harness: &Harness, tenant: &str, event: &Value) -> (u16, Value) {
    let response = harness
        .admin(Method::POST, &format!("/v1/tenants/{tenant}/preview"))
        .json(event)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_preview_makes_nothing_and_matches_the_invoice_later_created_to_the_øre() {
    let harness = Harness::start(vec![organization(41)], |_| {}).await;
    assert_eq!(
        harness
            .put_tenant("shop", 41, settings(json!({})))
            .await
            .status(),
        201
    );
    // A line on half an øre: Dinero's rounding decides the totals.
    let event = order_with(
        "shop",
        "1",
        1,
        ("DK", "DKK"),
        json!([
            {"kind": "product", "name": "Vare", "quantity": 1, "unit_price": "10.05", "discount_percent": 50, "vat_rate": 25},
            {"kind": "shipping", "name": "GLS", "quantity": 1, "unit_price": "31.20", "vat_rate": 25}
        ]),
        ("45.29", "9.06"),
        json!({"prices_include_vat": false}),
    );
    let before = harness.calls(41);
    let (status, shown) = preview(&harness, "shop", &event).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["situation"], "domestic");
    assert_eq!(shown["contact"]["match"], "new");
    assert_eq!(shown["contact"]["key"], "email:kunde1@example.dk");
    let accounts: Vec<i64> = shown["invoice"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["account"].as_i64().unwrap())
        .collect();
    assert_eq!(accounts, [1000, 1010]);
    assert_eq!(shown["invoice"]["external_reference"], "shop:1");
    assert_eq!(shown["invoice"]["payments"][0]["deposit_account"], 55010);
    // Nothing was made in Dinero: only reads and the totals.
    let after = harness.calls(41);
    assert!(after.len() > before.len());
    assert!(writes(&after).is_empty(), "{after:?}");
    assert!(
        after.iter().any(|c| c.ends_with("/invoices/fetch")),
        "{after:?}"
    );
    assert!(harness.dinero(41).await["invoices"]
        .as_array()
        .is_none_or(|i| i.is_empty()));
    assert_eq!(harness.orders("shop").await.len(), 0);

    // The order itself, transferred: Dinero's totals are the ones the preview showed.
    assert_eq!(harness.send("shop", &event).await.0, 202);
    harness.wait_for_orders("shop", 1, &["done"], WAIT).await;
    let state = harness.dinero(41).await;
    let invoice = &state["invoices"][0];
    let totals = &shown["dinero_totals"];
    let money = |v: &Value| -> rust_decimal::Decimal {
        match v {
            Value::String(s) => s.parse().unwrap(),
            other => other.to_string().parse().unwrap(),
        }
    };
    assert_eq!(
        money(&totals["total_incl_vat"]),
        money(&invoice["TotalInclVat"])
    );
    assert_eq!(money(&totals["vat"]), money(&invoice["TotalVat"]));
    assert_eq!(shown["invoice"]["guid"], invoice["Guid"]);

    // The same customer again: the contact the transfer made, from the cache.
    let (_, again) = preview(&harness, "shop", &event).await;
    assert_eq!(again["contact"]["match"], "cached");
    assert_eq!(again["contact"]["guid"], invoice["ContactGuid"]);
}

#[tokio::test]
async fn a_preview_says_why_an_order_cannot_be_transferred() {
    let harness = Harness::start(vec![organization(42)], |_| {}).await;
    assert_eq!(
        harness
            .put_tenant("shop", 42, settings(json!({})))
            .await
            .status(),
        201
    );
    // 12% VAT on a line whose account carries 25% in Dinero.
    let event = order_with(
        "shop",
        "1",
        1,
        ("DK", "DKK"),
        json!([{"kind": "product", "name": "Bog", "quantity": 1, "unit_price": 112, "vat_rate": 12}]),
        ("112.00", "12.00"),
        json!({}),
    );
    let (status, problem) = preview(&harness, "shop", &event).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], "unmappable");
    assert!(
        problem["detail"].as_str().unwrap().contains("12% VAT"),
        "{problem}"
    );
    let cancel = json!({"specversion": "1.0", "id": "c-1", "source": "/webshop",
        "type": "order.cancelled", "subject": "1", "tenantid": "shop",
        "data": {"order_id": "1", "cancelled_at": "2026-11-21T08:00:00Z"}});
    let (status, problem) = preview(&harness, "shop", &cancel).await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["code"], "not_an_order");
    let (status, _) = preview(&harness, "other", &event).await;
    assert_eq!(status, 400, "the event names another tenant");
}

#[tokio::test]
async fn a_shop_that_opts_in_has_dinero_total_each_invoice_before_it_is_created() {
    let harness = Harness::start(vec![organization(43)], |_| {}).await;
    let opted = settings(json!({"check_totals_with_dinero": true}));
    assert_eq!(harness.put_tenant("shop", 43, opted).await.status(), 201);
    assert_eq!(harness.send("shop", &order("shop", "1", 1)).await.0, 202);
    harness.wait_for_orders("shop", 1, &["done"], WAIT).await;
    let calls = harness.calls(43);
    let fetch = calls
        .iter()
        .position(|c| c.ends_with("/invoices/fetch"))
        .expect("the totals were asked for");
    let create = calls
        .iter()
        .position(|c| c.starts_with("POST") && c.ends_with("/invoices"))
        .expect("the invoice was created");
    assert!(fetch < create, "{calls:?}");
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.ends_with("/invoices/fetch"))
            .count(),
        1
    );
}

/// A Dinero that rounds halves to even totals a half-øre line differently from the plan: an
/// opted-in shop's transfer stops before anything is created, with both figures.
#[tokio::test]
async fn totals_dinero_would_compute_otherwise_stop_an_opted_in_transfer_before_the_create() {
    let harness = Harness::start_with(
        vec![organization(44)],
        |sim| sim.rounding = dinero_sim::config::Rounding::HalfEven,
        |_| {},
    )
    .await;
    let opted = settings(json!({"check_totals_with_dinero": true}));
    assert_eq!(harness.put_tenant("shop", 44, opted).await.status(), 201);
    let event = order_with(
        "shop",
        "1",
        1,
        ("DK", "DKK"),
        json!([{"kind": "product", "name": "Vare", "quantity": 1, "unit_price": "10.05",
            "discount_percent": 50, "vat_rate": 25}]),
        ("6.29", "1.26"),
        json!({"prices_include_vat": false}),
    );
    assert_eq!(harness.send("shop", &event).await.0, 202);
    let orders = harness.wait_for_orders("shop", 1, &["failed"], WAIT).await;
    let error = orders[0]["error"].as_str().unwrap();
    assert!(error.contains("would total 6.28"), "{error}");
    let made = harness.calls(44);
    assert!(
        !made
            .iter()
            .any(|c| c.starts_with("POST") && c.ends_with("/invoices")),
        "{made:?}"
    );
}
