use helve::cfn::CustomResource;

#[helve::handler]
async fn handle(request: CustomResource<serde_json::Value>) -> Result<String, helve::Error> {
    Ok(request.logical_id().to_owned())
}
