//! What a weakened install looks like: more privileges than schema.sql
//! grants, a disabled append-only trigger, a service role that can bypass
//! the rules.

use postgres::Client;

use super::store::PgError;

/// What schema.sql grants each role on each table; anything beyond is a problem.
const TABLES: [(&str, &str, &str); 5] = [
    ("audit.records", "INSERT", "SELECT"),
    ("audit.checkpoints", "INSERT", "SELECT"),
    ("audit.retirements", "", "SELECT"),
    ("audit.schema_version", "", "SELECT"),
    ("audit.trail", "", "SELECT"),
];

const PRIVILEGES: [&str; 7] = [
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "TRUNCATE",
    "REFERENCES",
    "TRIGGER",
];

pub(super) fn problems(client: &mut Client) -> Result<Vec<String>, PgError> {
    let mut problems = Vec::new();
    for (table, writer, reader) in TABLES {
        for (role, allowed) in [
            ("audit_writer", writer),
            ("audit_reader", reader),
            ("public", ""),
        ] {
            for privilege in PRIVILEGES {
                if allowed == privilege {
                    continue;
                }
                let held: bool = client
                    .query_one(
                        "SELECT has_table_privilege($1, $2, $3)",
                        &[&role, &table, &privilege],
                    )
                    .map_err(PgError::query("checking privileges"))?
                    .get(0);
                if held {
                    problems.push(format!(
                        "{role} holds {privilege} on {table}: REVOKE {privilege} ON {table} FROM {role}"
                    ));
                }
            }
        }
    }
    for (function, allowed) in [
        ("audit.retire(text,bigint,text)", &[][..]),
        (
            "audit.stream_head(text)",
            &["audit_writer", "audit_reader"][..],
        ),
    ] {
        for role in ["audit_writer", "audit_reader", "public"] {
            if allowed.contains(&role) {
                continue;
            }
            let held: bool = client
                .query_one(
                    "SELECT has_function_privilege($1, $2, 'EXECUTE')",
                    &[&role, &function],
                )
                .map_err(PgError::query("checking privileges"))?
                .get(0);
            if held {
                problems.push(format!(
                    "{role} may call {function}: REVOKE EXECUTE ON FUNCTION {function} FROM {role}"
                ));
            }
        }
    }
    let disabled = client
        .query(
            "SELECT c.relname, t.tgname FROM pg_trigger t
             JOIN pg_class c ON c.oid = t.tgrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'audit' AND t.tgname IN ('append_only_rows', 'append_only_table')
               AND t.tgenabled = 'D'",
            &[],
        )
        .map_err(PgError::query("checking triggers"))?;
    for row in disabled {
        let (table, trigger): (String, String) = (row.get(0), row.get(1));
        problems.push(format!(
            "trigger {trigger} on audit.{table} is disabled: ALTER TABLE audit.{table} ENABLE TRIGGER {trigger}"
        ));
    }
    let privileged = client
        .query(
            "SELECT rolname FROM pg_roles
             WHERE rolname IN ('audit_writer', 'audit_reader')
               AND (rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb)",
            &[],
        )
        .map_err(PgError::query("checking roles"))?;
    for row in privileged {
        let role: String = row.get(0);
        problems.push(format!(
            "{role} is SUPERUSER, BYPASSRLS, CREATEROLE or CREATEDB: ALTER ROLE {role} NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB"
        ));
    }
    let owner_members = client
        .query(
            "SELECT m.rolname FROM pg_auth_members a
             JOIN pg_roles r ON r.oid = a.roleid
             JOIN pg_roles m ON m.oid = a.member
             WHERE r.rolname = 'audit_owner' AND m.rolname IN ('audit_writer', 'audit_reader')",
            &[],
        )
        .map_err(PgError::query("checking roles"))?;
    for row in owner_members {
        let role: String = row.get(0);
        problems.push(format!(
            "{role} is a member of audit_owner: REVOKE audit_owner FROM {role}"
        ));
    }
    Ok(problems)
}
