//! A CloudFormation custom resource that migrates a database schema at deploy time: Create and
//! Update bring the schema up to `TargetVersion`, idempotently (a migration already applied is
//! skipped, so a retried request does no work twice); Delete keeps the schema (a stack never
//! drops data on its way out). helve answers CloudFormation whatever happens: a failed
//! migration, invalid properties, a panic, or a migration that outlasts the function's timeout.
//!
//! The database is simulated in memory so that the example runs anywhere; replace
//! [`Database`] with your driver (the migrations then record themselves in a
//! `schema_migrations` table). Its credentials come from the Secrets Manager secret that
//! `DB_SECRET_ARN` names: deployed, through the AWS Parameters and Secrets Lambda Extension
//! (the template adds its layer); locally, through the SDK against moto
//! (`POWERTOOLS_PARAMETERS_BACKEND=sdk`, `AWS_ENDPOINT_URL`). Without `DB_SECRET_ARN` the
//! simulated database runs without credentials.
//!
//! Run with
//!
//! ```text
//! cargo run -p example-custom-resource -- examples/custom-resource/events/create.json
//! ```
//!
//! Deploy with `cargo lambda build --release --arm64 -p example-custom-resource`, then
//! `sam deploy --guided` from this folder (see the README beside it).

use std::{
    borrow::Cow,
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use helve::cfn::{CustomResource, Outcome, RequestType, from_string};
use helve::parameters::{Parameters, Secret};
use helve::prelude::*;
use validator::{Validate, ValidationError};

/// The custom resource's properties in the template.
///
/// Unknown properties are accepted, not refused: the Update after a property is removed from
/// this struct still carries it in `OldResourceProperties`, and must still decode.
#[derive(Debug, Clone, Deserialize, Validate)]
#[serde(rename_all = "PascalCase")]
struct Schema {
    /// The database whose schema is migrated.
    #[validate(
        length(min = 1, max = 63, message = "must be 1 to 63 characters"),
        custom(function = "identifier")
    )]
    database_name: String,
    /// The schema version to reach: every migration up to it is applied.
    #[serde(deserialize_with = "from_string")]
    #[validate(range(min = 1, message = "must be at least 1"))]
    target_version: u32,
    /// For trying out failure handling only: `Panic` makes a migration panic, `Hang` makes it
    /// outlast the function's timeout. Leave it out in a real stack.
    #[serde(default)]
    simulate: Simulate,
}

/// What the simulated migrations do.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
enum Simulate {
    /// Work normally.
    #[default]
    Nothing,
    /// Panic in the first migration applied: a bug.
    Panic,
    /// Never finish: a lock that is never released.
    Hang,
}

fn identifier(name: &str) -> Result<(), ValidationError> {
    if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(ValidationError::new("identifier").with_message(
            "must be letters, digits and underscores, not starting with a digit".into(),
        ))
    }
}

/// One schema migration.
#[derive(Debug)]
struct Migration {
    version: u32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, in order. A new one is appended with the next version.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "create orders",
        sql: "CREATE TABLE orders (id uuid PRIMARY KEY, placed_at timestamptz NOT NULL)",
    },
    Migration {
        version: 2,
        name: "add order status",
        sql: "ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new'",
    },
    Migration {
        version: 3,
        name: "index orders by status",
        sql: "CREATE INDEX orders_status ON orders (status)",
    },
];

/// Why a migration did not run.
#[derive(Debug, thiserror::Error)]
enum MigrationError {
    #[error("there is no migration {target} for {database}; the latest is {latest}")]
    UnknownVersion {
        database: String,
        target: u32,
        latest: u32,
    },
}

impl FunctionError for MigrationError {
    fn error_type(&self) -> Cow<'static, str> {
        match self {
            MigrationError::UnknownVersion { .. } => "migrations.UnknownVersion".into(),
        }
    }
}

/// How to reach the database: the secret `DB_SECRET_ARN` names, in the shape of an RDS
/// secret (`{"username":..,"password":..,"host":..,"port":..}`).
#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
    host: String,
    #[serde(default = "default_port")]
    port: u16,
}

fn default_port() -> u16 {
    5432
}

/// The simulated database server: each database's schema version. A real one keeps it in a
/// `schema_migrations` table.
#[derive(Debug, Default)]
struct Database {
    versions: Mutex<HashMap<String, u32>>,
    /// What a real driver connects with; `[redacted]` when the state is printed.
    credentials: Option<Secret<Credentials>>,
}

