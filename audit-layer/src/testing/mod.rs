//! Test helpers: capture the audit records one test produces and assert on
//! their structure (feature `testing`).
//!
//! [`capture`] installs an audit layer, writing to memory, as the default
//! subscriber of the current thread; inside a multi-thread tokio runtime it
//! also installs it on every worker thread of that runtime, so records from
//! spawned tasks are captured. Tests running in parallel each have their own
//! thread (and runtime), so they never see each other's records.
//!
//! Work the test sends to other threads is captured too: `spawn_blocking`, a
//! `std::thread`, a runtime built after `capture()`. The first capture makes
//! itself the process's global default subscriber (when no global default
//! is set yet), which hands each record made on such a thread (unnamed, or
//! a tokio worker or blocking thread) without a subscriber of its own to
//! the capture alive at the time. A test's own thread (named after the test)
//! is never routed: a test that runs without a capture stays invisible. When several
//! captures are alive at once (tests running in parallel), such a record
//! cannot be told apart: every live capture gets it, and says so in its
//! failure messages. A record made where no capture can see it at all (the
//! test process set its own global subscriber first) makes every assertion
//! of every live capture fail: `assert_none` never passes by blindness.
//!
//! # Examples
//!
//! ```
//! use audit_layer::audited;
//! use audit_layer::testing::{capture, Expect};
//!
//! #[audited(action = "post.publish", actor = user, resource = id)]
//! fn publish(user: &str, id: u64) -> Result<(), String> {
//!     if user == "mallory" { Err("not an editor".into()) } else { Ok(()) }
//! }
//!
//! let audit = capture();
//! publish("alice", 42).unwrap();
//! publish("mallory", 42).unwrap_err();
//!
//! audit.assert_one(&Expect::action("post.publish").actor("alice").resource("42").success());
//! audit.assert_one(&Expect::action("post.publish").actor("mallory").failure().reason("not an editor"));
//! audit.assert_chain_verifies();
//! ```
//!
//! A failed assertion lists what was recorded:
//!
//! ```should_panic
//! # use audit_layer::audited;
//! # use audit_layer::testing::{capture, Expect};
//! #[audited(action = "post.publish", actor = user)]
//! fn publish(user: &str) {}
//!
//! let audit = capture();
//! publish("alice");
//! // panics: "expected exactly one audit record matching action=post.publish actor=bob,
//! // found 0; recorded:\n  seq 0  post.publish  actor=alice  outcome=success ..."
//! audit.assert_one(&Expect::action("post.publish").actor("bob"));
//! ```

mod expect;

pub use expect::Expect;

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tracing::Dispatch;
use tracing::dispatcher::DefaultGuard;
use tracing_subscriber::layer::SubscriberExt;

use crate::capture::live_captures::{LiveCapture, Sightings, live_captures};
use crate::{
    AuditHandle, AuditLayer, AuditRecord, AuditWriter, Durability, MemoryLog, MemorySink, Privacy,
    RecordKind, Verifier, WriterGuard,
};

thread_local! {
    /// The capture installed on a tokio worker thread.
    static WORKER_DEFAULT: RefCell<Option<DefaultGuard>> = const { RefCell::new(None) };
}

/// Makes the router the global default subscriber, once, unless the
/// process already has one.
fn route_other_threads() {
    static ROUTED: OnceLock<bool> = OnceLock::new();
    ROUTED.get_or_init(|| {
        // Fails, and changes nothing, when the process has a global default.
        tracing::dispatcher::set_global_default(Dispatch::new(
            tracing_subscriber::registry().with(AuditLayer::to_live_captures()),
        ))
        .is_ok()
    });
}

/// The records of one test; see the [module documentation](self).
///
/// # Examples
///
/// See the [module documentation](self).
#[must_use = "records are captured only while the capture is alive"]
pub struct AuditCapture {
    log: MemoryLog,
    handle: AuditHandle,
    dispatch: Dispatch,
    id: u64,
    seen: Arc<Sightings>,
    _default: DefaultGuard,
    _writer: WriterGuard,
}

