//! A connection to the store, and the operator's verbs on it.

use std::time::SystemTime;

use postgres::{Client, NoTls};

use crate::record::anchor::Anchor;
use crate::record::chain::{ChainHead, GENESIS, Hash};

use super::install_check;

/// The schema [`PgStore::init`] installs, as SQL (schema version 1).
pub(crate) const SCHEMA_SQL: &str = include_str!("schema.sql");

/// Errors of the PostgreSQL store.
///
/// # Examples
///
/// ```
/// let error = audit_layer::PgStore::connect("postgresql://127.0.0.1:1/none").unwrap_err();
/// assert!(error.to_string().contains("cannot connect"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// The server could not be reached, or refused the login.
    #[error("cannot connect to the store: {}", describe(.0))]
    Connect(#[source] postgres::Error),
    /// The URL is not a PostgreSQL connection string.
    #[error("not a PostgreSQL URL ({0}); use postgresql://USER@HOST:PORT/DATABASE")]
    Url(#[source] postgres::Error),
    /// A statement failed (the server's message says why, e.g. "permission denied").
    #[error("{context}: {}", describe(.source))]
    Query {
        /// What was being done.
        context: &'static str,
        /// The server's error.
        #[source]
        source: postgres::Error,
    },
    /// The store has no audit schema: run `audit db init` first.
    #[error(
        "the database has no audit-layer schema: run `audit db init --db URL` as an administrator first"
    )]
    NotInstalled,
    /// An existing install grants more than this version would: fixing it is
    /// for a person to decide, so `init` stops.
    #[error("the existing install is weaker than this one, and init will not continue:\n  {}", .0.join("\n  "))]
    Weakened(Vec<String>),
    /// Another writer holds the stream.
    #[error("stream `{0}` is held by another writer: give each process its own stream name")]
    StreamBusy(String),
    /// A stream name that cannot be stored.
    #[error("stream name {0:?} is not usable: 1 to 200 characters, no control characters")]
    StreamName(String),
    /// The function handed each record returned this error, which stopped the read.
    #[error("{0}")]
    Output(#[source] std::io::Error),
    /// A stored row that does not decode.
    #[error("stream `{stream}` seq {seq}: the stored row is damaged: {why}")]
    BadRow {
        /// The stream.
        stream: String,
        /// The seq.
        seq: i64,
        /// What is wrong.
        why: String,
    },
}

/// The server's own words for an error (its message, detail and hint), or
/// the client's when the server said nothing.
fn describe(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_owned();
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ({detail})"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            text
        }
    }
}

impl PgError {
    pub(crate) fn query(context: &'static str) -> impl FnOnce(postgres::Error) -> PgError {
        move |source| PgError::Query { context, source }
    }

    /// Whether the error is the connection's, not the statement's: worth a
    /// reconnect and a retry.
    ///
    /// # Examples
    ///
    /// ```
    /// let error = audit_layer::PgStore::connect("postgresql://127.0.0.1:1/none").unwrap_err();
    /// assert!(error.is_connection_lost());
    /// ```
    pub fn is_connection_lost(&self) -> bool {
        match self {
            PgError::Connect(_) => true,
            PgError::Query { source, .. } => {
                source.is_closed()
                    || match source.code() {
                        // Class 08 (connection exception), 57P (shutdown, crash).
                        Some(code) => {
                            code.code().starts_with("08") || code.code().starts_with("57P")
                        }
                        None => source.as_db_error().is_none(),
                    }
            }
            _ => false,
        }
    }
}

