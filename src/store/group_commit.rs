//! Group commit: writes that arrive together are committed together. Callers hand their write
//! to one task that takes everything queued (up to a limit) into one transaction, each write
//! in a savepoint of its own, and answers every caller only after the shared commit. A write
//! that fails alone is rolled back to its savepoint and fails alone; a commit that fails
//! fails every write of the batch, as transient. Nothing is acknowledged before it is durable.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

use super::{StoreError, StoreResult};

type Job<Req, Res> = (Req, oneshot::Sender<StoreResult<Res>>);

/// The writes of one kind, batched.
pub struct GroupCommit<Req, Res> {
    jobs: mpsc::Sender<Job<Req, Res>>,
}

/// What one batch did: each write's own answer, in order, or why the batch as a whole failed.
pub type BatchResult<Res> = StoreResult<Vec<StoreResult<Res>>>;

impl<Req: Send + 'static, Res: Send + 'static> GroupCommit<Req, Res> {
    /// Start `workers` batching tasks on the current runtime (one for a database with one
    /// writer; more where transactions run side by side). `run` writes one batch in one
    /// transaction and answers each write in order. The tasks end with the last sender.
    pub fn start<F, Fut>(workers: usize, max_batch: usize, run: F) -> Self
    where
        F: Fn(Vec<Req>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = BatchResult<Res>> + Send,
    {
        let (jobs, queue) = mpsc::channel::<Job<Req, Res>>(max_batch * 4);
        let queue = std::sync::Arc::new(tokio::sync::Mutex::new(queue));
        let run = std::sync::Arc::new(run);
        for _ in 0..workers.max(1) {
            let (queue, run) = (queue.clone(), run.clone());
            tokio::spawn(async move {
                let mut batch = Vec::with_capacity(max_batch);
                loop {
                    // One worker takes what is queued; the next takes what comes meanwhile.
                    if queue.lock().await.recv_many(&mut batch, max_batch).await == 0 {
                        break;
                    }
                    Self::write(&*run, &mut batch).await;
                }
            });
        }
        GroupCommit { jobs }
    }

    async fn write<F, Fut>(run: &F, batch: &mut Vec<Job<Req, Res>>)
    where
        F: Fn(Vec<Req>) -> Fut,
        Fut: Future<Output = BatchResult<Res>>,
    {
        let (requests, answers): (Vec<Req>, Vec<_>) = batch.drain(..).unzip();
        match run(requests).await {
            Ok(results) => {
                for (answer, result) in answers.into_iter().zip(results) {
                    let _ = answer.send(result);
                }
            }
            Err(error) => {
                let why = error.to_string();
                for answer in answers {
                    let _ = answer.send(Err(StoreError::GroupCommit(why.clone())));
                }
            }
        }
    }

    /// Write `request` with whatever else is queued; answered after the shared commit.
    pub async fn submit(&self, request: Req) -> StoreResult<Res> {
        let (answer, answered) = oneshot::channel();
        let gone = || StoreError::GroupCommit("the store's writer has stopped".into());
        self.jobs
            .send((request, answer))
            .await
            .map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parking_lot::Mutex;

    use super::*;

    /// Writes queued together go in one batch; one that fails alone fails alone; a batch that
    /// fails as a whole fails each of its writes, as transient.
    #[tokio::test]
    async fn writes_arriving_together_share_a_batch_and_fail_alone() {
        let batches = Arc::new(Mutex::new(Vec::<Vec<i32>>::new()));
        let seen = batches.clone();
        let group = Arc::new(GroupCommit::start(1, 64, move |jobs: Vec<i32>| {
            let seen = seen.clone();
            async move {
                // Slow enough that the rest queue up behind the first batch.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                seen.lock().push(jobs.clone());
                if jobs.contains(&-1) {
                    return Err(StoreError::Corrupt("the whole batch".into()));
                }
                Ok(jobs
                    .into_iter()
                    .map(|n| {
                        if n == 13 {
                            Err(StoreError::NotFound("thirteen"))
                        } else {
                            Ok(n * 2)
                        }
                    })
                    .collect())
            }
        }));
        let answers: Vec<_> = (0..40)
            .map(|n| {
                let group = group.clone();
                tokio::spawn(async move { (n, group.submit(n).await) })
            })
            .collect();
        for answer in answers {
            let (n, result) = answer.await.unwrap();
            match n {
                13 => assert!(matches!(result, Err(StoreError::NotFound(_)))),
                n => assert_eq!(result.unwrap(), n * 2),
            }
        }
        let sizes: Vec<usize> = batches.lock().iter().map(Vec::len).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 40);
        assert!(sizes.len() < 40, "some writes shared a batch: {sizes:?}");

        let failing = group.clone();
        let doomed = tokio::spawn(async move { failing.submit(-1).await });
        let result = doomed.await.unwrap();
        assert!(matches!(result, Err(StoreError::GroupCommit(_))));
        assert_eq!(
            result.unwrap_err().class(),
            crate::domain::ErrorClass::Transient
        );
    }
}