impl Drop for AuditCapture {
    fn drop(&mut self) {
        live_captures().retain(|capture| capture.id != self.id);
    }
}

impl fmt::Debug for AuditCapture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditCapture")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

/// Starts capturing the audit records of this test.
///
/// # Panics
///
/// If the writer thread cannot start, or, inside a multi-thread tokio
/// runtime, if its workers stay busy for ten seconds.
///
/// # Examples
///
/// See the [module documentation](self).
pub fn capture() -> AuditCapture {
    capture_with(|layer| layer)
}

/// Like [`capture`], with the layer configured (strict mode, say).
///
/// # Panics
///
/// See [`capture`].
///
/// # Examples
///
/// ```
/// let audit = audit_layer::testing::capture_with(|layer| layer.strict(true));
/// # drop(audit);
/// ```
pub fn capture_with(
    configure: impl FnOnce(
        AuditLayer<tracing_subscriber::Registry>,
    ) -> AuditLayer<tracing_subscriber::Registry>,
) -> AuditCapture {
    start(None, configure)
}

/// Like [`capture`], with the writer applying `policy`, as the service's own
/// writer does: a test can then assert that a secret is redacted or a
/// person pseudonymised in what is recorded.
///
/// # Panics
///
/// See [`capture`]; also when the policy pseudonymises without a key.
///
/// # Examples
///
/// ```
/// use audit_layer::{audited, Privacy, REDACTED};
/// use audit_layer::testing::{capture_with_privacy, Expect};
///
/// #[audited(action = "session.login", actor = user, before = serde_json::json!({"password": password}))]
/// fn login(user: &str, password: &str) -> bool { password == "hunter2" }
///
/// let audit = capture_with_privacy(Privacy::new().redact(["password"]));
/// login("alice", "hunter2");
/// audit.assert_one(
///     &Expect::action("session.login").before(serde_json::json!({"password": REDACTED})),
/// );
/// ```
pub fn capture_with_privacy(policy: Privacy) -> AuditCapture {
    start(Some(policy), |layer| layer)
}

fn start(
    privacy: Option<Privacy>,
    configure: impl FnOnce(
        AuditLayer<tracing_subscriber::Registry>,
    ) -> AuditLayer<tracing_subscriber::Registry>,
) -> AuditCapture {
    let (sink, log) = MemorySink::new();
    let mut builder = AuditWriter::builder()
        .durability(Durability::Buffered)
        .host("test");
    if let Some(privacy) = privacy {
        builder = builder.privacy(privacy);
    }
    let (handle, writer) = builder
        .spawn(sink)
        .expect("start the capture's writer thread");
    let layer = configure(AuditLayer::new(handle.clone()));
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    let default = tracing::dispatcher::set_default(&dispatch);
    install_on_runtime_workers(&dispatch);
    route_other_threads();
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let seen = Arc::new(Sightings::default());
    live_captures().push(LiveCapture {
        id,
        handle: handle.clone(),
        seen: Arc::clone(&seen),
    });
    AuditCapture {
        log,
        handle,
        dispatch,
        id,
        seen,
        _default: default,
        _writer: writer,
    }
}

