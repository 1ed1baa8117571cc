//! Fewer look-ups for new customers: a shop whose contact cache reads Dinero's contact list
//! (`pipeline.contact_sync_secs`) creates a customer the fresh cache does not know without
//! looking it up. Measured on 100 orders of a shop joining with 70 customers already in
//! Dinero: 70% returning, 30% new, once with the cache read and once without. Both runs end
//! with one contact per customer (the returning ones matched, none twice); the calls per
//! order of each are printed.

mod common;

use std::time::Duration;

use common::*;
use dinero_bridge::dinero::{Credentials, DineroClient, NewContact};
use serde_json::json;
use uuid::Uuid;

const ORG: i64 = 84;

/// A person's contact as someone makes it in Dinero: no reference of the service's.
fn by_hand(name: &str, email: &str) -> NewContact {
    NewContact {
        guid: None,
        external_reference: None,
        name: name.into(),
        is_person: true,
        street: None,
        zip_code: None,
        city: None,
        country_key: "DK".into(),
        phone: None,
        email: Some(email.into()),
        att_person: None,
        vat_number: None,
        ean_number: None,
        preferred_language: None,
        preferred_currency: None,
    }
}

/// Calls per kind after the shop's 100 orders.
#[derive(Debug, Default)]
struct Calls {
    total: usize,
    contact_look_ups: usize,
    contact_lists: usize,
    contact_creates: usize,
}

