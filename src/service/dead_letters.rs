//! Dead letters: list, retry one now, or resolve one by hand (kept for audit).

use super::{Core, CoreError, CoreResult};
use crate::domain::DeadLetter;
use crate::domain::TenantId;
use crate::pipeline::Overrides;

impl Core {
    pub async fn dead_letters(&self, id: &TenantId) -> CoreResult<Vec<DeadLetter>> {
        self.existing(id).await?;
        Ok(self.store.dead_letters(id.as_str()).await?)
    }

    async fn dead_letter(&self, id: &TenantId, letter: i64) -> CoreResult<DeadLetter> {
        self.existing(id).await?;
        self.store
            .dead_letter(id.as_str(), letter)
            .await?
            .ok_or_else(|| CoreError::NotFound {
                code: "unknown_dead_letter",
                message: format!("no dead letter {letter}"),
            })
    }

    /// Transfer the dead letter's order again now (the tenant may stay paused): the letter
    /// afterwards, and whether the order is done.
    pub async fn retry_dead_letter(
        &self,
        id: &TenantId,
        letter: i64,
    ) -> CoreResult<(DeadLetter, bool)> {
        let dead = self.dead_letter(id, letter).await?;
        self.store.retry_dead_letter(id.as_str(), letter).await?;
        let outcome = self
            .pipeline
            .transfer_now(id.as_str(), &dead.order_id, Overrides::default())
            .await;
        let transferred = outcome.is_ok_and(|r| r.step.is_final());
        Ok((self.dead_letter(id, letter).await?, transferred))
    }

    pub async fn resolve_dead_letter(
        &self,
        id: &TenantId,
        letter: i64,
        reason: &str,
    ) -> CoreResult<DeadLetter> {
        self.dead_letter(id, letter).await?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(CoreError::bad_input(
                "reason_required",
                "the reason must not be empty",
            ));
        }
        if !self
            .store
            .resolve_dead_letter(id.as_str(), letter, reason)
            .await?
        {
            return Err(CoreError::Conflict {
                code: "not_open",
                message: "the dead letter is already closed".into(),
                details: Default::default(),
            });
        }
        self.dead_letter(id, letter).await
    }
}
