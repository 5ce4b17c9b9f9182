//! The engine: every record through every rule, in chain order, with the
//! state rules keep between records (windows, pending sequences, silence,
//! suppression), which can be written out and read back so a restarted
//! watch goes on where it stopped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash as _, Hasher};
use std::io;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::proof::report::{FindingCode, Report};
use crate::record::AuditRecord;
use crate::record::chain::Hash;
use crate::record::time::Timestamp;
use crate::watch::alert::{Alert, AlertRecord, MAX_ALERT_RECORDS};
use crate::watch::integrity::ChainWatch;
use crate::watch::record_view::{Field, RecordView};
use crate::watch::rules_file::{Detection, RuleSet};
use crate::watch::template::{Filling, FirstRecord, Template};
use crate::watch::window::{Entry, Window};

/// Records between two sweeps of state no window can reach any more.
const SWEEP_EVERY: u64 = 1 << 16;

/// The most (finding, seq) pairs remembered as already alerted.
const MAX_REMEMBERED_FINDINGS: usize = 100_000;

/// What an engine has done, for a person and for monitoring.
///
/// # Examples
///
/// ```
/// let engine = audit_layer::watch::Engine::new(audit_layer::watch::RuleSet::from_toml("")?);
/// assert_eq!(engine.stats().records, 0);
/// # Ok::<(), audit_layer::watch::RulesError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WatchStats {
    /// Records evaluated.
    pub records: u64,
    /// Lines that could not be read as records (each raised an integrity alert).
    pub unreadable: u64,
    /// Records whose time was further behind the newest than the lateness
    /// allowed: they were evaluated, but windows may no longer hold their peers.
    pub late: u64,
    /// Alerts raised (sent).
    pub alerts: u64,
    /// Alerts held back by suppression (counted here and in the next alert
    /// of the same rule and key).
    pub suppressed: u64,
    /// Alerts and suppressed alerts per rule.
    pub per_rule: BTreeMap<String, RuleCounts>,
}

/// Alerts of one rule.
///
/// # Examples
///
/// ```
/// let counts = audit_layer::watch::RuleCounts::default();
/// assert_eq!(counts.alerts + counts.suppressed, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCounts {
    /// Sent.
    pub alerts: u64,
    /// Held back.
    pub suppressed: u64,
}

/// Why saved state could not be read back.
///
/// # Examples
///
/// ```
/// use audit_layer::watch::{Engine, RuleSet};
/// let error = Engine::with_state(RuleSet::from_toml("")?, &b"{"[..]).unwrap_err();
/// assert!(error.to_string().contains("state"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[error("the watch state could not be read: {0}")]
pub struct StateError(#[from] serde_json::Error);

/// The state of one rule between records.
#[derive(Debug, Default, Serialize, Deserialize)]
enum RuleState {
    #[default]
    Stateless,
    Threshold(HashMap<String, Window>),
    Sequence(HashMap<String, Pending>),
    Silence(Quiet),
}

/// A sequence's first record, waiting for its second.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    first: FirstRecord,
    hash: Hash,
    t: i64,
}

/// A silence rule's last activity.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Quiet {
    /// The time of the last (matching) record, or when watching began.
    last: Option<i64>,
    last_record: Option<AlertRecord>,
    /// Whether this quiet spell was alerted already.
    alerted: bool,
}

/// Suppression of one rule and key: alerts from `since` (the last one
/// sent) until `until` are held back.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Hold {
    since: i64,
    until: i64,
    held: u64,
}

/// One rule's saved state, tied to the rule's text.
#[derive(Serialize, Deserialize)]
struct SavedRule<S> {
    fingerprint: String,
    state: S,
    holds: HashMap<String, Hold>,
}

/// The engine's saved state; `R` is a rule's state by reference or owned.
#[derive(Serialize, Deserialize)]
struct Saved<R> {
    format: u32,
    chain: ChainWatch,
    watermark: i64,
    rules: BTreeMap<String, R>,
    integrity_holds: HashMap<String, Hold>,
    reported: BTreeSet<(String, u64)>,
    stats: WatchStats,
}

