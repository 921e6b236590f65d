//! An order: what a client sends to create one ([`NewOrder`]), and what the API keeps and
//! answers ([`Order`]).

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use validator::{Validate, ValidationError};

/// The longest order id: 40 characters.
pub const MAX_ID_LEN: usize = 40;

/// The body of `POST /orders`.
///
/// The client chooses the order's id, so that it can send the same request again after a
/// timeout: the retry is answered 409 `order_exists` instead of creating a second order.
/// Unknown fields are accepted, so that a client can send a field before every function
/// knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate)]
pub struct NewOrder {
    /// The order's id: `o-` then letters, digits and `-`, at most 40 characters (`o-1002`).
    #[validate(
        length(min = 3, max = 40, message = "must be 3 to 40 characters"),
        custom(function = "order_id")
    )]
    pub id: String,
    /// Who ordered: an email address.
    #[validate(email(message = "must be an email address"))]
    pub customer_email: String,
    /// What is ordered: 1 to 20 lines.
    #[validate(length(min = 1, max = 20, message = "must have 1 to 20 lines"), nested)]
    pub items: Vec<LineItem>,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate)]
pub struct LineItem {
    /// The product's stock-keeping unit, as `BOOK-42`: 1 to 64 characters.
    #[validate(length(min = 1, max = 64, message = "must be 1 to 64 characters"))]
    pub sku: String,
    /// How many: 1 to 100.
    #[validate(range(min = 1, max = 100, message = "must be 1 to 100"))]
    pub quantity: u32,
}

/// An order as the API keeps it and answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The order's id, chosen by the client.
    pub id: String,
    /// Who ordered.
    pub customer_email: String,
    /// What is ordered.
    pub items: Vec<LineItem>,
    /// When the order was created, in milliseconds since the Unix epoch.
    pub created_at: u64,
}

impl Order {
    /// The order `new` asks for, created at `now` (epoch ms).
    pub fn new(new: NewOrder, now: u64) -> Self {
        Self {
            id: new.id,
            customer_email: new.customer_email,
            items: new.items,
            created_at: now,
        }
    }

    /// The order the in-memory store starts with, so that `GET /orders/o-1001` finds
    /// something on a laptop.
    pub fn sample() -> Self {
        Self {
            id: "o-1001".to_owned(),
            customer_email: "ada@example.com".to_owned(),
            items: vec![
                LineItem {
                    sku: "BOOK-42".to_owned(),
                    quantity: 1,
                },
                LineItem {
                    sku: "PEN-7".to_owned(),
                    quantity: 3,
                },
            ],
            created_at: 1_795_449_600_000,
        }
    }
}

/// Whether `id` can be an order's id: `o-` then letters, digits and `-`, at most
/// [`MAX_ID_LEN`] characters. An id that cannot be one names no order, so `GET` answers 404
/// without asking the store.
pub fn is_order_id(id: &str) -> bool {
    id.len() <= MAX_ID_LEN
        && id.strip_prefix("o-").is_some_and(|rest| {
            !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn order_id(id: &str) -> Result<(), ValidationError> {
    if is_order_id(id) {
        Ok(())
    } else {
        Err(ValidationError::new("order_id")
            .with_message("must be `o-` then letters, digits and `-`".into()))
    }
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_order() -> NewOrder {
        NewOrder {
            id: "o-1002".to_owned(),
            customer_email: "grace@example.com".to_owned(),
            items: vec![LineItem {
                sku: "BOOK-42".to_owned(),
                quantity: 2,
            }],
        }
    }

    #[test]
    fn a_new_order_is_validated_field_by_field() {
        assert!(new_order().validate().is_ok());
        let mut invalid = new_order();
        invalid.id = "1002".to_owned();
        invalid.customer_email = "grace".to_owned();
        invalid.items[0].quantity = 0;
        invalid.items.push(LineItem {
            sku: String::new(),
            quantity: 101,
        });
        let errors = invalid.validate().unwrap_err();
        assert_eq!(
            helve::validation::describe(&errors),
            "customer_email: must be an email address (email); id: must be `o-` then letters, \
             digits and `-` (order_id); items[0].quantity: must be 1 to 100 (range); \
             items[1].quantity: must be 1 to 100 (range); items[1].sku: must be 1 to 64 \
             characters (length)"
        );
    }

    #[test]
    fn an_order_without_lines_is_refused() {
        let mut empty = new_order();
        empty.items.clear();
        let errors = empty.validate().unwrap_err();
        assert_eq!(
            helve::validation::describe(&errors),
            "items: must have 1 to 20 lines (length)"
        );
    }

    #[test]
    fn order_ids() {
        for id in ["o-1", "o-1002", "o-2026-11-23-a"] {
            assert!(is_order_id(id), "{id}");
        }
        let too_long = format!("o-{}", "1".repeat(MAX_ID_LEN - 1));
        for id in [
            "",
            "o-",
            "1002",
            "o_1002",
            "o-10 02",
            "o-1002/x",
            too_long.as_str(),
        ] {
            assert!(!is_order_id(id), "{id}");
        }
    }

    #[test]
    fn an_order_is_what_the_client_sent_and_when() {
        let order = Order::new(new_order(), 1_795_449_600_000);
        assert_eq!(
            serde_json::to_value(&order).unwrap(),
            serde_json::json!({
                "id": "o-1002",
                "customer_email": "grace@example.com",
                "items": [{"sku": "BOOK-42", "quantity": 2}],
                "created_at": 1_795_449_600_000_u64,
            })
        );
    }
}
