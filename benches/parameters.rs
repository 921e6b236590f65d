//! What reading parameters and secrets costs: a cached read (criterion), then the cold start of
//! a function that reads one secret in its init step, through each backend, side by side.
//!
//! ```text
//! cargo bench --bench parameters --features parameters-secrets
//! ```
//!
//! - `cached/*`: `ssm().get::<String>`, `secrets().get::<Value>` and `ssm().get::<Config>` of a
//!   value in the cache (read once before, through the test support's fake extension).
//! - cold start: `benches/secret-reader` built in release twice, in `target/parameters-bench/`:
//!   with helve's `parameters` only (the extension backend, no SDK in the binary) and with
//!   `parameters-secrets` (the SDK backend too). Each start is timed from the process's spawn to
//!   its first `GET /runtime/invocation/next` (the init step done), the median of
//!   [`STARTS`] starts per case, the cases interleaved: reading nothing; one secret through the
//!   extension (the fake on 127.0.0.1, which answers at once); one secret through the SDK
//!   against moto (the client configured from the environment, without aws-config). moto's own
//!   answer time, measured with a warm client in the same run, is printed beside it: it is not
//!   helve's, and Secrets Manager's is different again.

#[path = "../tests/support/mod.rs"]
mod support;

use std::{
    ffi::OsString,
    future::Future,
    path::{Path, PathBuf},
    pin::pin,
    process::Command,
    task::{Context as TaskContext, Poll, Waker},
    time::{Duration, Instant},
};

use criterion::Criterion;
use helve::parameters::{Backend, Parameters};
use serde::Deserialize;
use serde_json::Value;
use std::hint::black_box;
use support::{Launch, Moto, ParameterType, ParametersExtension, RuntimeApi};

/// How many times each case starts the function.
const STARTS: usize = 15;
const TOKEN: &str = "bench-session-token";
const SECRET: &str = "bench/db";
const SECRET_VALUE: &str = r#"{"username":"bench","password":"a-long-enough-password"}"#;

/// A cached value's future completes at its first poll.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

#[derive(Debug, Deserialize)]
struct Config {
    _host: String,
    _size: u16,
}

fn cached(criterion: &mut Criterion, runtime: &tokio::runtime::Runtime) {
    let (_extension, parameters) = runtime.block_on(async {
        let extension = ParametersExtension::start(TOKEN).await;
        extension.put_parameter("/bench/endpoint", ParameterType::String, "https://orders");
        extension.put_parameter(
            "/bench/config",
            ParameterType::String,
            r#"{"_host":"db","_size":8}"#,
        );
        extension.put_secret_string(SECRET, SECRET_VALUE);
        let parameters = Parameters::builder()
            .backend(Backend::Extension)
            .extension_port(extension.port())
            .session_token(TOKEN)
            .max_age(Duration::from_secs(3600))
            .build()
            .expect("the parameters client");
        parameters
            .ssm()
            .get::<String>("/bench/endpoint")
            .await
            .unwrap();
        parameters
            .ssm()
            .get::<Config>("/bench/config")
            .await
            .unwrap();
        parameters.secrets().get::<Value>(SECRET).await.unwrap();
        (extension, parameters)
    });
    let mut group = criterion.benchmark_group("cached");
    group.bench_function("ssm_get_string", |b| {
        b.iter(|| ready(parameters.ssm().get::<String>(black_box("/bench/endpoint"))).unwrap())
    });
    group.bench_function("secrets_get_json_value", |b| {
        b.iter(|| ready(parameters.secrets().get::<Value>(black_box(SECRET))).unwrap())
    });
    group.bench_function("ssm_get_struct", |b| {
        b.iter(|| ready(parameters.ssm().get::<Config>(black_box("/bench/config"))).unwrap())
    });
    group.finish();
}

/// Builds `secret-reader` with and without the SDK, once: the two binaries.
fn binaries() -> (PathBuf, PathBuf) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace.join("target"), |dir| workspace.join(dir))
        .join("parameters-bench");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let build = |dir: &str, features: Option<&str>| {
        let target_dir = target.join(dir);
        let mut command = Command::new(&cargo);
        command
            .current_dir(workspace)
            .args(["build", "--release", "--message-format=short"])
            .args(["-p", "secret-reader"])
            .arg("--target-dir")
            .arg(&target_dir);
        if let Some(features) = features {
            command.args(["--features", features]);
        }
        let status = command.status().expect("cargo runs");
        assert!(status.success(), "{command:?} failed: {status}");
        target_dir.join("release").join("secret-reader")
    };
    (build("extension", None), build("sdk", Some("sdk")))
}

