//! Opening a log for a query: one pass that verifies each line and hands
//! over the records that match, each with whether the verifier vouched for it.

use std::path::PathBuf;

use audit_layer::{
    AuditRecord, CheckedLine, FindingCode, LogReader, RecordFilter, Report, Timestamp, Verifier,
};

/// Where the log is. Every command names it the same way: `--log DIR`
/// (documented), or as the first positional argument.
#[derive(Debug, clap::Args)]
pub(crate) struct LogArgs {
    /// The log directory (or one segment file); `--log` may be left out.
    #[arg(value_name = "LOG")]
    positional: Option<PathBuf>,
    /// The log directory (or one segment file).
    #[arg(long = "log", env = "AUDIT_LOG", value_name = "LOG")]
    named: Option<PathBuf>,
}

impl ReadArgs {
    /// Whether `--no-verify` was given.
    pub(crate) fn no_verify(&self) -> bool {
        self.no_verify
    }
}

impl LogArgs {
    /// The log named, by `--log` or positionally (`audit-log` when neither).
    pub(crate) fn path(&self) -> Result<PathBuf, String> {
        match (&self.positional, &self.named) {
            (Some(a), Some(b)) if a != b => Err(format!(
                "the log is named twice, as {} and --log {}: name it once",
                a.display(),
                b.display()
            )),
            (Some(path), _) | (None, Some(path)) => Ok(path.clone()),
            (None, None) => Ok(PathBuf::from("audit-log")),
        }
    }
}

/// The PostgreSQL store, instead of a log directory.
#[derive(Debug, clap::Args)]
pub(crate) struct DbArgs {
    /// Read the PostgreSQL store at this URL (postgresql://USER@HOST:PORT/DB)
    /// instead of a log directory; the reader role is enough.
    #[arg(long, env = "AUDIT_DB", value_name = "URL")]
    pub(crate) db: Option<String>,
    /// With --db: only this stream (by default every stream).
    #[arg(long, requires = "db", value_name = "NAME")]
    pub(crate) stream: Option<String>,
}

impl DbArgs {
    /// The store, when --db was given.
    pub(crate) fn connect(
        &self,
    ) -> Result<Option<audit_layer::PgStore>, Box<dyn std::error::Error>> {
        match &self.db {
            Some(url) => Ok(Some(audit_layer::PgStore::connect(url)?)),
            None => Ok(None),
        }
    }
}

/// How a query reads the log.
#[derive(Debug, clap::Args)]
pub(crate) struct ReadArgs {
    #[command(flatten)]
    pub(crate) log: LogArgs,
    #[command(flatten)]
    pub(crate) db: DbArgs,
    /// Skip checking the chain; records are then shown as not verified.
    #[arg(long)]
    no_verify: bool,
    /// A trusted public key (or a file holding one): retention anchors it
    /// signed say where the log begins. Repeat for several.
    #[arg(long)]
    pub(crate) key: Vec<String>,
}

/// The outcomes and failure kinds `--outcome` takes.
const OUTCOMES: [&str; 9] = [
    "success",
    "failure",
    "unknown",
    "error",
    "denied",
    "invalid",
    "panicked",
    "cancelled",
    "records_lost",
];

fn parse_outcome(text: &str) -> Result<String, String> {
    let wanted = text.to_ascii_lowercase();
    if OUTCOMES.contains(&wanted.as_str()) {
        Ok(wanted)
    } else {
        Err(format!(
            "`{text}` is not an outcome; use one of: {}",
            OUTCOMES.join(", ")
        ))
    }
}

/// Which records a query keeps (`audit show`, `audit export`).
#[derive(Debug, clap::Args)]
pub(crate) struct FilterArgs {
    /// Only records by this actor.
    #[arg(long)]
    actor: Option<String>,
    /// Only this action; a trailing `*` matches any suffix (`post.*`).
    #[arg(long)]
    action: Option<String>,
    /// Only records on this resource.
    #[arg(long)]
    resource: Option<String>,
    /// Only this outcome (success, failure, unknown) or failure kind (error,
    /// denied, invalid, panicked, cancelled, records_lost); any case.
    #[arg(long, value_parser = parse_outcome)]
    outcome: Option<String>,
    /// Only records at or after this time: 2026-11-23T09:00:00Z, an offset
    /// (2026-11-23T10:00:00+01:00), "2026-11-23 09:00" (UTC), a date
    /// (2026-11-23, midnight UTC), or an age like 2h.
    #[arg(long, value_parser = parse_time)]
    since: Option<Timestamp>,
    /// Only records before this time (same forms as --since).
    #[arg(long, value_parser = parse_time)]
    until: Option<Timestamp>,
    /// Only records after this seq (the last seq of an earlier export).
    #[arg(long, value_name = "SEQ")]
    after_seq: Option<u64>,
    /// Leave out audit-layer's own records (repairs, outages).
    #[arg(long)]
    no_system: bool,
}

