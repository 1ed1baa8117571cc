//! The `import` command: a file of past order events (JSON lines) sent to a running
//! service's admin API in parts (`POST /v1/tenants/{id}/imports`), with a progress bar; then,
//! if asked, the progress of the jobs that transfer them. A part is sent again after a failure
//! the service may not have seen through: the inbox knows every event id, so nothing doubles.

use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::admin_client::{AdminApi, AdminApiError, Body};

/// Lines a request carries at most, and bytes (the service takes 256 KiB a body by default).
const PART_LINES: usize = 100;
const PART_BYTES: usize = 200 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("line {line} is longer than one request may be ({PART_BYTES} bytes)")]
    LineTooLong { line: usize },
    #[error("the import: {0}")]
    Api(#[from] AdminApiError),
}

/// Where to send, as whom, and whether to follow the transfer.
pub struct ImportTarget<'a> {
    pub url: &'a str,
    pub token: &'a str,
    pub tenant: &'a str,
    pub wait: bool,
}

/// What the whole file did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub lines: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub conflicts: u64,
    /// `line: reason` of each refused line.
    pub refused: Vec<String>,
    pub jobs: Vec<String>,
    /// With `wait`: the imported entries transferred and failed.
    pub transferred: u64,
    pub failed: u64,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} lines: {} accepted, {} already there, {} conflicts, {} refused; {} jobs",
            self.lines,
            self.accepted,
            self.duplicates,
            self.conflicts,
            self.refused.len(),
            self.jobs.len()
        )?;
        if self.transferred + self.failed > 0 {
            write!(
                f,
                "; {} transferred, {} failed",
                self.transferred, self.failed
            )?;
        }
        for refused in &self.refused {
            write!(f, "\n  refused: {refused}")?;
        }
        Ok(())
    }
}

fn read_error(path: &Path) -> impl Fn(std::io::Error) -> ImportError + '_ {
    move |source| ImportError::Read {
        path: path.display().to_string(),
        source,
    }
}

/// Send `file` to the service; with `wait`, follow its jobs to their end.
pub async fn import(file: &Path, target: &ImportTarget<'_>) -> Result<ImportSummary, ImportError> {
    let total = std::io::BufReader::new(std::fs::File::open(file).map_err(read_error(file))?)
        .lines()
        .count() as u64;
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} lines ({eta})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message("importing");
    let api = AdminApi::new(target.url, target.token);
    let mut summary = ImportSummary::default();
    let reader = std::io::BufReader::new(std::fs::File::open(file).map_err(read_error(file))?);
    let mut part = String::new();
    let (mut first_line, mut in_part) = (1, 0);
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(read_error(file))?;
        if line.len() >= PART_BYTES {
            return Err(ImportError::LineTooLong { line: index + 1 });
        }
        if in_part == PART_LINES || part.len() + line.len() >= PART_BYTES {
            send_part(&api, target, &part, first_line, &mut summary).await?;
            bar.inc(in_part as u64);
            (part, first_line, in_part) = (String::new(), index + 1, 0);
        }
        part.push_str(&line);
        part.push('\n');
        in_part += 1;
    }
    if in_part > 0 {
        send_part(&api, target, &part, first_line, &mut summary).await?;
        bar.inc(in_part as u64);
    }
    bar.finish_with_message("imported");
    if target.wait && !summary.jobs.is_empty() {
        follow(&api, target, &mut summary).await?;
    }
    Ok(summary)
}

/// One part, sent until the service answers it (at most `ATTEMPTS` times).
async fn send_part(
    api: &AdminApi<'_>,
    target: &ImportTarget<'_>,
    part: &str,
    first_line: usize,
    summary: &mut ImportSummary,
) -> Result<(), ImportError> {
    let path = format!(
        "/v1/tenants/{}/imports?first_line={first_line}",
        target.tenant
    );
    let report = api
        .call(reqwest::Method::POST, &path, Body::Lines(part))
        .await?;
    let count = |key: &str| report[key].as_u64().unwrap_or(0);
    summary.lines += count("lines");
    summary.accepted += count("accepted");
    summary.duplicates += count("duplicates");
    summary.conflicts += count("conflicts");
    for refused in report["refused"].as_array().into_iter().flatten() {
        summary.refused.push(format!(
            "line {}: {}",
            refused["line"],
            refused["reason"].as_str().unwrap_or_default()
        ));
    }
    if let Some(job) = report["job"]["id"].as_str() {
        summary.jobs.push(job.to_owned());
    }
    Ok(())
}

/// Poll the jobs until none is running, with a bar over their entries.
async fn follow(
    api: &AdminApi<'_>,
    target: &ImportTarget<'_>,
    summary: &mut ImportSummary,
) -> Result<(), ImportError> {
    let bar = ProgressBar::new(summary.accepted).with_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} orders ({eta})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message("transferring");
    loop {
        let (mut through, mut failed, mut running) = (0, 0, false);
        for job in &summary.jobs {
            let path = format!("/v1/tenants/{}/transfers/{job}", target.tenant);
            let view = api.call(reqwest::Method::GET, &path, Body::Empty).await?;
            let progress = &view["progress"];
            through += progress["done"].as_u64().unwrap_or(0);
            failed += progress["failed"].as_u64().unwrap_or(0);
            running |= view["status"] == "running";
        }
        bar.set_position(through + failed);
        if !running {
            bar.finish_with_message("transferred");
            (summary.transferred, summary.failed) = (through, failed);
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
