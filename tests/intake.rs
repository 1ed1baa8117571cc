//! Bad input at the door: each case gets a clear problem+json answer and nothing is stored.
//! Also the admin API's guard, tenant checks against Dinero, and write-only secrets.

mod common;

use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn harness() -> Harness {
    let harness = Harness::start(vec![organization(51)], |s| {
        s.http.max_body_bytes = 16 * 1024
    })
    .await;
    let response = harness.put_tenant("shop", 51, settings(json!({}))).await;
    assert_eq!(response.status(), 201);
    harness
}

fn problem(status: u16, body: &Value, code: &str) {
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

async fn post_webhook(
    harness: &Harness,
    tenant: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, Value, String) {
    let mut request = harness
        .http
        .post(format!("{}/v1/webhooks/{tenant}", harness.base))
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        content_type,
    )
}

fn signed(body: &[u8], secret: &str, timestamp: i64) -> Vec<(&'static str, String)> {
    let id = format!("msg_{}", uuid::Uuid::new_v4());
    let signature = standardwebhooks::Webhook::new(secret)
        .unwrap()
        .sign(&id, timestamp, body)
        .unwrap();
    vec![
        ("content-type", "application/json".into()),
        ("webhook-id", id),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ]
}

#[tokio::test]
async fn signatures_missing_wrong_or_expired_are_refused_and_rotation_works() {
    let harness = harness().await;
    let body = serde_json::to_vec(&order("shop", "1", 1)).unwrap();
    let now = chrono::Utc::now().timestamp();

    let (status, answer, content_type) = post_webhook(
        &harness,
        "shop",
        &[("content-type", "application/json".into())],
        &body,
    )
    .await;
    assert_eq!(content_type, "application/problem+json");
    problem(401, &answer, "invalid_signature");
    assert!(answer["detail"]
        .as_str()
        .unwrap()
        .contains("header is missing"));
    assert_eq!(status, 401);

    let other_secret = "whsec_dGhpcyBpcyBub3QgdGhlIHNlY3JldCBvZiB0aGUgc2hvcA==";
    let (status, answer, _) =
        post_webhook(&harness, "shop", &signed(&body, other_secret, now), &body).await;
    assert_eq!(status, 401);
    problem(401, &answer, "invalid_signature");

    let (status, answer, _) =
        post_webhook(&harness, "shop", &signed(&body, SECRET, now - 600), &body).await;
    assert_eq!(status, 401);
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("more than 5 minutes old"),
        "{answer}"
    );

    // Tampered body: signed one thing, sent another.
    let mut tampered = signed(&body, SECRET, now);
    tampered[1].1 = "msg_other".into();
    assert_eq!(
        post_webhook(&harness, "shop", &tampered, &body).await.0,
        401
    );

    assert!(
        harness.orders("shop").await.is_empty(),
        "nothing was stored"
    );

    // Rotation: the tenant gets a second secret; either signs.
    let rotated = json!({"organization_id": 51, "webhook_secrets": [other_secret, SECRET], "settings": settings(json!({}))});
    let response = harness
        .admin(Method::PUT, "/v1/tenants/shop")
        .json(&rotated)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert_eq!(
        post_webhook(&harness, "shop", &signed(&body, other_secret, now), &body)
            .await
            .0,
        202
    );
}

#[tokio::test]
async fn unknown_tenants_content_types_sizes_and_malformed_json_are_refused() {
    let harness = harness().await;
    let body = serde_json::to_vec(&order("shop", "1", 1)).unwrap();
    let now = chrono::Utc::now().timestamp();

    let (status, answer, _) =
        post_webhook(&harness, "nobody", &signed(&body, SECRET, now), &body).await;
    assert_eq!(status, 404);
    problem(404, &answer, "unknown_tenant");
    for tricky in ["..%2F..%2Fetc", "shop%00", "shop%2Fx", "a%20b"] {
        let (status, _, _) =
            post_webhook(&harness, tricky, &signed(&body, SECRET, now), &body).await;
        assert!(status == 404, "{tricky}: {status}");
    }

    let mut wrong_type = signed(&body, SECRET, now);
    wrong_type[0].1 = "text/plain".into();
    let (status, answer, _) = post_webhook(&harness, "shop", &wrong_type, &body).await;
    assert_eq!(status, 415);
    problem(415, &answer, "unsupported_media_type");

    let big = vec![b' '; 20 * 1024];
    let (status, answer, _) =
        post_webhook(&harness, "shop", &signed(&big, SECRET, now), &big).await;
    assert_eq!(status, 413);
    problem(413, &answer, "body_too_large");

    let broken = b"{\"specversion\": \"1.0\", ";
    let (status, answer, _) =
        post_webhook(&harness, "shop", &signed(broken, SECRET, now), broken).await;
    assert_eq!(status, 400);
    problem(400, &answer, "malformed_json");

    let mismatch = serde_json::to_vec(&order("elsewhere", "1", 1)).unwrap();
    let (status, answer, _) =
        post_webhook(&harness, "shop", &signed(&mismatch, SECRET, now), &mismatch).await;
    assert_eq!(status, 400);
    problem(400, &answer, "tenant_mismatch");
    assert!(
        harness.orders("shop").await.is_empty(),
        "nothing was stored"
    );
}