const STATE_FORMAT: u32 = 1;

/// Evaluates a [`RuleSet`] over records, in order, and says which alerts
/// they raise.
///
/// Feed it lines of a log with [`observe_line`](Engine::observe_line)
/// (which also checks the chain) or parsed records with
/// [`observe`](Engine::observe); call [`tick`](Engine::tick) now and then
/// with the current time so silence is noticed while nothing arrives.
/// Windows use record time: the same records give the same alerts.
///
/// # Examples
///
/// ```
/// use audit_layer::watch::{Engine, RuleSet};
/// use audit_layer::{AuditEvent, AuditWriter, LogReader, MemorySink};
///
/// let rules = RuleSet::from_toml(r#"
///     [[rule]]
///     name = "export-burst"
///     kind = "threshold"
///     severity = "high"
///     message = "{key} exported {count} times"
///     where = { action = "*.export" }
///     group_by = "actor"
///     at_least = 3
///     within = "1h"
/// "#)?;
/// let mut engine = Engine::new(rules);
///
/// let (sink, log) = MemorySink::new();
/// let (audit, guard) = AuditWriter::builder().spawn(sink)?;
/// for _ in 0..3 {
///     audit.submit(AuditEvent::builder("patient.export").actor("mallory").build())?;
/// }
/// guard.shutdown(std::time::Duration::from_secs(5))?;
///
/// let mut alerts = Vec::new();
/// for line in log.bytes().split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
///     alerts.extend(engine.observe_line(line));
/// }
/// assert_eq!(alerts.len(), 1);
/// assert_eq!(alerts[0].message, "mallory exported 3 times");
/// assert_eq!(alerts[0].records.len(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Engine {
    rules: RuleSet,
    states: Vec<RuleState>,
    holds: Vec<HashMap<String, Hold>>,
    integrity_holds: HashMap<String, Hold>,
    chain: ChainWatch,
    reported: BTreeSet<(String, u64)>,
    /// The newest record time seen.
    watermark: i64,
    since_sweep: u64,
    stats: WatchStats,
    source: Option<String>,
}

impl Engine {
    /// An engine with fresh state, expecting a log from its first record.
    ///
    /// # Examples
    ///
    /// See [`Engine`].
    pub fn new(rules: RuleSet) -> Engine {
        let states = rules
            .rules
            .iter()
            .map(|rule| fresh_state(&rule.detection))
            .collect();
        let holds = rules.rules.iter().map(|_| HashMap::new()).collect();
        Engine {
            rules,
            states,
            holds,
            integrity_holds: HashMap::new(),
            chain: ChainWatch::from_genesis(),
            reported: BTreeSet::new(),
            watermark: i64::MIN,
            since_sweep: 0,
            stats: WatchStats::default(),
            source: None,
        }
    }

    /// Names the log or stream, carried in every alert's `source`.
    ///
    /// # Examples
    ///
    /// ```
    /// let engine = audit_layer::watch::Engine::new(audit_layer::watch::RuleSet::from_toml("")?)
    ///     .source("/var/log/audit/blog");
    /// # Ok::<(), audit_layer::watch::RulesError>(())
    /// ```
    #[must_use]
    pub fn source(mut self, source: impl Into<String>) -> Engine {
        self.source = Some(source.into());
        self
    }

    /// Takes the first line it sees as the start of the chain, for a log
    /// whose older records were retired, or a watch that starts mid-log.
    ///
    /// # Examples
    ///
    /// ```
    /// let engine = audit_layer::watch::Engine::new(audit_layer::watch::RuleSet::from_toml("")?)
    ///     .starting_anywhere();
    /// # Ok::<(), audit_layer::watch::RulesError>(())
    /// ```
    #[must_use]
    pub fn starting_anywhere(mut self) -> Engine {
        self.chain = ChainWatch::from_anywhere();
        self
    }

