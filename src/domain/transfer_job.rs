//! A transfer of selected orders: the orders one admin call named (or a filter found), each
//! transferred through the shop's lane in that order, and what became of each.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::UnknownValue;

/// The most orders one job takes.
pub const MAX_JOB_ORDERS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Orders are still waiting.
    Running,
    /// Every order was tried.
    Done,
    /// Stopped by hand; orders not yet tried stay where they were.
    Cancelled,
}

/// What made the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Orders the shop selected.
    Transfer,
    /// A history import's orders: transferred after the shop's live orders.
    Import,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    Waiting,
    /// Transferred (or found transferred already).
    Done,
    /// Tried and stopped; the reason says why.
    Failed,
    /// The job was cancelled before its turn.
    Cancelled,
}

macro_rules! words {
    ($type:ident, $what:literal, $($variant:ident = $word:literal),+) => {
        impl $type {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($type::$variant => $word),+
                }
            }

            pub fn parse(text: &str) -> Result<Self, UnknownValue> {
                match text {
                    $($word => Ok($type::$variant),)+
                    other => Err(UnknownValue(format!(concat!($what, " '{}'"), other))),
                }
            }
        }
    };
}

words!(
    JobStatus,
    "job status",
    Running = "running",
    Done = "done",
    Cancelled = "cancelled"
);
words!(
    JobKind,
    "job kind",
    Transfer = "transfer",
    Import = "import"
);
words!(
    ItemState,
    "job order state",
    Waiting = "waiting",
    Done = "done",
    Failed = "failed",
    Cancelled = "cancelled"
);

/// A job as created: its orders in the order they are transferred.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: String,
    pub tenant_id: String,
    pub kind: JobKind,
    /// The per-call overrides, as JSON.
    pub overrides: String,
    pub order_ids: Vec<String>,
}

/// One order of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobItem {
    pub position: i64,
    pub order_id: String,
    pub state: ItemState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// How far a job has come.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JobProgress {
    pub total: usize,
    pub done: usize,
    pub failed: usize,
    pub waiting: usize,
    pub cancelled: usize,
}

impl JobProgress {
    pub fn of(items: &[JobItem]) -> JobProgress {
        let count = |state| items.iter().filter(|i| i.state == state).count();
        JobProgress {
            total: items.len(),
            done: count(ItemState::Done),
            failed: count(ItemState::Failed),
            waiting: count(ItemState::Waiting),
            cancelled: count(ItemState::Cancelled),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TransferJob {
    pub id: String,
    pub tenant_id: String,
    pub kind: JobKind,
    pub status: JobStatus,
    #[serde(skip)]
    pub overrides: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub progress: JobProgress,
    pub orders: Vec<JobItem>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_counts_each_state() {
        let item = |state| JobItem {
            position: 0,
            order_id: "1".into(),
            state,
            reason: None,
        };
        let items = [
            item(ItemState::Done),
            item(ItemState::Done),
            item(ItemState::Failed),
            item(ItemState::Waiting),
            item(ItemState::Cancelled),
        ];
        assert_eq!(
            JobProgress::of(&items),
            JobProgress {
                total: 5,
                done: 2,
                failed: 1,
                waiting: 1,
                cancelled: 1
            }
        );
    }

    #[test]
    fn states_read_back_as_written() {
        for state in [
            ItemState::Waiting,
            ItemState::Done,
            ItemState::Failed,
            ItemState::Cancelled,
        ] {
            assert_eq!(ItemState::parse(state.as_str()), Ok(state));
        }
        assert!(JobStatus::parse("paused").is_err());
    }
}