#[tokio::test]
async fn schema_violations_name_the_field() {
    let harness = harness().await;
    type Breakage = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Breakage, &str, &str)> = vec![
        (
            "no lines",
            Box::new(|e| e["data"]["lines"] = json!([])),
            "schema_violation",
            "/data/lines",
        ),
        (
            "negative quantity",
            Box::new(|e| e["data"]["lines"][0]["quantity"] = json!(-1)),
            "schema_violation",
            "/data/lines/0/quantity",
        ),
        (
            "unknown currency",
            Box::new(|e| e["data"]["currency"] = json!("XYZ")),
            "schema_violation",
            "/data/currency",
        ),
        (
            "bad country",
            Box::new(|e| e["data"]["customer"]["address"]["country"] = json!("Danmark")),
            "schema_violation",
            "/data/customer/address/country",
        ),
        (
            "unknown country code",
            Box::new(|e| e["data"]["customer"]["address"]["country"] = json!("XX")),
            "invalid_order",
            "/data/customer/address/country",
        ),
        (
            "totals off",
            Box::new(|e| e["data"]["totals"]["total"] = json!("999.00")),
            "invalid_order",
            "/data/totals/total",
        ),
        (
            "money as float text",
            Box::new(|e| e["data"]["lines"][0]["unit_price"] = json!("12,50")),
            "schema_violation",
            "/data/lines/0/unit_price",
        ),
        (
            "unknown field",
            Box::new(|e| e["data"]["colour"] = json!("red")),
            "schema_violation",
            "/data",
        ),
        (
            "wrong type",
            Box::new(|e| e["type"] = json!("order.created")),
            "schema_violation",
            "/type",
        ),
        (
            "subject not the order",
            Box::new(|e| e["subject"] = json!("2")),
            "invalid_order",
            "/subject",
        ),
        (
            // 0.25 instead of 25: the lines then carry almost no VAT, the total says 47.78.
            "VAT rate as a fraction",
            Box::new(|e| {
                e["data"]["lines"][0]["vat_rate"] = json!(0.25);
                e["data"]["lines"][1]["vat_rate"] = json!(0.25);
            }),
            "invalid_order",
            "/data/totals/vat",
        ),
        (
            "VAT total off",
            Box::new(|e| e["data"]["totals"]["vat"] = json!("40.00")),
            "invalid_order",
            "/data/totals/vat",
        ),
        (
            "language not a BCP 47 tag",
            Box::new(|e| e["data"]["language"] = json!("danish please")),
            "schema_violation",
            "/data/language",
        ),
    ];
    for (name, break_it, code, pointer) in cases {
        let mut event = order("shop", "1", 1);
        break_it(&mut event);
        let (status, answer) = harness.send("shop", &event).await;
        assert_eq!(status, 400, "{name}: {answer}");
        problem(400, &answer, code);
        assert!(
            answer["errors"].get(pointer).is_some(),
            "{name}: {pointer} not named in {answer}"
        );
    }
    assert!(
        harness.orders("shop").await.is_empty(),
        "nothing was stored"
    );
}

