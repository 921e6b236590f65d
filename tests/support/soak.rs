//! What the soak test (`tests/soak.rs`) needs beyond the Runtime API: the functions as release
//! binaries, a function process whose output is counted and thrown away (100,000 invocations
//! would otherwise keep hundreds of megabytes of logs in the test), its memory and CPU time read
//! from `/proc`, and a driver that keeps a few events queued so the function never waits for
//! the test.
//!
//! The binaries are `example-hello` (helve with its default features, as a user builds it) and
//! `tests/soak-functions` (`soak-http`, `soak-sqs`: helve with `http` and `batch`), built with
//! `cargo build --release` in the target directory (`CARGO_TARGET_DIR`, else `target/`) the
//! first time a test asks, a no-op when they are up to date. `HELVE_SOAK_BIN_DIR` names a
//! directory holding them instead, built some other way; nothing is built then.

use std::{
    collections::VecDeque,
    ffi::OsString,
    fmt,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex, OnceLock, PoisonError},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncRead, AsyncReadExt},
    process::{Child, Command},
    task::JoinHandle,
};

use super::{HANG_GUARD, Outcome, RuntimeApi};

/// The packages built for the soak, one `cargo build` each, so that each gets only the helve
/// features it asks for.
const PACKAGES: [&str; 2] = ["example-hello", "helve-soak-functions"];

/// How much of the start of a process's output is kept, for the test to check what it logs.
const HEAD_BYTES: usize = 256 * 1024;
/// How much of the end of a process's output is kept, for failure messages and the last EMF
/// documents.
const TAIL_BYTES: usize = 64 * 1024;

/// The path of a soak binary: `example-hello`, `soak-http` or `soak-sqs`.
pub(crate) fn soak_binary(name: &str) -> PathBuf {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = match DIR.get_or_init(build_release) {
        Ok(dir) => dir,
        Err(error) => panic!("{error}"),
    };
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "no binary `{name}` in {} (HELVE_SOAK_BIN_DIR, or the release build of {PACKAGES:?})",
        dir.display()
    );
    path
}