impl FilterArgs {
    /// The filter these flags describe.
    pub(crate) fn filter(&self) -> Result<RecordFilter, String> {
        if let (Some(since), Some(until)) = (self.since, self.until)
            && since >= until
        {
            return Err(format!(
                "--since {since} is not before --until {until}: no record could match"
            ));
        }
        let mut filter = RecordFilter::new();
        if let Some(actor) = &self.actor {
            filter = filter.actor(actor);
        }
        if let Some(action) = &self.action {
            filter = filter.action(action);
        }
        if let Some(resource) = &self.resource {
            filter = filter.resource(resource);
        }
        if let Some(outcome) = &self.outcome {
            filter = filter.outcome(outcome);
        }
        if let Some(since) = self.since {
            filter = filter.since(since);
        }
        if let Some(until) = self.until {
            filter = filter.until(until);
        }
        if let Some(seq) = self.after_seq {
            filter = filter.after_seq(seq);
        }
        if self.no_system {
            filter = filter.application_only();
        }
        Ok(filter)
    }

    /// The `--after-seq` cursor, if given.
    pub(crate) fn after_seq(&self) -> Option<u64> {
        self.after_seq
    }

    /// The `--actor` wanted, if given.
    pub(crate) fn actor(&self) -> Option<&str> {
        self.actor.as_deref()
    }

    /// The `--resource` wanted, if given.
    pub(crate) fn resource(&self) -> Option<&str> {
        self.resource.as_deref()
    }
}

/// When an `--after-seq` cursor stands beyond the log's last record: the log
/// is shorter than when the cursor was taken, which an empty answer would hide.
pub(crate) fn cursor_beyond_head(check: &LogCheck, after_seq: Option<u64>) -> Option<String> {
    let after = after_seq?;
    let report = check.verification.as_ref()?;
    let beyond = report.last_seq.is_none_or(|last| after > last);
    beyond.then(|| {
        format!(
            "--after-seq {after} is beyond the log's last record ({}): the log is shorter than when that cursor was taken",
            report.last_seq.map_or("it has none".to_owned(), |last| format!("seq {last}"))
        )
    })
}

/// A record selected, and what the verifier said about its line.
pub(crate) struct Selected {
    pub(crate) record: AuditRecord,
    /// `None` when it was vouched for; else why not.
    pub(crate) problem: Option<String>,
}

/// What the walk said about the log, and the lines it could not read.
pub(crate) struct LogCheck {
    /// Records read from the store, each checked on its own.
    pub(crate) from_store: bool,
    pub(crate) verification: Option<Report>,
    pub(crate) unreadable: u64,
    pub(crate) unverified_selected: u64,
    pub(crate) log: PathBuf,
}

impl LogCheck {
    /// Warns on stderr when the log does not check out; returns whether it
    /// does, the command's verdict.
    pub(crate) fn warn_unless_trustworthy(&self) -> bool {
        let trustworthy = self.trustworthy();
        if !trustworthy {
            eprintln!("audit: {}", self.verdict());
        }
        trustworthy
    }

    /// Whether the records come from a log that checks out.
    pub(crate) fn trustworthy(&self) -> bool {
        // --no-verify asked for no verdict; the output says none was made.
        self.unreadable == 0
            && !(self.from_store && self.unverified_selected > 0)
            && self.verification.as_ref().is_none_or(Report::is_intact)
    }

    /// One line saying whether to trust what was shown.
    pub(crate) fn verdict(&self) -> String {
        if self.from_store {
            return if self.unverified_selected == 0 {
                "each record shown checked out on its own (hash, columns, link to the record before); `audit verify --db` checks whole streams".into()
            } else {
                format!(
                    "WARNING: {} of the records shown failed their checks and are marked UNVERIFIED; run `audit verify --db`",
                    self.unverified_selected
                )
            };
        }
        match &self.verification {
            None => "log not verified (--no-verify): no record shown is vouched for".into(),
            Some(report) if report.is_intact() => "log verified: intact".into(),
            Some(report) => format!(
                "WARNING: the log has {} finding(s){}; run `audit verify {}`: records marked UNVERIFIED failed verification, and no record shown is vouched for beyond the chain",
                report.finding_total(),
                if self.unverified_selected > 0 {
                    format!(
                        ", {} of the records shown are UNVERIFIED",
                        self.unverified_selected
                    )
                } else {
                    String::new()
                },
                self.log.display()
            ),
        }
    }
}