/// A shop joining Dinero with 70 customers in it, then 100 orders: in every ten, three from
/// new customers, seven from those 70. Then 100 more, the same mix (the returning customers
/// now known to the cache either way). Returns the calls made for each hundred, and checks
/// every order went to its customer's one contact.
async fn two_hundred_orders(contact_sync_secs: u64) -> (Calls, Calls) {
    let harness = Harness::start(vec![organization(ORG)], |settings| {
        settings.pipeline.contact_sync_secs = contact_sync_secs;
    })
    .await;
    let returning = |i: usize| i % 10 >= 3;
    let dinero = DineroClient::new(harness.settings.dinero.clone())
        .unwrap()
        .organization(ORG, Credentials::api_key(format!("key-{ORG}")));
    let mut seeded = std::collections::BTreeMap::new();
    for i in (0..100).filter(|i| returning(*i)) {
        let guid = dinero
            .create_contact(&by_hand(
                &format!("Kunde {i}"),
                &format!("kunde{i}@example.dk"),
            ))
            .await
            .unwrap();
        seeded.insert(format!("{i}"), guid);
    }
    let status = harness
        .put_tenant("shop", ORG, settings(json!({})))
        .await
        .status();
    assert_eq!(status, 201);
    let mut rounds = Vec::new();
    for round in 0..2 {
        let before = harness.sim.sim().log.entries(0, Some(ORG)).len();
        for i in 0..100 {
            let customer = if returning(i) {
                i
            } else {
                1000 * (round + 1) + i
            };
            let event = order("shop", &format!("{round}-{i}"), customer);
            assert_eq!(harness.send("shop", &event).await.0, 202);
        }
        let orders = harness
            .wait_for_orders(
                "shop",
                100 * (round + 1),
                &["done"],
                Duration::from_secs(120),
            )
            .await;
        for order in &orders {
            let id = order["order_id"].as_str().unwrap();
            let i = id.split('-').nth(1).unwrap();
            if let Some(guid) = seeded.get(i).filter(|_| returning(i.parse().unwrap())) {
                let contact: Uuid = order["dinero"]["contact_guid"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert_eq!(contact, *guid, "order {id} went to its customer's contact");
            }
        }
        let contacts = harness.dinero(ORG).await["contacts"]
            .as_array()
            .map(Vec::len)
            .unwrap_or_default();
        assert_eq!(
            contacts,
            100 + 30 * round,
            "70 returning customers and 30 new ones a hundred, none twice"
        );
        rounds.push(count_calls(&harness, before));
    }
    let second = rounds.pop().unwrap();
    (rounds.pop().unwrap(), second)
}

/// The organization's calls after the first `skip`, by kind.
fn count_calls(harness: &Harness, skip: usize) -> Calls {
    let mut calls = Calls::default();
    for entry in harness
        .sim
        .sim()
        .log
        .entries(0, Some(ORG))
        .iter()
        .skip(skip)
    {
        calls.total += 1;
        let route = entry.route.clone().unwrap_or_default();
        if route != "/v1/{organizationId}/contacts" {
            continue;
        }
        match (entry.method.as_str(), entry.query.as_deref()) {
            ("GET", Some(query)) if query.contains("queryFilter") => calls.contact_look_ups += 1,
            ("GET", _) => calls.contact_lists += 1,
            ("POST", _) => calls.contact_creates += 1,
            _ => {}
        }
    }
    calls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_synced_contact_cache_spares_the_look_ups_of_new_and_returning_customers() {
    let (joining, later) = two_hundred_orders(0).await;
    let (joining_synced, later_synced) = two_hundred_orders(300).await;
    for (name, calls) in [
        ("look-ups, joining", &joining),
        ("look-ups, later", &later),
        ("cache read, joining", &joining_synced),
        ("cache read, later", &later_synced),
    ] {
        println!(
            "{name:>20}: {:.2} Dinero calls per order ({} for 100 orders: {} contact look-ups, \
             {} contact list reads, {} contacts created)",
            calls.total as f64 / 100.0,
            calls.total,
            calls.contact_look_ups,
            calls.contact_lists,
            calls.contact_creates
        );
    }
    // Without the read: joining, each of the 100 customers is unknown to the cache; a
    // returning one is found by e-mail after its reference (2 look-ups), a new one is looked
    // for twice and then made. Later only the 30 new ones are looked for.
    assert_eq!(
        (joining.contact_look_ups, joining.contact_creates),
        (200, 30)
    );
    assert_eq!((later.contact_look_ups, later.contact_creates), (60, 30));
    // With it: one read of the list, then no look-up; the new customers made at once.
    for (calls, reads) in [(&joining_synced, 1), (&later_synced, 0)] {
        assert_eq!(
            (
                calls.contact_look_ups,
                calls.contact_lists,
                calls.contact_creates
            ),
            (0, reads, 30)
        );
    }
    assert_eq!(joining_synced.total + 199, joining.total);
    assert_eq!(later_synced.total + 60, later.total);
}

/// A contact made in Dinero after the cache's first read is found by the next read (only
/// the changes since the last one are asked for), so its customer's order goes to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_contact_made_in_dinero_meanwhile_is_found_by_the_next_read() {
    let harness = Harness::start(vec![organization(ORG)], |settings| {
        settings.pipeline.contact_sync_secs = 1;
    })
    .await;
    let status = harness
        .put_tenant("shop", ORG, settings(json!({})))
        .await
        .status();
    assert_eq!(status, 201);
    assert_eq!(harness.send("shop", &order("shop", "1", 1)).await.0, 202);
    harness
        .wait_for_orders("shop", 1, &["done"], Duration::from_secs(30))
        .await;
    let dinero = DineroClient::new(harness.settings.dinero.clone())
        .unwrap()
        .organization(ORG, Credentials::api_key(format!("key-{ORG}")));
    let made = dinero
        .create_contact(&by_hand("Kunde 2", "KUNDE2@example.dk"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(harness.send("shop", &order("shop", "2", 2)).await.0, 202);
    let orders = harness
        .wait_for_orders("shop", 2, &["done"], Duration::from_secs(30))
        .await;
    assert_eq!(orders[1]["dinero"]["contact_guid"], made.to_string());
    let reads: Vec<String> = harness
        .sim
        .sim()
        .log
        .entries(0, Some(ORG))
        .into_iter()
        .filter(|e| {
            e.method == "GET" && e.route.as_deref() == Some("/v1/{organizationId}/contacts")
        })
        .map(|e| e.query.unwrap_or_default())
        .collect();
    assert_eq!(reads.len(), 2, "{reads:?}");
    assert!(
        !reads[0].contains("changesSince"),
        "the first read takes all"
    );
    assert!(
        reads[1].contains("changesSince"),
        "the next only the changes: {reads:?}"
    );
}
