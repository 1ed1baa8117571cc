//! The service's Dinero client against `dinero-sim` over real HTTP on loopback. The simulator
//! runs with `--validate-spec`, so every request the client sends and every answer it reads
//! is also checked against Dinero's OpenAPI schemas.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use dinero_bridge::dinero::*;
use dinero_bridge::domain::reconciliation::VoucherKind;
use dinero_bridge::domain::ErrorClass;
use dinero_sim::{FaultConfig, SimConfig, Simulator};
use rust_decimal_macros::dec;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

const ORG: i64 = 1000;
const NOT_PRO: i64 = 2000;
const API_KEY: &str = "demo-api-key";

async fn simulator(adjust: impl FnOnce(&mut SimConfig)) -> Simulator {
    let mut config = SimConfig::for_tests();
    config.validate_spec = true;
    adjust(&mut config);
    Simulator::start(config).await.expect("simulator starts")
}

fn client_config(sim: &Simulator) -> DineroConfig {
    let mut config = dinero_bridge::config::Settings::defaults()
        .dinero
        .for_simulator(&sim.url(), "dinero-bridge-dev", "dev-secret");
    config.request_timeout_ms = 5_000;
    // Dinero's real budget (90/min after a burst of 10) would make these tests wait; the
    // limiter has its own test below.
    config.requests_per_minute = 60_000;
    config.burst = 100;
    config
}

fn client_from(config: DineroConfig) -> OrganizationClient {
    DineroClient::new(config)
        .unwrap()
        .organization(ORG, Credentials::api_key(API_KEY))
}

fn client(sim: &Simulator) -> OrganizationClient {
    client_from(client_config(sim))
}

fn tokens_issued(sim: &Simulator) -> u64 {
    sim.sim().world.tokens.issued()
}

fn statuses(sim: &Simulator, status: u16) -> u64 {
    sim.sim()
        .log
        .stats()
        .by_status
        .get(&status)
        .copied()
        .unwrap_or(0)
}

fn assert_conforms(sim: &Simulator) {
    let violations = sim.sim().log.stats().spec_violations;
    assert!(
        violations.is_empty(),
        "answers outside the OpenAPI document: {violations:#?}"
    );
}

fn line(
    description: &str,
    quantity: rust_decimal::Decimal,
    price: rust_decimal::Decimal,
    account: i32,
) -> NewInvoiceLine {
    NewInvoiceLine {
        description: description.into(),
        comments: None,
        quantity,
        unit: "parts".into(),
        unit_price: price,
        discount_percent: dec!(0),
        account_number: account,
        kind: LineKind::Product,
    }
}

/// The example of dinero-api.md: 91.20 + 22.80 VAT = 114.00 EUR.
fn order_invoice(contact: Uuid, reference: &str) -> NewInvoice {
    let mut hoodie = line("Hoodie, grey, size L", dec!(1), dec!(48.00), 1000);
    hoodie.discount_percent = dec!(10);
    let mut shipping = line("Shipping", dec!(1), dec!(8.00), 1010);
    shipping.unit = "shipment".into();
    NewInvoice {
        guid: Some(Uuid::new_v4()),
        contact_guid: Some(contact),
        date: NaiveDate::from_ymd_opt(2026, 3, 14),
        currency: "EUR".into(),
        language: Some("en-GB".into()),
        external_reference: Some(reference.into()),
        heading: Some("Order #100234".into()),
        comment: Some("Webshop order #100234".into()),
        payment_condition: Some(PaymentCondition::NettoCash),
        lines_include_vat: false,
        address: None,
        lines: vec![
            line("T-shirt, black, size M", dec!(2), dec!(20.00), 1000),
            hoodie,
            shipping,
        ],
    }
}

fn person(email: &str) -> NewContact {
    NewContact {
        guid: Some(Uuid::new_v4()),
        external_reference: Some(format!("shop42:customer:{email}")),
        name: "Anna Schmidt".into(),
        is_person: true,
        street: Some("Lindenstraße 12".into()),
        zip_code: Some("10115".into()),
        city: Some("Berlin".into()),
        country_key: "DE".into(),
        email: Some(email.into()),
        preferred_language: Some("en".into()),
        preferred_currency: Some("EUR".into()),
        ..NewContact::default()
    }
}

