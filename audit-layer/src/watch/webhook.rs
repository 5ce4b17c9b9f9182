//! Delivering alerts to a webhook: each alert one HTTP POST of its JSON, in
//! order, on a thread of its own so evaluation never waits for the network;
//! retried with exponential backoff until the receiver answers 2xx.
//!
//! The queue is in memory; a caller that must survive restarts keeps its
//! alerts until [`Webhook::delivered_through`] passes them (`audit watch`
//! keeps them in its state).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::proof::http_post::HttpTarget;
use crate::watch::alert::{Alert, write_ascii_json};

/// The first wait after a failed delivery; it doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Attempts at an alert the receiver refuses as malformed (a 4xx other
/// than 408 and 429) before it is given up (and counted as rejected).
pub const ATTEMPTS_WHEN_REFUSED: u32 = 5;

/// Why a webhook could not be set up.
///
/// # Examples
///
/// ```
/// let error = audit_layer::watch::Webhook::start("ftp://x", std::time::Duration::from_secs(1)).unwrap_err();
/// assert!(error.to_string().contains("http://"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The URL is not `http://host:port[/path]`.
    #[error("{0} is not http://HOST:PORT[/PATH] (for HTTPS, relay through a local proxy)")]
    Url(String),
    /// The delivery thread could not start.
    #[error("the webhook thread could not start: {0}")]
    Thread(#[from] std::io::Error),
}

/// What a webhook has done.
///
/// # Examples
///
/// ```
/// let stats = audit_layer::watch::WebhookStats::default();
/// assert_eq!(stats.pending, 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct WebhookStats {
    /// Alerts the receiver took (2xx).
    pub delivered: u64,
    /// Alerts given up after the receiver refused them as malformed.
    pub rejected: u64,
    /// POSTs made, successful or not.
    pub attempts: u64,
    /// POSTs that failed (no connection, timeout, or not 2xx).
    pub failures: u64,
    /// Alerts waiting.
    pub pending: u64,
    /// Every alert numbered up to this one was delivered (or rejected).
    pub delivered_through: u64,
    /// The last failure, in words.
    pub last_error: Option<String>,
}

struct Shared {
    delivered_through: AtomicU64,
    queued: AtomicU64,
    stop: AtomicBool,
    stats: Mutex<WebhookStats>,
}

/// A webhook alerts are posted to.
///
/// # Examples
///
/// ```no_run
/// use audit_layer::watch::Webhook;
/// use std::time::Duration;
/// let webhook = Webhook::start("http://127.0.0.1:8080/alerts", Duration::from_secs(5))?;
/// // webhook.send(1, &alert);
/// let stats = webhook.stop(Duration::from_secs(10));
/// assert_eq!(stats.pending, 0);
/// # Ok::<(), audit_layer::watch::WebhookError>(())
/// ```
pub struct Webhook {
    queue: Option<Sender<(u64, Vec<u8>)>>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Webhook {
    /// Starts delivering to `url` (`http://host:port[/path]`), each POST
    /// given `timeout` to connect and to answer.
    ///
    /// # Errors
    ///
    /// [`WebhookError`].
    ///
    /// # Examples
    ///
    /// See [`Webhook`].
    pub fn start(url: &str, timeout: Duration) -> Result<Webhook, WebhookError> {
        let target = HttpTarget::parse(url).ok_or_else(|| WebhookError::Url(url.into()))?;
        let (queue, receiver) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            delivered_through: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            stats: Mutex::new(WebhookStats::default()),
        });
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("audit-webhook".into())
            .spawn(move || deliver(target, timeout, receiver, &worker))?;
        Ok(Webhook {
            queue: Some(queue),
            shared,
            thread: Some(thread),
        })
    }

    /// Queues `alert` as number `number`; numbers must increase. Never blocks.
    ///
    /// # Examples
    ///
    /// See [`Webhook`].
    pub fn send(&self, number: u64, alert: &Alert) {
        let mut body = Vec::new();
        if write_ascii_json(&mut body, alert).is_err() {
            return;
        }
        self.shared.queued.fetch_add(1, Ordering::Relaxed);
        if let Some(queue) = &self.queue {
            let _ = queue.send((number, body));
        }
    }

    /// Every alert numbered up to this one was delivered (or rejected).
    ///
    /// # Examples
    ///
    /// See [`Webhook`].
    pub fn delivered_through(&self) -> u64 {
        self.shared.delivered_through.load(Ordering::Acquire)
    }

    /// What it has done so far.
    ///
    /// # Examples
    ///
    /// See [`Webhook`].
    pub fn stats(&self) -> WebhookStats {
        let mut stats = self
            .shared
            .stats
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        let done = stats.delivered + stats.rejected;
        stats.pending = self
            .shared
            .queued
            .load(Ordering::Relaxed)
            .saturating_sub(done);
        stats
    }

    /// Delivers what is queued for up to `within`, then stops; returns what
    /// it did (alerts still `pending` were not delivered).
    ///
    /// # Examples
    ///
    /// See [`Webhook`].
    pub fn stop(mut self, within: Duration) -> WebhookStats {
        self.queue.take();
        let deadline = Instant::now() + within;
        if let Some(thread) = self.thread.take() {
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::park_timeout(Duration::from_millis(10));
            }
            self.shared.stop.store(true, Ordering::Release);
            let _ = thread.join();
        }
        self.stats()
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.queue.take();
        self.shared.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn deliver(
    target: HttpTarget,
    timeout: Duration,
    queue: Receiver<(u64, Vec<u8>)>,
    shared: &Shared,
) {
    let record = |f: &dyn Fn(&mut WebhookStats)| {
        if let Ok(mut stats) = shared.stats.lock() {
            f(&mut stats);
        }
    };
    for (number, body) in queue {
        let mut backoff = FIRST_BACKOFF;
        let mut refused = 0;
        loop {
            if shared.stop.load(Ordering::Acquire) {
                return;
            }
            record(&|s| s.attempts += 1);
            let answer = target.post("", "application/json", &body, timeout);
            match answer {
                Ok((status, _)) if (200..300).contains(&status) => {
                    record(&|s| s.delivered += 1);
                    break;
                }
                Ok((status, text)) => {
                    let why = format!(
                        "answered {status}: {}",
                        text.chars().take(200).collect::<String>()
                    );
                    record(&|s| {
                        s.failures += 1;
                        s.last_error = Some(why.clone());
                    });
                    if (400..500).contains(&status) && status != 408 && status != 429 {
                        refused += 1;
                        if refused >= ATTEMPTS_WHEN_REFUSED {
                            record(&|s| s.rejected += 1);
                            break;
                        }
                    }
                }
                Err(error) => {
                    let why = error.to_string();
                    record(&|s| {
                        s.failures += 1;
                        s.last_error = Some(why.clone());
                    });
                }
            }
            // Wait, but wake for a stop.
            let until = Instant::now() + backoff;
            while Instant::now() < until {
                if shared.stop.load(Ordering::Acquire) {
                    return;
                }
                std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        shared.delivered_through.store(number, Ordering::Release);
    }
}
