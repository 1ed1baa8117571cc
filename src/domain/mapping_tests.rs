//! Mapping and validation cases: every VAT situation, gift cards, VOEC, totals checks.

use std::collections::BTreeMap;

use chrono::TimeZone;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::mapping::*;
use super::order::*;

fn line(kind: LineKind, name: &str, quantity: Decimal, price: Decimal, vat: Decimal) -> Line {
    Line {
        kind,
        sku: None,
        name: name.into(),
        quantity,
        unit_price: price,
        vat_rate: vat,
        discount_percent: dec!(0),
    }
}

fn event(
    country: &str,
    kind: CustomerKind,
    vat_number: Option<&str>,
    lines: Vec<Line>,
    incl_vat: bool,
) -> OrderEvent {
    let mut order = Order {
        order_id: "1001".into(),
        order_number: "100234".into(),
        invoice_number: Some(5001),
        completed_at: chrono::Utc.with_ymd_and_hms(2026, 3, 14, 10, 0, 0).unwrap(),
        currency: "DKK".into(),
        prices_include_vat: incl_vat,
        customer: Customer {
            kind,
            id: None,
            name: "Anna Schmidt".into(),
            email: Some(" Anna@Example.DE ".into()),
            phone: None,
            vat_number: vat_number.map(str::to_owned),
            ean: None,
            attention: None,
            address: Address {
                street: None,
                zip: None,
                city: None,
                country: country.into(),
            },
        },
        lines,
        payment: None,
        totals: Totals {
            total: dec!(0),
            vat: dec!(0),
        },
        voec: country == "NO",
        language: None,
        payment_terms_days: None,
        due_date: None,
    };
    let total = order.lines_total();
    let vat: Decimal = order
        .lines
        .iter()
        .filter(|l| l.kind != LineKind::GiftCard)
        .map(|l| order.line_gross(l) * l.vat_rate / (dec!(100) + l.vat_rate))
        .sum::<Decimal>()
        .round_dp(2);
    order.totals = Totals { total, vat };
    OrderEvent {
        specversion: "1.0".into(),
        id: "evt-1".into(),
        source: "/shop".into(),
        event_type: ORDER_COMPLETED.into(),
        subject: "1001".into(),
        tenantid: "shop1".into(),
        time: None,
        datacontenttype: None,
        dataschema: None,
        traceparent: None,
        data: order,
    }
}

fn mapping() -> AccountMapping {
    let accounts = |product, shipping| KindAccounts {
        product: Some(product),
        shipping: Some(shipping),
        ..KindAccounts::default()
    };
    AccountMapping {
        domestic: accounts(1000, 1010),
        eu_consumer: accounts(1000, 1010),
        eu_business: accounts(1100, 1100),
        export: accounts(1200, 1200),
        voec: accounts(1300, 1300),
        voec_vat_account: Some(7250),
        deposit_accounts: BTreeMap::from([("card".to_owned(), 55010)]),
        default_deposit_account: Some(55000),
        gift_card_deposit_account: Some(55090),
        ..AccountMapping::default()
    }
}

fn chart() -> BTreeMap<i32, Decimal> {
    BTreeMap::from([
        (1000, dec!(25)),
        (1010, dec!(25)),
        (1100, dec!(0)),
        (1200, dec!(0)),
        (1300, dec!(0)),
        (7250, dec!(0)),
    ])
}

fn plan_for(event: &OrderEvent, lock: bool) -> Result<TransferPlan, MappingError> {
    let mapping = mapping();
    let chart = chart();
    let settings = MappingSettings {
        accounts: &mapping,
        account_vat: &chart,
        register_payment: true,
        lock_voucher_number: lock,
        payment_terms_days: 8,
        send_invoice: crate::domain::SendInvoice::Off,
        time_zone: chrono_tz::Europe::Copenhagen,
        tolerance: dec!(0.01),
    };
    plan("shop1", event, &settings)
}

