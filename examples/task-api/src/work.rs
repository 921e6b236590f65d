//! The work a task does, simulated: a short sleep standing in for the slow part, and a small
//! computation for its result. Replace [`run`] with your own work.
//!
//! | type | input | result |
//! |---|---|---|
//! | `resize` | `image` (a path, 1 to 1024 characters), `width` and `height` (1 to 100000 pixels), `maxSide` (16 to 4096, default 1024) | the thumbnail's path and size: `{"image":..,"thumbnail":"thumbnails/1024/<image>","width":1024,"height":768}`, the longest side at most `maxSide`, the aspect ratio kept, never enlarged |
//! | `report` | `values`, 1 to 10000 numbers; `title`, a string of at most 200 characters | `{"title":..,"count":3,"sum":361.75,"mean":120.58,"min":98.0,"max":143.25}` |
//!
//! Any type fails with `tasks.WorkFailed` when its input has `"fail": true`, after the work
//! ran: the way to see a failed task.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::task::TaskFailure;

/// The types of task the processor does, and the API accepts.
pub const TASK_TYPES: [&str; 2] = ["report", "resize"];

/// How long the simulated work takes when `WORK_MILLIS` is not set.
pub const DEFAULT_WORK_TIME: Duration = Duration::from_millis(200);

/// The failure of a task whose type the processor does not do.
pub const UNKNOWN_TYPE: &str = "tasks.UnknownType";

/// The failure of a task whose input can never work.
pub const INVALID_INPUT: &str = "tasks.InvalidInput";

/// The failure of a task whose work failed (here, because its input asked it to).
pub const WORK_FAILED: &str = "tasks.WorkFailed";

/// The longest `image` of a `resize`.
const MAX_IMAGE_LEN: usize = 1024;

/// The most `values` of a `report`.
const MAX_VALUES: usize = 10_000;

/// Does the work of a task of type `kind` on `input`, taking `time`: its result, or why it
/// failed for good. Input that can never work fails before the work starts.
pub async fn run(
    kind: &str,
    input: &Map<String, Value>,
    time: Duration,
) -> Result<Value, TaskFailure> {
    let result = match kind {
        "resize" => resize(input)?,
        "report" => report(input)?,
        // The processor checked that `kind` is a name of at most 64 letters, digits and `-`
        // before it got here, so it can be shown.
        other => {
            return Err(TaskFailure::new(
                UNKNOWN_TYPE,
                format!("unknown task type `{other}`; this processor does `report` and `resize`"),
            ));
        }
    };
    tokio::time::sleep(time).await;
    if input.get("fail") == Some(&Value::Bool(true)) {
        return Err(TaskFailure::new(
            WORK_FAILED,
            "the work failed, as the input asks (`\"fail\": true`)",
        ));
    }
    Ok(result)
}

/// The thumbnail of an image.
fn resize(input: &Map<String, Value>) -> Result<Value, TaskFailure> {
    let invalid = || {
        TaskFailure::new(
            INVALID_INPUT,
            "a `resize` needs `image` (a path of 1 to 1024 characters), `width` and `height` \
             (whole numbers from 1 to 100000) and, optionally, `maxSide` (16 to 4096)",
        )
    };
    let image = input
        .get("image")
        .and_then(Value::as_str)
        .filter(|image| (1..=MAX_IMAGE_LEN).contains(&image.chars().count()))
        .ok_or_else(invalid)?;
    let side = |name: &str, range: std::ops::RangeInclusive<u64>| {
        input
            .get(name)
            .and_then(Value::as_u64)
            .filter(|value| range.contains(value))
            .ok_or_else(invalid)
    };
    let width = side("width", 1..=100_000)?;
    let height = side("height", 1..=100_000)?;
    let max_side = match input.get("maxSide") {
        None => 1024,
        Some(_) => side("maxSide", 16..=4096)?,
    };
    let (width, height) = fit(width, height, max_side);
    Ok(json!({
        "image": image,
        "thumbnail": format!("thumbnails/{max_side}/{image}"),
        "width": width,
        "height": height,
    }))
}

/// `width` x `height` scaled so that the longest side is at most `max_side`, the aspect ratio
/// kept (rounded to the nearest pixel, at least 1); a smaller image keeps its size.
fn fit(width: u64, height: u64, max_side: u64) -> (u64, u64) {
    let longest = width.max(height);
    if longest <= max_side {
        return (width, height);
    }
    let scale = |side: u64| ((side * max_side + longest / 2) / longest).max(1);
    (scale(width), scale(height))
}

