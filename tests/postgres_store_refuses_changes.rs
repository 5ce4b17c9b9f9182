//! The PostgreSQL store keeps separation of duties, proved on a real
//! server: the writer role may only insert (and learn its head), the reader
//! only read, triggers refuse UPDATE, DELETE and TRUNCATE even to the owner,
//! retention is the owner's one narrow path, and `audit db init` is
//! idempotent and refuses to go on over a weakened install.

mod common;
#[path = "common/pg.rs"]
mod pg;

use std::time::Duration;

use audit_layer::{AuditWriter, PgError, PgSink, PgStore};
use common::run_audit as audit;

fn write_records(url: &str, stream: &str, count: usize) {
    let sink = PgSink::connect(url, stream).expect("the writer role connects");
    let (handle, guard) = AuditWriter::builder().spawn(sink).unwrap();
    for event in common::varied_events(count) {
        handle.submit(event).unwrap();
    }
    guard.shutdown(Duration::from_secs(20)).unwrap();
}

fn refusal(url: &str, sql: &str) -> String {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    match client.batch_execute(sql) {
        Ok(()) => panic!("`{sql}` was allowed"),
        Err(error) => error
            .as_db_error()
            .map(|e| e.message().to_owned())
            .unwrap_or_else(|| error.to_string()),
    }
}

#[test]
fn the_writer_role_may_only_insert() {
    let store = pg::Server::shared().fresh_store("writer_only_inserts");
    write_records(&store.writer, "svc@host", 5);
    for sql in [
        "SELECT * FROM audit.records",
        "UPDATE audit.records SET actor = 'mallory'",
        "DELETE FROM audit.records",
        "TRUNCATE audit.records",
        "SELECT * FROM audit.trail",
        "SELECT * FROM audit.retirements",
        "CREATE TABLE audit.planted (x int)",
        "ALTER TABLE audit.records DISABLE TRIGGER append_only_rows",
        "DROP TABLE audit.records",
        "SELECT audit.retire('svc@host', 3, 'anchor')",
        "INSERT INTO audit.retirements (stream, first_seq, anchor, txid) VALUES ('svc@host', 3, 'x', txid_current())",
    ] {
        let message = refusal(&store.writer, sql);
        assert!(
            message.contains("permission denied") || message.contains("must be owner"),
            "`{sql}` was refused, but not for want of privilege: {message}"
        );
    }
    // Its one way to learn where its stream ends.
    let mut writer = PgStore::connect(&store.writer).unwrap();
    assert_eq!(writer.head("svc@host").unwrap().next_seq, 5);
    assert_eq!(writer.head("another").unwrap().next_seq, 0);
}

#[test]
fn the_reader_role_may_only_read() {
    let store = pg::Server::shared().fresh_store("reader_only_reads");
    write_records(&store.writer, "svc@host", 3);
    let mut reader = postgres::Client::connect(&store.reader, postgres::NoTls).unwrap();
    let count: i64 = reader
        .query_one("SELECT count(*) FROM audit.trail", &[])
        .unwrap()
        .get(0);
    assert_eq!(count, 3);
    for sql in [
        "INSERT INTO audit.checkpoints (stream, size, note) VALUES ('x', 1, 'n')",
        "UPDATE audit.records SET actor = 'mallory'",
        "DELETE FROM audit.records",
        "TRUNCATE audit.records",
        "SELECT audit.retire('svc@host', 1, 'anchor')",
    ] {
        let message = refusal(&store.reader, sql);
        assert!(message.contains("permission denied"), "{sql}: {message}");
    }
}

#[test]
fn triggers_refuse_changes_even_to_the_owner() {
    let store = pg::Server::shared().fresh_store("owner_is_refused");
    write_records(&store.writer, "svc@host", 3);
    PgStore::connect(&store.writer)
        .unwrap()
        .publish_checkpoint("svc@host", 3, "a signed note")
        .unwrap();
    for sql in [
        "SET ROLE audit_owner; UPDATE audit.records SET actor = 'mallory' WHERE seq = 1",
        "SET ROLE audit_owner; DELETE FROM audit.records WHERE seq = 2",
        "SET ROLE audit_owner; TRUNCATE audit.records",
        "SET ROLE audit_owner; TRUNCATE audit.retirements",
        "SET ROLE audit_owner; UPDATE audit.checkpoints SET note = ''",
        // The superuser too, while the triggers are on.
        "DELETE FROM audit.records",
    ] {
        let message = refusal(&store.admin, sql);
        assert!(message.contains("append-only"), "{sql}: {message}");
    }
    let mut admin = store.superuser();
    let count: i64 = admin
        .query_one("SELECT count(*) FROM audit.records", &[])
        .unwrap()
        .get(0);
    assert_eq!(count, 3, "nothing was changed");
}

#[test]
fn init_is_idempotent_and_refuses_a_weakened_install() {
    let server = pg::Server::shared();
    let store = server.fresh_store("init_twice");
    write_records(&store.writer, "svc@host", 2);
    let output = audit(&["db", "init", "--db", &store.admin]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut admin = store.superuser();
    admin
        .batch_execute("GRANT UPDATE ON audit.records TO audit_writer")
        .unwrap();
    let output = audit(&["db", "init", "--db", &store.admin]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("audit_writer holds UPDATE on audit.records"),
        "{stderr}"
    );
    let mut install = PgStore::connect(&store.admin).unwrap();
    assert!(matches!(install.init(), Err(PgError::Weakened(_))));
    admin
        .batch_execute(
            "REVOKE UPDATE ON audit.records FROM audit_writer;
             ALTER TABLE audit.records DISABLE TRIGGER append_only_rows",
        )
        .unwrap();
    let problems = install.install_problems().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("append_only_rows"), "{problems:?}");
    admin
        .batch_execute("ALTER TABLE audit.records ENABLE TRIGGER append_only_rows")
        .unwrap();
    install.init().unwrap();
    // Nothing was lost on the way.
    let count: i64 = admin
        .query_one("SELECT count(*) FROM audit.records", &[])
        .unwrap()
        .get(0);
    assert_eq!(count, 2);
}