    /// The seq of the next line the chain expects, once known.
    ///
    /// # Examples
    ///
    /// ```
    /// let engine = audit_layer::watch::Engine::new(audit_layer::watch::RuleSet::from_toml("")?);
    /// assert_eq!(engine.next_seq(), Some(0));
    /// # Ok::<(), audit_layer::watch::RulesError>(())
    /// ```
    pub fn next_seq(&self) -> Option<u64> {
        self.chain.next_seq()
    }

    /// What it has done so far.
    ///
    /// # Examples
    ///
    /// See [`WatchStats`].
    pub fn stats(&self) -> &WatchStats {
        &self.stats
    }

    /// The rules it evaluates.
    ///
    /// # Examples
    ///
    /// ```
    /// let engine = audit_layer::watch::Engine::new(audit_layer::watch::RuleSet::from_toml("")?);
    /// assert!(engine.rules().rules().is_empty());
    /// # Ok::<(), audit_layer::watch::RulesError>(())
    /// ```
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Checks the next line of a log against the chain, then evaluates it.
    /// A line that breaks the chain raises an integrity alert; one that is
    /// not a readable record is not evaluated further.
    ///
    /// # Examples
    ///
    /// See [`Engine`].
    pub fn observe_line(&mut self, line: &[u8]) -> Vec<Alert> {
        let mut alerts = Vec::new();
        let checked = self.chain.check(line);
        let view = match &checked.readable {
            Some(framed) => RecordView::of_framed(line, framed).map_err(|e| e.to_string()),
            None => Err(String::new()),
        };
        let time = view
            .as_ref()
            .map_or_else(|_| self.now_for_integrity(), RecordView::time);
        let carried = crate::record::chain::carried_hash(line);
        for broken in checked.breaks {
            let records = match (broken.seq, carried) {
                (Some(seq), Some(hash)) => vec![AlertRecord { seq, hash }],
                _ => Vec::new(),
            };
            self.integrity(
                broken.code.as_str(),
                broken.seq,
                &broken.detail,
                time,
                records,
                &mut alerts,
            );
        }
        match view {
            Ok(view) => self.evaluate(&view, &mut alerts),
            Err(why) => {
                self.stats.unreadable += 1;
                if !why.is_empty() {
                    let seq = self.chain.next_seq().map(|next| next.saturating_sub(1));
                    self.integrity("malformed", seq, &why, time, Vec::new(), &mut alerts);
                }
            }
        }
        alerts
    }

    /// Evaluates a record already parsed (the chain is not checked: use
    /// [`observe_line`](Engine::observe_line) for lines of a log).
    ///
    /// # Examples
    ///
    /// See [`Alert`].
    pub fn observe(&mut self, record: &AuditRecord) -> Vec<Alert> {
        let mut alerts = Vec::new();
        self.evaluate(&RecordView::Record(record), &mut alerts);
        alerts
    }

    /// Notices silence at `now`: a silence rule whose quiet time has passed
    /// since its last record raises its alert (once per quiet spell).
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::Timestamp;
    /// use audit_layer::watch::{Engine, RuleSet};
    /// use std::time::{Duration, UNIX_EPOCH};
    ///
    /// let rules = RuleSet::from_toml(
    ///     "[[rule]]\nname = \"quiet\"\nkind = \"silence\"\nseverity = \"high\"\nmessage = \"nothing for {within}\"\nquiet_for = \"15m\"\n",
    /// )?;
    /// let mut engine = Engine::new(rules);
    /// let at = |s| Timestamp::from_system_time(UNIX_EPOCH + Duration::from_secs(s)).unwrap();
    /// assert!(engine.tick(at(0)).is_empty()); // watching begins
    /// assert!(engine.tick(at(899)).is_empty());
    /// assert_eq!(engine.tick(at(900))[0].message, "nothing for 15m");
    /// assert!(engine.tick(at(2000)).is_empty()); // once per quiet spell
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tick(&mut self, now: Timestamp) -> Vec<Alert> {
        let mut alerts = Vec::new();
        let t = now.unix_nanos();
        for index in 0..self.rules.rules.len() {
            let Detection::Silence(quiet) = self.rules.rules[index].detection else {
                continue;
            };
            let RuleState::Silence(state) = &mut self.states[index] else {
                continue;
            };
            match state.last {
                None => state.last = Some(t),
                Some(last) if !state.alerted && t.saturating_sub(last) >= duration_nanos(quiet) => {
                    state.alerted = true;
                    let records: Vec<AlertRecord> = state.last_record.into_iter().collect();
                    self.raise(index, None, now, records, None, None, None, &mut alerts);
                }
                Some(_) => {}
            }
        }
        alerts
    }