impl Database {
    /// Who the migrations run as: the secret's username, or `simulated` without a secret.
    fn user(&self) -> &str {
        self.credentials
            .as_ref()
            .map_or("simulated", |credentials| {
                credentials.expose().username.as_str()
            })
    }

    fn version(&self, database: &str) -> Option<u32> {
        let versions = self.versions.lock().unwrap_or_else(PoisonError::into_inner);
        versions.get(database).copied()
    }

    async fn apply(&self, database: &str, migration: &Migration, simulate: Simulate) {
        tracing::info!(
            database,
            version = migration.version,
            sql = migration.sql,
            "applying migration {}: {}",
            migration.version,
            migration.name
        );
        match simulate {
            Simulate::Nothing => tokio::time::sleep(Duration::from_millis(5)).await,
            Simulate::Panic => panic!(
                "simulated bug in migration {}: index out of bounds",
                migration.version
            ),
            Simulate::Hang => tokio::time::sleep(Duration::from_secs(24 * 3600)).await,
        }
        let mut versions = self.versions.lock().unwrap_or_else(PoisonError::into_inner);
        versions.insert(database.to_owned(), migration.version);
    }
}

/// The init step: reads the database's credentials once per execution environment. A secret
/// that cannot be read fails the init step with its own `errorType`
/// (`helve.ParameterNotFound`, `helve.ParametersUnavailable`), and helve answers the waiting
/// request FAILED with it.
async fn connect() -> Result<Database, helve::Error> {
    let Ok(secret_arn) = std::env::var("DB_SECRET_ARN") else {
        tracing::info!("DB_SECRET_ARN is not set: the simulated database runs without credentials");
        return Ok(Database::default());
    };
    let parameters = Parameters::from_env()?;
    let credentials = parameters.secrets().get::<Credentials>(&secret_arn).await?;
    let Credentials {
        username,
        password,
        host,
        port,
    } = credentials.expose();
    // A real driver connects here with the password; were it ever logged, helve masks it in
    // every log line.
    let _ = password;
    tracing::info!(%host, port, %username, "connecting to the database");
    Ok(Database {
        versions: Mutex::default(),
        credentials: Some(credentials),
    })
}

