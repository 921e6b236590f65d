struct Db;
struct Cache;

async fn setup() -> Result<Db, helve::Error> {
    Ok(Db)
}

#[helve::handler(init = setup)]
async fn handle(event: serde_json::Value, db: &Db, cache: &Cache) -> serde_json::Value {
    let _ = (db, cache);
    event
}