/// The figures of a list of numbers.
fn report(input: &Map<String, Value>) -> Result<Value, TaskFailure> {
    let invalid = || {
        TaskFailure::new(
            INVALID_INPUT,
            "a `report` needs `values`, a list of 1 to 10000 numbers, and, optionally, `title`, \
             a string of at most 200 characters",
        )
    };
    let title = match input.get("title") {
        None => None,
        Some(title) => Some(
            title
                .as_str()
                .filter(|title| title.chars().count() <= 200)
                .ok_or_else(invalid)?,
        ),
    };
    let values: Vec<f64> = input
        .get("values")
        .and_then(Value::as_array)
        .filter(|values| (1..=MAX_VALUES).contains(&values.len()))
        .ok_or_else(invalid)?
        .iter()
        .map(Value::as_f64)
        .collect::<Option<_>>()
        .ok_or_else(invalid)?;
    let sum: f64 = values.iter().sum();
    if !sum.is_finite() {
        return Err(TaskFailure::new(
            INVALID_INPUT,
            "the `values` of this `report` are too large to add up",
        ));
    }
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // At most 10000 values: the count is exact as a float.
    let mean = sum / values.len() as f64;
    let mut result = json!({
        "count": values.len(),
        "sum": cents(sum),
        "mean": cents(mean),
        "min": min,
        "max": max,
    });
    if let (Some(title), Value::Object(fields)) = (title, &mut result) {
        fields.insert("title".to_owned(), Value::from(title));
    }
    Ok(result)
}

/// `value` rounded to two decimals.
fn cents(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!("the tests pass objects"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_resize_keeps_the_aspect_ratio_within_max_side() {
        let result = run(
            "resize",
            &input(json!({"image": "uploads/cat.jpg", "width": 4032, "height": 3024})),
            DEFAULT_WORK_TIME,
        )
        .await
        .unwrap();
        assert_eq!(
            result,
            json!({"image": "uploads/cat.jpg", "thumbnail": "thumbnails/1024/uploads/cat.jpg", "width": 1024, "height": 768})
        );
        assert_eq!(fit(300, 200, 1024), (300, 200), "never enlarged");
        assert_eq!(fit(100_000, 1, 16), (16, 1), "at least one pixel");
    }

    #[tokio::test(start_paused = true)]
    async fn a_report_adds_up_its_values() {
        let result = run(
            "report",
            &input(json!({"title": "November", "values": [120.5, 98, 143.25]})),
            DEFAULT_WORK_TIME,
        )
        .await
        .unwrap();
        assert_eq!(
            result,
            json!({"title": "November", "count": 3, "sum": 361.75, "mean": 120.58, "min": 98.0, "max": 143.25})
        );
    }

    #[tokio::test(start_paused = true)]
    async fn input_that_can_never_work_fails_without_showing_it() {
        for (kind, value) in [
            (
                "resize",
                json!({"image": "a.jpg", "width": 0, "height": 10}),
            ),
            ("resize", json!({"image": "", "width": 10, "height": 10})),
            (
                "resize",
                json!({"image": "a.jpg", "width": 10, "height": 10, "maxSide": 5}),
            ),
            ("report", json!({"values": []})),
            ("report", json!({"values": [1, "secret-token"]})),
            ("report", json!({"values": [1], "title": 7})),
        ] {
            let failure = run(kind, &input(value), DEFAULT_WORK_TIME)
                .await
                .unwrap_err();
            assert_eq!(failure.error_type, INVALID_INPUT, "{kind}");
            assert!(!failure.message.contains("secret-token"));
        }
        let too_large = run(
            "report",
            &input(json!({"values": [1e308, 1e308]})),
            DEFAULT_WORK_TIME,
        )
        .await
        .unwrap_err();
        assert_eq!(too_large.error_type, INVALID_INPUT);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_type_and_the_fail_flag_fail_the_task() {
        let unknown = run("transcode", &Map::new(), DEFAULT_WORK_TIME)
            .await
            .unwrap_err();
        assert_eq!(
            unknown,
            TaskFailure::new(
                UNKNOWN_TYPE,
                "unknown task type `transcode`; this processor does `report` and `resize`"
            )
        );
        let asked = run(
            "report",
            &input(json!({"values": [1], "fail": true})),
            DEFAULT_WORK_TIME,
        )
        .await
        .unwrap_err();
        assert_eq!(asked.error_type, WORK_FAILED);
    }
}