#[tokio::test]
async fn every_operation_round_trips_and_conforms_to_the_openapi_document() {
    let sim = simulator(|_| {}).await;
    let dinero = client(&sim);

    let org = dinero.verify_access().await.unwrap();
    assert_eq!((org.id, org.is_pro), (ORG, true));
    let accounts = dinero.entry_accounts().await.unwrap();
    assert!(accounts
        .iter()
        .any(|a| a.number == 1000 && a.vat_code.as_deref() == Some("U25")));
    assert!(dinero
        .deposit_accounts()
        .await
        .unwrap()
        .iter()
        .any(|d| d.number == 55000 && d.is_default));
    assert!(dinero
        .vat_types()
        .await
        .unwrap()
        .iter()
        .any(|v| v.code == "U25" && v.rate == dec!(0.25)));
    assert!(dinero
        .countries()
        .await
        .unwrap()
        .iter()
        .any(|c| c.key == "NO"));

    // Contacts: create with a chosen guid, then find by each key.
    let anna = person("anna.schmidt@example.de");
    let contact = dinero.create_contact(&anna).await.unwrap();
    assert_eq!(Some(contact), anna.guid);
    let reference = anna.external_reference.clone().unwrap();
    assert_eq!(
        dinero
            .find_contact_by_external_reference(&reference)
            .await
            .unwrap()
            .map(|c| c.guid),
        Some(contact)
    );
    assert_eq!(
        dinero
            .find_contact_by_email("ANNA.Schmidt@example.de")
            .await
            .unwrap()
            .map(|c| c.guid),
        Some(contact)
    );
    assert_eq!(
        dinero
            .find_contact_by_email("nobody@example.de")
            .await
            .unwrap(),
        None
    );
    let mut company = person("ap@firma.dk");
    company.is_person = false;
    company.name = "Firma ApS".into();
    company.country_key = "DK".into();
    company.vat_number = Some("12345678".into());
    let company_guid = dinero.create_contact(&company).await.unwrap();
    assert_eq!(
        dinero
            .find_contact_by_vat_number("12345678")
            .await
            .unwrap()
            .map(|c| c.guid),
        Some(company_guid)
    );
    let fetched = dinero.get_contact(contact).await.unwrap().unwrap();
    assert_eq!(
        (fetched.name.as_str(), fetched.country_key.as_deref()),
        ("Anna Schmidt", Some("DE"))
    );
    assert_eq!(dinero.get_contact(Uuid::new_v4()).await.unwrap(), None);

    // Invoice: preview totals, create with a chosen guid, read back, find, book, pay.
    let invoice = order_invoice(contact, "shop42:order:100234");
    let totals = dinero.fetch_invoice_totals(&invoice).await.unwrap();
    assert_eq!(
        (totals.excl_vat, totals.vat, totals.incl_vat),
        (dec!(91.20), dec!(22.80), dec!(114.00))
    );
    let created = dinero.create_invoice(&invoice).await.unwrap();
    assert_eq!(Some(created.guid), invoice.guid);
    let draft = dinero.get_invoice(created.guid).await.unwrap().unwrap();
    assert_eq!(draft.status, InvoiceStatus::Draft);
    assert_eq!(draft.heading.as_deref(), Some("Order #100234"));
    assert_eq!(draft.comment.as_deref(), Some("Webshop order #100234"));
    assert_eq!(
        (draft.currency.as_deref(), draft.line_count),
        (Some("EUR"), 3)
    );
    assert_eq!(draft.totals, totals);
    let found = dinero
        .find_invoices_by_external_reference("shop42:order:100234")
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|f| f.guid).collect::<Vec<_>>(),
        vec![created.guid]
    );
    assert!(dinero
        .find_invoices_by_external_reference("shop42:order:1")
        .await
        .unwrap()
        .is_empty());

    let booked = dinero
        .book_invoice(created.guid, &created.version, None)
        .await
        .unwrap();
    assert_eq!(booked.status, InvoiceStatus::Booked);
    assert_eq!(booked.number, Some(4), "the demo organization has used 1-3");
    assert_ne!(booked.version, created.version);
    let payment = NewPayment {
        deposit_account: 55000,
        amount: dec!(850.44),
        amount_in_invoice_currency: Some(dec!(114.00)),
        date: NaiveDate::from_ymd_opt(2026, 3, 14),
        description: "Card payment, order #100234".into(),
        external_reference: Some("shop42:order:100234:payment".into()),
        remainder_is_fee: false,
    };
    let paid = dinero
        .create_payment(created.guid, &booked.version, &payment)
        .await
        .unwrap();
    assert_ne!(paid.invoice_version, booked.version);
    let payments = dinero.invoice_payments(created.guid).await.unwrap();
    assert_eq!((payments.paid, payments.remaining), (dec!(114.00), dec!(0)));
    assert_eq!(payments.payments.len(), 1);
    let after = dinero.get_invoice(created.guid).await.unwrap().unwrap();
    assert_eq!(after.payment_status.as_deref(), Some("Paid"));

    // Credit notes: a full one generated from the invoice, and a partial one.
    let full = dinero
        .generate_credit_note(created.guid, None)
        .await
        .unwrap();
    let note = dinero.get_credit_note(full.guid).await.unwrap().unwrap();
    assert_eq!(
        (note.credit_note_for, note.totals.incl_vat),
        (Some(created.guid), dec!(114.00))
    );
    let booked_note = dinero
        .book_credit_note(full.guid, &full.version, None)
        .await
        .unwrap();
    assert_eq!(
        (booked_note.status, booked_note.number),
        (InvoiceStatus::Booked, Some(1))
    );
    // Reconciliation's lists: booked vouchers by date, a page at a time, deleted ones left out.
    let day = NaiveDate::from_ymd_opt(2026, 3, 14).unwrap();
    let listed = dinero
        .list_vouchers(VoucherKind::Invoice, (day, day), None, 0, 1000)
        .await
        .unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|v| (v.guid, v.date, v.total))
            .collect::<Vec<_>>(),
        vec![(created.guid, Some(day), Some(dec!(114.00)))]
    );
    let second_page = dinero
        .list_vouchers(VoucherKind::Invoice, (day, day), None, 1, 1)
        .await
        .unwrap();
    assert!(second_page.is_empty());
    let before = day.pred_opt().unwrap();
    assert!(dinero
        .list_vouchers(VoucherKind::CreditNote, (before, before), None, 0, 1000)
        .await
        .unwrap()
        .is_empty());
    let mut partial = order_invoice(contact, "shop42:order:100234:refund:1");
    partial.lines.truncate(1);
    let partial = dinero
        .create_credit_note(Some(created.guid), &partial)
        .await
        .unwrap();
    let partial = dinero.get_credit_note(partial.guid).await.unwrap().unwrap();
    assert_eq!(partial.totals.incl_vat, dec!(50.00));

    // A draft can be deleted; a deleted one is gone.
    let second = dinero
        .create_invoice(&order_invoice(contact, "shop42:order:2"))
        .await
        .unwrap();
    dinero
        .delete_draft_invoice(second.guid, &second.version)
        .await
        .unwrap();
    assert_eq!(dinero.get_invoice(second.guid).await.unwrap(), None);
    assert!(dinero
        .find_invoices_by_external_reference("shop42:order:2")
        .await
        .unwrap()
        .is_empty());

    assert_eq!(tokens_issued(&sim), 1, "one token serves every call");
    assert_conforms(&sim);
}

