//! Preview: the invoice an order event would become, with Dinero's own totals, creating
//! nothing (the shop's "what will this look like" before it turns transfer on).

use super::checks::Checked;
use super::{Core, CoreError, CoreResult};
use crate::domain::money_events::AnyEvent;
use crate::domain::TenantId;
use crate::pipeline::{Overrides, Preview, TransferError};

impl Core {
    pub async fn preview(&self, id: &TenantId, checked: Checked) -> CoreResult<Preview> {
        let tenant = self.existing(id).await?;
        let AnyEvent::Completed(event) = checked.event else {
            return Err(CoreError::bad_input(
                "not_an_order",
                "a preview takes an order.completed event",
            ));
        };
        self.pipeline
            .preview(&tenant, &event, Overrides::default())
            .await
            .map_err(|error| match error {
                TransferError::Dinero(error) => CoreError::from_dinero(&error),
                TransferError::Store(error) => CoreError::Store(error),
                // The order cannot be mapped as the shop's settings stand: the transfer would
                // dead-letter it with this reason.
                other => CoreError::Refused {
                    code: "unmappable",
                    message: other.to_string(),
                },
            })
    }
}
