//! A test function that panics when its event asks it to: `{"panic": true, "value": "..."}`
//! panics with the message `asked to panic`; `{"panic": false, "value": "x"}` answers
//! `{"value": "x"}`; `{"unsendable": true, ...}` answers a response that cannot be
//! serialized.

use std::process::ExitCode;

use helve::{Context, Function};
use serde::{Deserialize, Serialize};

/// The event.
#[derive(Debug, Deserialize)]
struct Event {
    panic: bool,
    value: String,
    #[serde(default)]
    unsendable: bool,
}

/// The response.
#[derive(Debug, Serialize)]
struct Reply {
    #[serde(serialize_with = "refuse_when_unsendable")]
    value: (String, bool),
}

fn refuse_when_unsendable<S: serde::Serializer>(
    value: &(String, bool),
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if value.1 {
        return Err(serde::ser::Error::custom("this value cannot be sent"));
    }
    serializer.serialize_str(&value.0)
}

async fn handle(event: Event, _ctx: Context) -> Result<Reply, helve::Error> {
    if event.panic {
        panic!("asked to panic");
    }
    Ok(Reply {
        value: (event.value, event.unsendable),
    })
}

fn main() -> ExitCode {
    Function::new(handle).service("panicky").run()
}