#[tokio::test]
async fn duplicates_are_recognised_and_a_changed_order_is_kept_as_a_visible_conflict() {
    let harness = harness().await;
    let event = order("shop", "1", 1);
    assert_eq!(harness.send("shop", &event).await.0, 202);
    let (status, answer) = harness.send("shop", &event).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate_event"))
    );
    let mut resent = event.clone();
    resent["id"] = json!("evt-resend");
    let (status, answer) = harness.send("shop", &resent).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate_order"))
    );
    // Once its invoice is made, a changed version is a conflict (before, it replaces the
    // waiting one: tests/corrections.rs).
    harness
        .wait_for_orders("shop", 1, &["done"], Duration::from_secs(30))
        .await;
    let mut changed = event.clone();
    changed["id"] = json!("evt-changed");
    changed["data"]["customer"]["name"] = json!("Someone Else");
    let (status, answer) = harness.send("shop", &changed).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("conflict")));
    assert_eq!(harness.orders("shop").await[0]["status"], "conflict");
    let detail = harness.get("/v1/tenants/shop/orders/1").await;
    let statuses: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["done", "duplicate", "conflict"]);
    assert_eq!(
        detail["events"][2]["payload"]["data"]["customer"]["name"], "Someone Else",
        "the conflict is kept whole"
    );
    let invoices = harness.dinero(51).await["invoices"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(invoices, 1, "the first wins");
}

