#![deny(warnings)]

mod sqs {
    use helve::batch::SqsMessage;
    use helve::prelude::*;

    #[derive(Deserialize)]
    pub struct Job {
        pub id: String,
    }

    pub struct Store;

    async fn connect() -> Result<Store, helve::Error> {
        Ok(Store)
    }

    #[helve::handler(init = connect, batch(concurrency = 8, deadline_margin_ms = 1000))]
    async fn work(message: SqsMessage<Job>, ctx: &Context, _store: &Store) -> Result<(), helve::Error> {
        let _ = (&message.body().id, ctx.request_id());
        Ok(())
    }
}

mod stream {
    use helve::batch::KinesisRecord;

    #[helve::handler(batch(continue_on_failure))]
    async fn count(record: KinesisRecord<serde_json::Value>) {
        let _ = record.sequence_number();
    }
}

// The handlers' `main`s are only named here, so that running this case needs no Runtime API.
fn main() {
    let _: fn() -> std::process::ExitCode = sqs::main;
    let _: fn() -> std::process::ExitCode = stream::main;
}
