//! A daily job started by an EventBridge schedule: it works out which day to report on from
//! the schedule time (never from the clock, so a retried or late run reports on the same day),
//! logs the schedule time and how late the run started, and returns a summary.
//!
//! Run with
//!
//! ```text
//! cargo run -p example-scheduled -- examples/scheduled/events/daily.json
//! ```
//!
//! Deploy with `cargo lambda build --release --arm64 -p example-scheduled`, then `sam deploy --guided`
//! from this folder (see the README beside it).

use std::borrow::Cow;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use helve::prelude::*;

/// The job's settings, read once.
#[derive(Debug)]
struct Job {
    name: String,
    /// A run that starts later than this after its schedule time is logged at WARN.
    late_after: Duration,
}

async fn setup() -> Result<Job, ScheduledError> {
    let name = std::env::var("JOB_NAME").unwrap_or_else(|_| "daily-report".to_owned());
    let late_after = match std::env::var("LATE_AFTER_SECONDS") {
        Ok(seconds) => seconds
            .parse::<i64>()
            .ok()
            .filter(|seconds| *seconds > 0)
            .map(Duration::seconds)
            .ok_or(ScheduledError::Config(
                "LATE_AFTER_SECONDS must be a positive number of seconds",
            ))?,
        Err(_) => Duration::minutes(5),
    };
    Ok(Job { name, late_after })
}

/// The job's summary, the function's response.
#[derive(Debug, Serialize, PartialEq)]
struct Summary {
    job: String,
    scheduled_for: DateTime<Utc>,
    report_date: NaiveDate,
    status: &'static str,
}

#[derive(Debug, thiserror::Error)]
enum ScheduledError {
    #[error("expected a scheduled event from aws.events, got `{detail_type}` from `{origin}`")]
    NotScheduled { detail_type: String, origin: String },
    #[error("the scheduled event has no `time`")]
    NoTime,
    #[error("{0}")]
    Config(&'static str),
}

impl FunctionError for ScheduledError {
    fn error_type(&self) -> Cow<'static, str> {
        match self {
            ScheduledError::NotScheduled { .. } => "scheduled.NotScheduled".into(),
            ScheduledError::NoTime => "scheduled.NoTime".into(),
            ScheduledError::Config(_) => "scheduled.Config".into(),
        }
    }
}

#[helve::handler(init = setup, service = "reports")]
async fn run_daily_job(
    event: EventBridgeEvent,
    ctx: &Context,
    job: &Job,
) -> Result<Summary, ScheduledError> {
    if event.source != "aws.events" || event.detail_type != "Scheduled Event" {
        return Err(ScheduledError::NotScheduled {
            detail_type: event.detail_type,
            origin: event.source,
        });
    }
    let scheduled_for = event.time.ok_or(ScheduledError::NoTime)?;
    let started_late_by = Utc::now() - scheduled_for;
    if started_late_by > job.late_after {
        tracing::warn!(
            scheduled_for = %scheduled_for,
            late_by_seconds = started_late_by.num_seconds(),
            "the run started late (a retry, or a backlog)"
        );
    }
    // The report covers the whole day before the schedule time, in UTC.
    let report_date = (scheduled_for - Duration::days(1)).date_naive();
    tracing::info!(
        job = %job.name,
        scheduled_for = %scheduled_for,
        report_date = %report_date,
        request_id = ctx.request_id(),
        "running the scheduled job"
    );
    Ok(Summary {
        job: job.name.clone(),
        scheduled_for,
        report_date,
        status: "done",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        Job {
            name: "daily-report".to_owned(),
            late_after: Duration::minutes(5),
        }
    }

    fn event(file: &str) -> EventBridgeEvent {
        let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
        let json = std::fs::read_to_string(path).expect("the event file is readable");
        serde_json::from_str(&json).expect("the event file is an EventBridge event")
    }

    #[tokio::test]
    async fn reports_on_the_day_before_the_schedule_time() {
        let summary = run_daily_job(event("daily.json"), &Context::builder().build(), &job())
            .await
            .unwrap();
        assert_eq!(
            summary.report_date,
            NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
        );
        assert_eq!(
            summary.scheduled_for.to_rfc3339(),
            "2026-11-23T06:00:00+00:00"
        );
        assert_eq!(summary.status, "done");
    }

    #[tokio::test]
    async fn an_event_that_is_not_a_schedule_is_refused() {
        let error = run_daily_job(
            event("not-scheduled.json"),
            &Context::builder().build(),
            &job(),
        )
        .await
        .unwrap_err();
        assert_eq!(error.error_type(), "scheduled.NotScheduled");
    }

    #[tokio::test]
    async fn a_schedule_runs_the_job_and_logs_the_day_it_reports_on() {
        use helve::testing::{Level, fixtures, invoke};

        // The function as `main` runs it, written by `#[helve::handler]` for tests.
        let outcome = invoke(
            helve_function!(),
            fixtures::schedule().time("2026-11-23T06:00:00Z"),
        )
        .await;
        let summary = outcome.assert_response();
        assert_eq!(summary["report_date"], "2026-11-22");
        assert_eq!(summary["status"], "done");
        outcome
            .logs()
            .at(Level::INFO)
            .message("running the scheduled job")
            .with("report_date", "2026-11-22")
            .with("service", "reports")
            .assert_one();
    }

    #[tokio::test]
    async fn an_event_that_is_not_a_schedule_fails_the_invocation_with_its_error_type() {
        use helve::testing::{fixtures, invoke};

        let event = fixtures::eventbridge("orders", "OrderPlaced");
        invoke(helve_function!(), event)
            .await
            .assert_error("scheduled.NotScheduled");
    }
}