#[test]
fn a_domestic_order_maps_lines_heading_comment_and_payment() {
    let mut e = event(
        "DK",
        CustomerKind::Person,
        None,
        vec![
            line(
                LineKind::Product,
                "T-shirt",
                dec!(2),
                dec!(199.95),
                dec!(25),
            ),
            line(LineKind::Shipping, "PostNord", dec!(1), dec!(49), dec!(25)),
            line(LineKind::Discount, "Campaign", dec!(1), dec!(-50), dec!(25)),
        ],
        true,
    );
    e.data.payment = Some(Payment {
        method: "card".into(),
        amount: e.data.totals.total,
        amount_dkk: None,
        reference: None,
        paid_at: e.data.completed_at,
    });
    let plan = plan_for(&e, false).unwrap();
    assert_eq!(plan.situation, VatSituation::Domestic);
    let invoice = &plan.invoice;
    assert_eq!(
        (invoice.heading.as_str(), invoice.comment.as_str()),
        ("Ordre 100234", "Webshopordre 100234")
    );
    assert_eq!(invoice.language, "da-DK");
    assert_eq!(
        invoice.lines.iter().map(|l| l.account).collect::<Vec<_>>(),
        [1000, 1010, 1000]
    );
    assert_eq!(invoice.lines[1].unit, "shipment");
    assert_eq!(invoice.total, dec!(398.90));
    assert_eq!(invoice.vat, dec!(79.78));
    assert!(invoice.lines_include_vat);
    assert_eq!(invoice.number, None, "lock voucher number is off");
    assert_eq!(invoice.external_reference, "shop1:1001");
    assert_eq!(plan.payments.len(), 1);
    assert_eq!(plan.payments[0].deposit_account, 55010);
    assert_eq!(plan.payments[0].amount_dkk, Some(dec!(398.90)));
    assert_eq!(
        plan.contact.key,
        ContactKey::Email("anna@example.de".into())
    );
    assert_eq!(
        plan.contact.external_reference,
        "shop1:customer:email:anna@example.de"
    );
    assert_eq!(
        plan_for(&e, false).unwrap().invoice.guid,
        invoice.guid,
        "deterministic"
    );
}

#[test]
fn lock_voucher_number_books_with_the_shop_s_number() {
    let e = event(
        "DK",
        CustomerKind::Person,
        None,
        vec![line(LineKind::Product, "x", dec!(1), dec!(100), dec!(25))],
        false,
    );
    assert_eq!(plan_for(&e, true).unwrap().invoice.number, Some(5001));
}

#[test]
fn each_vat_situation_lands_on_its_accounts() {
    let cases = [
        (
            "DE",
            CustomerKind::Person,
            None,
            dec!(25),
            VatSituation::EuConsumer,
            1000,
            "en-GB",
        ),
        (
            "DE",
            CustomerKind::Company,
            Some("DE 123456789"),
            dec!(0),
            VatSituation::EuBusiness,
            1100,
            "en-GB",
        ),
        (
            "US",
            CustomerKind::Person,
            None,
            dec!(0),
            VatSituation::Export,
            1200,
            "en-GB",
        ),
        (
            "DK",
            CustomerKind::Company,
            Some("12345678"),
            dec!(25),
            VatSituation::Domestic,
            1000,
            "da-DK",
        ),
    ];
    for (country, kind, vat_number, rate, situation, account, language) in cases {
        let e = event(
            country,
            kind,
            vat_number,
            vec![line(LineKind::Product, "x", dec!(1), dec!(80), rate)],
            false,
        );
        let plan = plan_for(&e, false).unwrap_or_else(|err| panic!("{country}: {err}"));
        assert_eq!(plan.situation, situation, "{country}");
        assert_eq!(plan.invoice.lines[0].account, account, "{country}");
        assert_eq!(plan.invoice.language, language);
    }
    let company = event(
        "DE",
        CustomerKind::Company,
        Some("de 123 456 789"),
        vec![line(LineKind::Product, "x", dec!(1), dec!(80), dec!(0))],
        false,
    );
    assert_eq!(
        plan_for(&company, false).unwrap().contact.key,
        ContactKey::VatNumber("DE123456789".into())
    );
}

