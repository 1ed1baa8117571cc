//! A tenant's Dinero credentials as the client takes them. A Visma Connect refresh token is
//! read from the store at each renewal and its replacement stored before use, so the lane,
//! a tenant check and a restart all spend the same, current token.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use crate::dinero::{Credentials, RefreshTokens};
use crate::domain::{DineroCredentials, Tenant};
use crate::store::TenantStore;

/// The credentials of a stored tenant.
pub fn stored_credentials(store: Arc<dyn TenantStore>, tenant: &Tenant) -> Credentials {
    match &tenant.secrets.dinero {
        DineroCredentials::ApiKey { api_key } => Credentials::api_key(api_key.clone()),
        DineroCredentials::VismaConnect { .. } => {
            Credentials::visma_connect(Arc::new(StoredRefreshToken {
                store,
                tenant: tenant.id.clone(),
            }))
        }
    }
}

/// The refresh token in the tenant's encrypted secrets.
pub struct StoredRefreshToken {
    pub store: Arc<dyn TenantStore>,
    pub tenant: String,
}

#[async_trait::async_trait]
impl RefreshTokens for StoredRefreshToken {
    async fn current(&self) -> Result<SecretString, String> {
        let tenant = self
            .store
            .tenant(&self.tenant)
            .await
            .map_err(|e| e.to_string())?;
        match tenant.map(|t| t.secrets.dinero) {
            Some(DineroCredentials::VismaConnect { refresh_token }) => {
                Ok(SecretString::from(refresh_token))
            }
            _ => Err(format!("tenant {} has no refresh token", self.tenant)),
        }
    }

    async fn rotated(
        &self,
        _organization: i64,
        refresh_token: &SecretString,
    ) -> Result<(), String> {
        // Only the token changes, in one transaction: a tenant saved meanwhile keeps its
        // settings, and the token is never overwritten by an older copy.
        let token = refresh_token.expose_secret();
        self.store
            .update_tenant(&self.tenant, &|tenant| {
                tenant.secrets.dinero = DineroCredentials::VismaConnect {
                    refresh_token: token.to_owned(),
                }
            })
            .await
            .map_err(|e| e.to_string())?
            .map(|_| ())
            .ok_or_else(|| format!("tenant {} is gone", self.tenant))
    }
}