/// Makes `dispatch` the default on every worker of the current multi-thread
/// tokio runtime: one task per worker, each held until all have started, so
/// each lands on a different worker.
fn install_on_runtime_workers(dispatch: &Dispatch) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if runtime.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
        return;
    }
    let workers = runtime.metrics().num_workers();
    let arrived = Arc::new((Mutex::new(0usize), Condvar::new()));
    let deadline = Instant::now() + Duration::from_secs(10);
    for _ in 0..workers {
        let dispatch = dispatch.clone();
        let arrived = Arc::clone(&arrived);
        runtime.spawn(async move {
            WORKER_DEFAULT.with(|slot| {
                let mut slot = slot.borrow_mut();
                // The previous guard must go first: dropping it restores the
                // default it replaced.
                slot.take();
                *slot = Some(tracing::dispatcher::set_default(&dispatch));
            });
            let (count, all_here) = &*arrived;
            let mut count = count.lock().unwrap_or_else(PoisonError::into_inner);
            *count += 1;
            all_here.notify_all();
            let _ = all_here
                .wait_timeout_while(
                    count,
                    deadline.saturating_duration_since(Instant::now()),
                    |n| *n < workers,
                )
                .unwrap_or_else(PoisonError::into_inner);
        });
    }
    let (count, all_here) = &*arrived;
    let count = count.lock().unwrap_or_else(PoisonError::into_inner);
    let (count, timeout) = all_here
        .wait_timeout_while(
            count,
            deadline.saturating_duration_since(Instant::now()),
            |n| *n < workers,
        )
        .unwrap_or_else(PoisonError::into_inner);
    assert!(
        !timeout.timed_out(),
        "audit capture: only {} of {workers} tokio workers became free within 10 s",
        *count
    );
}

impl AuditCapture {
    /// The writer handle behind the capture (for its counters).
    ///
    /// # Examples
    ///
    /// ```
    /// let audit = audit_layer::testing::capture();
    /// assert_eq!(audit.handle().stats().missing_actor, 0);
    /// ```
    pub fn handle(&self) -> &AuditHandle {
        &self.handle
    }

    /// The capture's dispatcher, to install on threads the test starts itself
    /// (`tracing::dispatcher::with_default(audit.dispatch(), || ...)`).
    ///
    /// # Examples
    ///
    /// ```
    /// let audit = audit_layer::testing::capture();
    /// let dispatch = audit.dispatch().clone();
    /// std::thread::spawn(move || tracing::dispatcher::with_default(&dispatch, || {})).join().unwrap();
    /// ```
    pub fn dispatch(&self) -> &Dispatch {
        &self.dispatch
    }

    /// Every record so far, system records included, in chain order.
    ///
    /// # Panics
    ///
    /// If the writer failed or the log does not parse.
    ///
    /// # Examples
    ///
    /// ```
    /// let audit = audit_layer::testing::capture();
    /// assert!(audit.all_records().is_empty());
    /// ```
    pub fn all_records(&self) -> Vec<AuditRecord> {
        self.handle.flush().expect("flush the capture's writer");
        self.log.records().expect("the captured log parses")
    }

    /// The application's records so far (system records left out).
    ///
    /// # Panics
    ///
    /// See [`all_records`](Self::all_records).
    ///
    /// # Examples
    ///
    /// ```
    /// let audit = audit_layer::testing::capture();
    /// assert!(audit.records().is_empty());
    /// ```
    pub fn records(&self) -> Vec<AuditRecord> {
        self.all_records()
            .into_iter()
            .filter(|record| record.kind == RecordKind::Event)
            .collect()
    }

    /// The records, unless some audited call ran where no capture could see
    /// it: then the assertion must not be trusted, and fails.
    #[track_caller]
    fn sighted_records(&self) -> Vec<AuditRecord> {
        let unseen = self.seen.unseen.load(Ordering::Relaxed);
        assert!(
            unseen == 0,
            "{unseen} audited call(s) ran on a thread without an audit layer while this capture \
             was alive, so no capture saw them: the test process set its own global \
             subscriber before the first capture(). Install the capture on that thread \
             (tracing::dispatcher::with_default(audit.dispatch(), ..)), or leave the global \
             default to the capture"
        );
        self.records()
    }

    /// The listing of a failure message.
    fn recorded(&self, records: &[AuditRecord]) -> String {
        let mut text = listing(records);
        let shared = self.shared_records();
        if shared > 0 {
            text.push_str(&format!(
                "\n({shared} of these were made on threads of no test's own while several \
                 captures were alive, and were given to each of them)"
            ));
        }
        text
    }

    /// How many records this capture holds because they were made on a
    /// thread of no test's own while several captures were alive (so each
    /// of them got them).
    ///
    /// # Examples
    ///
    /// ```
    /// let audit = audit_layer::testing::capture();
    /// assert_eq!(audit.shared_records(), 0);
    /// ```
    pub fn shared_records(&self) -> u64 {
        self.seen.shared.load(Ordering::Relaxed)
    }