/// Whether `line` may hold a record `filter` keeps, judged on its raw
/// bytes: a line without the JSON text of a wanted actor or resource
/// cannot match. serde_json writes each string one way only; a line with
/// another spelling (`\u` or `\/` escapes) is always parsed.
struct RawPrefilter {
    needles: Vec<memchr::memmem::Finder<'static>>,
}

impl RawPrefilter {
    fn new(actor: Option<&str>, resource: Option<&str>) -> Self {
        let needles = [("actor", actor), ("resource", resource)]
            .into_iter()
            .filter_map(|(key, value)| {
                let value = serde_json::to_string(value?).ok()?;
                Some(
                    memchr::memmem::Finder::new(format!("\"{key}\":{value}").as_bytes())
                        .into_owned(),
                )
            })
            .collect();
        RawPrefilter { needles }
    }

    fn may_match(&self, line: &[u8]) -> bool {
        self.needles
            .iter()
            .all(|needle| needle.find(line).is_some())
            || memchr::memmem::find(line, b"\\u").is_some()
            || memchr::memmem::find(line, b"\\/").is_some()
    }
}

fn problem_text(line: &CheckedLine<'_>) -> Option<String> {
    if line.verified {
        return None;
    }
    Some(line.problem.map_or_else(
        || "not verified".to_owned(),
        |code: FindingCode| code.as_str().to_owned(),
    ))
}

/// Verifies the log (unless `--no-verify`) and, in the same pass, hands
/// each record that matches to `each`, in chain order, without holding them.
pub(crate) fn for_each_selected(
    args: &ReadArgs,
    filter: &RecordFilter,
    raw: (Option<&str>, Option<&str>),
    mut each: impl FnMut(Selected) -> std::io::Result<()>,
) -> Result<LogCheck, Box<dyn std::error::Error>> {
    if let Some(mut store) = args.db.connect()? {
        let mut unverified_selected = 0u64;
        audit_layer::select_stored(&mut store, args.db.stream.as_deref(), filter, |stored| {
            let problem = stored.problem.map(|code| code.as_str().to_owned());
            if problem.is_some() {
                unverified_selected += 1;
            }
            each(Selected {
                record: stored.record,
                problem,
            })
        })?;
        return Ok(LogCheck {
            from_store: true,
            verification: None,
            unreadable: 0,
            unverified_selected,
            log: PathBuf::new(),
        });
    }
    let log = args.log.path()?;
    let prefilter = RawPrefilter::new(raw.0, raw.1);
    let mut unreadable = 0u64;
    let mut unverified_selected = 0u64;
    if args.no_verify {
        let reader =
            LogReader::open(&log).map_err(|e| format!("cannot read {}: {e}", log.display()))?;
        for record in reader {
            match record {
                Ok(record) if filter.matches(&record) => each(Selected {
                    record,
                    problem: Some("not verified".into()),
                })?,
                Ok(_) => {}
                Err(error) => {
                    unreadable += 1;
                    eprintln!(
                        "audit: unreadable line {}",
                        audit_layer::TerminalSafe(&error.to_string())
                    );
                }
            }
        }
        return Ok(LogCheck {
            from_store: false,
            verification: None,
            unreadable,
            unverified_selected,
            log,
        });
    }
    let mut verifier = Verifier::new();
    for key in &args.key {
        verifier = verifier.trust(super::verify::load_key(key)?);
    }
    let report = verifier.verify_path_with(&log, |line| {
        if !prefilter.may_match(line.line) {
            return Ok(());
        }
        match AuditRecord::from_line(line.line) {
            Ok(record) if filter.matches(&record) => {
                let problem = problem_text(&line);
                if problem.is_some() {
                    unverified_selected += 1;
                }
                each(Selected { record, problem })
            }
            Ok(_) => Ok(()),
            Err(_) => {
                // The verifier reports the line (malformed); counted here so
                // the verdict cannot be "intact".
                unreadable += 1;
                Ok(())
            }
        }
    })?;
    Ok(LogCheck {
        from_store: false,
        verification: Some(report),
        unreadable,
        unverified_selected,
        log,
    })
}

