//! Supervision of the daemon's long-running tasks (issue 7 item 6): a task that ends on its
//! own (a panic, or an unexpected return) is logged, restarted after a backoff that doubles
//! from 1 s up to 60 s, and shown in the status; the other tasks run on.

use std::future::Future as _;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// The first wait before a restart.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait before a restart.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

type Start = Box<dyn Fn() -> JoinHandle<()> + Send>;

struct Supervised {
    name: String,
    start: Start,
    task: Option<JoinHandle<()>>,
    restarts: u32,
    last_failure: Option<String>,
    restart_at: Option<Instant>,
    backoff: Duration,
}

/// A set of supervised tasks; aborted when dropped or cleared.
#[derive(Default)]
pub struct Supervisor {
    tasks: Vec<Supervised>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.tasks.iter().map(|t| &t.name))
            .finish()
    }
}

impl Supervisor {
    /// Starts `start()` now as task `name`, and again whenever it ends.
    pub fn add(&mut self, name: String, start: impl Fn() -> JoinHandle<()> + Send + 'static) {
        let task = start();
        self.tasks.push(Supervised {
            name,
            start: Box::new(start),
            task: Some(task),
            restarts: 0,
            last_failure: None,
            restart_at: None,
            backoff: FIRST_BACKOFF,
        });
    }

    /// Notices tasks that ended (logged, restart scheduled) and restarts those whose backoff
    /// is over. Call it regularly (the daemon does every second).
    pub fn check(&mut self, now: Instant) {
        for t in &mut self.tasks {
            if t.task.as_ref().is_some_and(JoinHandle::is_finished) {
                let why = match t.task.take().and_then(|h| h.now_or_never()) {
                    Some(Err(e)) if e.is_panic() => {
                        let p = e.into_panic();
                        let msg = p
                            .downcast_ref::<&str>()
                            .map(|s| (*s).to_owned())
                            .or_else(|| p.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "a panic".to_owned());
                        format!("panicked: {msg}")
                    }
                    Some(Err(e)) => format!("failed: {e}"),
                    _ => "ended".to_owned(),
                };
                tracing::error!("{} {why}; restarting in {}s", t.name, t.backoff.as_secs());
                t.last_failure = Some(why);
                t.restart_at = Some(now + t.backoff);
                t.backoff = (t.backoff * 2).min(MAX_BACKOFF);
            }
            if t.task.is_none() && t.restart_at.is_some_and(|at| at <= now) {
                t.restart_at = None;
                t.restarts += 1;
                tracing::warn!("{}: restart {}", t.name, t.restarts);
                t.task = Some((t.start)());
            }
        }
    }

    /// Stops every task and forgets them.
    pub fn clear(&mut self) {
        for t in self.tasks.drain(..) {
            if let Some(h) = t.task {
                h.abort();
            }
        }
    }

    /// `[{"name","running","restarts","last_failure","restart_in_seconds"}]`.
    pub fn status_json(&self) -> Value {
        let now = Instant::now();
        Value::Array(
            self.tasks
                .iter()
                .map(|t| {
                    json!({
                        "name": t.name,
                        "running": t.task.is_some(),
                        "restarts": t.restarts,
                        "last_failure": t.last_failure,
                        "restart_in_seconds": t.restart_at.map(|a| a.saturating_duration_since(now).as_secs()),
                    })
                })
                .collect(),
        )
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.clear();
    }
}

/// `JoinHandle` polled once without waiting (it is finished already).
trait NowOrNever {
    type Output;
    fn now_or_never(self) -> Option<Self::Output>;
}

impl<T> NowOrNever for JoinHandle<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn now_or_never(mut self) -> Option<Self::Output> {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match std::pin::Pin::new(&mut self).poll(&mut cx) {
            std::task::Poll::Ready(r) => Some(r),
            std::task::Poll::Pending => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_panicking_task_is_restarted_with_backoff_and_shown() {
        let starts = Arc::new(AtomicU32::new(0));
        let s = Arc::clone(&starts);
        let mut sup = Supervisor::default();
        sup.add("worker".to_owned(), move || {
            let n = s.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if n == 0 {
                    panic!("boom");
                }
                std::future::pending::<()>().await;
            })
        });
        // Let the first run panic.
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let t0 = Instant::now();
        sup.check(t0);
        let v = sup.status_json();
        assert_eq!(v[0]["running"], false, "{v}");
        assert_eq!(v[0]["last_failure"], "panicked: boom", "{v}");
        // Not before the backoff.
        sup.check(t0 + Duration::from_millis(500));
        assert_eq!(starts.load(Ordering::SeqCst), 1);
        sup.check(t0 + Duration::from_secs(1));
        assert_eq!(starts.load(Ordering::SeqCst), 2);
        let v = sup.status_json();
        assert_eq!(
            (v[0]["running"].clone(), v[0]["restarts"].clone()),
            (json!(true), json!(1))
        );
        sup.clear();
    }
}