#[test]
fn reverse_charge_with_vat_on_the_line_is_refused_with_both_rates_named() {
    let e = event(
        "DE",
        CustomerKind::Company,
        Some("DE1"),
        vec![line(LineKind::Product, "x", dec!(1), dec!(80), dec!(25))],
        false,
    );
    let error = plan_for(&e, false).unwrap_err();
    assert!(
        matches!(error, MappingError::VatMismatch { account: 1100, .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("25% VAT but account 1100 carries 0%"),
        "{error}"
    );
}

#[test]
fn voec_keeps_norwegian_vat_out_of_danish_vat() {
    let e = event(
        "NO",
        CustomerKind::Person,
        None,
        vec![line(
            LineKind::Product,
            "Jakke",
            dec!(1),
            dec!(1250),
            dec!(25),
        )],
        true,
    );
    let plan = plan_for(&e, false).unwrap();
    assert_eq!(plan.situation, VatSituation::Voec);
    let lines: Vec<(i32, Decimal)> = plan
        .invoice
        .lines
        .iter()
        .map(|l| (l.account, l.unit_price))
        .collect();
    assert_eq!(
        lines,
        [
            (1300, dec!(1250)),
            (1300, dec!(-250.00)),
            (7250, dec!(250.00))
        ]
    );
    assert_eq!(
        (plan.invoice.total, plan.invoice.vat),
        (dec!(1250), dec!(0))
    );
}

#[test]
fn gift_cards_are_payments_not_discounts() {
    let mut e = event(
        "DK",
        CustomerKind::Person,
        None,
        vec![
            line(LineKind::Product, "Kjole", dec!(1), dec!(500), dec!(25)),
            line(LineKind::GiftCard, "Gavekort", dec!(1), dec!(-200), dec!(0)),
        ],
        true,
    );
    e.data.totals.vat = dec!(100.00);
    e.data.payment = Some(Payment {
        method: "mobilepay".into(),
        amount: dec!(300),
        amount_dkk: None,
        reference: None,
        paid_at: e.data.completed_at,
    });
    let plan = plan_for(&e, false).unwrap();
    assert_eq!(plan.invoice.lines.len(), 1);
    assert_eq!(plan.invoice.total, dec!(500));
    let payments: Vec<(i32, Decimal)> = plan
        .payments
        .iter()
        .map(|p| (p.deposit_account, p.amount))
        .collect();
    assert_eq!(
        payments,
        [(55090, dec!(200)), (55000, dec!(300))],
        "mobilepay falls back to the default account"
    );
}

#[test]
fn totals_that_do_not_match_stop_the_order_with_both_figures() {
    let mut e = event(
        "DK",
        CustomerKind::Person,
        None,
        vec![line(LineKind::Product, "x", dec!(1), dec!(100), dec!(25))],
        true,
    );
    e.data.totals.vat = dec!(25.00);
    let error = plan_for(&e, false).unwrap_err();
    assert!(matches!(error, MappingError::TotalsMismatch { .. }));
    let text = error.to_string();
    assert!(
        text.contains("VAT 20.00") && text.contains("VAT 25.00"),
        "{text}"
    );
}

#[test]
fn a_missing_or_unknown_account_is_named() {
    let e = event(
        "DK",
        CustomerKind::Person,
        None,
        vec![line(LineKind::Fee, "Gebyr", dec!(1), dec!(10), dec!(25))],
        true,
    );
    let mut mapping = mapping();
    mapping.domestic.product = None;
    let chart = chart();
    let settings = MappingSettings {
        accounts: &mapping,
        account_vat: &chart,
        register_payment: false,
        lock_voucher_number: false,
        payment_terms_days: 8,
        send_invoice: crate::domain::SendInvoice::Off,
        time_zone: chrono_tz::Europe::Copenhagen,
        tolerance: dec!(0.01),
    };
    assert_eq!(
        plan("shop1", &e, &settings).unwrap_err().to_string(),
        "no fee account is mapped for domestic sales"
    );
    let mut unknown = mapping.clone();
    unknown.domestic.product = Some(4242);
    let settings = MappingSettings {
        accounts: &unknown,
        ..settings
    };
    assert!(matches!(
        plan("shop1", &e, &settings).unwrap_err(),
        MappingError::UnknownAccount { account: 4242 }
    ));
}

#[test]
fn the_invoice_date_is_the_shop_s_local_date() {
    let mut e = event(
        "DK",
        CustomerKind::Person,
        None,
        vec![line(LineKind::Product, "x", dec!(1), dec!(100), dec!(25))],
        true,
    );
    e.data.completed_at = chrono::Utc
        .with_ymd_and_hms(2026, 12, 31, 23, 30, 0)
        .unwrap();
    assert_eq!(
        plan_for(&e, false).unwrap().invoice.date.to_string(),
        "2027-01-01"
    );
}

#[test]
fn foreign_currency_payments_carry_the_dkk_amount_only_when_given() {
    let mut e = event(
        "DE",
        CustomerKind::Person,
        None,
        vec![line(LineKind::Product, "x", dec!(1), dec!(100), dec!(25))],
        true,
    );
    e.data.currency = "EUR".into();
    e.data.payment = Some(Payment {
        method: "card".into(),
        amount: dec!(100),
        amount_dkk: Some(dec!(745.80)),
        reference: None,
        paid_at: e.data.completed_at,
    });
    assert_eq!(
        plan_for(&e, false).unwrap().payments[0].amount_dkk,
        Some(dec!(745.80))
    );
    e.data.payment.as_mut().unwrap().amount_dkk = None;
    assert_eq!(plan_for(&e, false).unwrap().payments[0].amount_dkk, None);
}

#[test]
fn validation_names_each_problem() {
    let good = event(
        "DK",
        CustomerKind::Person,
        None,
        vec![line(LineKind::Product, "x", dec!(1), dec!(100), dec!(25))],
        true,
    );
    assert_eq!(good.validate(), Ok(()));
    type Breakage = Box<dyn Fn(&mut OrderEvent)>;
    let cases: Vec<(Breakage, &str)> = vec![
        (Box::new(|e| e.data.lines.clear()), "/data/lines"),
        (
            Box::new(|e| e.data.lines[0].quantity = dec!(-1)),
            "/data/lines/0/quantity",
        ),
        (
            Box::new(|e| e.data.currency = "XXX".into()),
            "/data/currency",
        ),
        (
            Box::new(|e| e.data.customer.address.country = "DNK".into()),
            "/data/customer/address/country",
        ),
        (
            Box::new(|e| e.data.totals.total = dec!(99)),
            "/data/totals/total",
        ),
        (Box::new(|e| e.subject = "other".into()), "/subject"),
        (Box::new(|e| e.tenantid = "../etc".into()), "/tenantid"),
        (Box::new(|e| e.event_type = "order.created".into()), "/type"),
        (
            Box::new(|e| e.data.customer.kind = CustomerKind::Company),
            "/data/customer/vat_number",
        ),
        (
            Box::new(|e| e.data.lines[0].unit_price = dec!(-5)),
            "/data/lines/0/unit_price",
        ),
    ];
    for (break_it, pointer) in cases {
        let mut bad = good.clone();
        break_it(&mut bad);
        let violations = bad.validate().unwrap_err();
        assert!(
            violations.contains_key(pointer),
            "{pointer} not in {violations:?}"
        );
    }
}

#[test]
fn an_order_without_payment_is_sold_on_credit_never_paid() {
    let product = || vec![line(LineKind::Product, "x", dec!(1), dec!(100), dec!(25))];
    let mut e = event(
        "DK",
        CustomerKind::Company,
        Some("12345678"),
        product(),
        false,
    );
    assert_eq!(
        plan_for(&e, false).unwrap().invoice.terms,
        PaymentTerms::Net { days: 8 },
        "the shop's default"
    );
    e.data.payment_terms_days = Some(30);
    assert_eq!(
        plan_for(&e, false).unwrap().invoice.terms,
        PaymentTerms::Net { days: 30 }
    );
    e.data.payment_terms_days = None;
    // Completed 14 March (Copenhagen), due 13 April: 30 days.
    e.data.due_date = chrono::NaiveDate::from_ymd_opt(2026, 4, 13);
    assert_eq!(
        plan_for(&e, false).unwrap().invoice.terms,
        PaymentTerms::Net { days: 30 }
    );
    e.data.payment = Some(Payment {
        method: "card".into(),
        amount: e.data.totals.total,
        amount_dkk: None,
        reference: None,
        paid_at: e.data.completed_at,
    });
    assert_eq!(
        plan_for(&e, false).unwrap().invoice.terms,
        PaymentTerms::Paid
    );
}

#[test]
fn any_language_tag_maps_to_danish_or_english() {
    let mut e = event(
        "DE",
        CustomerKind::Person,
        None,
        vec![line(LineKind::Product, "x", dec!(1), dec!(100), dec!(25))],
        false,
    );
    for (tag, language) in [
        ("da", "da-DK"),
        ("da-DK", "da-DK"),
        ("DA", "da-DK"),
        ("de", "en-GB"),
        ("sv", "en-GB"),
        ("nb", "en-GB"),
        ("en-GB", "en-GB"),
    ] {
        e.data.language = Some(tag.into());
        assert_eq!(
            plan_for(&e, false).unwrap().invoice.language,
            language,
            "{tag}"
        );
    }
    for tag in ["da", "de", "sv", "nb", "en-GB", "zh-Hant-TW"] {
        assert!(crate::domain::order::is_language_tag(tag), "{tag}");
    }
    for tag in ["", "d", "danish please", "en_GB", "en-", "toolongtag"] {
        assert!(!crate::domain::order::is_language_tag(tag), "{tag}");
    }
}

#[test]
fn a_vat_rate_sent_as_a_fraction_is_refused_with_the_figures() {
    let mut e = event(
        "DK",
        CustomerKind::Person,
        None,
        vec![line(LineKind::Product, "x", dec!(2), dec!(100), dec!(25))],
        true,
    );
    assert!(e.validate().is_ok());
    e.data.lines[0].vat_rate = dec!(0.25);
    let violations = e.validate().unwrap_err();
    assert!(
        violations["/data/totals/vat"].contains("adds up to 0.50, not 40 "),
        "{violations:?}"
    );
}

#[test]
fn eu_consumers_book_on_their_countrys_accounts_and_a_zero_rated_line_on_its_own() {
    let mut mapping = mapping();
    let own = |product| KindAccounts {
        product: Some(product),
        ..KindAccounts::default()
    };
    mapping.eu_consumer_by_country = BTreeMap::from([
        ("DE".to_owned(), own(1060)),
        ("FR".to_owned(), own(1061)),
        ("SE".to_owned(), own(1062)),
    ]);
    mapping.domestic.by_vat_rate = BTreeMap::from([("0".to_owned(), own(1050))]);
    let mut chart = chart();
    chart.extend([
        (1060, dec!(19)),
        (1061, dec!(20)),
        (1062, dec!(25)),
        (1050, dec!(0)),
    ]);
    let settings = MappingSettings {
        accounts: &mapping,
        account_vat: &chart,
        register_payment: true,
        lock_voucher_number: false,
        payment_terms_days: 8,
        send_invoice: crate::domain::SendInvoice::Off,
        time_zone: chrono_tz::Europe::Copenhagen,
        tolerance: dec!(0.01),
    };
    for (country, rate, account) in [
        ("DE", dec!(19), 1060),
        ("FR", dec!(20), 1061),
        ("SE", dec!(25), 1062),
    ] {
        let e = event(
            country,
            CustomerKind::Person,
            None,
            vec![
                line(LineKind::Product, "Kjole", dec!(1), dec!(100), rate),
                line(LineKind::Shipping, "Fragt", dec!(1), dec!(10), rate),
            ],
            true,
        );
        let plan = plan("shop1", &e, &settings).unwrap_or_else(|err| panic!("{country}: {err}"));
        let accounts: Vec<i32> = plan.invoice.lines.iter().map(|l| l.account).collect();
        assert_eq!(accounts, [account, account], "{country}: shipping too");
    }
    // Another EU country: the general EU-consumer accounts (25% in this chart).
    let nl = event(
        "NL",
        CustomerKind::Person,
        None,
        vec![line(LineKind::Product, "x", dec!(1), dec!(100), dec!(25))],
        true,
    );
    assert_eq!(
        plan("shop1", &nl, &settings).unwrap().invoice.lines[0].account,
        1000
    );
    let dk = event(
        "DK",
        CustomerKind::Person,
        None,
        vec![
            line(LineKind::Product, "Bog", dec!(1), dec!(100), dec!(0)),
            line(LineKind::Product, "Mug", dec!(1), dec!(100), dec!(25)),
        ],
        true,
    );
    let accounts: Vec<i32> = plan("shop1", &dk, &settings)
        .unwrap()
        .invoice
        .lines
        .iter()
        .map(|l| l.account)
        .collect();
    assert_eq!(accounts, [1050, 1000]);
    assert!(mapping.entry_accounts().contains(&1061));
    assert!(mapping.key_problems().is_empty());
    mapping
        .eu_consumer_by_country
        .insert("DK".into(), own(1000));
    mapping
        .domestic
        .by_vat_rate
        .insert("fifty".into(), own(1000));
    assert_eq!(
        mapping.key_problems().len(),
        2,
        "{:?}",
        mapping.key_problems()
    );
}

// ----- refunds -----

fn refund_of(
    event: &OrderEvent,
    refund: &super::money_events::Refund,
    credited: Decimal,
) -> Result<CreditPlan, MappingError> {
    let mapping = mapping();
    let chart = chart();
    let settings = MappingSettings {
        accounts: &mapping,
        account_vat: &chart,
        register_payment: true,
        lock_voucher_number: true,
        payment_terms_days: 8,
        send_invoice: crate::domain::SendInvoice::Off,
        time_zone: chrono_tz::Europe::Copenhagen,
        tolerance: dec!(0.01),
    };
    let invoiced = plan("shop1", event, &settings)?.invoice.total;
    super::mapping::refund("shop1", event, refund, &settings, invoiced, credited)
}

fn a_refund(
    lines: Vec<(usize, Decimal)>,
    shipping: Option<Decimal>,
) -> super::money_events::Refund {
    super::money_events::Refund {
        order_id: "1001".into(),
        refund_id: "r1".into(),
        refunded_at: chrono::Utc.with_ymd_and_hms(2026, 3, 20, 10, 0, 0).unwrap(),
        lines: lines
            .into_iter()
            .map(|(line, quantity)| super::money_events::RefundLine { line, quantity })
            .collect(),
        shipping,
        amount: None,
        payment: None,
        reason: None,
    }
}

fn shirts_and_shipping(incl_vat: bool) -> OrderEvent {
    event(
        "DK",
        CustomerKind::Person,
        None,
        vec![
            line(LineKind::Product, "Shirt", dec!(2), dec!(80), dec!(25)),
            line(LineKind::Shipping, "Post", dec!(1), dec!(40), dec!(25)),
        ],
        incl_vat,
    )
}

#[test]
fn a_partial_refund_credits_its_lines_on_their_accounts_with_its_own_identity() {
    for incl_vat in [true, false] {
        let order = shirts_and_shipping(incl_vat);
        let credit = refund_of(
            &order,
            &a_refund(vec![(0, dec!(1))], Some(dec!(50))),
            dec!(0),
        )
        .unwrap();
        assert!(!credit.full);
        let accounts: Vec<(i32, Decimal)> = credit
            .note
            .lines
            .iter()
            .map(|l| (l.account, l.quantity))
            .collect();
        assert_eq!(accounts, [(1000, dec!(1)), (1010, dec!(1))]);
        let shirt = if incl_vat { dec!(80) } else { dec!(100) };
        assert_eq!(credit.total(), shirt + dec!(50), "incl. VAT: {incl_vat}");
        assert_eq!(credit.note.external_reference, "shop1:1001:refund:r1");
        assert_ne!(
            credit.note.guid,
            crate::domain::identity::invoice_guid("shop1", "1001")
        );
        assert_eq!(credit.note.number, None, "Dinero numbers credit notes");
    }
}

#[test]
fn refunds_beyond_the_invoice_or_its_lines_are_refused_with_the_figures() {
    let order = shirts_and_shipping(true); // 2 × 80 + 40 = 200
    let two_shirts = a_refund(vec![(0, dec!(2))], None);
    assert!(refund_of(&order, &two_shirts, dec!(0)).is_ok());
    assert_eq!(
        refund_of(&order, &two_shirts, dec!(80)).unwrap_err().to_string(),
        "refund r1 of 160.00 DKK goes beyond the invoice: 80.00 of its 200.00 DKK are credited already"
    );
    assert!(matches!(
        refund_of(&order, &a_refund(vec![(0, dec!(3))], None), dec!(0)),
        Err(MappingError::QuantityBeyond { .. })
    ));
    assert!(matches!(
        refund_of(&order, &a_refund(vec![(5, dec!(1))], None), dec!(0)),
        Err(MappingError::NoSuchLine {
            line: 5,
            lines: 2,
            ..
        })
    ));
    let full = a_refund(vec![], None);
    assert!(refund_of(&order, &full, dec!(0)).unwrap().full);
    assert!(matches!(
        refund_of(&order, &full, dec!(40)),
        Err(MappingError::FullAfterPartial { .. })
    ));
}
