//! `dinero-sim` on its own, over raw HTTP: every request these tests send and every answer
//! they get is checked against the schemas of the bundled OpenAPI document, independently of
//! the simulator's own `--validate-spec` gate.

use dinero_sim::spec::Spec;
use dinero_sim::{SimConfig, Simulator};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

struct Api {
    sim: Simulator,
    http: reqwest::Client,
    token: String,
    spec: Spec,
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

impl Api {
    async fn start(adjust: impl FnOnce(&mut SimConfig)) -> Api {
        let mut config = SimConfig::for_tests();
        adjust(&mut config);
        let sim = Simulator::start(config).await.unwrap();
        let http = reqwest::Client::new();
        let token = personal_token(&http, &sim.url(), "demo-api-key").await;
        Api {
            sim,
            http,
            token,
            spec: Spec::load(),
        }
    }

    /// Send a request, checking the body against the operation's request schema and a 200
    /// answer against its response schema.
    async fn call(
        &self,
        method: Method,
        template: &str,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.sim.url()))
            .bearer_auth(&self.token);
        if let Some(body) = &body {
            let problems = self.spec.check_request(method.as_str(), template, body);
            assert!(
                problems.is_empty(),
                "test sent a body outside the spec: {problems:?}"
            );
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let answer = Answer {
            status: response.status(),
            headers: response.headers().clone(),
            text: response.text().await.unwrap(),
        };
        if answer.status == StatusCode::OK && !answer.text.is_empty() {
            let projected = path.contains("fields=");
            let problems =
                self.spec
                    .check_response(method.as_str(), template, &answer.json(), projected);
            assert!(
                problems.is_empty(),
                "{} {path}: answer outside the spec: {problems:#?}",
                method
            );
        }
        answer
    }

    async fn get(&self, template: &str, path: &str) -> Answer {
        self.call(Method::GET, template, path, None).await
    }

    async fn post(&self, template: &str, path: &str, body: Value) -> Answer {
        self.call(Method::POST, template, path, Some(body)).await
    }

