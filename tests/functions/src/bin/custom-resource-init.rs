//! A custom resource whose init step needs `DATABASE_URL`: started without it, the init step
//! fails, and helve still answers CloudFormation. With it, every request succeeds with the
//! default answer.

use helve::cfn::CustomResource;

/// What the init step connects to.
#[derive(Debug)]
struct Database {
    _url: String,
}

async fn connect() -> Result<Database, helve::Error> {
    let url =
        std::env::var("DATABASE_URL").map_err(|_| helve::Error::msg("DATABASE_URL is not set"))?;
    Ok(Database { _url: url })
}

#[helve::handler(init = connect, service = "init-check")]
async fn handle(_request: CustomResource<serde_json::Value>, _db: &Database) {}
