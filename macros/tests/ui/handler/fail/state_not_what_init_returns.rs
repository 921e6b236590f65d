struct App;

struct Pools;

async fn setup() -> Result<App, helve::Error> {
    Ok(App)
}

#[helve::handler(init = setup)]
async fn handle(event: serde_json::Value, pools: &Pools) -> serde_json::Value {
    let _ = pools;
    event
}