    /// Asserts that exactly one record matches, and returns it.
    ///
    /// # Panics
    ///
    /// When none or several match; the message lists every record.
    ///
    /// # Examples
    ///
    /// See the [module documentation](self).
    #[track_caller]
    pub fn assert_one(&self, expected: &Expect) -> AuditRecord {
        let records = self.sighted_records();
        let matching: Vec<&AuditRecord> = records.iter().filter(|r| expected.matches(r)).collect();
        if matching.len() != 1 {
            panic!(
                "expected exactly one audit record matching {expected}, found {}; recorded:\n{}",
                matching.len(),
                self.recorded(&records)
            );
        }
        matching[0].clone()
    }

    /// Asserts that no record matches.
    ///
    /// # Panics
    ///
    /// When one does; the message lists every record.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::testing::{capture, Expect};
    /// let audit = capture();
    /// audit.assert_none(&Expect::action("user.delete"));
    /// ```
    #[track_caller]
    pub fn assert_none(&self, expected: &Expect) {
        let records = self.sighted_records();
        if records.iter().any(|r| expected.matches(r)) {
            panic!(
                "expected no audit record matching {expected}; recorded:\n{}",
                self.recorded(&records)
            );
        }
    }

    /// Asserts that the records are exactly these, in this order.
    ///
    /// # Panics
    ///
    /// On any difference; the message lists every record.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::{audited, testing::{capture, Expect}};
    /// #[audited(action = "a")] fn a() {}
    /// #[audited(action = "b")] fn b() {}
    /// let audit = capture();
    /// a();
    /// b();
    /// audit.assert_exactly(&[Expect::action("a"), Expect::action("b")]);
    /// ```
    #[track_caller]
    pub fn assert_exactly(&self, expected: &[Expect]) {
        let records = self.sighted_records();
        let all_match = records.len() == expected.len()
            && records.iter().zip(expected).all(|(r, e)| e.matches(r));
        if !all_match {
            let wanted: Vec<String> = expected.iter().map(|e| format!("  {e}")).collect();
            panic!(
                "expected exactly these {} audit records:\n{}\nrecorded:\n{}",
                expected.len(),
                wanted.join("\n"),
                self.recorded(&records)
            );
        }
    }

    /// Asserts that the captured log verifies as `audit verify` would.
    ///
    /// # Panics
    ///
    /// With the verifier's findings.
    ///
    /// # Examples
    ///
    /// See the [module documentation](self).
    #[track_caller]
    pub fn assert_chain_verifies(&self) {
        self.handle.flush().expect("flush the capture's writer");
        let report = Verifier::new().verify_bytes(&self.log.bytes());
        assert!(
            report.is_intact(),
            "the captured audit log does not verify:\n{}",
            report
                .findings
                .iter()
                .map(|f| format!("  {f}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

fn listing(records: &[AuditRecord]) -> String {
    if records.is_empty() {
        return "  (no records)".into();
    }
    records
        .iter()
        .map(|record| format!("  {}", Summary(record)))
        .collect::<Vec<_>>()
        .join("\n")
}

struct Summary<'a>(&'a AuditRecord);

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let record = self.0;
        write!(f, "seq {}  {}", record.seq, record.action)?;
        if let Some(actor) = &record.actor {
            write!(f, "  actor={actor}")?;
        } else {
            write!(f, "  actor=(none)")?;
        }
        if let Some(resource) = &record.resource {
            write!(f, "  resource={resource}")?;
        }
        write!(f, "  outcome={}", record.outcome)?;
        if !record.context.is_empty() {
            write!(f, "  context={:?}", record.context)?;
        }
        if let Some(before) = &record.before {
            write!(f, "  before={before}")?;
        }
        if let Some(after) = &record.after {
            write!(f, "  after={after}")?;
        }
        Ok(())
    }
}
