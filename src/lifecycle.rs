//! Shared knowledge of whether the process is on its way out, the signals that start it,
//! and the bounds that keep the way out short.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};

#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    shutting_down: Arc<AtomicBool>,
}

impl Lifecycle {
    /// From now on readiness fails, so load balancers route new requests elsewhere.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }
}

/// Longest the store may take to close (flushing SQLite's writer) before the process exits anyway.
pub const STORE_CLOSE_DEADLINE: Duration = Duration::from_secs(2);
/// Longest the last log lines may take to reach stdout before the process exits anyway.
pub const LOG_FLUSH_DEADLINE: Duration = Duration::from_secs(1);
/// Longest the runtime's remaining tasks (a blocked store thread, say) may hold up the exit.
pub const RUNTIME_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(1);
/// After SIGTERM the process is gone within drain delay + shutdown grace + this. It is
/// `shutdown_overhead_seconds` in deploy/service-contract.json (a test holds them equal): the
/// Helm chart's termination grace period reads it there, and the ECS `stopTimeout` check in
/// deploy/terraform/modules/service is tested against it.
pub const SHUTDOWN_OVERHEAD: Duration = Duration::from_secs(5);

const _: () = assert!(
    STORE_CLOSE_DEADLINE.as_millis()
        + LOG_FLUSH_DEADLINE.as_millis()
        + RUNTIME_SHUTDOWN_DEADLINE.as_millis()
        < SHUTDOWN_OVERHEAD.as_millis()
);

/// Exit status after a second signal cut the drain short: 128 + SIGTERM, as a shell reports
/// a process killed by it.
pub const FORCED_EXIT_CODE: i32 = 143;

/// SIGTERM (what ECS and Kubernetes send) and SIGINT (Ctrl-C), listened for from the moment
/// they are installed: a signal during start-up is not lost, nor does it kill the process
/// before it can say so.
pub struct Signals {
    terminate: Signal,
    interrupt: Signal,
}

impl Signals {
    pub fn install() -> std::io::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// The name of the next signal received.
    pub async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }

    /// Resolves on the first signal. Any later one calls `force`: an operator who signals
    /// twice wants the process gone now, not after the drain.
    pub async fn first_then(mut self, force: impl FnOnce(&'static str) + Send + 'static) {
        let signal = self.next().await;
        tracing::info!(signal, "signal received");
        tokio::spawn(async move {
            let signal = self.next().await;
            force(signal);
        });
    }
}