#[helve::handler(init = connect, service = "schema-migrations")]
async fn migrate(
    request: CustomResource<Schema>,
    db: &Database,
) -> Result<Outcome, MigrationError> {
    let schema = request.properties();
    if request.request_type() == RequestType::Delete {
        tracing::info!(
            database = %schema.database_name,
            "the schema is kept: removing the resource never drops data"
        );
        return Ok(Outcome::new());
    }

    // Where the database stands: what it records, or, for a database this simulation has not
    // seen, the version the previous properties reached.
    let previous = request
        .previous_properties()
        .filter(|old| old.database_name == schema.database_name)
        .map_or(0, |old| old.target_version);
    let current = db.version(&schema.database_name).unwrap_or(previous);
    let latest = MIGRATIONS.last().map_or(0, |migration| migration.version);
    if schema.target_version > latest {
        return Err(MigrationError::UnknownVersion {
            database: schema.database_name.clone(),
            target: schema.target_version,
            latest,
        });
    }

    if schema.target_version < current {
        // Migrations only go forward. A lower target is most often CloudFormation rolling back
        // a failed stack update: answering FAILED would leave the stack in
        // UPDATE_ROLLBACK_FAILED, so the schema stays where it is, and the answer says so.
        tracing::warn!(
            database = %schema.database_name,
            current,
            target = schema.target_version,
            "the schema stays at version {current}: migrations only go forward; add a migration that undoes the change"
        );
    }

    let mut applied = 0;
    for migration in MIGRATIONS.iter().filter(|migration| {
        migration.version > current && migration.version <= schema.target_version
    }) {
        db.apply(&schema.database_name, migration, schema.simulate)
            .await;
        applied += 1;
    }
    tracing::info!(
        database = %schema.database_name,
        user = db.user(),
        from = current,
        to = schema.target_version,
        applied,
        "the schema is up to date"
    );

    // One resource per database: a new DatabaseName replaces the resource, and CloudFormation
    // then sends a Delete for the old one.
    Ok(Outcome::new()
        .physical_resource_id(format!("schema:{}", schema.database_name))
        .data(serde_json::json!({
            "DatabaseName": schema.database_name,
            "SchemaVersion": db.version(&schema.database_name).unwrap_or(current),
            "Applied": applied,
        })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(version: u32) -> Schema {
        Schema {
            database_name: "orders".to_owned(),
            target_version: version,
            simulate: Simulate::Nothing,
        }
    }

    fn leak<T>(value: T) -> &'static T {
        Box::leak(Box::new(value))
    }

    #[tokio::test(start_paused = true)]
    async fn a_create_applies_every_migration_up_to_the_target_once() {
        let db = leak(Database::default());
        let request = CustomResource::new(RequestType::Create, schema(2));
        let outcome = migrate(request.clone(), db).await.unwrap();
        let expected = Outcome::new()
            .physical_resource_id("schema:orders")
            .data(serde_json::json!({"DatabaseName": "orders", "SchemaVersion": 2, "Applied": 2}));
        assert_eq!(outcome, expected);
        // The same request again, as CloudFormation may retry it: nothing is applied twice.
        let again = migrate(request, db).await.unwrap();
        assert_eq!(serde_json::to_value(&again).unwrap()["Data"]["Applied"], 0);
    }

    #[tokio::test(start_paused = true)]
    async fn an_update_applies_only_the_new_migrations() {
        let db = leak(Database::default());
        let request = CustomResource::new(RequestType::Update, schema(3))
            .old_properties(schema(1))
            .physical_resource_id("schema:orders");
        let outcome = migrate(request, db).await.unwrap();
        assert_eq!(
            serde_json::to_value(&outcome).unwrap()["Data"]["Applied"],
            2
        );
        assert_eq!(db.version("orders"), Some(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_lower_target_as_in_a_rollback_keeps_the_schema_where_it_is() {
        let db = leak(Database::default());
        let request = CustomResource::new(RequestType::Update, schema(1))
            .old_properties(schema(3))
            .physical_resource_id("schema:orders");
        let outcome = migrate(request, db).await.unwrap();
        let expected = Outcome::new()
            .physical_resource_id("schema:orders")
            .data(serde_json::json!({"DatabaseName": "orders", "SchemaVersion": 3, "Applied": 0}));
        assert_eq!(outcome, expected);
    }

    #[tokio::test(start_paused = true)]
    async fn a_version_without_a_migration_is_refused() {
        let db = leak(Database::default());
        let request = CustomResource::new(RequestType::Create, schema(9));
        let error = migrate(request, db).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "there is no migration 9 for orders; the latest is 3"
        );
        assert_eq!(db.version("orders"), None, "nothing was applied");
    }

    #[tokio::test(start_paused = true)]
    async fn a_delete_keeps_the_schema() {
        let db = leak(Database::default());
        let request = CustomResource::new(RequestType::Delete, schema(3))
            .physical_resource_id("schema:orders");
        assert_eq!(migrate(request, db).await.unwrap(), Outcome::new());
        assert_eq!(db.version("orders"), None);
    }

    #[test]
    fn a_database_name_must_be_an_identifier() {
        let mut invalid = schema(1);
        invalid.database_name = "1orders; DROP".to_owned();
        let errors = invalid.validate().unwrap_err();
        assert_eq!(
            helve::validation::describe(&errors),
            "database_name: must be letters, digits and underscores, not starting with a digit (identifier)"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn cloudformation_gets_success_on_create_and_failed_for_a_version_without_migration() {
        use helve::testing::{TestFunction, fixtures};

        // The function as `main` runs it, written by `#[helve::handler]` for tests.
        let mut function = TestFunction::start(helve_function!()).await.unwrap();

        let created =
            function
                .invoke(fixtures::custom_resource_create().properties(
                    serde_json::json!({"DatabaseName": "orders", "TargetVersion": "2"}),
                ))
                .await;
        let answer = created.assert_custom_resource_response();
        assert_eq!(answer["Status"], "SUCCESS");
        assert_eq!(answer["PhysicalResourceId"], "schema:orders");
        assert_eq!(
            answer["Data"],
            serde_json::json!({"DatabaseName": "orders", "SchemaVersion": 2, "Applied": 2})
        );

        let refused = function
            .invoke(
                fixtures::custom_resource_update()
                    .physical_resource_id("schema:orders")
                    .properties(
                        serde_json::json!({"DatabaseName": "orders", "TargetVersion": "99"}),
                    ),
            )
            .await;
        let answer = refused.assert_custom_resource_response();
        assert_eq!(answer["Status"], "FAILED");
        assert_eq!(answer["PhysicalResourceId"], "schema:orders");
    }
}