/// A connection to the store.
///
/// # Examples
///
/// ```no_run
/// use audit_layer::PgStore;
///
/// let mut store = PgStore::connect("postgresql://audit_admin@db.internal/audit")?;
/// store.init()?; // as an administrator, once; running it again changes nothing
/// for stream in store.streams()? {
///     println!("{} holds {} records", stream.name, stream.records);
/// }
/// # Ok::<(), audit_layer::PgError>(())
/// ```
pub struct PgStore {
    pub(crate) client: Client,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// One stream of the store, as [`PgStore::streams`] lists it.
///
/// # Examples
///
/// ```
/// let s = audit_layer::StreamSummary {
///     name: "blog-api@web-1".into(), records: 0, first_seq: None, last_seq: None,
///     head: audit_layer::chain::GENESIS, first_time: None, last_time: None,
///     last_checkpoint: None, anchor: None, last_stored: None,
/// };
/// assert_eq!(s.records, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    /// Its name.
    pub name: String,
    /// How many records it holds.
    pub records: u64,
    /// The seq of its first stored record.
    pub first_seq: Option<u64>,
    /// The seq of its last stored record.
    pub last_seq: Option<u64>,
    /// The hash of its last record.
    pub head: Hash,
    /// The time of its first stored record.
    pub first_time: Option<SystemTime>,
    /// The time of its last record.
    pub last_time: Option<SystemTime>,
    /// The size of the largest checkpoint published to the store, and when.
    pub last_checkpoint: Option<(u64, SystemTime)>,
    /// The signed anchor of its last retention, if records were retired.
    pub anchor: Option<String>,
    /// When its last record was stored: later than the record's time by
    /// however long it waited (a shipper behind, or a store outage).
    pub last_stored: Option<SystemTime>,
}

/// The stream name a writer gets unless told otherwise: `service@host`.
/// Two writers of one service on one host need names of their own.
///
/// # Examples
///
/// ```
/// assert_eq!(audit_layer::default_stream_name("blog-api", "web-1"), "blog-api@web-1");
/// ```
pub fn default_stream_name(service: &str, host: &str) -> String {
    format!("{service}@{host}")
}

pub(crate) fn check_stream_name(name: &str) -> Result<(), PgError> {
    let chars = name.chars().count();
    if chars == 0 || chars > 200 || name.chars().any(char::is_control) {
        return Err(PgError::StreamName(name.to_owned()));
    }
    Ok(())
}

impl PgStore {
    /// Connects to the store at `url` (`postgresql://USER@HOST:PORT/DB`, or
    /// `host=... user=...`). TLS is not negotiated: reach the server over a
    /// local socket, a loopback address or a tunnel.
    ///
    /// # Errors
    ///
    /// [`PgError::Url`] for a URL that does not parse, [`PgError::Connect`]
    /// when the server cannot be reached or refuses the login.
    ///
    /// # Examples
    ///
    /// See [`PgStore`].
    pub fn connect(url: &str) -> Result<Self, PgError> {
        let config: postgres::Config = url.parse().map_err(PgError::Url)?;
        let client = off_runtime(|| {
            let mut config = config;
            config.application_name("audit-layer");
            config.connect(NoTls)
        })
        .map_err(PgError::Connect)?;
        Ok(PgStore { client })
    }

    /// Installs the schema, roles, triggers and functions (schema.sql),
    /// then checks that the install is as strict as this version makes it.
    /// Idempotent: it creates what is missing, drops nothing and never
    /// widens a privilege. Needs a role that may create roles and is a
    /// member of `audit_owner` once it exists (a superuser, typically).
    ///
    /// # Errors
    ///
    /// [`PgError::Query`] when a statement fails (e.g. not privileged
    /// enough); [`PgError::Weakened`] when the existing install grants more
    /// than this version would, or has a trigger disabled: it lists what,
    /// for a person to fix.
    ///
    /// # Examples
    ///
    /// See [`PgStore`].
    pub fn init(&mut self) -> Result<(), PgError> {
        let mut transaction = self
            .client
            .transaction()
            .map_err(PgError::query("starting the install"))?;
        transaction
            .batch_execute(SCHEMA_SQL)
            .map_err(PgError::query("installing the schema"))?;
        transaction
            .commit()
            .map_err(PgError::query("installing the schema"))?;
        let problems = install_check::problems(&mut self.client)?;
        if problems.is_empty() {
            Ok(())
        } else {
            Err(PgError::Weakened(problems))
        }
    }

