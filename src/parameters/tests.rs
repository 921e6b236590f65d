use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use serde::Deserialize;

use super::{
    source::{Configuration, Fetch, Source, Version},
    value::Raw,
    *,
};
use crate::{context::lock, error::codes};

/// A backend in memory: values by name, every read counted, each read taking `delay`.
#[derive(Debug, Default)]
struct Fake {
    values: Mutex<HashMap<String, Raw>>,
    reads: AtomicUsize,
    batches: Mutex<Vec<usize>>,
    delay: Duration,
}

impl Fake {
    fn with(values: &[(&str, &str)]) -> Arc<Self> {
        Self::slow(values, Duration::ZERO)
    }

    fn slow(values: &[(&str, &str)], delay: Duration) -> Arc<Self> {
        let fake = Fake {
            delay,
            ..Fake::default()
        };
        for (name, value) in values {
            fake.set(name, value);
        }
        Arc::new(fake)
    }

    fn set(&self, name: &str, value: &str) {
        lock(&self.values).insert(name.to_owned(), Raw::Text(value.to_owned()));
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    async fn read(&self, service: Service, name: &str) -> Result<Raw, ParameterError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        // The value as it is when the read reaches the service; the answer takes `delay`.
        let value = lock(&self.values).get(name).cloned();
        tokio::time::sleep(self.delay).await;
        value.ok_or_else(|| ParameterError::NotFound {
            service,
            name: name.to_owned(),
        })
    }
}

impl Source for Fake {
    fn name(&self) -> &'static str {
        "a fake"
    }

    fn parameter<'a>(&'a self, name: &'a str, _decrypt: bool) -> Fetch<'a, Raw> {
        Box::pin(self.read(Service::Ssm, name))
    }

    fn parameters<'a>(
        &'a self,
        names: &'a [&'a str],
        _decrypt: bool,
    ) -> Fetch<'a, Vec<(String, Raw)>> {
        Box::pin(async move {
            lock(&self.batches).push(names.len());
            let mut values = Vec::new();
            for name in names {
                values.push(((*name).to_owned(), self.read(Service::Ssm, name).await?));
            }
            Ok(values)
        })
    }

    fn parameters_by_path<'a>(
        &'a self,
        path: &'a str,
        recursive: bool,
        _decrypt: bool,
    ) -> Fetch<'a, Vec<(String, Raw)>> {
        Box::pin(async move {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let prefix = format!("{}/", path.trim_end_matches('/'));
            let values = lock(&self.values);
            Ok(values
                .iter()
                .filter(|(name, _)| {
                    name.strip_prefix(&prefix)
                        .is_some_and(|rest| recursive || !rest.contains('/'))
                })
                .map(|(name, raw)| (name.clone(), raw.clone()))
                .collect())
        })
    }

    fn secret<'a>(&'a self, id: &'a str, version: Version<'a>) -> Fetch<'a, Raw> {
        Box::pin(async move {
            let name = match version {
                Version::Current => id.to_owned(),
                Version::Stage(stage) => format!("{id}@{stage}"),
                Version::Id(version) => format!("{id}#{version}"),
            };
            self.read(Service::SecretsManager, &name).await
        })
    }

    fn configuration<'a>(&'a self, configuration: Configuration<'a>) -> Fetch<'a, Raw> {
        Box::pin(async move {
            self.read(Service::AppConfig, &configuration.to_string())
                .await
        })
    }
}

fn client(fake: &Arc<Fake>, max_age: Duration) -> Parameters {
    Parameters::builder()
        .max_age(max_age)
        .source(Arc::clone(fake) as Arc<dyn Source>)
        .build_with(&|_| None)
        .unwrap()
}

#[derive(Debug, Deserialize, PartialEq)]
struct Pool {
    host: String,
    port: u16,
}