/// One way to start the function.
struct Case {
    name: &'static str,
    binary: PathBuf,
    env: Vec<(&'static str, String)>,
}

/// Starts the function once, and says how long its init took.
async fn start(case: &Case) -> Duration {
    let api = RuntimeApi::start().await;
    let mut launch: Launch = api.function("secret-reader");
    launch
        .binary_at(&case.binary)
        .env("AWS_LAMBDA_LOG_LEVEL", "WARN");
    for (name, value) in &case.env {
        launch.env(name, value);
    }
    let started = Instant::now();
    let process = launch.spawn();
    let init = loop {
        if let Some(first_poll) = api.first_poll() {
            break first_poll - started;
        }
        if started.elapsed() > support::HANG_GUARD {
            panic!("{} did not start:\n{}", case.name, api.process_output());
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    };
    let exit = process.stop().await;
    assert!(
        !exit.stdout.contains("InitError"),
        "{} failed its init:\n{}",
        case.name,
        exit.stdout
    );
    init
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1e3)
}

async fn moto_answer_time(endpoint: &str) -> Duration {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    let client = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "bench"))
            .endpoint_url(endpoint)
            .http_client(helve::aws::https_client())
            .build(),
    );
    client
        .get_secret_value()
        .secret_id(SECRET)
        .send()
        .await
        .expect("moto answers");
    let mut times = Vec::new();
    for _ in 0..STARTS {
        let started = Instant::now();
        client
            .get_secret_value()
            .secret_id(SECRET)
            .send()
            .await
            .expect("moto answers");
        times.push(started.elapsed());
    }
    median(times)
}

async fn cold_start() {
    let (extension_only, with_sdk) = binaries();
    let extension = ParametersExtension::start(TOKEN).await;
    extension.put_secret_string(SECRET, SECRET_VALUE);
    let moto = Moto::start_or_skip("the SDK backend's cold start");
    if let Some(moto) = &moto {
        moto.create_secret(SECRET, SECRET_VALUE).await;
    }
    let through_extension = |binary: &PathBuf, name| Case {
        name,
        binary: binary.clone(),
        env: vec![
            ("SECRET_ID", SECRET.to_owned()),
            ("POWERTOOLS_PARAMETERS_BACKEND", "extension".to_owned()),
            (
                "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
                extension.port().to_string(),
            ),
            ("AWS_SESSION_TOKEN", TOKEN.to_owned()),
        ],
    };
    let mut cases = vec![
        Case {
            name: "reads nothing (parameters only)",
            binary: extension_only.clone(),
            env: Vec::new(),
        },
        through_extension(&extension_only, "one secret, extension (parameters only)"),
        through_extension(&with_sdk, "one secret, extension (SDK compiled in)"),
    ];
    if let Some(moto) = &moto {
        cases.push(Case {
            name: "one secret, SDK against moto",
            binary: with_sdk.clone(),
            env: vec![
                ("SECRET_ID", SECRET.to_owned()),
                ("POWERTOOLS_PARAMETERS_BACKEND", "sdk".to_owned()),
                ("AWS_ENDPOINT_URL", moto.endpoint().to_owned()),
                ("AWS_REGION", "us-east-1".to_owned()),
                ("AWS_ACCESS_KEY_ID", "test".to_owned()),
                ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
                ("AWS_SESSION_TOKEN", TOKEN.to_owned()),
            ],
        });
    }
    let mut inits: Vec<Vec<Duration>> = cases.iter().map(|_| Vec::new()).collect();
    for _ in 0..STARTS {
        for (case, times) in cases.iter().zip(&mut inits) {
            times.push(start(case).await);
        }
    }
    println!("\ncold start: spawn to the first /next, median of {STARTS} starts each");
    for (case, times) in cases.iter().zip(inits) {
        let size = std::fs::metadata(&case.binary).map_or(0, |metadata| metadata.len());
        println!(
            "  {:<42} {:>10}   binary {:.1} MB",
            case.name,
            millis(median(times)),
            size as f64 / 1e6
        );
    }
    if let Some(moto) = &moto {
        println!(
            "  moto's own GetSecretValue answer (warm client, median): {}",
            millis(moto_answer_time(moto.endpoint()).await)
        );
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut criterion = Criterion::default().configure_from_args();
    cached(&mut criterion, &runtime);
    criterion.final_summary();
    runtime.block_on(cold_start());
}