    /// What is weaker in this install than [`init`](PgStore::init) makes it
    /// (extra privileges, disabled triggers, privileged service roles); empty
    /// when nothing is.
    ///
    /// # Errors
    ///
    /// [`PgError::NotInstalled`] without a schema; [`PgError::Query`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let mut store = audit_layer::PgStore::connect("postgresql://auditor@db/audit")?;
    /// assert!(store.install_problems()?.is_empty());
    /// # Ok::<(), audit_layer::PgError>(())
    /// ```
    pub fn install_problems(&mut self) -> Result<Vec<String>, PgError> {
        self.require_schema()?;
        install_check::problems(&mut self.client)
    }

    pub(crate) fn require_schema(&mut self) -> Result<(), PgError> {
        require_schema(&mut self.client)
    }

    /// Where `stream` ends: the seq its next record must have and the hash
    /// it must link to (genesis for a stream with no record). Uses the
    /// writer's narrow function, so a writer role may call it.
    ///
    /// # Errors
    ///
    /// [`PgError::Query`], [`PgError::BadRow`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let mut store = audit_layer::PgStore::connect("postgresql://blog@db/audit")?;
    /// let head = store.head("blog-api@web-1")?;
    /// println!("next seq {}", head.next_seq);
    /// # Ok::<(), audit_layer::PgError>(())
    /// ```
    pub fn head(&mut self, stream: &str) -> Result<ChainHead, PgError> {
        stream_head(&mut self.client, stream)
    }

    /// Every stream, with its size, head, first and last times, last
    /// published checkpoint and retention anchor. Needs the reader role.
    ///
    /// # Errors
    ///
    /// [`PgError::NotInstalled`], [`PgError::Query`].
    ///
    /// # Examples
    ///
    /// See [`PgStore`].
    pub fn streams(&mut self) -> Result<Vec<StreamSummary>, PgError> {
        self.require_schema()?;
        let rows = self
            .client
            .query(
                "SELECT s.stream, s.records, s.first_seq, s.last_seq, s.first_time,
                        (SELECT r.time FROM audit.records r WHERE r.stream = s.stream AND r.seq = s.last_seq),
                        (SELECT r.hash FROM audit.records r WHERE r.stream = s.stream AND r.seq = s.last_seq),
                        (SELECT c.size FROM audit.checkpoints c WHERE c.stream = s.stream ORDER BY c.size DESC, c.stored_at DESC LIMIT 1),
                        (SELECT c.stored_at FROM audit.checkpoints c WHERE c.stream = s.stream ORDER BY c.size DESC, c.stored_at DESC LIMIT 1),
                        (SELECT t.anchor FROM audit.retirements t WHERE t.stream = s.stream ORDER BY t.first_seq DESC LIMIT 1),
                        (SELECT r.stored_at FROM audit.records r WHERE r.stream = s.stream AND r.seq = s.last_seq)
                 FROM (SELECT stream, count(*) AS records, min(seq) AS first_seq, max(seq) AS last_seq, min(time) AS first_time
                       FROM audit.records GROUP BY stream) s
                 ORDER BY s.stream",
                &[],
            )
            .map_err(PgError::query("listing the streams"))?;
        let mut streams = Vec::with_capacity(rows.len());
        for row in rows {
            let name: String = row.get(0);
            let head: Vec<u8> = row.get(6);
            let head = <[u8; 32]>::try_from(head.as_slice())
                .map(Hash::from_bytes)
                .map_err(|_| PgError::BadRow {
                    stream: name.clone(),
                    seq: row.get(3),
                    why: "its hash is not 32 bytes".into(),
                })?;
            let checkpoint: Option<i64> = row.get(7);
            let checkpoint_at: Option<SystemTime> = row.get(8);
            streams.push(StreamSummary {
                records: row.get::<_, i64>(1).unsigned_abs(),
                first_seq: row.get::<_, Option<i64>>(2).map(i64::unsigned_abs),
                last_seq: row.get::<_, Option<i64>>(3).map(i64::unsigned_abs),
                head,
                first_time: row.get(4),
                last_time: row.get(5),
                last_checkpoint: checkpoint
                    .zip(checkpoint_at)
                    .map(|(size, at)| (size.unsigned_abs(), at)),
                anchor: row.get(9),
                last_stored: row.get(10),
                name,
            });
        }
        Ok(streams)
    }

