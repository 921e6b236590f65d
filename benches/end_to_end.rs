//! helve's `examples/hello` against the same function written by hand on `lambda_runtime`
//! (`benches/hand-written`: current-thread tokio, a tracing-subscriber JSON line and one EMF
//! document per invocation), both as release binaries served by the test support's Runtime API
//! on 127.0.0.1, exactly as Lambda runs them, side by side in one run, with a third: `hello`
//! built with helve's `tracer` feature, each invocation sampled. The two are built as a user
//! builds them (`cargo build --release -p example-hello -p hand-written-hello`, helve with its
//! default features), in `target/end-to-end/` so that no other package's features reach them;
//! the traced hello with `--features helve/tracer`, in `target/end-to-end-tracer/`.
//!
//! ```text
//! cargo bench --bench end_to_end                       # 5 rounds of 2,000 invocations each
//! cargo bench --bench end_to_end -- --invocations 500 --rounds 3
//! cargo bench --bench end_to_end -- --strace           # syscalls over 1,000 invocations
//! ```
//!
//! Per function and round it measures:
//! - init: process start to the first `GET /runtime/invocation/next`, and the CPU time of a
//!   process that only starts (its `getrusage` once reaped), the median of ten starts;
//! - per invocation: the process's user + system CPU time (`getrusage` of the reaped child,
//!   minus the init-only run's), and the wall time from the first `/next` to the last answer,
//!   both divided by the number of invocations. Every thread hop, wake-up and syscall is in
//!   them, which instruction counts miss.
//!
//! Then four invocations that each sleep 50 ms (`tests/functions`' `context-echo`), queued at
//! once, under `AWS_LAMBDA_MAX_CONCURRENCY=4` and without it: with four workers they take about
//! 50 ms, not 200.
//!
//! With `--strace` it runs each function under `strace -f -c` for 1,000 invocations instead, and
//! prints the syscall table of each (CPU figures under strace mean nothing, so none are given).

#[path = "../tests/support/mod.rs"]
mod support;

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
    time::{Duration, Instant},
};

use nix::sys::resource::{UsageWho, getrusage};
use serde_json::json;
use support::{Launch, Outcome, Process, RuntimeApi};

/// The functions compared, by name: helve's hello, the hand-written one, and helve's hello
/// built with the feature `tracer` (every invocation sampled, as the Runtime API of the test
/// support sends `Sampled=1`, so one document sent per invocation).
const FUNCTIONS: [&str; 3] = ["example-hello", "hand-written-hello", TRACED_HELLO];
/// `example-hello` with `--features helve/tracer`, built in a target directory of its own.
const TRACED_HELLO: &str = "example-hello+tracer";
/// How many times a round starts each function only to measure its init: a start takes a few
/// milliseconds, and one start alone is at the machine's mercy.
const INIT_SAMPLES: usize = 10;
/// The event every invocation gets.
const EVENT: &str = r#"{"name":"Ada"}"#;

#[derive(Debug)]
struct Options {
    invocations: usize,
    rounds: usize,
    strace: bool,
}

impl Options {
    /// Reads `--invocations N`, `--rounds R` and `--strace`; ignores what cargo adds (`--bench`).
    fn from_args() -> Self {
        let mut options = Self {
            invocations: 2_000,
            rounds: 5,
            strace: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut number = |name: &str| -> usize {
                args.next()
                    .and_then(|value| value.parse().ok())
                    .filter(|&value| value > 0)
                    .unwrap_or_else(|| panic!("{name} takes a positive number"))
            };
            match arg.as_str() {
                "--invocations" => options.invocations = number("--invocations"),
                "--rounds" => options.rounds = number("--rounds"),
                "--strace" => options.strace = true,
                _ => {}
            }
        }
        options
    }
}

/// The user + system CPU time of every child process reaped so far.
fn children_cpu() -> Duration {
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage(RUSAGE_CHILDREN)");
    let duration = |time: nix::sys::time::TimeVal| {
        Duration::from_secs(u64::try_from(time.tv_sec()).unwrap_or(0))
            + Duration::from_micros(u64::try_from(time.tv_usec()).unwrap_or(0))
    };
    duration(usage.user_time()) + duration(usage.system_time())
}

/// Builds the functions on their own, once, and says where their binaries are: the
/// untraced two in `target/end-to-end/release`, the traced hello in
/// `target/end-to-end-tracer/release` (the same package with another feature).
fn built_alone() -> &'static (PathBuf, PathBuf) {
    static DIRS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIRS.get_or_init(|| {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| workspace.join("target"), |dir| workspace.join(dir));
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        let build = |target_dir: &Path, packages: &[&str], features: Option<&str>| {
            let mut command = Command::new(&cargo);
            command
                .current_dir(workspace)
                .args(["build", "--release", "--message-format=short"])
                .arg("--target-dir")
                .arg(target_dir);
            for package in packages {
                command.args(["-p", package]);
            }
            if let Some(features) = features {
                command.args(["--features", features]);
            }
            let status = command.status().expect("cargo runs");
            assert!(status.success(), "{command:?} failed: {status}");
            target_dir.join("release")
        };
        (
            build(
                &target.join("end-to-end"),
                &["example-hello", "hand-written-hello"],
                None,
            ),
            build(
                &target.join("end-to-end-tracer"),
                &["example-hello"],
                Some("helve/tracer"),
            ),
        )
    })
}