#[tokio::test]
async fn a_token_is_renewed_shortly_before_it_expires() {
    let sim = simulator(|c| c.token_lifetime_secs = 2).await;
    let dinero = client(&sim);
    dinero.vat_types().await.unwrap();
    dinero.vat_types().await.unwrap();
    assert_eq!(tokens_issued(&sim), 1);
    // Lifetime 2 s: the renewal margin is half of it, so after 1 s a new token is fetched
    // before the old one expires, and Dinero never sees an expired token.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    dinero.vat_types().await.unwrap();
    assert_eq!(tokens_issued(&sim), 2);
    assert_eq!(statuses(&sim, 401), 0);
}

#[tokio::test]
async fn a_401_gets_exactly_one_renewal_then_succeeds() {
    let sim = simulator(|_| {}).await;
    let dinero = client(&sim);
    dinero.vat_types().await.unwrap();
    sim.sim().world.tokens.expire_all();
    dinero.vat_types().await.unwrap();
    assert_eq!(tokens_issued(&sim), 2);
    assert_eq!(statuses(&sim, 401), 1);
}

#[tokio::test]
async fn a_second_401_after_renewal_pauses_the_tenant_instead_of_looping() {
    // Tokens that expire at once: every API call is refused.
    let sim = simulator(|c| c.token_lifetime_secs = 0).await;
    let error = client(&sim).vat_types().await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::TenantState);
    assert!(
        matches!(
            error,
            DineroError::TenantState {
                reason: TenantStateReason::Unauthorized,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(tokens_issued(&sim), 2, "one renewal, not more");
    assert_eq!(statuses(&sim, 401), 2);
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let sim = simulator(|_| {}).await;
    let dinero = client(&sim);
    let calls = (0..20).map(|_| {
        let dinero = dinero.clone();
        tokio::spawn(async move { dinero.vat_types().await })
    });
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(tokens_issued(&sim), 1);
}

#[tokio::test]
async fn a_429_waits_for_retry_after_and_is_not_a_failure() {
    // Three requests per one-second window; the client's own limiter off to meet the 429.
    let sim = simulator(|c| {
        c.rate_limit = 3;
        c.rate_limit_window_ms = 1_000;
    })
    .await;
    let mut config = client_config(&sim);
    config.requests_per_minute = 0;
    let dinero = client_from(config);
    for _ in 0..7 {
        dinero.vat_types().await.expect("throttling is waited out");
    }
    assert!(statuses(&sim, 429) >= 1, "the simulator did throttle");
    assert_eq!(statuses(&sim, 200), 7);
}

#[tokio::test]
async fn a_429_storm_longer_than_allowed_is_reported_as_throttled() {
    let sim = simulator(|c| c.faults.throttle_rate = 1.0).await;
    let mut config = client_config(&sim);
    config.max_throttle_wait_secs = 1;
    let dinero = client_from(config);
    let error = dinero.vat_types().await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Throttled, "{error}");
}

#[tokio::test]
async fn the_client_rate_limiter_keeps_under_dinero_s_limit() {
    // The simulator allows 5 a second; the client is set to 2 a second with a burst of 2.
    let sim = simulator(|c| {
        c.rate_limit = 5;
        c.rate_limit_window_ms = 1_000;
    })
    .await;
    let mut config = client_config(&sim);
    config.requests_per_minute = 120;
    config.burst = 2;
    let dinero = client_from(config);
    for _ in 0..6 {
        dinero.vat_types().await.unwrap();
    }
    assert_eq!(
        statuses(&sim, 429),
        0,
        "the client never ran into Dinero's limit"
    );
}

#[tokio::test]
async fn server_errors_and_brownouts_are_transient() {
    let sim = simulator(|c| c.faults.error_rate = 1.0).await;
    let dinero = client(&sim);
    let error = dinero.get_invoice(Uuid::new_v4()).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Transient);
    assert!(
        matches!(
            error,
            DineroError::Unavailable {
                status: Some(500),
                ..
            }
        ),
        "{error}"
    );
    sim.sim().faults.set(FaultConfig {
        brownout_rate: 1.0,
        ..FaultConfig::default()
    });
    let error = dinero.vat_types().await.unwrap_err();
    assert!(
        matches!(
            error,
            DineroError::Unavailable {
                status: Some(480),
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test]
async fn a_validation_error_is_permanent_and_keeps_dinero_s_message() {
    let sim = simulator(|_| {}).await;
    let dinero = client(&sim);
    let contact = dinero.create_contact(&person("a@b.dk")).await.unwrap();
    let mut invoice = order_invoice(contact, "shop42:order:9");
    invoice.lines[0].account_number = 4242;
    let error = dinero.create_invoice(&invoice).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Permanent);
    match &error {
        DineroError::Rejected {
            status: 400,
            code: Some(42),
            message,
            validation,
            ..
        } => {
            assert!(message.contains("4242"), "{message}");
            assert_eq!(validation[0].0, "ProductLines[0].AccountNumber");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(error.to_string().contains("4242"));
}

#[tokio::test]
async fn booking_with_a_used_number_is_permanent_names_the_number_and_leaves_a_draft() {
    let sim = simulator(|_| {}).await;
    let dinero = client(&sim);
    let contact = dinero.create_contact(&person("a@b.dk")).await.unwrap();
    let created = dinero
        .create_invoice(&order_invoice(contact, "shop42:order:7"))
        .await
        .unwrap();
    let error = dinero
        .book_invoice(created.guid, &created.version, Some(2))
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Permanent);
    assert!(
        matches!(error, DineroError::NumberTaken { number: 2, .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("invoice number 2 is already used"),
        "{error}"
    );
    let still = dinero.get_invoice(created.guid).await.unwrap().unwrap();
    assert_eq!(still.status, InvoiceStatus::Draft);
    // The same draft books with a free number.
    let booked = dinero
        .book_invoice(created.guid, &still.version, Some(500))
        .await
        .unwrap();
    assert_eq!(booked.number, Some(500));
    assert_conforms(&sim);
}

#[tokio::test]
async fn a_stale_timestamp_is_recognised_in_both_of_dinero_s_readings() {
    for status in [400, 409] {
        let sim = simulator(|c| c.stale_timestamp_status = status).await;
        let dinero = client(&sim);
        let contact = dinero.create_contact(&person("a@b.dk")).await.unwrap();
        let created = dinero
            .create_invoice(&order_invoice(contact, "shop42:order:8"))
            .await
            .unwrap();
        let error = dinero
            .book_invoice(created.guid, &Version("0000000000000001".into()), None)
            .await
            .unwrap_err();
        assert!(
            matches!(error, DineroError::StaleTimestamp { .. }),
            "{status}: {error:?}"
        );
        assert_eq!(error.dinero_code(), Some(58));
    }
}

#[tokio::test]
async fn a_write_whose_answer_is_lost_is_ambiguous_and_can_be_looked_up() {
    let sim = simulator(|_| {}).await;
    let dinero = client(&sim);
    let contact = dinero.create_contact(&person("a@b.dk")).await.unwrap();
    let invoice = order_invoice(contact, "shop42:order:11");
    sim.sim().faults.set(FaultConfig {
        ambiguous_rate: 1.0,
        ..FaultConfig::default()
    });
    let error = dinero.create_invoice(&invoice).await.unwrap_err();
    assert!(error.is_ambiguous(), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Transient);
    sim.sim().faults.set(FaultConfig::default());
    // The write did happen: the deterministic guid finds it, and so does the reference.
    let found = dinero.get_invoice(invoice.guid.unwrap()).await.unwrap();
    assert!(found.is_some());
    assert_eq!(
        dinero
            .find_invoices_by_external_reference("shop42:order:11")
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_read_whose_connection_is_refused_is_transient_not_ambiguous() {
    let sim = simulator(|_| {}).await;
    let url = sim.url();
    drop(sim);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let config = dinero_bridge::config::Settings::defaults()
        .dinero
        .for_simulator(&url, "dinero-bridge-dev", "dev-secret");
    let error = client_from(config).vat_types().await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Transient);
    assert!(!error.is_ambiguous());
}

#[tokio::test]
async fn an_organization_without_pro_is_a_tenant_state_error() {
    let sim = simulator(|_| {}).await;
    let dinero = DineroClient::new(client_config(&sim))
        .unwrap()
        .organization(NOT_PRO, Credentials::api_key("nopro-api-key"));
    let error = dinero.verify_access().await.unwrap_err();
    assert!(
        matches!(
            error,
            DineroError::TenantState {
                reason: TenantStateReason::NotPro,
                ..
            }
        ),
        "{error}"
    );
    let error = dinero.vat_types().await.unwrap_err();
    assert!(matches!(
        error,
        DineroError::TenantState {
            reason: TenantStateReason::NotPro,
            code: Some(90),
            ..
        }
    ));
}

#[tokio::test]
async fn refused_credentials_say_whose_they_are() {
    let sim = simulator(|_| {}).await;
    let wrong_key = DineroClient::new(client_config(&sim))
        .unwrap()
        .organization(ORG, Credentials::api_key("not-the-key"));
    let error = wrong_key.vat_types().await.unwrap_err();
    assert!(matches!(
        error,
        DineroError::TenantState {
            reason: TenantStateReason::CredentialsRejected,
            ..
        }
    ));
    let mut config = client_config(&sim);
    config.client_secret = SecretString::from("wrong".to_owned());
    let wrong_client = client_from(config);
    let error = wrong_client.vat_types().await.unwrap_err();
    assert!(matches!(
        error,
        DineroError::TenantState {
            reason: TenantStateReason::ClientRejected,
            ..
        }
    ));
    let other_org = DineroClient::new(client_config(&sim))
        .unwrap()
        .organization(NOT_PRO, Credentials::api_key(API_KEY));
    let error = other_org.vat_types().await.unwrap_err();
    assert!(
        matches!(
            error,
            DineroError::TenantState {
                reason: TenantStateReason::Forbidden,
                ..
            }
        ),
        "{error}"
    );
}

/// A refresh token kept in memory, recording every rotation it was handed.
struct RotatedTokens {
    current: HeldRefreshToken,
    rotations: parking_lot::Mutex<Vec<(i64, String)>>,
}

#[async_trait::async_trait]
impl RefreshTokens for RotatedTokens {
    async fn current(&self) -> Result<SecretString, String> {
        self.current.current().await
    }

    async fn rotated(&self, organization: i64, refresh_token: &SecretString) -> Result<(), String> {
        self.rotations
            .lock()
            .push((organization, refresh_token.expose_secret().to_owned()));
        self.current.rotated(organization, refresh_token).await
    }
}

#[tokio::test]
async fn visma_connect_refresh_tokens_rotate_and_the_new_one_is_handed_over() {
    let sim = simulator(|_| {}).await;
    let mut config = client_config(&sim);
    config.connect_client_id = "isv_dinero_bridge".into();
    config.connect_client_secret = SecretString::from("isv-secret".to_owned());
    let client = DineroClient::new(config).unwrap();
    let sink = Arc::new(RotatedTokens {
        current: HeldRefreshToken::new("demo-refresh-token"),
        rotations: Default::default(),
    });
    let dinero = client.organization(ORG, Credentials::visma_connect(sink.clone()));
    assert_eq!(dinero.verify_access().await.unwrap().id, ORG);
    let first = sink.rotations.lock().clone();
    assert_eq!(first.len(), 1);
    assert_ne!(first[0].1, "demo-refresh-token");
    // A new access token needs the rotated refresh token: the old one no longer works.
    client.forget_token(ORG);
    dinero.vat_types().await.unwrap();
    assert_eq!(sink.rotations.lock().len(), 2);
    let reused = client.organization(
        ORG,
        Credentials::visma_connect(Arc::new(HeldRefreshToken::new("demo-refresh-token"))),
    );
    client.forget_token(ORG);
    let error = reused.vat_types().await.unwrap_err();
    assert!(matches!(
        error,
        DineroError::TenantState {
            reason: TenantStateReason::CredentialsRejected,
            ..
        }
    ));
}

#[tokio::test]
#[tracing_test::traced_test]
async fn no_key_secret_or_token_reaches_logs_or_errors() {
    let sim = simulator(|c| c.token_lifetime_secs = 0).await;
    let dinero = client(&sim);
    let error = dinero.vat_types().await.unwrap_err();
    let shown = format!("{error} {error:?} {:?}", Credentials::api_key(API_KEY));
    for secret in [API_KEY, "dev-secret"] {
        assert!(!shown.contains(secret), "{secret} leaked into {shown}");
        assert!(!logs_contain(secret), "{secret} leaked into the logs");
    }
    assert!(logs_contain("dinero.call"), "the call was traced");
    assert!(
        !logs_contain("Bearer "),
        "a bearer token leaked into the logs"
    );
}