    /// Send a body that is meant to be wrong, without checking it against the spec.
    async fn post_unchecked(&self, path: &str, body: &Value) -> Answer {
        let url = format!("{}{path}", self.sim.url());
        let response = self
            .http
            .post(url)
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .unwrap();
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            text: response.text().await.unwrap(),
        }
    }

    async fn contact(&self, name: &str, email: &str) -> String {
        let answer = self
            .post(
                "/v1/{organizationId}/contacts",
                "/v1/1000/contacts",
                json!({"Name": name, "CountryKey": "DK", "IsPerson": true, "IsMember": false,
                       "UseCvr": false, "Email": email}),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json()["ContactGuid"].as_str().unwrap().to_owned()
    }

    async fn invoice(&self, contact: &str, reference: &str, lines: Value) -> (String, String) {
        let answer = self
            .post(
                "/v1/{organizationId}/invoices",
                "/v1/1000/invoices",
                json!({"ContactGuid": contact, "ExternalReference": reference, "ProductLines": lines}),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        let json = answer.json();
        (
            json["Guid"].as_str().unwrap().into(),
            json["TimeStamp"].as_str().unwrap().into(),
        )
    }
}

async fn personal_token(http: &reqwest::Client, base: &str, api_key: &str) -> String {
    let response = http
        .post(format!("{base}/dineroapi/oauth/token"))
        .basic_auth("dinero-bridge-dev", Some("dev-secret"))
        .form(&[
            ("grant_type", "password"),
            ("scope", "read write"),
            ("username", api_key),
            ("password", api_key),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    assert!(
        body.get("refresh_token").is_none(),
        "personal grants have no refresh token"
    );
    body["access_token"].as_str().unwrap().to_owned()
}

fn product(description: &str, quantity: f64, price: f64, discount: f64, account: i32) -> Value {
    json!({"Description": description, "Quantity": quantity, "Unit": "parts", "BaseAmountValue": price,
           "Discount": discount, "AccountNumber": account, "LineType": "Product"})
}

#[tokio::test]
async fn invoice_lifecycle_matches_the_spec_and_dinero_s_rules() {
    let api = Api::start(|_| {}).await;
    let contact = api.contact("Anna", "anna@example.dk").await;
    let lines = json!([
        product("T-shirt", 2.0, 20.0, 0.0, 1000),
        product("Hoodie", 1.0, 48.0, 10.0, 1000),
        product("Shipping", 1.0, 8.0, 0.0, 1010)
    ]);

    let fetched = api
        .post(
            "/v1/{organizationId}/invoices/fetch",
            "/v1/1000/invoices/fetch",
            json!({"ContactGuid": contact, "ProductLines": lines}),
        )
        .await
        .json();
    assert_eq!(
        (
            fetched["TotalExclVat"].as_f64(),
            fetched["TotalVat"].as_f64(),
            fetched["TotalInclVat"].as_f64()
        ),
        (Some(91.2), Some(22.8), Some(114.0))
    );

    let (guid, created_ts) = api.invoice(&contact, "shop:1", lines.clone()).await;
    let path = format!("/v1/1000/invoices/{guid}");
    let read = api
        .get("/v1/{organizationId}/invoices/{guid}", &path)
        .await
        .json();
    assert_eq!(
        (read["Status"].as_str(), read["Number"].as_i64()),
        (Some("Draft"), Some(0))
    );
    assert_eq!(read["ProductLines"][1]["TotalAmount"].as_f64(), Some(43.2));
    assert_eq!(
        read["ProductLines"][1]["TotalAmountInclVat"].as_f64(),
        Some(54.0)
    );
    assert_eq!(read["Currency"], "DKK", "Dinero's default currency");

    // Update (v1.2) needs the current Timestamp and returns a new one.
    let update = json!({"Timestamp": created_ts, "ContactGuid": contact, "ExternalReference": "shop:1",
                        "Description": "Order #1", "ProductLines": lines});
    let updated = api
        .call(
            Method::PUT,
            "/v1.2/{organizationId}/invoices/{guid}",
            &format!("/v1.2/1000/invoices/{guid}"),
            Some(update.clone()),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    let updated_ts = updated.json()["TimeStamp"].as_str().unwrap().to_owned();
    assert_ne!(updated_ts, created_ts);
    let stale = api
        .call(
            Method::PUT,
            "/v1.2/{organizationId}/invoices/{guid}",
            &format!("/v1.2/1000/invoices/{guid}"),
            Some(update),
        )
        .await;
    assert_eq!(stale.status, 400);
    assert_eq!(stale.json()["code"], 58);

    // Booking with a used number fails and leaves a draft; the next free number is max + 1.
    let book = |ts: &str, number: Option<i64>| {
        let mut body = json!({"Timestamp": ts});
        if let Some(number) = number {
            body["Number"] = json!(number);
        }
        body
    };
    let taken = api
        .post(
            "/v1/{organizationId}/invoices/{guid}/book",
            &format!("{path}/book"),
            book(&updated_ts, Some(3)),
        )
        .await;
    assert_eq!(taken.status, 400);
    assert_eq!(taken.json()["code"], 42);
    assert!(taken.json()["message"].as_str().unwrap().contains('3'));
    let still = api
        .get("/v1/{organizationId}/invoices/{guid}", &path)
        .await
        .json();
    assert_eq!(
        (still["Status"].as_str(), still["TimeStamp"].as_str()),
        (Some("Draft"), Some(updated_ts.as_str()))
    );
    let booked = api
        .post(
            "/v1/{organizationId}/invoices/{guid}/book",
            &format!("{path}/book"),
            book(&updated_ts, None),
        )
        .await;
    assert_eq!(booked.status, 200, "{}", booked.text);
    let booked = booked.json();
    assert_eq!(
        (booked["Status"].as_str(), booked["Number"].as_i64()),
        (Some("Booked"), Some(4))
    );
    let booked_ts = booked["TimeStamp"].as_str().unwrap().to_owned();
    let again = api
        .post(
            "/v1/{organizationId}/invoices/{guid}/book",
            &format!("{path}/book"),
            book(&booked_ts, None),
        )
        .await;
    assert_eq!(again.status, 400, "a booked invoice cannot be booked twice");
    let delete = api
        .call(
            Method::DELETE,
            "/v1/{organizationId}/invoices/{guid}",
            &path,
            Some(json!({"Timestamp": booked_ts})),
        )
        .await;
    assert_eq!(delete.status, 400, "a booked invoice cannot be deleted");

    // Payments need the invoice's current Timestamp and move it on.
    let payment = json!({"Timestamp": booked_ts, "DepositAccountNumber": 55000, "RemainderIsFee": false,
                         "Amount": 114.0, "Description": "Card payment"});
    let paid = api
        .post(
            "/v1/{organizationId}/invoices/{guid}/payments",
            &format!("{path}/payments"),
            payment.clone(),
        )
        .await;
    assert_eq!(paid.status, 200, "{}", paid.text);
    let paid = paid.json();
    assert_eq!(paid["RelatedVoucherGuid"].as_str(), Some(guid.as_str()));
    let second = api
        .post(
            "/v1/{organizationId}/invoices/{guid}/payments",
            &format!("{path}/payments"),
            payment,
        )
        .await;
    assert_eq!(
        second.json()["code"],
        58,
        "the old Timestamp is stale after a payment"
    );
    let payments = api
        .get(
            "/v2/{organizationId}/invoices/{guid}/payments",
            &format!("/v2/1000/invoices/{guid}/payments"),
        )
        .await
        .json();
    assert_eq!(
        (
            payments["PaidAmount"].as_f64(),
            payments["RemainingAmount"].as_f64()
        ),
        (Some(114.0), Some(0.0))
    );
    let payment_guid = paid["Guid"].as_str().unwrap();
    let removed = api
        .call(
            Method::DELETE,
            "/v1/{organizationId}/invoices/{guid}/payments/{paymentGuid}",
            &format!("{path}/payments/{payment_guid}"),
            Some(json!({"Timestamp": paid["TimeStamp"]})),
        )
        .await;
    assert_eq!(removed.status, 200, "{}", removed.text);

    // Credit notes.
    let note = api
        .post(
            "/v1/{organizationId}/invoices/{guid}/generate-creditnote",
            &format!("{path}/generate-creditnote"),
            json!({}),
        )
        .await;
    assert_eq!(note.status, 200, "{}", note.text);
    let note_guid = note.json()["Guid"].as_str().unwrap().to_owned();
    let note_read = api
        .get(
            "/v1/{organizationId}/sales/creditnotes/{guid}",
            &format!("/v1/1000/sales/creditnotes/{note_guid}"),
        )
        .await
        .json();
    assert_eq!(
        (
            note_read["CreditNoteFor"].as_str(),
            note_read["TotalInclVat"].as_f64()
        ),
        (Some(guid.as_str()), Some(114.0))
    );
    let partial = api.post("/v1/{organizationId}/sales/creditnotes", "/v1/1000/sales/creditnotes",
        json!({"CreditNoteFor": guid, "ContactGuid": contact, "ProductLines": [product("Return", 1.0, 20.0, 0.0, 1000)]})).await;
    assert_eq!(partial.status, 200, "{}", partial.text);
    let book_note = api
        .post(
            "/v1/{organizationId}/sales/creditnotes/{guid}/book",
            &format!("/v1/1000/sales/creditnotes/{note_guid}/book"),
            json!({"Timestamp": note_read["TimeStamp"]}),
        )
        .await;
    assert_eq!(book_note.status, 200, "{}", book_note.text);
    let notes = api
        .get(
            "/v1/{organizationId}/sales/creditnotes",
            "/v1/1000/sales/creditnotes",
        )
        .await
        .json();
    assert_eq!(notes["Pagination"]["Result"], 2);
}

#[tokio::test]
async fn bad_voucher_bodies_are_rejected_with_the_field_named() {
    let api = Api::start(|_| {}).await;
    let contact = api.contact("Bo", "bo@example.dk").await;
    let mut unknown_unit = product("x", 1.0, 1.0, 0.0, 1000);
    unknown_unit["Unit"] = json!("bananas");
    let mut no_unit = product("x", 1.0, 1.0, 0.0, 1000);
    no_unit.as_object_mut().unwrap().remove("Unit");
    let cases = [
        (json!({"ProductLines": []}), "ProductLines"),
        (
            json!({"Currency": "XYZ", "ProductLines": [product("x", 1.0, 1.0, 0.0, 1000)]}),
            "Currency",
        ),
        (
            json!({"ProductLines": [product("x", 1.0, 1.0, 0.0, 4242)]}),
            "ProductLines[0].AccountNumber",
        ),
        (
            json!({"ProductLines": [product("x", 1.0, 1.0, 0.0, 1999)]}),
            "ProductLines[0].AccountNumber",
        ),
        (
            json!({"ProductLines": [unknown_unit]}),
            "ProductLines[0].Unit",
        ),
        (json!({"ProductLines": [no_unit]}), "ProductLines[0].Unit"),
        (
            json!({"ProductLines": [product("x", 1.0, 1.0, 120.0, 1000)]}),
            "ProductLines[0].Discount",
        ),
        (
            json!({"Language": "de-DE", "ProductLines": [product("x", 1.0, 1.0, 0.0, 1000)]}),
            "Language",
        ),
        (
            json!({"Date": "14/03/2026", "ProductLines": [product("x", 1.0, 1.0, 0.0, 1000)]}),
            "Date",
        ),
        (
            json!({"PaymentConditionType": "NettoCash", "PaymentConditionNumberOfDays": 8,
                "ProductLines": [product("x", 1.0, 1.0, 0.0, 1000)]}),
            "PaymentConditionNumberOfDays",
        ),
        (
            json!({"ContactGuid": "6f9619ff-8b86-d011-b42d-00c04fc964ff", "ProductLines": [product("x", 1.0, 1.0, 0.0, 1000)]}),
            "ContactGuid",
        ),
    ];
    for (body, field) in cases {
        let answer = api.post_unchecked("/v1/1000/invoices", &body).await;
        assert_eq!(answer.status, 400, "{body}");
        let json = answer.json();
        assert_eq!(json["code"], 42);
        assert!(
            json["validationErrors"].get(field).is_some(),
            "{field} not named in {json}"
        );
    }
    // Outside the schema: unknown properties and wrong types are refused too.
    for body in [
        json!({"ProductLines": [product("x", 1.0, 1.0, 0.0, 1000)], "Colour": "red"}),
        json!({"ProductLines": [{"Description": "x", "Quantity": "two", "BaseAmountValue": 1,
                                          "Discount": 0, "AccountNumber": 1000, "Unit": "parts"}]}),
    ] {
        assert_eq!(
            api.post_unchecked("/v1/1000/invoices", &body).await.status,
            400,
            "{body}"
        );
    }
    // Booking needs a contact.
    let (guid, ts) = {
        let answer = api
            .post(
                "/v1/{organizationId}/invoices",
                "/v1/1000/invoices",
                json!({"ProductLines": [product("x", 1.0, 1.0, 0.0, 1000)]}),
            )
            .await;
        let json = answer.json();
        (
            json["Guid"].as_str().unwrap().to_owned(),
            json["TimeStamp"].as_str().unwrap().to_owned(),
        )
    };
    let book = api
        .post(
            "/v1/{organizationId}/invoices/{guid}/book",
            &format!("/v1/1000/invoices/{guid}/book"),
            json!({"Timestamp": ts}),
        )
        .await;
    assert!(
        book.json()["validationErrors"].get("ContactGuid").is_some(),
        "{}",
        book.text
    );
    let _ = contact;
}

#[tokio::test]
async fn a_client_chosen_guid_is_honoured_and_cannot_be_used_twice() {
    let api = Api::start(|_| {}).await;
    let guid = "9b7d1c3e-4a2f-5e6b-8c9d-0e1f2a3b4c5d";
    let body = json!({"Guid": guid, "ProductLines": [product("x", 1.0, 1.0, 0.0, 1000)]});
    let first = api
        .post(
            "/v1/{organizationId}/invoices",
            "/v1/1000/invoices",
            body.clone(),
        )
        .await;
    assert_eq!(first.json()["Guid"], guid);
    let second = api
        .post("/v1/{organizationId}/invoices", "/v1/1000/invoices", body)
        .await;
    assert_eq!(second.status, 400);
    assert!(second.json()["validationErrors"].get("Guid").is_some());
}

#[tokio::test]
async fn contacts_filter_project_and_page_like_dinero() {
    let api = Api::start(|_| {}).await;
    for i in 0..5 {
        api.contact(&format!("Kunde {i}"), &format!("kunde{i}@Example.dk"))
            .await;
    }
    let o_brien = api.contact("O'Brien; Sons", "ob@example.ie").await;
    let api = &api;
    let list = |query: String| async move {
        api.get(
            "/v1/{organizationId}/contacts",
            &format!("/v1/1000/contacts?{query}"),
        )
        .await
    };
    let by_email =
        list("queryFilter=Email%20eq%20'KUNDE3@example.DK'&fields=Name,contactGuid".into())
            .await
            .json();
    assert_eq!(by_email["Collection"].as_array().unwrap().len(), 1);
    assert_eq!(by_email["Collection"][0]["Name"], "Kunde 3");
    assert!(
        by_email["Collection"][0].get("contactGuid").is_some(),
        "names come back spelled as requested"
    );
    let quoted = list("queryFilter=Name%20eq%20'O''Brien;%20Sons'".into())
        .await
        .json();
    assert_eq!(
        quoted["Collection"][0]["contactGuid"],
        o_brien.as_str(),
        "default fields are name,contactGuid"
    );
    let both = list(
        "queryFilter=Name%20contains%20'kunde';IsPerson%20eq%20'true'&pageSize=2&page=2".into(),
    )
    .await
    .json();
    assert_eq!(both["Pagination"]["Result"], 5);
    assert_eq!(both["Pagination"]["ResultWithoutFilter"], 6);
    assert_eq!(both["Collection"].as_array().unwrap().len(), 1);
    for bad in [
        "Email%20like%20'x'",
        "Street%20eq%20'x'",
        "Email%20eq%20x",
        "Email%20eq%20'x",
    ] {
        let answer = list(format!("queryFilter={bad}")).await;
        assert_eq!(answer.status, 400, "{bad}");
        assert_eq!(answer.json()["code"], 42);
    }
    assert_eq!(list("pageSize=1001".into()).await.status, 400);
    let get = api
        .get(
            "/v1/{organizationId}/contacts/{guid}",
            &format!("/v1/1000/contacts/{o_brien}"),
        )
        .await
        .json();
    assert_eq!(
        (get["VatRegionKey"].as_str(), get["IsDebitor"].as_bool()),
        (Some("DK"), Some(true))
    );
    let missing = api
        .get(
            "/v1/{organizationId}/contacts/{guid}",
            "/v1/1000/contacts/6f9619ff-8b86-d011-b42d-00c04fc964ff",
        )
        .await;
    assert_eq!(
        (missing.status.as_u16(), missing.json()["code"].as_i64()),
        (404, Some(40))
    );
    let update = api.call(Method::PUT, "/v2/{organizationId}/contacts/{guid}", &format!("/v2/1000/contacts/{o_brien}"),
        Some(json!({"Name": "O'Brien & Sons", "CountryKey": "IE", "IsPerson": false, "IsMember": false, "UseCvr": false}))).await;
    assert_eq!(update.status, 200, "{}", update.text);
    let v2 = api
        .get(
            "/v2/{organizationId}/contacts",
            "/v2/1000/contacts?queryFilter=Name%20contains%20'brien'&fields=Name,CountryKey",
        )
        .await
        .json();
    assert_eq!(v2["Collection"][0]["CountryKey"], "IE");
    for (body, field) in [
        (
            json!({"Name": "", "CountryKey": "DK", "IsPerson": true, "IsMember": false, "UseCvr": false}),
            "Name",
        ),
        (
            json!({"Name": "X", "CountryKey": "XX", "IsPerson": true, "IsMember": false, "UseCvr": false}),
            "CountryKey",
        ),
    ] {
        let answer = api.post_unchecked("/v1/1000/contacts", &body).await;
        assert!(
            answer.json()["validationErrors"].get(field).is_some(),
            "{}",
            answer.text
        );
    }
}

#[tokio::test]
async fn invoices_are_found_by_external_reference_and_filtered_by_status() {
    let api = Api::start(|_| {}).await;
    let contact = api.contact("Anna", "a@example.dk").await;
    let (first, ts) = api
        .invoice(
            &contact,
            "shop42:order:1",
            json!([product("x", 1.0, 10.0, 0.0, 1000)]),
        )
        .await;
    api.invoice(
        &contact,
        "shop42:order:2",
        json!([product("y", 1.0, 10.0, 0.0, 1000)]),
    )
    .await;
    api.post(
        "/v1/{organizationId}/invoices/{guid}/book",
        &format!("/v1/1000/invoices/{first}/book"),
        json!({"Timestamp": ts}),
    )
    .await;
    let list = api.get("/v1/{organizationId}/invoices",
        "/v1/1000/invoices?queryFilter=ExternalReference%20eq%20'SHOP42:order:1'&fields=Guid,Number,Status").await.json();
    assert_eq!(list["Collection"].as_array().unwrap().len(), 1);
    assert_eq!(list["Collection"][0]["Guid"], first.as_str());
    assert_eq!(list["Collection"][0]["Status"], "Booked");
    let drafts = api
        .get(
            "/v1/{organizationId}/invoices",
            "/v1/1000/invoices?statusFilter=Draft&fields=ExternalReference",
        )
        .await
        .json();
    assert_eq!(
        drafts["Collection"][0]["ExternalReference"],
        "shop42:order:2"
    );
    let bad = api
        .get(
            "/v1/{organizationId}/invoices",
            "/v1/1000/invoices?queryFilter=Email%20eq%20'x'",
        )
        .await;
    assert_eq!(bad.status, 400, "Email cannot be filtered on invoices");
}

#[tokio::test]
async fn lines_including_vat_and_rounding_follow_the_configuration() {
    let api = Api::start(|c| c.rounding = dinero_sim::config::Rounding::HalfEven).await;
    let body = json!({"ShowLinesInclVat": true, "ProductLines": [product("x", 3.0, 99.95, 0.0, 1000), product("Export", 1.0, 49.0, 0.0, 1200)]});
    let totals = api
        .post(
            "/v1/{organizationId}/invoices/fetch",
            "/v1/1000/invoices/fetch",
            body,
        )
        .await
        .json();
    assert_eq!(totals["TotalInclVat"].as_f64(), Some(348.85));
    assert_eq!(totals["TotalVat"].as_f64(), Some(59.97));
    assert_eq!(totals["TotalNonVatableAmount"].as_f64(), Some(49.0));
    let half = json!({"ProductLines": [product("x", 1.0, 0.125, 0.0, 1050)]});
    let totals = api
        .post(
            "/v1/{organizationId}/invoices/fetch",
            "/v1/1000/invoices/fetch",
            half,
        )
        .await
        .json();
    assert_eq!(
        totals["TotalExclVat"].as_f64(),
        Some(0.12),
        "half-even rounding"
    );
}

#[tokio::test]
async fn the_rate_limit_window_answers_429_in_plain_text_and_resets() {
    let api = Api::start(|c| {
        c.rate_limit = 3;
        c.rate_limit_window_ms = 60_000;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            api.get("/v1/{organizationId}/vatTypes", "/v1/1000/vatTypes")
                .await
                .status,
            200
        );
    }
    let limited = api
        .get("/v1/{organizationId}/vatTypes", "/v1/1000/vatTypes")
        .await;
    assert_eq!(limited.status, 429);
    assert!(
        limited
            .text
            .starts_with("API calls quota exceeded! maximum admitted 3 per 1m."),
        "{}",
        limited.text
    );
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    // Other organizations have their own budget.
    api.sim
        .sim()
        .world
        .add_organization(serde_json::from_value(json!({"id": 3000, "api_keys": ["k3"]})).unwrap())
        .unwrap();
    let other = personal_token(&api.http, &api.sim.url(), "k3").await;
    let response = api
        .http
        .get(format!("{}/v1/3000/vatTypes", api.sim.url()))
        .bearer_auth(other)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // A short window resets quickly; without Retry-After configured, none is sent.
    let short = Api::start(|c| {
        c.rate_limit = 1;
        c.rate_limit_window_ms = 300;
        c.no_retry_after = true;
    })
    .await;
    let mut saw_429 = false;
    for _ in 0..3 {
        let answer = short
            .get("/v1/{organizationId}/vatTypes", "/v1/1000/vatTypes")
            .await;
        if answer.status == 429 {
            saw_429 = true;
            assert!(answer.headers.get("retry-after").is_none());
        }
    }
    assert!(saw_429);
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    assert_eq!(
        short
            .get("/v1/{organizationId}/vatTypes", "/v1/1000/vatTypes")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn auth_failures_pro_and_error_styles() {
    let api = Api::start(|c| {
        c.error_style = dinero_sim::config::ErrorStyle::Pascal;
        c.no_pro_error_code = 48;
    })
    .await;
    let base = api.sim.url();
    let unknown = api
        .http
        .get(format!("{base}/v1/1000/vatTypes"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401);
    let body: Value = unknown.json().await.unwrap();
    assert!(
        body.get("Message").is_some() && body.get("ErrorCode").is_some(),
        "{body}"
    );
    let missing = api
        .http
        .get(format!("{base}/v1/1000/vatTypes"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    let no_pro = personal_token(&api.http, &base, "nopro-api-key").await;
    let orgs: Value = api
        .http
        .get(format!("{base}/v1/organizations?fields=Id,IsPro"))
        .bearer_auth(&no_pro)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        orgs,
        json!([{"Id": 2000, "IsPro": false}]),
        "the Pro pre-check works without Pro"
    );
    let refused = api
        .http
        .get(format!("{base}/v1/2000/vatTypes"))
        .bearer_auth(&no_pro)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.json::<Value>().await.unwrap()["ErrorCode"], 48);
    let other_org = api
        .http
        .get(format!("{base}/v1/2000/vatTypes"))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        other_org.status(),
        403,
        "a personal token reaches its own organization only"
    );
    // Expired tokens are refused.
    api.sim.sim().world.tokens.expire_all();
    assert_eq!(
        api.get("/v1/{organizationId}/vatTypes", "/v1/1000/vatTypes")
            .await
            .status,
        401
    );
    // Token endpoint errors follow OAuth.
    let bad_client = api
        .http
        .post(format!("{base}/dineroapi/oauth/token"))
        .basic_auth("dinero-bridge-dev", Some("x"))
        .form(&[
            ("grant_type", "password"),
            ("scope", "read write"),
            ("username", "demo-api-key"),
            ("password", "demo-api-key"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_client.status(), 401);
    assert_eq!(
        bad_client.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let bad_key = api
        .http
        .post(format!("{base}/dineroapi/oauth/token"))
        .basic_auth("dinero-bridge-dev", Some("dev-secret"))
        .form(&[
            ("grant_type", "password"),
            ("scope", "read write"),
            ("username", "k"),
            ("password", "k"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        bad_key.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
}

#[tokio::test]
async fn visma_connect_codes_and_rotating_refresh_tokens() {
    let api = Api::start(|_| {}).await;
    let base = api.sim.url();
    let code: Value = api
        .http
        .post(format!("{base}/_sim/connect/codes"))
        .json(&json!({"organizations": [1000]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = |form: Vec<(&'static str, String)>| {
        let http = api.http.clone();
        let base = base.clone();
        async move {
            http.post(format!("{base}/connect/token"))
                .basic_auth("isv_dinero_bridge", Some("isv-secret"))
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let issued: Value = token(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code["code"].as_str().unwrap().into()),
        ("redirect_uri", "https://bridge.example/callback".into()),
    ])
    .await
    .json()
    .await
    .unwrap();
    let refresh = issued["refresh_token"].as_str().unwrap().to_owned();
    let reused = token(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code["code"].as_str().unwrap().into()),
        ("redirect_uri", "https://bridge.example/callback".into()),
    ])
    .await;
    assert_eq!(reused.status(), 400, "a code works once");
    let rotated: Value = token(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh.clone()),
    ])
    .await
    .json()
    .await
    .unwrap();
    assert_ne!(rotated["refresh_token"].as_str().unwrap(), refresh);
    let old = token(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh),
    ])
    .await;
    assert_eq!(old.status(), 400, "the old refresh token stopped working");
    let access = rotated["access_token"].as_str().unwrap();
    let orgs: Value = api
        .http
        .get(format!("{base}/v1.1/organizations"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(orgs[0]["Subscription"]["HasPro"], true);
    let problems = api
        .spec
        .check_response("GET", "/v1.1/organizations", &orgs, false);
    assert!(problems.is_empty(), "{problems:?}");
}

#[tokio::test]
async fn injected_faults_and_the_request_log() {
    let api = Api::start(|_| {}).await;
    let base = api.sim.url();
    let set = |faults: Value| {
        let http = api.http.clone();
        let base = base.clone();
        async move {
            http.put(format!("{base}/_sim/faults"))
                .json(&faults)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(set(json!({"error_rate": 1.0})).await, 200);
    assert_eq!(
        api.get("/v1/{organizationId}/vatTypes", "/v1/1000/vatTypes")
            .await
            .status,
        500
    );
    set(json!({"brownout_rate": 1.0})).await;
    assert_eq!(
        api.get("/v1/{organizationId}/vatTypes", "/v1/1000/vatTypes")
            .await
            .status
            .as_u16(),
        480
    );
    set(json!({"throttle_rate": 1.0, "for_ms": 200})).await;
    assert_eq!(
        api.get("/v1/{organizationId}/vatTypes", "/v1/1000/vatTypes")
            .await
            .status,
        429
    );
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    assert_eq!(
        api.get("/v1/{organizationId}/vatTypes", "/v1/1000/vatTypes")
            .await
            .status,
        200,
        "the storm ended"
    );
    assert_eq!(set(json!({"error_rate": 2.0})).await, 400);
    assert_eq!(set(json!({"no_such_fault": 1})).await.as_u16(), 422);

    // Ambiguous: the invoice is committed, then the connection is dropped.
    set(json!({"ambiguous_rate": 1.0})).await;
    let body = json!({"Guid": "11111111-2222-5333-8444-555555555555", "ProductLines": [product("x", 1.0, 1.0, 0.0, 1000)]});
    let lost = api
        .http
        .post(format!("{base}/v1/1000/invoices"))
        .bearer_auth(&api.token)
        .json(&body)
        .send()
        .await;
    assert!(lost.is_err(), "no answer arrives");
    set(json!({})).await;
    let found = api
        .get(
            "/v1/{organizationId}/invoices/{guid}",
            "/v1/1000/invoices/11111111-2222-5333-8444-555555555555",
        )
        .await;
    assert_eq!(found.status, 200, "the write was committed");

    set(json!({"latency_ms": 100})).await;
    let started = std::time::Instant::now();
    api.get("/v1/{organizationId}/vatTypes", "/v1/1000/vatTypes")
        .await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(100));

    let log: Value = api
        .http
        .get(format!("{base}/_sim/requests?organization=1000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let faults: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["fault"].as_str())
        .collect();
    assert_eq!(
        faults,
        [
            "server_error",
            "brownout",
            "throttled",
            "dropped_after_commit"
        ]
    );
    let posted = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["method"] == "POST")
        .unwrap();
    assert!(posted["body"]
        .as_str()
        .unwrap()
        .contains("11111111-2222-5333-8444-555555555555"));
    let stats: Value = api
        .http
        .get(format!("{base}/_sim/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["by_route"]["POST /v1/{organizationId}/invoices"], 1);
    assert_eq!(stats["by_status"]["480"], 1);
}

#[tokio::test]
async fn scenarios_seed_organizations_and_used_numbers() {
    let path =
        std::env::temp_dir().join(format!("dinero-sim-scenario-{}.json", std::process::id()));
    std::fs::write(&path, json!({
        "clients": [{"client_id": "c", "client_secret": "s"}],
        "organizations": [{"id": 77, "api_keys": ["key77"], "used_invoice_numbers": [1000, 1001],
            "contacts": [{"Name": "Seeded", "CountryKey": "DK", "IsPerson": true, "IsMember": false, "UseCvr": false,
                          "ContactGuid": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"}]}]
    }).to_string()).unwrap();
    let mut config = SimConfig::for_tests();
    config.scenario = Some(path.clone());
    let sim = Simulator::start(config).await.unwrap();
    std::fs::remove_file(path).ok();
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{}/dineroapi/oauth/token", sim.url()))
        .basic_auth("c", Some("s"))
        .form(&[
            ("grant_type", "password"),
            ("scope", "read write"),
            ("username", "key77"),
            ("password", "key77"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    let created: Value = http.post(format!("{}/v1/77/invoices", sim.url())).bearer_auth(token)
        .json(&json!({"ContactGuid": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "ProductLines": [product("x", 1.0, 1.0, 0.0, 1000)]}))
        .send().await.unwrap().json().await.unwrap();
    let booked: Value = http
        .post(format!(
            "{}/v1/77/invoices/{}/book",
            sim.url(),
            created["Guid"].as_str().unwrap()
        ))
        .bearer_auth(token)
        .json(&json!({"Timestamp": created["TimeStamp"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(booked["Number"], 1002);
    let state: Value = http
        .get(format!("{}/_sim/organizations/77", sim.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["invoices"].as_array().unwrap().len(), 1);
    // More can be seeded at run time.
    let seeded = http
        .post(format!("{}/_sim/scenario", sim.url()))
        .json(&json!({"organizations": [{"id": 78}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        seeded.json::<Value>().await.unwrap()["organizations"],
        json!([77, 78])
    );
}