/// Where the binary of a function of [`FUNCTIONS`] is.
fn binary_path(function: &str) -> PathBuf {
    let (plain, traced) = built_alone();
    if function == TRACED_HELLO {
        traced.join("example-hello")
    } else {
        plain.join(function)
    }
}

/// A socket on 127.0.0.1 standing in for the X-Ray daemon, as on Lambda: a datagram to a
/// port nobody listens on would cost the kernel an ICMP answer each time.
fn daemon_address() -> &'static str {
    static DAEMON: OnceLock<(std::net::UdpSocket, String)> = OnceLock::new();
    &DAEMON
        .get_or_init(|| {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("a UDP port");
            let address = socket.local_addr().expect("its address").to_string();
            (socket, address)
        })
        .1
}

/// A function started as Lambda starts it, with the environment the benchmark gives all.
fn launch(api: &RuntimeApi, binary: &str) -> Launch {
    let mut launch = api.function(binary);
    launch
        .binary_at(binary_path(binary))
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .env("AWS_XRAY_DAEMON_ADDRESS", daemon_address());
    launch
}

/// Waits for the function's first `/next`, and says how long after `started` it came.
async fn init_time(api: &RuntimeApi, started: Instant) -> Duration {
    loop {
        if let Some(first_poll) = api.first_poll() {
            return first_poll - started;
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

/// Checks that every invocation was answered with hello's greeting.
fn expect_greetings(outcomes: &[Outcome], binary: &str) {
    for outcome in outcomes {
        match outcome {
            Outcome::Response { body, .. } if *body == json!({"message": "Hello, Ada!"}) => {}
            other => panic!("{binary} answered {other:?}, not the greeting"),
        }
    }
}

/// One measured run of a function.
#[derive(Debug, Clone, Copy)]
struct Sample {
    init: Duration,
    init_cpu: Duration,
    cpu_per_invocation: Duration,
    wall_per_invocation: Duration,
}

/// Starts the function and stops it once it asks for its first event.
async fn start_only(binary: &str) -> (Duration, Duration) {
    let api = RuntimeApi::start().await;
    let mut launch = launch(&api, binary);
    let before = children_cpu();
    let started = Instant::now();
    let process = launch.spawn();
    let init = init_time(&api, started).await;
    process.stop().await;
    (init, children_cpu() - before)
}

/// Serves `invocations` events to the function, and stops it.
async fn serve(binary: &str, invocations: usize) -> (Duration, Duration) {
    let mut api = RuntimeApi::start().await;
    for n in 0..invocations {
        api.push(&format!("bench-{n}"), EVENT);
    }
    let mut launch = launch(&api, binary);
    let before = children_cpu();
    let process = launch.spawn();
    let outcomes = api.next_outcomes(invocations).await;
    let finished = Instant::now();
    let first_poll = api.first_poll().expect("the function asked for an event");
    process.stop().await;
    expect_greetings(&outcomes, binary);
    (children_cpu() - before, finished - first_poll)
}

async fn measure(binary: &str, invocations: usize) -> Sample {
    let mut inits = Vec::with_capacity(INIT_SAMPLES);
    let mut init_cpus = Vec::with_capacity(INIT_SAMPLES);
    for _ in 0..INIT_SAMPLES {
        let (init, init_cpu) = start_only(binary).await;
        inits.push(init);
        init_cpus.push(init_cpu);
    }
    let (init, init_cpu) = (median(inits), median(init_cpus));
    let (cpu, wall) = serve(binary, invocations).await;
    let count = u32::try_from(invocations).expect("fewer than 2^32 invocations");
    Sample {
        init,
        init_cpu,
        cpu_per_invocation: cpu.saturating_sub(init_cpu) / count,
        wall_per_invocation: wall / count,
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn micros(duration: Duration) -> String {
    format!("{:.1} µs", duration.as_secs_f64() * 1e6)
}

async fn compare(options: &Options) {
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); FUNCTIONS.len()];
    // Warm the page cache and the loader, so that the first round is not the slowest.
    for binary in FUNCTIONS {
        measure(binary, 100).await;
    }
    for _ in 0..options.rounds {
        // Interleaved, so that a machine that slows down slows both down.
        for (binary, samples) in FUNCTIONS.iter().zip(&mut samples) {
            samples.push(measure(binary, options.invocations).await);
        }
    }
    println!(
        "{} rounds of {} invocations of {EVENT}; medians (min-max)",
        options.rounds, options.invocations
    );
    println!(
        "{:<20} {:>28} {:>28} {:>24} {:>24}",
        "function",
        "CPU per invocation",
        "wall per invocation",
        "init (start to /next)",
        "init CPU"
    );
    let mut medians = Vec::new();
    for (binary, samples) in FUNCTIONS.iter().zip(&samples) {
        let column = |pick: fn(&Sample) -> Duration| {
            let values: Vec<Duration> = samples.iter().map(pick).collect();
            let min = values.iter().min().copied().unwrap_or_default();
            let max = values.iter().max().copied().unwrap_or_default();
            let median = median(values);
            (
                median,
                format!("{} ({}-{})", micros(median), micros(min), micros(max)),
            )
        };
        let (cpu, cpu_text) = column(|sample| sample.cpu_per_invocation);
        let (wall, wall_text) = column(|sample| sample.wall_per_invocation);
        let (init, init_text) = column(|sample| sample.init);
        let (_, init_cpu_text) = column(|sample| sample.init_cpu);
        println!("{binary:<20} {cpu_text:>28} {wall_text:>28} {init_text:>24} {init_cpu_text:>24}");
        medians.push((cpu, wall, init));
    }
    if let [
        (helve_cpu, helve_wall, helve_init),
        (hand_cpu, hand_wall, hand_init),
        (traced_cpu, traced_wall, traced_init),
    ] = medians[..]
    {
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
        let more_ms = |a: Duration, b: Duration| (a.as_secs_f64() - b.as_secs_f64()) * 1e3;
        println!(
            "helve / hand-written: CPU {:.2}x, wall {:.2}x, init {:+.2} ms",
            ratio(helve_cpu, hand_cpu),
            ratio(helve_wall, hand_wall),
            more_ms(helve_init, hand_init)
        );
        println!(
            "helve with the tracer (sampled) / helve: CPU {:.2}x, wall {:.2}x, init {:+.2} ms",
            ratio(traced_cpu, helve_cpu),
            ratio(traced_wall, helve_wall),
            more_ms(traced_init, helve_init)
        );
    }
}

/// Four 50 ms invocations queued at once: the time until the fourth answer.
async fn four_sleeps(max_concurrency: Option<&str>) -> Duration {
    let mut api = RuntimeApi::start().await;
    let mut launch = api.function("context-echo");
    if let Some(concurrency) = max_concurrency {
        launch.env("AWS_LAMBDA_MAX_CONCURRENCY", concurrency);
    }
    let process = launch.spawn();
    init_time(&api, Instant::now()).await;
    // Let every worker reach its long poll before the events arrive.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let queued = Instant::now();
    for n in 0..4 {
        api.push(&format!("sleep-{n}"), r#"{"sleep_ms": 50}"#);
    }
    let outcomes = api.next_outcomes(4).await;
    let elapsed = queued.elapsed();
    process.stop().await;
    for outcome in &outcomes {
        assert!(
            matches!(outcome, Outcome::Response { .. }),
            "context-echo answered {outcome:?}"
        );
    }
    elapsed
}

async fn concurrency() {
    let four_workers = four_sleeps(Some("4")).await;
    let one_worker = four_sleeps(None).await;
    println!(
        "4 invocations of 50 ms queued at once: {:.1} ms with AWS_LAMBDA_MAX_CONCURRENCY=4, \
         {:.1} ms without",
        four_workers.as_secs_f64() * 1e3,
        one_worker.as_secs_f64() * 1e3
    );
}

/// Runs each function under `strace -f -c` for 1,000 invocations and prints its table.
async fn strace() {
    const INVOCATIONS: usize = 1_000;
    let dir = std::env::temp_dir();
    for binary in FUNCTIONS {
        let counts: PathBuf = dir.join(format!("helve-strace-{binary}.txt"));
        let mut api = RuntimeApi::start().await;
        for n in 0..INVOCATIONS {
            api.push(&format!("bench-{n}"), EVENT);
        }
        let mut launch = launch(&api, binary);
        launch.wrapped_in([
            "strace".as_ref(),
            "-f".as_ref(),
            "-c".as_ref(),
            "-o".as_ref(),
            counts.as_os_str(),
        ]);
        let process: Process = launch.spawn();
        let outcomes = api.next_outcomes(INVOCATIONS).await;
        expect_greetings(&outcomes, binary);
        // Without its Runtime API the function exits, and strace writes its table.
        drop(api);
        process.wait().await;
        let table = std::fs::read_to_string(&counts)
            .unwrap_or_else(|error| panic!("strace wrote no table to {counts:?}: {error}"));
        println!("{binary}, {INVOCATIONS} invocations (init included):\n{table}");
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let options = Options::from_args();
    if options.strace {
        strace().await;
    } else {
        compare(&options).await;
        concurrency().await;
    }
}
