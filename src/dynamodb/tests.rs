//! The writer's arithmetic: item sizes and the backoff's bounds.

use std::{collections::HashMap, time::Duration};

use aws_sdk_dynamodb::{primitives::Blob, types::AttributeValue};

use super::{item_size, writer::full_jitter};

#[test]
fn an_items_size_counts_names_and_values_as_dynamodb_does() {
    let item = HashMap::from([
        ("id".to_owned(), AttributeValue::S("t-1".to_owned())),
        ("amount".to_owned(), AttributeValue::N("12.50".to_owned())),
        ("paid".to_owned(), AttributeValue::Bool(true)),
        (
            "raw".to_owned(),
            AttributeValue::B(Blob::new(vec![0u8; 10])),
        ),
        (
            "tags".to_owned(),
            AttributeValue::L(vec![
                AttributeValue::S("a".to_owned()),
                AttributeValue::S("bc".to_owned()),
            ]),
        ),
        (
            "note".to_owned(),
            AttributeValue::M(HashMap::from([(
                "é".to_owned(),
                AttributeValue::S("ü".to_owned()),
            )])),
        ),
    ]);
    let expected = (2 + 3) // id
        + (6 + 5) // amount
        + (4 + 1) // paid
        + (3 + 10) // raw
        + (4 + 3 + (1 + 1) + (1 + 2)) // tags
        + (4 + 3 + (1 + 2 + 2)); // note: é and ü are 2 bytes each
    assert_eq!(item_size(&item), expected);
}

#[test]
fn each_retry_waits_at_most_the_capped_doubling_of_the_base() {
    let (base, max) = (Duration::from_millis(50), Duration::from_millis(1000));
    let ceiling = |attempt| full_jitter(base, max, attempt, |range| *range.end());
    assert_eq!(ceiling(1), Duration::from_millis(50));
    assert_eq!(ceiling(2), Duration::from_millis(100));
    assert_eq!(ceiling(5), Duration::from_millis(800));
    assert_eq!(ceiling(6), Duration::from_millis(1000), "capped");
    assert_eq!(ceiling(200), Duration::from_millis(1000), "no overflow");
    assert_eq!(
        full_jitter(base, max, 3, |range| *range.start()),
        Duration::ZERO,
        "full jitter starts at 0"
    );
    for attempt in 1..12 {
        let delay = full_jitter(base, max, attempt, fastrand::u64);
        assert!(delay <= ceiling(attempt), "{attempt}: {delay:?}");
    }
}