    /// The signed anchor of `stream`'s last retention, if it had one.
    ///
    /// # Errors
    ///
    /// [`PgError::Query`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let mut store = audit_layer::PgStore::connect("postgresql://auditor@db/audit")?;
    /// assert!(store.anchor("blog-api@web-1")?.is_none());
    /// # Ok::<(), audit_layer::PgError>(())
    /// ```
    pub fn anchor(&mut self, stream: &str) -> Result<Option<(u64, String)>, PgError> {
        let row = self
            .client
            .query_opt(
                "SELECT first_seq, anchor FROM audit.retirements WHERE stream = $1 ORDER BY first_seq DESC LIMIT 1",
                &[&stream],
            )
            .map_err(PgError::query("reading the stream's anchor"))?;
        Ok(row.map(|row| (row.get::<_, i64>(0).unsigned_abs(), row.get(1))))
    }

    /// Publishes a signed checkpoint of `stream` of `size` records to the
    /// store (for [`streams`](PgStore::streams); verifiers trust only
    /// checkpoints kept elsewhere). The writer role may call it.
    ///
    /// # Errors
    ///
    /// [`PgError::Query`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # let note = String::new();
    /// let mut store = audit_layer::PgStore::connect("postgresql://blog@db/audit")?;
    /// store.publish_checkpoint("blog-api@web-1", 100, &note)?;
    /// # Ok::<(), audit_layer::PgError>(())
    /// ```
    pub fn publish_checkpoint(
        &mut self,
        stream: &str,
        size: u64,
        note: &str,
    ) -> Result<(), PgError> {
        let size = i64::try_from(size).map_err(|_| PgError::BadRow {
            stream: stream.into(),
            seq: i64::MAX,
            why: format!("a checkpoint of size {size} is beyond what the store holds"),
        })?;
        self.client
            .execute(
                "INSERT INTO audit.checkpoints (stream, size, note) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&stream, &size, &note],
            )
            .map_err(PgError::query("publishing the checkpoint"))?;
        Ok(())
    }

    /// Retention: stores the signed `anchor` note (whose text is `anchor`)
    /// and deletes `stream`'s records before `anchor.first_seq`, through the
    /// store's one narrow path (`audit.retire`), which only the owner role
    /// may call. The caller checks the anchor's signature; the store checks
    /// that the record it names is kept. Returns how many rows were deleted.
    ///
    /// # Errors
    ///
    /// [`PgError::Query`]: e.g. "permission denied for function retire" for
    /// a writer or reader, or no record at the anchor's seq.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use audit_layer::{Anchor, PgStore, SignerKey};
    /// let key = SignerKey::generate("example.com/audit")?;
    /// let mut store = PgStore::connect("postgresql://audit_owner_login@db/audit")?;
    /// let prev = store.hash_at("blog-api@web-1", 999)?.expect("record 999 is stored");
    /// let anchor = Anchor { origin: "example.com/audit".into(), first_seq: 1000, prev, root: None };
    /// let deleted = store.retire("blog-api@web-1", &anchor, &anchor.sign(&key))?;
    /// # let _ = deleted;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn retire(&mut self, stream: &str, anchor: &Anchor, note: &str) -> Result<u64, PgError> {
        let first = i64::try_from(anchor.first_seq).map_err(|_| PgError::BadRow {
            stream: stream.into(),
            seq: i64::MAX,
            why: "the anchor's seq is beyond what the store holds".into(),
        })?;
        let row = self
            .client
            .query_one("SELECT audit.retire($1, $2, $3)", &[&stream, &first, &note])
            .map_err(PgError::query("retiring records"))?;
        Ok(row.get::<_, i64>(0).unsigned_abs())
    }

    /// The exact lines of `stream` from seq `from` on, in seq order, at
    /// most `limit` of them: what `audit watch --db` follows.
    ///
    /// # Errors
    ///
    /// [`PgError::Query`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let mut store = audit_layer::PgStore::connect("postgresql://audit_reader@localhost/audit")?;
    /// for (seq, line) in store.lines_from("blog-api@web-1/1", 0, 1000)? {
    ///     assert!(!line.is_empty(), "{seq}");
    /// }
    /// # Ok::<(), audit_layer::PgError>(())
    /// ```
    pub fn lines_from(
        &mut self,
        stream: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, PgError> {
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .client
            .query(
                "SELECT seq, line FROM audit.records WHERE stream = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
                &[&stream, &from, &limit],
            )
            .map_err(PgError::query("reading a stream's lines"))?;
        Ok(rows
            .into_iter()
            .map(|row| (row.get::<_, i64>(0) as u64, row.get::<_, Vec<u8>>(1)))
            .collect())
    }

    /// The hash of `stream`'s record at `seq`, if it is stored (reader role).
    ///
    /// # Errors
    ///
    /// [`PgError::Query`], [`PgError::BadRow`].
    ///
    /// # Examples
    ///
    /// See [`retire`](PgStore::retire).
    pub fn hash_at(&mut self, stream: &str, seq: u64) -> Result<Option<Hash>, PgError> {
        let Ok(at) = i64::try_from(seq) else {
            return Ok(None);
        };
        let row = self
            .client
            .query_opt(
                "SELECT hash FROM audit.records WHERE stream = $1 AND seq = $2",
                &[&stream, &at],
            )
            .map_err(PgError::query("reading a record's hash"))?;
        row.map(|row| hash_column(stream, at, row.get(0)))
            .transpose()
    }
}

