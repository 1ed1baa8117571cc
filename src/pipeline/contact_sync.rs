//! The contact cache in step with Dinero's contact list: a lane reads the contacts changed
//! since its shop's last read (`changesSince`, 1,000 a call) into the cache, so that while the
//! read is fresh a customer the cache does not know is new, created without look-ups.

use std::time::{Duration, Instant};

use chrono::Utc;

use super::error::TransferError;
use crate::dinero::{every_page, OrganizationClient, MAX_PAGE};
use crate::domain::mapping;
use crate::store::Store;

/// A contact changed at the moment of the last read may carry a time just before it (clocks
/// differ): each read asks from this long before the last one.
const OVERLAP: chrono::Duration = chrono::Duration::minutes(1);

/// A lane's view of its shop's contact cache.
#[derive(Debug, Default)]
pub(super) struct ContactSync {
    /// When this lane last read Dinero's contact list.
    read_at: Option<Instant>,
}

impl ContactSync {
    /// Whether the cache is fresh (read within `max_age`), reading the changes first when
    /// it is not. A read that fails leaves it stale: customers are looked up, as without it.
    pub(super) async fn fresh(
        &mut self,
        max_age: Duration,
        store: &dyn Store,
        dinero: &OrganizationClient,
        tenant: &str,
    ) -> bool {
        if max_age.is_zero() {
            return false;
        }
        if self.read_at.is_none() {
            // A lane that starts again (they end when idle) takes over the last read.
            if let Ok(Some(at)) = store.contacts_synced_at(tenant).await {
                let age = (Utc::now() - at).to_std().unwrap_or_default();
                self.read_at = Instant::now().checked_sub(age);
            }
        }
        if self.read_at.is_some_and(|at| at.elapsed() < max_age) {
            return true;
        }
        match read_changes(store, dinero, tenant).await {
            Ok(entries) => {
                tracing::debug!(tenant, entries, "contact cache read Dinero's changes");
                self.read_at = Some(Instant::now());
                true
            }
            Err(error) => {
                tracing::warn!(tenant, %error, "cannot read Dinero's contact list; looking customers up one by one");
                false
            }
        }
    }
}

/// Read the contacts Dinero changed since the shop's last read (all of them the first time)
/// into its cache; the cache entries found.
async fn read_changes(
    store: &dyn Store,
    dinero: &OrganizationClient,
    tenant: &str,
) -> Result<usize, TransferError> {
    let since = store
        .contacts_synced_at(tenant)
        .await?
        .map(|at| at - OVERLAP);
    let started = Utc::now();
    let (contacts, _) = every_page(|page| dinero.list_contacts(since, page, MAX_PAGE)).await?;
    let entries: Vec<(String, uuid::Uuid)> = contacts
        .into_iter()
        .flat_map(|contact| {
            mapping::cache_keys_of(
                tenant,
                contact.external_reference.as_deref(),
                contact.email.as_deref(),
                contact.vat_number.as_deref(),
                contact.country_key.as_deref(),
            )
            .into_iter()
            .map(move |key| (key, contact.guid))
        })
        .collect();
    store.sync_contacts(tenant, &entries, started).await?;
    Ok(entries.len())
}
