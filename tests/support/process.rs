//! The binaries under test: built once per test binary, started with a clean environment, their
//! output captured, killed when dropped.

use std::{
    ffi::{OsStr, OsString},
    fmt,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex, OnceLock, PoisonError},
};

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    process::{Child, Command},
    task::JoinHandle,
};

use super::HANG_GUARD;

/// The packages whose binaries the tests run.
const PACKAGES: [&str; 8] = [
    "example-hello",
    "example-scheduled",
    "example-custom-resource",
    "example-sqs-worker",
    "example-orders-api",
    "example-s3-ingest",
    "helve-test-functions",
    "hand-written-hello",
];

/// The path of a binary of the examples or of `tests/functions`, building them all (the
/// workspace's binaries, under `--all-features`) the first time this test binary asks
/// (cargo's own lock serialises the builds of test binaries that run at once).
pub(crate) fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = match BUILT.get_or_init(build) {
        Ok(dir) => dir,
        Err(error) => panic!("{error}"),
    };
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "no binary `{name}` in {} after building the binaries of {PACKAGES:?}",
        dir.display()
    );
    path
}

/// Where cargo puts the binaries: `<target dir>/<profile>`, or `<target dir>/<triple>/<profile>`
/// when the tests were built for an explicit target.
#[derive(Debug)]
struct Layout {
    target_dir: PathBuf,
    triple: Option<OsString>,
    profile: OsString,
}

impl Layout {
    fn profile_dir(&self) -> PathBuf {
        let mut dir = self.target_dir.clone();
        if let Some(triple) = &self.triple {
            dir.push(triple);
        }
        dir.join(&self.profile)
    }
}

/// The layout of this test binary, `<target dir>[/<triple>]/<profile>/deps/<test>-<hash>`;
/// `CARGO_TARGET_DIR` names the target directory when it is set.
fn layout() -> Result<Layout, String> {
    let exe = std::env::current_exe().map_err(|error| format!("no current exe: {error}"))?;
    let not_in_target = || format!("{} is not in <target>/<profile>/deps", exe.display());
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(not_in_target)?;
    let profile = profile_dir
        .file_name()
        .ok_or_else(not_in_target)?
        .to_owned();
    let parent = profile_dir.parent().ok_or_else(not_in_target)?;
    // The target directory is the one cargo tags; a folder in between names the target triple.
    let (derived, triple) = if parent.join("CACHEDIR.TAG").is_file() {
        (parent.to_owned(), None)
    } else {
        let target_dir = parent.parent().ok_or_else(not_in_target)?;
        (
            target_dir.to_owned(),
            parent.file_name().map(OsStr::to_owned),
        )
    };
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => std::env::current_dir()
            .map_err(|error| format!("no current directory: {error}"))?
            .join(dir),
        None => derived,
    };
    Ok(Layout {
        target_dir,
        triple,
        profile,
    })
}