/// Fails with [`PgError::NotInstalled`] when the schema is missing.
pub(crate) fn require_schema(client: &mut Client) -> Result<(), PgError> {
    let row = client
        .query_one(
            "SELECT to_regclass('audit.records') IS NOT NULL AND to_regprocedure('audit.stream_head(text)') IS NOT NULL",
            &[],
        )
        .map_err(PgError::query("looking for the schema"))?;
    if row.get::<_, bool>(0) {
        Ok(())
    } else {
        Err(PgError::NotInstalled)
    }
}

/// Takes the session's advisory lock on `stream`, which one writer (a
/// sink or a shipper) holds for as long as it is connected.
pub(crate) fn lock_stream(client: &mut Client, stream: &str) -> Result<(), PgError> {
    let locked: bool = client
        .query_one(
            "SELECT pg_try_advisory_lock(hashtextextended('audit-layer stream ' || $1, 0))",
            &[&stream],
        )
        .map_err(PgError::query("taking the stream's lock"))?
        .get(0);
    if locked {
        Ok(())
    } else {
        Err(PgError::StreamBusy(stream.to_owned()))
    }
}

pub(crate) fn hash_column(stream: &str, seq: i64, bytes: Vec<u8>) -> Result<Hash, PgError> {
    <[u8; 32]>::try_from(bytes.as_slice())
        .map(Hash::from_bytes)
        .map_err(|_| PgError::BadRow {
            stream: stream.into(),
            seq,
            why: "a hash column is not 32 bytes".into(),
        })
}

pub(crate) fn stream_head(client: &mut Client, stream: &str) -> Result<ChainHead, PgError> {
    let row = client
        .query_one(
            "SELECT next_seq, prev FROM audit.stream_head($1)",
            &[&stream],
        )
        .map_err(PgError::query("asking the store for the stream's head"))?;
    let next: Option<i64> = row.get(0);
    let prev: Option<Vec<u8>> = row.get(1);
    match (next, prev) {
        (Some(next), Some(prev)) => Ok(ChainHead {
            next_seq: next.unsigned_abs(),
            prev: hash_column(stream, next - 1, prev)?,
        }),
        _ => Ok(ChainHead {
            next_seq: 0,
            prev: GENESIS,
        }),
    }
}

/// Runs `work` where the synchronous client may block: not on a thread that
/// is inside a tokio runtime (a service that builds its writer in `main`
/// under `#[tokio::main]`), where blocking would panic.
pub(crate) fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|scope| match scope.spawn(work).join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    } else {
        work()
    }
}