fn build_release() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("HELVE_SOAK_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace.join("target"), |dir| workspace.join(dir));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    for package in PACKAGES {
        let mut command = std::process::Command::new(&cargo);
        command
            .current_dir(workspace)
            .args([
                "build",
                "--release",
                "--message-format=short",
                "-p",
                package,
            ])
            .arg("--target-dir")
            .arg(&target);
        let output = command
            .output()
            .map_err(|error| format!("cannot run {}: {error}", Path::new(&cargo).display()))?;
        if !output.status.success() {
            return Err(format!(
                "building the soak binaries failed ({}): {command:?}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    Ok(target.join("release"))
}

/// What a process wrote: counted, its start and its end kept.
#[derive(Debug, Default)]
struct Drained {
    bytes: u64,
    lines: u64,
    head: Vec<u8>,
    tail: VecDeque<u8>,
}

impl Drained {
    fn take(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        self.lines += chunk.iter().filter(|&&byte| byte == b'\n').count() as u64;
        let room = HEAD_BYTES.saturating_sub(self.head.len());
        self.head.extend_from_slice(&chunk[..room.min(chunk.len())]);
        self.tail.extend(chunk);
        let excess = self.tail.len().saturating_sub(TAIL_BYTES);
        self.tail.drain(..excess);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn drain(mut pipe: impl AsyncRead + Unpin, into: Arc<Mutex<Drained>>) {
    let mut buffer = vec![0_u8; 64 * 1024];
    while let Ok(read @ 1..) = pipe.read(&mut buffer).await {
        lock(&into).take(&buffer[..read]);
    }
}

/// The memory of a process, from `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Memory {
    /// `VmRSS`: resident now.
    pub(crate) rss_kib: u64,
    /// `VmHWM`: the most ever resident.
    pub(crate) hwm_kib: u64,
    /// `Threads`.
    pub(crate) threads: u64,
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RSS {} KiB (peak {} KiB, {} threads)",
            self.rss_kib, self.hwm_kib, self.threads
        )
    }
}

/// A function process started as Lambda starts it against a [`RuntimeApi`], with its output
/// drained. Killed when dropped.
#[derive(Debug)]
pub(crate) struct SoakProcess {
    name: String,
    child: Child,
    pid: u32,
    stdout: Arc<Mutex<Drained>>,
    stderr: Arc<Mutex<Drained>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for SoakProcess {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl SoakProcess {
    /// Starts the soak binary `name` with Lambda's environment (as `RuntimeApi::function`
    /// gives it, nothing inherited from the test's but `PATH`) and `env` on top.
    pub(crate) fn spawn(api: &RuntimeApi, name: &str, env: &[(&str, &str)]) -> Self {
        let path = soak_binary(name);
        let mut command = Command::new(&path);
        command
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        let addr = api.addr();
        let log_group = format!("/aws/lambda/{name}");
        for (variable, value) in [
            ("AWS_LAMBDA_RUNTIME_API", addr.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", name),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("TZ", ":UTC"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", log_group.as_str()),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/12/03/[$LATEST]0123456789abcdef0123456789abcdef",
            ),
        ]
        .into_iter()
        .chain(env.iter().copied())
        {
            command.env(variable, value);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", path.display()));
        let pid = child.id().expect("a process just started has an id");
        let stdout = Arc::<Mutex<Drained>>::default();
        let stderr = Arc::<Mutex<Drained>>::default();
        let mut tasks = Vec::new();
        if let Some(pipe) = child.stdout.take() {
            tasks.push(tokio::spawn(drain(pipe, Arc::clone(&stdout))));
        }
        if let Some(pipe) = child.stderr.take() {
            tasks.push(tokio::spawn(drain(pipe, Arc::clone(&stderr))));
        }
        Self {
            name: name.to_owned(),
            child,
            pid,
            stdout,
            stderr,
            tasks,
        }
    }

    /// `VmRSS`, `VmHWM` and `Threads` of `/proc/<pid>/status`.
    pub(crate) fn memory(&self) -> Memory {
        let status = self.proc_file("status");
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|value| value.split_whitespace().next()?.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in /proc/{}/status:\n{status}", self.pid))
        };
        Memory {
            rss_kib: field("VmRSS"),
            hwm_kib: field("VmHWM"),
            threads: field("Threads"),
        }
    }

    /// The process's CPU time so far, user + system (`utime` + `stime` of `/proc/<pid>/stat`).
    pub(crate) fn cpu(&self) -> Duration {
        let stat = self.proc_file("stat");
        // The fields after the command name, which is in parentheses and may hold spaces:
        // `state` is field 3, `utime` 14 and `stime` 15.
        let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks = |field: usize| -> u64 {
            fields
                .get(field - 3)
                .and_then(|value| value.parse().ok())
                .unwrap_or_else(|| panic!("no field {field} in /proc/{}/stat: {stat}", self.pid))
        };
        Duration::from_secs_f64((ticks(14) + ticks(15)) as f64 / clock_ticks_per_second())
    }

    fn proc_file(&self, file: &str) -> String {
        let path = format!("/proc/{}/{file}", self.pid);
        std::fs::read_to_string(&path).unwrap_or_else(|error| {
            panic!(
                "cannot read {path} ({error}): has {} exited?\n{}",
                self.name,
                self.describe()
            )
        })
    }

    /// How many bytes and lines the process wrote to stdout.
    pub(crate) fn stdout_written(&self) -> (u64, u64) {
        let drained = lock(&self.stdout);
        (drained.bytes, drained.lines)
    }

    /// The complete lines among the first [`HEAD_BYTES`] of stdout.
    pub(crate) fn stdout_head(&self) -> Vec<String> {
        complete_lines(&lock(&self.stdout).head, false)
    }

    /// The complete lines among the last [`TAIL_BYTES`] of stdout.
    pub(crate) fn stdout_tail(&self) -> Vec<String> {
        let drained = lock(&self.stdout);
        let (front, back) = drained.tail.as_slices();
        let whole = [front, back].concat();
        complete_lines(&whole, drained.bytes > whole.len() as u64)
    }

    /// Waits, up to the hang guard, until a line among the last of stdout satisfies `found`.
    pub(crate) async fn wait_for_line(&self, found: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            if let Some(line) = self
                .stdout_tail()
                .into_iter()
                .rev()
                .find(|line| found(line))
            {
                return line;
            }
            assert!(
                started.elapsed() < HANG_GUARD,
                "hang guard: the line awaited never came\n{}",
                self.describe()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The end of the process's output, for a failure message.
    pub(crate) fn describe(&self) -> String {
        let tail = |drained: &Arc<Mutex<Drained>>| {
            let drained = lock(drained);
            let (front, back) = drained.tail.as_slices();
            String::from_utf8_lossy(&[front, back].concat()).into_owned()
        };
        format!(
            "--- {name}: the end of stdout ---\n{}--- {name}: the end of stderr ---\n{}--- end of {name} ---",
            tail(&self.stdout),
            tail(&self.stderr),
            name = self.name
        )
    }

    /// Whether the process is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// The lines of `bytes` that end with a line break, without it; the first is dropped when it
/// may be the end of a line cut off.
fn complete_lines(bytes: &[u8], cut_at_start: bool) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    if lines.last().is_some_and(|line| !line.ends_with('\n')) {
        lines.pop();
    }
    if cut_at_start && !lines.is_empty() {
        lines.remove(0);
    }
    lines
        .into_iter()
        .map(|line| line.trim_end_matches('\n').to_owned())
        .collect()
}

/// `getconf CLK_TCK`: the unit of `/proc/<pid>/stat`'s times (100 on Linux, in practice).
fn clock_ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// What a soak run measured.
#[derive(Debug, Clone)]
pub(crate) struct Figures {
    /// The scenario's name.
    pub(crate) scenario: String,
    /// How many invocations were answered.
    pub(crate) invocations: usize,
    /// The memory after the first [`Soak::mark`] invocations, the function idle.
    pub(crate) at_mark: Memory,
    /// The memory after the last invocation, the function idle.
    pub(crate) at_end: Memory,
    /// The resident memory every [`Soak::sample_every`] invocations, in KiB.
    pub(crate) rss_series: Vec<(usize, u64)>,
    /// How many invocations the mark is.
    pub(crate) mark: usize,
    /// CPU time per invocation, after the mark.
    pub(crate) cpu_per_invocation: Duration,
    /// Invocations per second, after the mark.
    pub(crate) per_second: f64,
    /// Bytes the function wrote to stdout per invocation.
    pub(crate) stdout_bytes_per_invocation: f64,
    /// Whether every event had the same trace header ([`Soak::with_fixed_trace`]).
    pub(crate) fixed_trace: bool,
}

impl Figures {
    /// How much larger the resident memory at the end is than at the mark: `0.03` is 3 %.
    pub(crate) fn growth(&self) -> f64 {
        self.at_end.rss_kib as f64 / self.at_mark.rss_kib as f64 - 1.0
    }

    /// Fails the test when the resident memory at the end is more than `bound` (`0.10`: 10 %)
    /// above the mark, with the series so the trend shows.
    pub(crate) fn assert_rss_within(&self, bound: f64) {
        assert!(
            self.growth() <= bound,
            "{}: RSS grew {:.1} % from {} KiB after {} invocations to {} KiB after {} (bound {:.0} %); \
             RSS every {} invocations (KiB): {:?}",
            self.scenario,
            self.growth() * 100.0,
            self.at_mark.rss_kib,
            self.mark,
            self.at_end.rss_kib,
            self.invocations,
            bound * 100.0,
            self.rss_series.get(1).map_or(0, |(n, _)| *n),
            self.rss_series
        );
    }
}

impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let traces = if self.fixed_trace {
            "one trace header for all"
        } else {
            "a new trace header each, as Lambda sends"
        };
        writeln!(f, "soak: {} ({traces})", self.scenario)?;
        writeln!(f, "  invocations            {}", self.invocations)?;
        writeln!(f, "  after {:<6}           {}", self.mark, self.at_mark)?;
        writeln!(
            f,
            "  at the end             {} ({:+.1} %)",
            self.at_end,
            self.growth() * 100.0
        )?;
        writeln!(
            f,
            "  CPU per invocation     {:.1} µs (user + system, after the first {})",
            self.cpu_per_invocation.as_secs_f64() * 1e6,
            self.mark
        )?;
        writeln!(
            f,
            "  invocations per second {:.0} (after the first {})",
            self.per_second, self.mark
        )?;
        writeln!(
            f,
            "  stdout per invocation  {:.0} bytes",
            self.stdout_bytes_per_invocation
        )?;
        let series: Vec<String> = self
            .rss_series
            .iter()
            .map(|(n, rss)| format!("{n}:{rss}"))
            .collect();
        write!(f, "  RSS (KiB) by count     {}", series.join(" "))
    }
}

/// A soak run: `invocations` events, a few queued ahead of the function, each answer checked.
#[derive(Debug, Clone)]
pub(crate) struct Soak {
    /// The scenario's name, for the figures and the request ids.
    pub(crate) scenario: String,
    /// How many invocations.
    pub(crate) invocations: usize,
    /// After how many the memory is taken as the reference.
    pub(crate) mark: usize,
    /// How often the resident memory is sampled.
    pub(crate) sample_every: usize,
    /// How many events wait queued ahead of the function.
    pub(crate) queued_ahead: usize,
    /// One trace header for every event, instead of a new one each as Lambda sends: a
    /// diagnostic, since `lambda_runtime` sets `_X_AMZN_TRACE_ID` to each invocation's, and
    /// glibc's `setenv` keeps every value it was ever given (`docs/reliability.md`).
    pub(crate) fixed_trace: Option<String>,
}

impl Soak {
    /// A run of `invocations`, the reference after the first 1,000.
    pub(crate) fn new(scenario: &str, invocations: usize) -> Self {
        Self {
            scenario: scenario.to_owned(),
            invocations,
            mark: 1_000.min(invocations),
            sample_every: (invocations / 20).max(1),
            queued_ahead: 4,
            fixed_trace: None,
        }
    }

    /// The same run, every event with this trace header.
    pub(crate) fn with_fixed_trace(mut self, trace_header: &str) -> Self {
        self.fixed_trace = Some(trace_header.to_owned());
        self
    }

    /// Runs the invocations: `event(n)` is the `n`th event, `check(n, outcome)` checks its
    /// answer (and panics when it is wrong). Events are queued [`Soak::queued_ahead`] at a
    /// time; at the mark and at the end the queue is let empty, so that the memory is taken
    /// while the function waits for its next event.
    pub(crate) async fn run(
        &self,
        api: &mut RuntimeApi,
        process: &SoakProcess,
        mut event: impl FnMut(usize) -> String,
        mut check: impl FnMut(usize, &Outcome),
    ) -> Figures {
        let mut pushed = 0;
        let mut answered = 0;
        let mut at_mark = None;
        let mut rss_series = Vec::new();
        let id = |n: usize| format!("{}-{n}", self.scenario);
        let mut push_until = |api: &RuntimeApi, pushed: &mut usize, limit: usize| {
            while *pushed < limit {
                match &self.fixed_trace {
                    Some(trace) => api.push_with_trace(&id(*pushed), &event(*pushed), trace),
                    None => api.push(&id(*pushed), &event(*pushed)),
                };
                *pushed += 1;
            }
        };
        while answered < self.invocations {
            // Not past the mark before it is measured, nor past the end.
            let stop = if at_mark.is_none() {
                self.mark
            } else {
                self.invocations
            };
            push_until(api, &mut pushed, (answered + self.queued_ahead).min(stop));
            let outcome = match tokio::time::timeout(HANG_GUARD, api.next_outcome()).await {
                Ok(outcome) => outcome,
                Err(_) => panic!(
                    "hang guard: no answer to {} within {} s\n{}",
                    id(answered),
                    HANG_GUARD.as_secs(),
                    process.describe()
                ),
            };
            let expected_id = id(answered);
            let request_id = match &outcome {
                Outcome::Response { request_id, .. } | Outcome::Error { request_id, .. } => {
                    request_id.as_str()
                }
                other => panic!("{expected_id}: the function sent {other:?}"),
            };
            assert_eq!(
                request_id, expected_id,
                "the answers come in the order of the events"
            );
            check(answered, &outcome);
            answered += 1;
            if answered % self.sample_every == 0 || answered == self.mark {
                rss_series.push((answered, process.memory().rss_kib));
            }
            if answered == self.mark {
                at_mark = Some((process.memory(), process.cpu(), Instant::now()));
            }
        }
        let at_end = process.memory();
        let cpu_at_end = process.cpu();
        let ended = Instant::now();
        let (at_mark, cpu_at_mark, marked) =
            at_mark.expect("the mark is at most the number of invocations");
        let after_mark = u32::try_from(self.invocations - self.mark)
            .expect("fewer than 2^32 invocations")
            .max(1);
        let (stdout_bytes, _) = process.stdout_written();
        Figures {
            scenario: self.scenario.clone(),
            invocations: self.invocations,
            at_mark,
            at_end,
            rss_series,
            mark: self.mark,
            cpu_per_invocation: cpu_at_end.saturating_sub(cpu_at_mark) / after_mark,
            per_second: f64::from(after_mark) / (ended - marked).as_secs_f64(),
            stdout_bytes_per_invocation: stdout_bytes as f64 / self.invocations as f64,
            fixed_trace: self.fixed_trace.is_some(),
        }
    }
}

/// A small seeded generator (SplitMix64): the same seed gives the same events on every run,
/// with no dependency.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix(u64);

impl SplitMix {
    /// A generator seeded with `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound`.
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}