#[tokio::test]
async fn the_admin_api_needs_a_valid_token_and_never_shows_secrets() {
    let harness = harness().await;
    let url = format!("{}/v1/tenants/shop", harness.base);
    let none = harness.http.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    problem(401, &none.json().await.unwrap(), "missing_token");
    let wrong = harness
        .http
        .get(&url)
        .bearer_auth("test-admin-token-012345678X")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    problem(401, &wrong.json().await.unwrap(), "invalid_token");

    let shown = harness
        .admin(Method::GET, "/v1/tenants/shop")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let listed = harness
        .admin(Method::GET, "/v1/tenants")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for text in [&shown, &listed] {
        assert!(
            !text.contains("key-51") && !text.contains("whsec_"),
            "a secret leaked: {text}"
        );
    }
    // At rest: neither the API key nor the webhook secret is in the database files.
    let database = harness
        .settings
        .store
        .url
        .trim_start_matches("sqlite://")
        .to_owned();
    for file in [database.clone(), format!("{database}-wal")] {
        let bytes = std::fs::read(&file).unwrap_or_default();
        for secret in ["key-51".as_bytes(), SECRET.as_bytes()] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "{file} holds a secret in plain text"
            );
        }
    }
    let tenant: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(tenant["credentials"], json!({"kind": "api_key"}));
    assert_eq!(tenant["webhook_secrets"], 1);

    let bad_id = harness
        .admin(Method::GET, "/v1/tenants/..%2Fsecrets")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_id.status(), 400);
    let unknown = harness
        .admin(Method::GET, "/v1/tenants/ghost")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let openapi: Value = harness
        .http
        .get(format!("{}/v1/openapi.json", harness.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(openapi["openapi"], "3.1.0");
    assert_eq!(
        harness
            .http
            .get(format!("{}/healthz", harness.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (status, ready) = harness.readiness().await;
    assert_eq!((status, &ready["ready"]), (200, &Value::Bool(true)));
}

#[tokio::test]
async fn saving_a_tenant_checks_its_credentials_pro_and_accounts_with_dinero() {
    let harness = harness().await;
    let body = |org: i64, key: &str, settings: Value| json!({"organization_id": org, "credentials": {"api_key": key}, "webhook_secrets": [SECRET], "settings": settings});
    let put = |body: Value| {
        harness
            .admin(Method::PUT, "/v1/tenants/new")
            .json(&body)
            .send()
    };

    let refused = put(body(51, "wrong-key", settings(json!({}))))
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let answer: Value = refused.json().await.unwrap();
    problem(422, &answer, "dinero_refused");
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("refused the tenant's API key"),
        "{answer}"
    );
    assert!(
        !answer.to_string().contains("wrong-key"),
        "the key is not echoed"
    );

    let not_pro = put(body(2000, "nopro-api-key", settings(json!({}))))
        .await
        .unwrap();
    let answer: Value = not_pro.json().await.unwrap();
    problem(422, &answer, "dinero_refused");
    assert!(
        answer["detail"].as_str().unwrap().contains("Pro"),
        "{answer}"
    );

    let mut unknown = settings(json!({}));
    unknown["accounts"]["export"]["product"] = json!(4242);
    unknown["accounts"]["deposit_accounts"]["klarna"] = json!(59999);
    // The gift-card liability account given as a deposit account, a bank as revenue.
    unknown["accounts"]["deposit_accounts"]["giftcard"] = json!(7260);
    unknown["accounts"]["domestic"]["fee"] = json!(55000);
    let answer: Value = put(body(51, "key-51", unknown))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    problem(422, &answer, "unknown_accounts");
    let detail = answer["detail"].as_str().unwrap();
    for exact in [
        "entry account 4242 is not in the chart",
        "deposit account 59999 is not in the chart",
        "7260 is in the chart, but is not a deposit account",
        "55000 is a deposit account, not an entry account",
    ] {
        assert!(detail.contains(exact), "{exact}: {detail}");
    }
    let mut misspelt = settings(json!({}));
    misspelt["accounts"]["eu_consumer_by_country"] = json!({"DK": {"product": 1000}});
    misspelt["accounts"]["domestic"]["by_vat_rate"] = json!({"0.25%": {"product": 1050}});
    let answer: Value = put(body(51, "key-51", misspelt))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    problem(400, &answer, "invalid_body");
    let detail = answer["detail"].as_str().unwrap();
    assert!(
        detail.contains("'DK' is not an EU country other than DK")
            && detail.contains("domestic.by_vat_rate: '0.25%'"),
        "{detail}"
    );

    let bad_secret = json!({"organization_id": 51, "credentials": {"api_key": "key-51"}, "webhook_secrets": ["plain"], "settings": settings(json!({}))});
    assert_eq!(put(bad_secret).await.unwrap().status(), 400);
    assert_eq!(
        harness
            .admin(Method::GET, "/v1/tenants/new")
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "nothing saved"
    );
}

#[tokio::test]
async fn pausing_holds_orders_and_manual_transfer_works_while_paused() {
    let harness = harness().await;
    let paused = harness
        .admin(Method::POST, "/v1/tenants/shop/pause")
        .json(&json!({"reason": "month-end closing"}))
        .send()
        .await
        .unwrap();
    assert_eq!(paused.status(), 200);
    for n in 1..=3 {
        assert_eq!(
            harness
                .send("shop", &order("shop", &n.to_string(), n))
                .await
                .0,
            202
        );
    }
    let held = harness
        .wait_for_orders("shop", 3, &["held"], Duration::from_secs(10))
        .await;
    assert_eq!(held.len(), 3);
    assert!(harness.dinero(51).await["invoices"]
        .as_array()
        .unwrap()
        .is_empty());
    let tenant = harness.get("/v1/tenants/shop").await;
    assert_eq!(
        (
            tenant["pause_reason"].as_str(),
            tenant["pending_events"].as_i64()
        ),
        (Some("month-end closing"), Some(3))
    );

    let manual = harness
        .admin(Method::POST, "/v1/tenants/shop/orders/2/transfer")
        .send()
        .await
        .unwrap();
    assert_eq!(manual.status(), 200);
    let statuses: Vec<String> = harness
        .orders("shop")
        .await
        .iter()
        .map(|o| o["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses, ["held", "done", "held"]);
    let missing = harness
        .admin(Method::POST, "/v1/tenants/shop/orders/404/transfer")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    assert_eq!(
        harness
            .admin(Method::POST, "/v1/tenants/shop/resume")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    harness
        .wait_for_orders("shop", 3, &["done"], Duration::from_secs(30))
        .await;
    let filtered = harness.get("/v1/tenants/shop/orders?status=done").await["orders"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(filtered, 3);
    assert_eq!(
        harness
            .admin(Method::GET, "/v1/tenants/shop/orders?status=nonsense")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
}

/// GDPR erasure over the admin API: refused while an order of the customer waits, then the
/// customer's data is gone from what the order view shows, the order stays done, and another
/// customer is untouched.
#[tokio::test]
async fn erasure_waits_for_untransferred_orders_then_removes_the_customers_data() {
    let harness = harness().await;
    let erase = |body: Value| {
        harness
            .admin(Method::POST, "/v1/tenants/shop/erasures")
            .json(&body)
            .send()
    };
    for body in [
        json!({}),
        json!({"email": "  "}),
        json!({"name": "Kunde 1"}),
    ] {
        let response = erase(body).await.unwrap();
        assert_eq!(response.status(), 400);
        problem(400, &response.json().await.unwrap(), "invalid_erasure");
    }
    harness
        .admin(Method::POST, "/v1/tenants/shop/pause")
        .json(&json!({"reason": "before erasure"}))
        .send()
        .await
        .unwrap();
    for (n, customer) in [(1, 1), (2, 2)] {
        let event = order("shop", &n.to_string(), customer);
        assert_eq!(harness.send("shop", &event).await.0, 202);
    }
    let held = erase(json!({"email": "KUNDE1@example.dk"})).await.unwrap();
    assert_eq!(held.status(), 409);
    let body: Value = held.json().await.unwrap();
    problem(409, &body, "orders_not_transferred");
    assert_eq!(body["errors"], json!({"1": "not yet transferred"}));

    harness
        .admin(Method::POST, "/v1/tenants/shop/resume")
        .send()
        .await
        .unwrap();
    harness
        .wait_for_orders("shop", 2, &["done"], Duration::from_secs(30))
        .await;
    let erased = erase(json!({"email": "KUNDE1@example.dk"})).await.unwrap();
    assert_eq!(erased.status(), 200);
    let erased: Value = erased.json().await.unwrap();
    assert_eq!(erased["erased"]["events"], 1, "{erased}");
    assert_eq!(erased["erased"]["contacts"], 1, "{erased}");

    let shown = harness.get("/v1/tenants/shop/orders/1").await.to_string();
    for personal in ["Kunde 1", "kunde1@", "Vestergade", "Aarhus", "cust-1"] {
        assert!(!shown.contains(personal), "{personal} still in {shown}");
    }
    assert!(shown.contains("\"done\""), "{shown}");
    let other = harness.get("/v1/tenants/shop/orders/2").await.to_string();
    assert!(other.contains("Kunde 2"), "{other}");
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_the_service_serves() {
    let harness = harness().await;
    let document: Value = harness
        .http
        .get(format!("{}/v1/openapi.json", harness.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = document["paths"].as_object().unwrap();
    let served = [
        ("post", "/v1/webhooks/{tenant_id}"),
        ("get", "/v1/tenants"),
        ("get", "/v1/tenants/{tenant_id}"),
        ("put", "/v1/tenants/{tenant_id}"),
        ("post", "/v1/tenants/{tenant_id}/pause"),
        ("post", "/v1/tenants/{tenant_id}/resume"),
        ("get", "/v1/tenants/{tenant_id}/orders"),
        ("get", "/v1/tenants/{tenant_id}/orders/{order_id}"),
        ("post", "/v1/tenants/{tenant_id}/orders/{order_id}/transfer"),
        (
            "post",
            "/v1/tenants/{tenant_id}/orders/{order_id}/resolve-conflict",
        ),
        ("post", "/v1/tenants/{tenant_id}/preview"),
        ("post", "/v1/tenants/{tenant_id}/reconciliations"),
        ("post", "/v1/tenants/{tenant_id}/imports"),
        ("post", "/v1/tenants/{tenant_id}/transfers"),
        ("get", "/v1/tenants/{tenant_id}/transfers/{job_id}"),
        ("post", "/v1/tenants/{tenant_id}/transfers/{job_id}/cancel"),
        ("get", "/v1/tenants/{tenant_id}/dead-letters"),
        ("post", "/v1/tenants/{tenant_id}/dead-letters/{id}/retry"),
        ("post", "/v1/tenants/{tenant_id}/dead-letters/{id}/resolve"),
        ("post", "/v1/tenants/{tenant_id}/erasures"),
        ("get", "/v1/openapi.json"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
    ];
    for (method, path) in served {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
        // And it is really served: an unauthenticated call is answered by the route, not 404.
        let url = format!(
            "{}{}",
            harness.base,
            path.replace("{tenant_id}", "shop")
                .replace("{order_id}", "1")
                .replace("{id}", "1")
                .replace("{job_id}", "5f0c7f4e-52a4-4c1c-9b4e-0b8f1d0c2a11")
        );
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = harness
            .http
            .request(method.clone(), &url)
            .send()
            .await
            .unwrap();
        assert_ne!(
            response.status(),
            404,
            "{method} {path} is documented but not served"
        );
    }
    assert_eq!(
        paths.len(),
        23,
        "every documented path is in the list above"
    );
}

/// Visma Connect refresh tokens rotate on every use and the spent one stops working. A
/// replace that fails its check (an account Dinero does not have) must leave the stored token
/// working: the tenant's orders still go through, and a correct replace still succeeds.
#[tokio::test]
async fn a_refused_replace_leaves_a_working_refresh_token() {
    // Access tokens live a second, so every check and every lane renews with the refresh token.
    let harness = Harness::start_with(
        vec![],
        |sim| sim.token_lifetime_secs = 1,
        |s| {
            s.dinero.connect_client_id = "isv_dinero_bridge".into();
            s.dinero.connect_client_secret = "isv-secret".to_owned().into();
        },
    )
    .await;
    let put = |settings: Value, credentials: Option<Value>| {
        let mut body =
            json!({"organization_id": 1000, "webhook_secrets": [SECRET], "settings": settings});
        if let Some(credentials) = credentials {
            body["credentials"] = credentials;
        }
        harness
            .admin(Method::PUT, "/v1/tenants/oauth")
            .json(&body)
            .send()
    };
    let created = put(
        settings(json!({})),
        Some(json!({"refresh_token": "demo-refresh-token"})),
    )
    .await
    .unwrap();
    assert_eq!(
        created.status(),
        201,
        "{}",
        created.text().await.unwrap_or_default()
    );
    let tokens_before = harness.sim.sim().world.tokens.issued();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut wrong = settings(json!({}));
    wrong["accounts"]["export"]["product"] = json!(9999);
    let refused = put(wrong, None).await.unwrap();
    assert_eq!(refused.status(), 422);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["code"],
        "unknown_accounts"
    );
    assert!(
        harness.sim.sim().world.tokens.issued() > tokens_before,
        "the refused replace renewed the token (what this test is about)"
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(harness.send("oauth", &order("oauth", "1", 1)).await.0, 202);
    let orders = harness
        .wait_for_orders("oauth", 1, &["done", "failed"], Duration::from_secs(30))
        .await;
    assert_eq!(orders[0]["status"], "done", "{orders:#?}");
    let tenant = harness.get("/v1/tenants/oauth").await;
    assert_eq!(tenant["paused"], false, "{tenant}");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let replaced = put(settings(json!({})), None).await.unwrap();
    assert_eq!(replaced.status(), 200);
}

/// Tenant secrets are encrypted, but the database also holds customers' data: its files are
/// readable by the service's user only.
#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_files_are_readable_by_the_service_only() {
    use std::os::unix::fs::PermissionsExt;
    let harness = harness().await;
    if !harness.settings.store.url.starts_with("sqlite:") {
        return; // the PostgreSQL pass of this suite
    }
    assert_eq!(harness.send("shop", &order("shop", "1", 1)).await.0, 202);
    let database = harness
        .settings
        .store
        .url
        .trim_start_matches("sqlite://")
        .to_owned();
    for file in [database.clone(), format!("{database}-wal")] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file} has mode {mode:o}");
    }
}

/// Every error is problem+json, whoever answers it: the service's own refusals, actix's 404,
/// 405 and 413, and values the path or query extractors cannot read.
#[tokio::test]
async fn every_error_answer_is_problem_json() {
    let harness = harness().await;
    let is_problem = |response: &reqwest::Response| {
        response
            .headers()
            .get("content-type")
            .is_some_and(|v| v == "application/problem+json")
    };
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            harness
                .http
                .get(format!("{}/v1/webhooks/shop", harness.base)),
            405,
            "method_not_allowed",
        ),
        (
            harness.admin(Method::DELETE, "/v1/tenants/shop"),
            405,
            "method_not_allowed",
        ),
        (harness.admin(Method::GET, "/v1/nothing"), 404, "no_route"),
        (
            harness.admin(Method::GET, "/v1/tenants/shop/orders?limit=many"),
            400,
            "invalid_query",
        ),
        (
            harness.admin(Method::GET, "/v1/tenants/shop/orders?colour=red"),
            400,
            "invalid_query",
        ),
        (
            harness.admin(Method::POST, "/v1/tenants/shop/dead-letters/first/retry"),
            400,
            "invalid_path",
        ),
        (
            // The admin API keeps http.max_body_bytes (16 KiB here) too.
            harness
                .admin(Method::PUT, "/v1/tenants/shop")
                .header("content-type", "application/json")
                .body(vec![b' '; 20 * 1024]),
            413,
            "body_too_large",
        ),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{code}");
        assert!(is_problem(&response), "{code}: {:?}", response.headers());
        problem(status, &response.json().await.unwrap(), code);
    }
}

/// RFC 9110: the authentication scheme is case-insensitive.
#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let harness = harness().await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let response = harness
            .http
            .get(format!("{}/v1/tenants/shop", harness.base))
            .header("authorization", format!("{scheme} {ADMIN_TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{scheme}");
    }
}

/// A NUL cannot be stored by PostgreSQL: refused at the door (400) on both stores, for ids
/// and customer fields alike, and nothing is stored.
#[tokio::test]
async fn a_nul_in_an_id_or_a_customer_field_is_refused_at_the_door() {
    let harness = harness().await;
    type Spoil = fn(&mut Value);
    let cases: [(&str, Spoil); 3] = [
        ("/id", |e| e["id"] = json!("evt\u{0}1")),
        ("/data/order_id", |e| {
            e["data"]["order_id"] = json!("1\u{0}");
            e["subject"] = json!("1\u{0}");
        }),
        ("/data/customer/name", |e| {
            e["data"]["customer"]["name"] = json!("Anna\u{0}")
        }),
    ];
    for (pointer, spoil) in cases {
        let mut event = order("shop", "1", 1);
        spoil(&mut event);
        let (status, answer) = harness.send("shop", &event).await;
        assert_eq!(status, 400, "{pointer}: {answer}");
        assert!(
            answer["errors"].get(pointer).is_some(),
            "{pointer}: {answer}"
        );
    }
    assert!(harness.orders("shop").await.is_empty(), "nothing stored");
}

/// The status filter runs in the query, before the page's limit: a held order behind a done
/// one is found with `limit=1`, and the cursor pages through the rest.
#[tokio::test]
async fn the_orders_list_filters_before_its_limit_and_pages_with_a_cursor() {
    let harness = harness().await;
    assert_eq!(harness.send("shop", &order("shop", "1", 1)).await.0, 202);
    harness
        .wait_for_orders("shop", 1, &["done"], Duration::from_secs(30))
        .await;
    let paused = harness
        .admin(Method::POST, "/v1/tenants/shop/pause")
        .send()
        .await
        .unwrap();
    assert_eq!(paused.status(), 200);
    for n in 2..=3 {
        assert_eq!(
            harness
                .send("shop", &order("shop", &n.to_string(), 1))
                .await
                .0,
            202
        );
    }
    let held = harness
        .get("/v1/tenants/shop/orders?status=held&limit=1")
        .await;
    assert_eq!(held["orders"][0]["order_id"], "2", "{held}");
    let after = held["next_after"].as_i64().expect("a next page");
    let next = harness
        .get(&format!(
            "/v1/tenants/shop/orders?status=held&limit=1&after={after}"
        ))
        .await;
    assert_eq!(next["orders"][0]["order_id"], "3", "{next}");
    let last = harness
        .get(&format!(
            "/v1/tenants/shop/orders?status=held&limit=5&after={after}"
        ))
        .await;
    assert_eq!(last["orders"].as_array().unwrap().len(), 1);
    assert!(last.get("next_after").is_none(), "{last}");
}

/// The tenant list is paged by id (`limit`, default 100, at most 1,000; `after` the cursor).
#[tokio::test]
async fn the_tenant_list_is_paged() {
    let harness = Harness::start(vec![organization(82)], |_| {}).await;
    for id in ["t1", "t2", "t3"] {
        assert_eq!(
            harness
                .put_tenant(id, 82, settings(json!({})))
                .await
                .status(),
            201
        );
    }
    let ids = |page: &Value| -> Vec<String> {
        page["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = harness.get("/v1/tenants?limit=2").await;
    assert_eq!(ids(&first), ["t1", "t2"]);
    assert_eq!(first["next_after"], "t2");
    let last = harness.get("/v1/tenants?limit=2&after=t2").await;
    assert_eq!(ids(&last), ["t3"]);
    assert!(last.get("next_after").is_none());
    assert_eq!(ids(&harness.get("/v1/tenants").await).len(), 3);
    let refused = harness
        .admin(Method::GET, "/v1/tenants?limit=0")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["code"], "invalid_limit");
}