    /// Raises an integrity alert for a problem found outside the chain the
    /// engine follows (a verify run's finding, a failed checkpoint), unless
    /// the same code at the same seq was alerted before.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::FindingCode;
    /// use audit_layer::watch::{Engine, RuleSet};
    /// let mut engine = Engine::new(RuleSet::from_toml("")?);
    /// assert!(engine.finding(FindingCode::SealGap, Some(10), "no seal for epoch 3").is_some());
    /// assert!(engine.finding(FindingCode::SealGap, Some(10), "no seal for epoch 3").is_none());
    /// # Ok::<(), audit_layer::watch::RulesError>(())
    /// ```
    pub fn finding(&mut self, code: FindingCode, seq: Option<u64>, detail: &str) -> Option<Alert> {
        let mut alerts = Vec::new();
        let time = self.now_for_integrity();
        self.integrity(code.as_str(), seq, detail, time, Vec::new(), &mut alerts);
        alerts.pop()
    }

    /// Raises an integrity alert (`verify-failed`) for a verify run that
    /// could not be made: what was to be checked was not, which is itself
    /// an integrity problem (a log made unreadable, a key file gone).
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::watch::{Engine, RuleSet};
    /// let mut engine = Engine::new(RuleSet::from_toml("")?);
    /// let alert = engine.verify_failed("permission denied").unwrap();
    /// assert_eq!(alert.key.as_deref(), Some("verify-failed"));
    /// # Ok::<(), audit_layer::watch::RulesError>(())
    /// ```
    pub fn verify_failed(&mut self, why: &str) -> Option<Alert> {
        let mut alerts = Vec::new();
        let time = self.now_for_integrity();
        self.integrity("verify-failed", None, why, time, Vec::new(), &mut alerts);
        alerts.pop()
    }