#[tokio::test(start_paused = true)]
async fn a_value_is_read_once_then_served_from_the_cache_until_it_is_older_than_max_age() {
    let fake = Fake::with(&[("/orders/endpoint", "https://orders.internal")]);
    let parameters = client(&fake, Duration::from_secs(5));
    let first = parameters
        .ssm()
        .get::<String>("/orders/endpoint")
        .await
        .unwrap();
    assert_eq!(*first, "https://orders.internal");
    tokio::time::advance(Duration::from_millis(4_999)).await;
    let cached = parameters
        .ssm()
        .get::<String>("/orders/endpoint")
        .await
        .unwrap();
    assert!(Arc::ptr_eq(&first, &cached), "the same value, not a copy");
    assert_eq!(fake.reads(), 1);

    fake.set("/orders/endpoint", "https://orders-v2.internal");
    tokio::time::advance(Duration::from_millis(1)).await;
    let read_again = parameters
        .ssm()
        .get::<String>("/orders/endpoint")
        .await
        .unwrap();
    assert_eq!(*read_again, "https://orders-v2.internal");
    assert_eq!(fake.reads(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_max_age_of_zero_reads_every_time_and_force_fetch_reads_once_more() {
    let fake = Fake::with(&[("/flag", "on")]);
    let uncached = client(&fake, Duration::ZERO);
    uncached.ssm().get::<String>("/flag").await.unwrap();
    uncached.ssm().get::<String>("/flag").await.unwrap();
    assert_eq!(fake.reads(), 2);

    let fake = Fake::with(&[("/flag", "on")]);
    let parameters = client(&fake, Duration::from_secs(60));
    parameters.ssm().get::<String>("/flag").await.unwrap();
    fake.set("/flag", "off");
    let forced = parameters
        .ssm()
        .force_fetch()
        .get::<String>("/flag")
        .await
        .unwrap();
    assert_eq!(*forced, "off");
    // What the forced read found is what the cache serves now.
    let cached = parameters.ssm().get::<String>("/flag").await.unwrap();
    assert_eq!(*cached, "off");
    assert_eq!(fake.reads(), 2);
    // A shorter max age for one read.
    tokio::time::advance(Duration::from_secs(2)).await;
    parameters
        .ssm()
        .max_age(Duration::from_secs(1))
        .get::<String>("/flag")
        .await
        .unwrap();
    assert_eq!(fake.reads(), 3);
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_asking_for_the_same_value_share_one_read() {
    let fake = Fake::slow(&[("/shared", "value")], Duration::from_millis(100));
    let parameters = client(&fake, Duration::from_secs(5));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let parameters = parameters.clone();
            tokio::spawn(async move { parameters.ssm().get::<String>("/shared").await })
        })
        .collect();
    for task in tasks {
        assert_eq!(*task.await.unwrap().unwrap(), "value");
    }
    assert_eq!(fake.reads(), 1, "sixteen callers, one read");
}

#[tokio::test(start_paused = true)]
async fn a_value_that_does_not_convert_is_not_cached_and_names_the_path_not_the_value() {
    let fake = Fake::with(&[("/pool", r#"{"host":"db","port":"hunter2"}"#)]);
    let parameters = client(&fake, Duration::from_secs(5));
    let error = parameters.ssm().get::<Pool>("/pool").await.unwrap_err();
    assert_eq!(error.code(), codes::PARAMETER_TRANSFORM_FAILED);
    let message = error.to_string();
    assert!(
        message.starts_with("parameter `/pool` from SSM Parameter Store is not a `helve::parameters::tests::Pool`: at `port`: invalid type: string, expected u16"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");

    fake.set("/pool", r#"{"host":"db","port":5432}"#);
    let pool = parameters.ssm().get::<Pool>("/pool").await.unwrap();
    assert_eq!(pool.port, 5432);
    assert_eq!(fake.reads(), 2, "the failed conversion was not cached");
}

#[tokio::test(start_paused = true)]
async fn a_missing_parameter_is_not_found_and_not_cached() {
    let fake = Fake::with(&[]);
    let parameters = client(&fake, Duration::from_secs(5));
    let error = parameters
        .ssm()
        .get::<String>("/missing")
        .await
        .unwrap_err();
    assert_eq!(error.code(), codes::PARAMETER_NOT_FOUND);
    assert_eq!(
        error.to_string(),
        "parameter `/missing` was not found in SSM Parameter Store"
    );
    fake.set("/missing", "now here");
    assert_eq!(
        *parameters.ssm().get::<String>("/missing").await.unwrap(),
        "now here"
    );
}

#[tokio::test(start_paused = true)]
async fn the_same_name_read_as_two_types_is_cached_for_each() {
    let fake = Fake::with(&[("/pool", r#"{"host":"db","port":5432}"#)]);
    let parameters = client(&fake, Duration::from_secs(5));
    let text = parameters.ssm().get::<String>("/pool").await.unwrap();
    let pool = parameters.ssm().get::<Pool>("/pool").await.unwrap();
    assert_eq!(*text, r#"{"host":"db","port":5432}"#);
    assert_eq!(pool.host, "db");
    parameters.ssm().get::<String>("/pool").await.unwrap();
    parameters.ssm().get::<Pool>("/pool").await.unwrap();
    assert_eq!(fake.reads(), 2);
}

#[tokio::test(start_paused = true)]
async fn many_names_are_read_ten_at_a_time_and_cached_names_are_not_read_again() {
    let names: Vec<String> = (0..23).map(|index| format!("/p/{index}")).collect();
    let values: Vec<(&str, &str)> = names.iter().map(|name| (name.as_str(), "v")).collect();
    let fake = Fake::with(&values);
    let parameters = client(&fake, Duration::from_secs(5));
    parameters.ssm().get::<String>("/p/0").await.unwrap();
    let asked: Vec<&str> = names.iter().map(String::as_str).collect();
    let read = parameters.ssm().get_many::<String>(&asked).await.unwrap();
    assert_eq!(read.len(), 23);
    assert_eq!(
        *lock(&fake.batches),
        [10, 10, 2],
        "/p/0 came from the cache"
    );
    parameters.ssm().get_many::<String>(&asked).await.unwrap();
    assert_eq!(fake.reads(), 23, "the second read was all cached");

    let error = parameters
        .ssm()
        .get_many::<String>(&["/p/1", "/nope"])
        .await
        .unwrap_err();
    assert_eq!(error.name(), "/nope");
    assert_eq!(error.code(), codes::PARAMETER_NOT_FOUND);
}

#[tokio::test(start_paused = true)]
async fn parameters_by_path_are_named_relative_to_the_path() {
    let fake = Fake::with(&[
        ("/orders/db/host", "db.internal"),
        ("/orders/db/port", "5432"),
        ("/orders/queue", "jobs"),
        ("/billing/queue", "invoices"),
    ]);
    let parameters = client(&fake, Duration::from_secs(5));
    let all = parameters
        .ssm()
        .get_by_path::<String>("/orders", true)
        .await
        .unwrap();
    let names: Vec<&str> = all.keys().map(String::as_str).collect();
    assert_eq!(names, ["db/host", "db/port", "queue"]);
    let top = parameters
        .ssm()
        .get_by_path::<String>("/orders/", false)
        .await
        .unwrap();
    assert_eq!(top.keys().collect::<Vec<_>>(), ["queue"]);
    parameters
        .ssm()
        .get_by_path::<String>("/orders", true)
        .await
        .unwrap();
    assert_eq!(fake.reads(), 2, "each path and depth read once");
}

#[tokio::test(start_paused = true)]
async fn a_secret_does_not_print_and_is_masked_in_log_lines() {
    let fake = Fake::with(&[
        (
            "orders/db",
            r#"{"username":"orders_app","password":"Tr0ub4dor&3-x"}"#,
        ),
        (
            "orders/db@AWSPREVIOUS",
            r#"{"username":"orders_app","password":"0ld-pa55word"}"#,
        ),
    ]);
    let parameters = client(&fake, Duration::from_secs(5));

    #[derive(Debug, Deserialize)]
    struct Database {
        username: String,
        password: String,
    }
    let database = parameters
        .secrets()
        .get::<Database>("orders/db")
        .await
        .unwrap();
    assert_eq!(format!("{database:?} {database}"), "[redacted] [redacted]");
    assert_eq!(database.expose().username, "orders_app");

    let line = crate::logging::raw_line(
        "orders",
        None,
        &format!("connecting as {}", database.expose().username),
        "dsn",
        &serde_json::json!(format!(
            "postgres://orders_app:{}@db",
            database.expose().password
        )),
    );
    let line = String::from_utf8(line).unwrap();
    assert!(!line.contains("Tr0ub4dor"), "{line}");
    assert!(
        line.contains("postgres://orders_app:[REDACTED]@db"),
        "{line}"
    );

    let previous = parameters
        .secrets()
        .version_stage("AWSPREVIOUS")
        .get::<Database>("orders/db")
        .await
        .unwrap();
    assert_eq!(previous.expose().password, "0ld-pa55word");
    assert_eq!(fake.reads(), 2, "each version is cached apart");
}

#[tokio::test(start_paused = true)]
async fn an_appconfig_configuration_is_read_and_cached() {
    let fake = Fake::with(&[("orders/prod/switches", r#"{"new_checkout":true}"#)]);
    let parameters = client(&fake, Duration::from_secs(5));
    let switches = parameters
        .appconfig()
        .get::<serde_json::Value>("orders", "prod", "switches")
        .await
        .unwrap();
    assert_eq!(switches["new_checkout"], true);
    parameters
        .appconfig()
        .get::<serde_json::Value>("orders", "prod", "switches")
        .await
        .unwrap();
    assert_eq!(fake.reads(), 1);
    let error = parameters
        .appconfig()
        .get::<String>("orders", "prod", "missing")
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "configuration `orders/prod/missing` was not found in AppConfig"
    );
}

#[test]
fn settings_are_read_from_the_environment_and_a_bad_one_is_named_not_echoed() {
    let build = |vars: &'static [(&'static str, &'static str)]| {
        Parameters::builder().build_with(&move |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    };
    let parameters = build(&[("POWERTOOLS_PARAMETERS_MAX_AGE", "300")]).unwrap();
    assert_eq!(parameters.inner.max_age, Duration::from_secs(300));
    let parameters = build(&[("POWERTOOLS_PARAMETERS_MAX_AGE", "0")]).unwrap();
    assert_eq!(parameters.inner.max_age, Duration::ZERO);
    assert_eq!(build(&[]).unwrap().inner.max_age, DEFAULT_MAX_AGE);

    for (name, value) in [
        ("POWERTOOLS_PARAMETERS_MAX_AGE", "soon-ish"),
        ("POWERTOOLS_PARAMETERS_MAX_AGE", "-1"),
        ("POWERTOOLS_PARAMETERS_BACKEND", "carrier-pigeon"),
        ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "99999"),
        ("AWS_APPCONFIG_EXTENSION_HTTP_PORT", "zero"),
    ] {
        let vars: &'static [(&'static str, &'static str)] =
            Box::leak(vec![(name, value)].into_boxed_slice());
        let error = build(vars).unwrap_err();
        assert_eq!(error.setting(), name);
        assert!(!error.to_string().contains(value), "{error}");
    }
    assert_eq!(
        build(&[("POWERTOOLS_PARAMETERS_BACKEND", "Extension")])
            .unwrap()
            .inner
            .ssm
            .backend,
        Backend::Extension
    );
}

#[test]
fn a_parameter_error_keeps_its_error_type_as_a_helve_error() {
    let error = ParameterError::NotFound {
        service: Service::SecretsManager,
        name: "orders/db".to_owned(),
    };
    let diagnostic = crate::error::diagnostic(&crate::Error::from(error.clone()));
    assert_eq!(diagnostic.error_type, codes::PARAMETER_NOT_FOUND);
    assert_eq!(
        diagnostic.error_message,
        "secret `orders/db` was not found in Secrets Manager"
    );
    let unavailable = ParameterError::Unavailable {
        service: Service::Ssm,
        name: "/x".to_owned(),
        reason: "no answer".to_owned(),
    };
    assert_eq!(
        crate::error::diagnostic(&unavailable).error_type,
        codes::PARAMETERS_UNAVAILABLE
    );
}

#[tokio::test(start_paused = true)]
async fn a_forced_read_never_takes_a_value_read_before_it_was_asked_for() {
    let fake = Fake::slow(
        &[("/password", "before-rotation")],
        Duration::from_millis(100),
    );
    let parameters = client(&fake, Duration::from_secs(60));
    let early = {
        let parameters = parameters.clone();
        tokio::spawn(async move { parameters.ssm().get::<String>("/password").await })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    // The value rotates while the first read is under way (it already read the old one).
    fake.set("/password", "after-rotation");
    let forced = parameters
        .ssm()
        .force_fetch()
        .get::<String>("/password")
        .await
        .unwrap();
    assert_eq!(*forced, "after-rotation");
    assert_eq!(*early.await.unwrap().unwrap(), "before-rotation");
}
