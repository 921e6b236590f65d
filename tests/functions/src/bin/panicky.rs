//! A test function that panics when its event asks it to: `{"panic": true, "value": "..."}`
//! panics with the message `asked to panic`; `{"panic": false, "value": "x"}` answers
//! `{"value": "x"}`.

use std::process::ExitCode;

use helve::{Context, Function};
use serde::{Deserialize, Serialize};

/// The event.
#[derive(Debug, Deserialize)]
struct Event {
    panic: bool,
    value: String,
}

/// The response.
#[derive(Debug, Serialize)]
struct Reply {
    value: String,
}

async fn handle(event: Event, _ctx: Context) -> Result<Reply, helve::Error> {
    if event.panic {
        panic!("asked to panic");
    }
    Ok(Reply { value: event.value })
}

fn main() -> ExitCode {
    Function::new(handle).service("panicky").run()
}