    /// Raises integrity alerts for a verifier's report: every finding but a
    /// torn tail (a line a writer is still writing reads as one; a real torn
    /// tail is repaired by the writer, with a record that raises its own
    /// alert).
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::Verifier;
    /// use audit_layer::watch::{Engine, RuleSet};
    /// let mut engine = Engine::new(RuleSet::from_toml("")?);
    /// let report = Verifier::new().verify_bytes(b"{\"v\":1,\"seq\":0}\n");
    /// assert_eq!(engine.report(&report).len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn report(&mut self, report: &Report) -> Vec<Alert> {
        report
            .findings
            .iter()
            .filter(|f| f.code != FindingCode::TornTail)
            .filter_map(|f| self.finding(f.code, f.seq, &f.message))
            .collect()
    }

    /// Writes the engine's state (chain position, windows, pending
    /// sequences, suppression, counters) as JSON.
    ///
    /// # Errors
    ///
    /// What `out` returns.
    ///
    /// # Examples
    ///
    /// ```
    /// use audit_layer::watch::{Engine, RuleSet};
    /// let engine = Engine::new(RuleSet::from_toml("")?);
    /// let mut saved = Vec::new();
    /// engine.write_state(&mut saved)?;
    /// let again = Engine::with_state(RuleSet::from_toml("")?, &saved[..])?;
    /// assert_eq!(again.next_seq(), Some(0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_state(&self, out: impl io::Write) -> io::Result<()> {
        let rules = self
            .rules
            .rules
            .iter()
            .zip(&self.states)
            .zip(&self.holds)
            .map(|((rule, state), holds)| {
                (
                    rule.name.clone(),
                    SavedRule {
                        fingerprint: rule.fingerprint.clone(),
                        state,
                        holds: holds.clone(),
                    },
                )
            })
            .collect();
        let saved = Saved {
            format: STATE_FORMAT,
            chain: self.chain.clone(),
            watermark: self.watermark,
            rules,
            integrity_holds: self.integrity_holds.clone(),
            reported: self.reported.clone(),
            stats: self.stats.clone(),
        };
        serde_json::to_writer(io::BufWriter::new(out), &saved).map_err(io::Error::other)
    }

    /// An engine for `rules` that goes on from saved state. A rule whose
    /// text changed since (or that is new) starts afresh; a rule no longer
    /// in the file is forgotten.
    ///
    /// # Errors
    ///
    /// [`StateError`] when `saved` is not state this version wrote.
    ///
    /// # Examples
    ///
    /// See [`write_state`](Engine::write_state).
    pub fn with_state(rules: RuleSet, saved: impl io::Read) -> Result<Engine, StateError> {
        let mut saved: Saved<SavedRule<RuleState>> =
            serde_json::from_reader(io::BufReader::new(saved))?;
        if saved.format != STATE_FORMAT {
            return Err(StateError(<serde_json::Error as serde::de::Error>::custom(
                format!("format {} is not {STATE_FORMAT}", saved.format),
            )));
        }
        let mut engine = Engine::new(rules);
        for (index, rule) in engine.rules.rules.iter().enumerate() {
            let Some(old) = saved.rules.remove(&rule.name) else {
                continue;
            };
            if old.fingerprint != rule.fingerprint {
                continue;
            }
            let distinct =
                matches!(&rule.detection, Detection::Threshold(t) if t.distinct.is_some());
            engine.states[index] = match old.state {
                RuleState::Threshold(windows) => RuleState::Threshold(
                    windows
                        .into_iter()
                        .map(|(k, w)| (k, w.restored(distinct)))
                        .collect(),
                ),
                other => other,
            };
            engine.holds[index] = old.holds;
        }
        engine.chain = saved.chain;
        engine.watermark = saved.watermark;
        engine.integrity_holds = saved.integrity_holds;
        engine.reported = saved.reported;
        engine.stats = saved.stats;
        Ok(engine)
    }

    fn now_for_integrity(&self) -> Timestamp {
        if self.watermark == i64::MIN {
            Timestamp::now()
        } else {
            Timestamp::from_unix_nanos(self.watermark)
        }
    }

    fn evaluate(&mut self, view: &RecordView<'_>, alerts: &mut Vec<Alert>) {
        self.stats.records += 1;
        let t = view.time().unix_nanos();
        let lateness = duration_nanos(self.rules.lateness);
        if self.watermark != i64::MIN && t < self.watermark.saturating_sub(lateness) {
            self.stats.late += 1;
        }
        self.watermark = self.watermark.max(t);
        self.system_record(view, alerts);
        let here = AlertRecord {
            seq: view.seq(),
            hash: view.hash(),
        };
        for index in 0..self.rules.rules.len() {
            let rule = &self.rules.rules[index];
            if let Detection::Sequence(sequence) = &rule.detection {
                let within = duration_nanos(sequence.within);
                let RuleState::Sequence(pending) = &mut self.states[index] else {
                    continue;
                };
                let mut raised = None;
                if sequence.then.matches(view)
                    && let Some(key) = sequence.then_key.key_of(view)
                    && let Some(first) = pending.get(&*key)
                    && first.t <= t
                    && t - first.t <= within
                {
                    let first = pending.remove(&*key).expect("found above");
                    raised = Some((key, first));
                }
                if sequence.first.matches(view)
                    && let Some(key) = sequence.first_key.key_of(view)
                {
                    let first = FirstRecord {
                        action: view.action().to_owned(),
                        actor: view.text(&Field::Actor).map(|a| a.into_owned()),
                        resource: view.text(&Field::Resource).map(|r| r.into_owned()),
                        time: view.time(),
                        seq: view.seq(),
                    };
                    pending.insert(
                        key.into_owned(),
                        Pending {
                            first,
                            hash: here.hash,
                            t,
                        },
                    );
                }
                if let Some((key, first)) = raised {
                    let records = vec![
                        AlertRecord {
                            seq: first.first.seq,
                            hash: first.hash,
                        },
                        here,
                    ];
                    self.raise(
                        index,
                        Some(key.into_owned()),
                        view.time(),
                        records,
                        None,
                        Some(view),
                        Some(&first.first),
                        alerts,
                    );
                }
                continue;
            }
            if !rule.condition.matches(view) {
                continue;
            }
            match &rule.detection {
                Detection::Match | Detection::TimeOfDay(_) => {
                    if let Detection::TimeOfDay(hours) = &rule.detection
                        && hours.contains(t)
                    {
                        continue;
                    }
                    let key = rule
                        .group_by
                        .as_ref()
                        .and_then(|spec| spec.key_of(view))
                        .map(std::borrow::Cow::into_owned);
                    self.raise(
                        index,
                        key,
                        view.time(),
                        vec![here],
                        None,
                        Some(view),
                        None,
                        alerts,
                    );
                }
                Detection::Threshold(threshold) => {
                    let key = match &threshold.group_by {
                        Some(spec) => match spec.key_of(view) {
                            Some(key) => key,
                            None => continue,
                        },
                        None => std::borrow::Cow::Borrowed(""),
                    };
                    let v = match &threshold.distinct {
                        Some(field) => match view.text(field) {
                            Some(value) => value_hash(&value),
                            None => continue,
                        },
                        None => 0,
                    };
                    let distinct = threshold.distinct.is_some();
                    let (at_least, within) = (threshold.at_least, duration_nanos(threshold.within));
                    let RuleState::Threshold(windows) = &mut self.states[index] else {
                        continue;
                    };
                    // Most records find their key's window: no allocation for them.
                    if !windows.contains_key(&*key) {
                        windows.insert(key.clone().into_owned(), Window::default());
                    }
                    let window = windows.get_mut(&*key).expect("inserted above");
                    let entry = Entry {
                        t,
                        seq: here.seq,
                        hash: here.hash,
                        v,
                    };
                    let count = window.add(entry, within, distinct);
                    if count >= at_least {
                        let records = window
                            .records(distinct)
                            .into_iter()
                            .map(|e| AlertRecord {
                                seq: e.seq,
                                hash: e.hash,
                            })
                            .collect();
                        // Counting starts again after an alert, so one burst is one alert.
                        windows.remove(&*key);
                        let key = threshold.group_by.as_ref().map(|_| key.into_owned());
                        self.raise(
                            index,
                            key,
                            view.time(),
                            records,
                            Some(count),
                            Some(view),
                            None,
                            alerts,
                        );
                    }
                }
                Detection::Silence(quiet) => {
                    let quiet = duration_nanos(*quiet);
                    let RuleState::Silence(state) = &mut self.states[index] else {
                        continue;
                    };
                    let gap = state
                        .last
                        .is_some_and(|last| t.saturating_sub(last) >= quiet);
                    let spell_alerted = state.alerted;
                    let before: Vec<AlertRecord> = state.last_record.into_iter().collect();
                    state.last = Some(state.last.map_or(t, |last| last.max(t)));
                    state.last_record = Some(here);
                    state.alerted = false;
                    if gap && !spell_alerted {
                        let mut records = before;
                        records.push(here);
                        self.raise(
                            index,
                            None,
                            view.time(),
                            records,
                            None,
                            Some(view),
                            None,
                            alerts,
                        );
                    }
                }
                Detection::Sequence(_) => {}
            }
        }
        self.since_sweep += 1;
        if self.since_sweep >= SWEEP_EVERY {
            self.since_sweep = 0;
            self.sweep();
        }
    }

    /// A record audit-layer wrote about itself that says the trail had
    /// trouble: a repair of a torn or unreadable tail, an outage.
    fn system_record(&mut self, view: &RecordView<'_>, alerts: &mut Vec<Alert>) {
        let action = view.action();
        let code = if action.starts_with("audit.repair.") {
            "repair"
        } else if action == "audit.outage" {
            "outage"
        } else {
            return;
        };
        if view.text(&Field::Kind).as_deref() != Some("system") {
            return;
        }
        let detail = match view.text(&Field::Reason) {
            Some(reason) => format!("{action}: {reason}"),
            None => action.to_owned(),
        };
        let here = AlertRecord {
            seq: view.seq(),
            hash: view.hash(),
        };
        self.integrity(
            code,
            Some(view.seq()),
            &detail,
            view.time(),
            vec![here],
            alerts,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn integrity(
        &mut self,
        code: &str,
        seq: Option<u64>,
        detail: &str,
        time: Timestamp,
        records: Vec<AlertRecord>,
        alerts: &mut Vec<Alert>,
    ) {
        if let Some(seq) = seq {
            if self.reported.contains(&(code.to_owned(), seq)) {
                return;
            }
            if self.reported.len() >= MAX_REMEMBERED_FINDINGS {
                self.reported.pop_first();
            }
            self.reported.insert((code.to_owned(), seq));
        }
        let rule = &self.rules.integrity;
        let t = time.unix_nanos();
        let counts = self.stats.per_rule.entry("integrity".into()).or_default();
        let hold = self.integrity_holds.entry(code.to_owned()).or_default();
        let Some(suppressed) = admit(hold, t, rule.suppress) else {
            counts.suppressed += 1;
            self.stats.suppressed += 1;
            return;
        };
        counts.alerts += 1;
        self.stats.alerts += 1;
        let filling = Filling {
            rule: "integrity",
            severity: rule.severity.as_str(),
            key: Some(code),
            count: None,
            within: None,
            record: None,
            first: None,
            finding: Some(code),
            detail: Some(detail),
            seq,
        };
        alerts.push(Alert {
            id: alert_id("integrity", code, &[seq.unwrap_or(u64::MAX)], detail),
            rule: "integrity".into(),
            kind: "integrity".into(),
            severity: rule.severity,
            message: rule.message.render(&filling),
            key: Some(code.to_owned()),
            time,
            count: None,
            records,
            suppressed,
            source: self.source.clone(),
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn raise(
        &mut self,
        index: usize,
        key: Option<String>,
        time: Timestamp,
        mut records: Vec<AlertRecord>,
        count: Option<u64>,
        record: Option<&RecordView<'_>>,
        first: Option<&FirstRecord>,
        alerts: &mut Vec<Alert>,
    ) {
        let rule = &self.rules.rules[index];
        let counts = self.stats.per_rule.entry(rule.name.clone()).or_default();
        let hold = self.holds[index]
            .entry(key.clone().unwrap_or_default())
            .or_default();
        let Some(suppressed) = admit(hold, time.unix_nanos(), rule.suppress) else {
            counts.suppressed += 1;
            self.stats.suppressed += 1;
            return;
        };
        counts.alerts += 1;
        self.stats.alerts += 1;
        let within = match &rule.detection {
            Detection::Threshold(t) => Some(t.within),
            Detection::Sequence(s) => Some(s.within),
            Detection::Silence(q) => Some(*q),
            _ => None,
        };
        let filling = Filling {
            rule: &rule.name,
            severity: rule.severity.as_str(),
            key: key.as_deref(),
            count,
            within,
            record,
            first,
            finding: None,
            detail: None,
            seq: None,
        };
        let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
        let id = alert_id(&rule.name, key.as_deref().unwrap_or(""), &seqs, "");
        let message = render(&rule.message, &filling);
        records.truncate(MAX_ALERT_RECORDS);
        alerts.push(Alert {
            id,
            rule: rule.name.clone(),
            kind: rule.kind().as_str().into(),
            severity: rule.severity,
            message,
            key,
            time,
            count,
            records,
            suppressed,
            source: self.source.clone(),
        });
    }

    /// Drops what no window can reach any more, so memory follows the
    /// keys active within a window, not every key ever seen.
    fn sweep(&mut self) {
        let cutoff = self
            .watermark
            .saturating_sub(duration_nanos(self.rules.lateness));
        for (rule, state) in self.rules.rules.iter().zip(&mut self.states) {
            match (&rule.detection, state) {
                (Detection::Threshold(threshold), RuleState::Threshold(windows)) => {
                    let start = cutoff.saturating_sub(duration_nanos(threshold.within));
                    let distinct = threshold.distinct.is_some();
                    windows.retain(|_, window| {
                        if window.newest().is_some_and(|newest| newest < start) {
                            return false;
                        }
                        window.drop_before(start, distinct);
                        !window.is_empty()
                    });
                    windows.shrink_to_fit();
                }
                (Detection::Sequence(sequence), RuleState::Sequence(pending)) => {
                    let start = cutoff.saturating_sub(duration_nanos(sequence.within));
                    pending.retain(|_, first| first.t >= start);
                }
                _ => {}
            }
        }
        for holds in self.holds.iter_mut().chain([&mut self.integrity_holds]) {
            holds.retain(|_, hold| hold.until >= cutoff || hold.held > 0);
        }
    }
}

/// Whether an alert at `t` goes out; if so, how many were held back before it.
/// A record time before the last alert sent (out of order) is not held
/// back by it, and does not move the suppression window back.
fn admit(hold: &mut Hold, t: i64, suppress: Duration) -> Option<u64> {
    if hold.since <= t && t < hold.until {
        hold.held += 1;
        return None;
    }
    let held = std::mem::take(&mut hold.held);
    if t >= hold.since {
        hold.since = t;
        hold.until = t.saturating_add(duration_nanos(suppress));
    }
    Some(held)
}

fn render(template: &Template, filling: &Filling<'_, '_>) -> String {
    template.render(filling)
}

fn fresh_state(detection: &Detection) -> RuleState {
    match detection {
        Detection::Threshold(_) => RuleState::Threshold(HashMap::new()),
        Detection::Sequence(_) => RuleState::Sequence(HashMap::new()),
        Detection::Silence(_) => RuleState::Silence(Quiet::default()),
        Detection::Match | Detection::TimeOfDay(_) => RuleState::Stateless,
    }
}

fn duration_nanos(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}

/// A 64-bit hash of a distinct value: the same in every run (SipHash with
/// fixed keys), since it is saved with the window.
fn value_hash(value: &str) -> u64 {
    #[allow(deprecated)]
    let mut hasher = std::hash::SipHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// The same rule, key and records give the same id, in any run.
fn alert_id(rule: &str, key: &str, seqs: &[u64], detail: &str) -> String {
    let mut material = Vec::new();
    for part in [rule, key, detail] {
        material.extend_from_slice(part.as_bytes());
        material.push(0);
    }
    for seq in seqs {
        material.extend_from_slice(&seq.to_be_bytes());
    }
    let digest = Hash::of(&material).to_string();
    digest[..32].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppression_counts_what_it_holds_back() {
        let mut hold = Hold::default();
        let minute = Duration::from_secs(60);
        assert_eq!(admit(&mut hold, 0, minute), Some(0));
        assert_eq!(admit(&mut hold, 59_999_999_999, minute), None);
        assert_eq!(admit(&mut hold, 59_999_999_999, minute), None);
        assert_eq!(admit(&mut hold, 60_000_000_000, minute), Some(2));
        let mut none = Hold::default();
        assert_eq!(admit(&mut none, 5, Duration::ZERO), Some(0));
        assert_eq!(admit(&mut none, 5, Duration::ZERO), Some(0));
        // Out of time order: an earlier record is not inside a later window.
        let mut later = Hold::default();
        assert_eq!(admit(&mut later, 100, minute), Some(0));
        assert_eq!(admit(&mut later, 99, minute), Some(0));
        assert_eq!(admit(&mut later, 101, minute), None);
    }
}
