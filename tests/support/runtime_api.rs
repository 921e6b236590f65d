//! The test kit's Lambda Runtime API on 127.0.0.1 (`helve::testing::runtime_api`), with what
//! helve's own tests add to it: starting the workspace's binaries against it ([`Launch`]), their
//! output in every hang-guard message.

use std::ops::{Deref, DerefMut};

pub(crate) use helve::testing::runtime_api::{DEFAULT_TIMEOUT, Posted as Outcome, Pushed};

use super::process::{self, Launch};

/// The kit's Runtime API, and [`function`](RuntimeApi::function) to start a binary of the
/// workspace against it. It stops when dropped.
#[derive(Debug)]
pub(crate) struct RuntimeApi(helve::testing::runtime_api::RuntimeApi);

impl Deref for RuntimeApi {
    type Target = helve::testing::runtime_api::RuntimeApi;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for RuntimeApi {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl RuntimeApi {
    /// Starts the server.
    pub(crate) async fn start() -> Self {
        Self(helve::testing::runtime_api::RuntimeApi::start().await)
    }

    /// A function binary to start as Lambda starts it, against this Runtime API: the kit's
    /// `lambda_environment` (the binary's name as the function's), nothing inherited from the
    /// test's. Builds the binaries the first time.
    pub(crate) fn function(&self, binary: &str) -> Launch {
        self.set_function_name(binary);
        let mut launch = process::lambda(binary, &self.addr());
        let report = self.hang_report();
        launch.on_spawn(move |log| report.add(move || log.describe()));
        launch
    }
}
