#![deny(warnings)]

mod with_outcome {
    use helve::cfn::{CustomResource, Outcome, RequestType};
    use helve::prelude::*;

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    pub struct Bucket {
        pub name: String,
    }

    #[helve::handler(service = "buckets", custom_resource(deadline_margin_ms = 5000))]
    async fn bucket(request: CustomResource<Bucket>, ctx: &Context) -> Result<Outcome, helve::Error> {
        match request.request_type() {
            RequestType::Delete => Ok(Outcome::new()),
            RequestType::Create | RequestType::Update => Ok(Outcome::new()
                .physical_resource_id(request.properties().name.clone())
                .data(serde_json::json!({ "Request": ctx.request_id() }))),
        }
    }
}

mod with_state_and_unit {
    use helve::cfn::CustomResource;

    pub struct Client;

    async fn connect() -> Result<Client, helve::Error> {
        Ok(Client)
    }

    #[helve::handler(init = connect)]
    async fn noop(_request: helve::cfn::CustomResource<serde_json::Value>, _client: &Client) {}

    #[allow(dead_code)]
    fn uses(_: CustomResource<()>) {}
}

// The handlers' `main`s are only named here, so that running this case needs no Runtime API.
fn main() {
    let _: fn() -> std::process::ExitCode = with_outcome::main;
    let _: fn() -> std::process::ExitCode = with_state_and_unit::main;
}