/// Parses `--since`/`--until`: an RFC 3339 time with `Z` or an offset
/// (`2026-11-23T09:00:00Z`, `2026-11-23T10:00:00+01:00`), a UTC date and
/// time with a space or `T` and optional seconds (`2026-11-23 09:00`), a
/// UTC date (`2026-11-23`), or an age (`2h`, `3days`).
pub(crate) fn parse_time(text: &str) -> Result<Timestamp, String> {
    if let Some(time) = parse_calendar(text.trim()) {
        return time.map_err(|e| format!("`{text}`: {e}"));
    }
    if let Ok(age) = humantime::parse_duration(text) {
        let time = std::time::SystemTime::now()
            .checked_sub(age)
            .ok_or_else(|| format!("{text} ago is before 1970"))?;
        return Timestamp::from_system_time(time).map_err(|e| e.to_string());
    }
    Err(format!(
        "`{text}` is not a time: use 2026-11-23T09:00:00Z, 2026-11-23T10:00:00+01:00, \"2026-11-23 09:00\", 2026-11-23, or an age like 2h"
    ))
}

/// A calendar time, if `text` has the shape of one (`None` otherwise).
fn parse_calendar(text: &str) -> Option<Result<Timestamp, String>> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    if bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    let mut rest = &text[10..];
    let (mut hour, mut minute, mut second, mut nanos) = (0i64, 0i64, 0i64, 0u32);
    if let Some(time) = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' ')) {
        let t = time.as_bytes();
        let two = |at: usize| -> Option<i64> {
            time.get(at..at + 2)
                .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))?
                .parse()
                .ok()
        };
        hour = two(0)?;
        if t.get(2) != Some(&b':') {
            return None;
        }
        minute = two(3)?;
        rest = &time[5..];
        if let Some(after) = rest.strip_prefix(':') {
            second = two_of(after)?;
            rest = &after[2..];
            if let Some(fraction) = rest.strip_prefix('.') {
                let len = fraction.bytes().take_while(u8::is_ascii_digit).count();
                if len == 0 || len > 9 {
                    return Some(Err("fractions of a second have 1 to 9 digits".into()));
                }
                nanos = fraction[..len].parse::<u32>().ok()? * 10u32.pow(9 - len as u32);
                rest = &fraction[len..];
            }
        }
    }
    let offset_secs = match rest {
        "" | "Z" | "z" => 0,
        offset => {
            let sign = match offset.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return Some(Err(format!("`{offset}` is not Z or an offset like +01:00"))),
            };
            let (h, m) = (two_of(&offset[1..])?, two_of(offset.get(4..)?)?);
            if offset.as_bytes().get(3) != Some(&b':') || offset.len() != 6 {
                return Some(Err(format!("`{offset}` is not an offset like +01:00")));
            }
            sign * (h * 3600 + m * 60)
        }
    };
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Some(Err("no such date or time".into()));
    }
    let days = days_from_civil(year, month, day);
    let unix = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset_secs;
    let Ok(unix) = u64::try_from(unix) else {
        return Some(Err("before 1970".into()));
    };
    let time = std::time::UNIX_EPOCH + std::time::Duration::new(unix, nanos);
    Some(Timestamp::from_system_time(time).map_err(|e| e.to_string()))
}

fn two_of(text: &str) -> Option<i64> {
    text.get(..2)
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))?
        .parse()
        .ok()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_help_shows_is_accepted() {
        let utc = |text: &str| parse_time(text).unwrap().to_string();
        assert_eq!(
            utc("2026-11-23T09:00:00Z"),
            "2026-11-23T09:00:00.000000000Z"
        );
        assert_eq!(utc("2026-11-23 09:00"), "2026-11-23T09:00:00.000000000Z");
        assert_eq!(utc("2026-11-23 09:00:30"), "2026-11-23T09:00:30.000000000Z");
        assert_eq!(utc("2026-11-23"), "2026-11-23T00:00:00.000000000Z");
        assert_eq!(
            utc("2026-11-23T10:00:00+01:00"),
            "2026-11-23T09:00:00.000000000Z"
        );
        assert_eq!(
            utc("2026-11-23T09:00:00.5Z"),
            "2026-11-23T09:00:00.500000000Z"
        );
        assert!(parse_time("2h").is_ok());
        for bad in ["2026-13-01", "2026-02-30", "yesterday", "2026-11-23 25:00"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn outcomes_are_checked_and_case_is_ignored() {
        assert_eq!(parse_outcome("DENIED").unwrap(), "denied");
        let error = parse_outcome("bogus").unwrap_err();
        assert!(error.contains("success, failure, unknown"), "{error}");
    }

    #[test]
    fn the_prefilter_never_hides_a_matching_line() {
        let filter = RawPrefilter::new(Some("alice"), None);
        assert!(filter.may_match(br#"{"actor":"alice","x":1}"#));
        assert!(filter.may_match(br#"{"actor":"\u0061lice"}"#));
        assert!(!filter.may_match(br#"{"actor":"bob"}"#));
    }
}