fn build() -> Result<PathBuf, String> {
    let layout = layout()?;
    // The `dev` profile builds into `debug`; every other profile into a folder of its name.
    let profile = if layout.profile == "debug" {
        OsString::from("dev")
    } else {
        layout.profile.clone()
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = std::process::Command::new(&cargo);
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--bins", "--message-format=short", "--profile"])
        .arg(&profile)
        .arg("--target-dir")
        .arg(&layout.target_dir);
    if let Some(triple) = &layout.triple {
        command.arg("--target").arg(triple);
    }
    // Every feature of helve's Cargo.toml: keep the list in step with it.
    if cfg!(all(
        feature = "cfn",
        feature = "cloudwatch",
        feature = "batch",
        feature = "dynamodb",
        feature = "http",
        feature = "idempotency",
        feature = "s3",
        feature = "tracer",
        feature = "validate"
    )) {
        // Under `cargo test --workspace --all-features` (the README's and CI's command): the
        // same packages, targets and features, so that cargo resolves the same features for
        // every dependency and builds only the binaries, not a second copy of the dependency
        // graph (minutes, and gigabytes of disk).
        command.args(["--workspace", "--all-features", "--tests"]);
    } else {
        for package in PACKAGES {
            command.args(["-p", package]);
        }
    }
    let output = command
        .output()
        .map_err(|error| format!("cannot run {}: {error}", Path::new(&cargo).display()))?;
    if output.status.success() {
        Ok(layout.profile_dir())
    } else {
        Err(format!(
            "building the binaries under test failed ({}): {command:?}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// A binary to start in local mode: no Lambda variable at all, nothing inherited from the
/// test's environment but `PATH`.
pub(crate) fn local(binary_name: &str) -> Launch {
    Launch::new(binary_name)
}

/// A binary to start as Lambda starts it against the Runtime API at `addr`: the environment
/// of the test kit's Runtime API.
pub(crate) fn lambda(binary_name: &str, addr: &str) -> Launch {
    let mut launch = Launch::new(binary_name);
    for (name, value) in helve::testing::runtime_api::lambda_environment(addr, binary_name) {
        launch.env(name, value);
    }
    launch
}

/// A binary about to start: its arguments, environment and stdin.
pub(crate) struct Launch {
    name: String,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    stdin: Option<Vec<u8>>,
    /// A program (and its arguments) that runs the binary, as `strace -f -c` does.
    wrapper: Vec<OsString>,
    /// The binary to run instead of the workspace build's of that name.
    path: Option<PathBuf>,
    on_spawn: Option<Box<dyn FnOnce(OutputLog) + Send>>,
}

impl fmt::Debug for Launch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Launch")
            .field("name", &self.name)
            .field("args", &self.args)
            .field("env", &self.env)
            .finish_non_exhaustive()
    }
}

impl Launch {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            wrapper: Vec::new(),
            path: None,
            on_spawn: None,
        }
    }

    /// Adds a command-line argument.
    pub(crate) fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds command-line arguments.
    pub(crate) fn args<I, A>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = A>,
        A: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable.
    pub(crate) fn env(&mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.env
            .push((name.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Removes an environment variable set so far (Lambda's defaults included).
    pub(crate) fn env_remove(&mut self, name: impl AsRef<OsStr>) -> &mut Self {
        self.env.push((name.as_ref().to_owned(), None));
        self
    }

    /// What the process reads on stdin (otherwise stdin is empty).
    pub(crate) fn stdin(&mut self, bytes: impl Into<Vec<u8>>) -> &mut Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Runs the binary at `path` (built some other way) instead of the workspace build's.
    pub(crate) fn binary_at(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.path = Some(path.into());
        self
    }

    /// Runs the binary under another program, its path given as that program's last argument:
    /// `wrapped_in(["strace", "-f", "-c", "-o", "counts.txt"])`.
    pub(crate) fn wrapped_in<I, A>(&mut self, wrapper: I) -> &mut Self
    where
        I: IntoIterator<Item = A>,
        A: AsRef<OsStr>,
    {
        self.wrapper = wrapper
            .into_iter()
            .map(|part| part.as_ref().to_owned())
            .collect();
        self
    }

    pub(super) fn on_spawn(&mut self, hook: impl FnOnce(OutputLog) + Send + 'static) {
        self.on_spawn = Some(Box::new(hook));
    }

    /// Starts the process. It is killed when the returned [`Process`] is dropped.
    pub(crate) fn spawn(&mut self) -> Process {
        let path = match &self.path {
            Some(path) => path.clone(),
            None => binary(&self.name),
        };
        let mut command = match self.wrapper.split_first() {
            Some((program, wrapper_args)) => {
                let mut command = Command::new(program);
                command.args(wrapper_args).arg(&path);
                command
            }
            None => Command::new(&path),
        };
        command
            .args(&self.args)
            .env_clear()
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        for (name, value) in &self.env {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", path.display()));

        let log = OutputLog {
            name: self.name.clone(),
            stdout: Arc::default(),
            stderr: Arc::default(),
        };
        let mut tasks = Vec::new();
        if let (Some(mut pipe), Some(bytes)) = (child.stdin.take(), self.stdin.take()) {
            tasks.push(tokio::spawn(async move {
                // A process that exits without reading its stdin is the test's business.
                let _ = pipe.write_all(&bytes).await;
            }));
        }
        if let Some(pipe) = child.stdout.take() {
            tasks.push(tokio::spawn(capture(pipe, Arc::clone(&log.stdout))));
        }
        if let Some(pipe) = child.stderr.take() {
            tasks.push(tokio::spawn(capture(pipe, Arc::clone(&log.stderr))));
        }
        if let Some(hook) = self.on_spawn.take() {
            hook(log.clone());
        }
        Process { child, log, tasks }
    }

    /// Starts the process and waits for it to exit.
    pub(crate) async fn run(&mut self) -> Exit {
        self.spawn().wait().await
    }
}

async fn capture(mut pipe: impl AsyncRead + Unpin, into: Arc<Mutex<Vec<u8>>>) {
    let mut buffer = [0_u8; 8192];
    while let Ok(read @ 1..) = pipe.read(&mut buffer).await {
        lock(&into).extend_from_slice(&buffer[..read]);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a process has written so far.
#[derive(Debug, Clone)]
pub(crate) struct OutputLog {
    name: String,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl OutputLog {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stdout)).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stderr)).into_owned()
    }

    /// The output, for a failure message.
    pub(super) fn describe(&self) -> String {
        format!(
            "--- {name}: stdout ---\n{}--- {name}: stderr ---\n{}--- end of {name} ---",
            self.stdout(),
            self.stderr(),
            name = self.name
        )
    }
}

/// A running binary. Killed when dropped.
#[derive(Debug)]
pub(crate) struct Process {
    child: Child,
    log: OutputLog,
    tasks: Vec<JoinHandle<()>>,
}

impl Process {
    /// What the process has written to stdout so far.
    pub(crate) fn stdout(&self) -> String {
        self.log.stdout()
    }

    /// What the process has written to stderr so far.
    pub(crate) fn stderr(&self) -> String {
        self.log.stderr()
    }

    /// The exit status, if the process has exited.
    pub(crate) fn try_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends SIGTERM, as Lambda does before it stops an execution environment whose function
    /// registered an extension.
    pub(crate) fn terminate(&self) {
        let pid = self.child.id().expect("the process is running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("`kill` runs");
        assert!(status.success(), "kill -TERM {pid}: {status}");
    }

    /// Kills the process and returns everything it wrote before: a Lambda function serves
    /// until it is stopped, and a test reads its logs once it has answered.
    pub(crate) async fn stop(mut self) -> Exit {
        // Killing a process that already exited is not an error for the test.
        let _ = self.child.start_kill();
        self.wait().await
    }

    /// Waits for the process to exit on its own, up to the hang guard, and returns its whole
    /// output.
    pub(crate) async fn wait(mut self) -> Exit {
        let finished = async {
            let status = self.child.wait().await;
            for task in self.tasks.drain(..) {
                let _ = task.await;
            }
            status
        };
        match tokio::time::timeout(HANG_GUARD, finished).await {
            Ok(Ok(status)) => Exit {
                status,
                stdout: self.stdout(),
                stderr: self.stderr(),
            },
            Ok(Err(error)) => panic!("cannot wait for {}: {error}", self.log.name),
            Err(_) => panic!(
                "hang guard: {} did not exit within {} s (a hang, not a speed problem)\n{}",
                self.log.name,
                HANG_GUARD.as_secs(),
                self.log.describe()
            ),
        }
    }
}

/// How a process ended, and everything it wrote.
#[derive(Debug)]
pub(crate) struct Exit {
    /// The exit status.
    pub(crate) status: ExitStatus,
    /// Everything written to stdout.
    pub(crate) stdout: String,
    /// Everything written to stderr.
    pub(crate) stderr: String,
}

impl Exit {
    /// The exit code; `None` when a signal ended the process.
    pub(crate) fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The last line of stdout, without its line break.
    pub(crate) fn last_stdout_line(&self) -> &str {
        self.stdout.lines().last().unwrap_or("")
    }

    /// The lines of stderr.
    pub(crate) fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n--- stdout ---\n{}--- stderr ---\n{}--- end ---",
            self.status, self.stdout, self.stderr
        )
    }
}
