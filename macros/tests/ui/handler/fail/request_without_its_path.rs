use helve::http::Request;

#[helve::handler]
async fn echo(request: Request) -> String {
    request.uri().to_string()
}
