#[helve::handler]
async fn migrate(request: helve::cfn::CustomResource<serde_json::Value>) -> Result<(), helve::Error> {
    let _ = request.logical_id();
    Ok(())
}
