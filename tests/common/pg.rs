//! A real PostgreSQL server for the store's tests: the one named by
//! `AUDIT_TEST_DATABASE_URL` (a superuser URL), or a throwaway cluster the
//! suite starts itself with initdb and pg_ctl (as the `postgres` user when
//! run as root), on a free loopback port. Where neither is possible the test
//! fails with one line naming the package to install.
#![allow(dead_code, unreachable_pub)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The environment variable naming a server to use instead of a throwaway one.
pub const SERVER_VARIABLE: &str = "AUDIT_TEST_DATABASE_URL";

const INSTALL: &str = "PostgreSQL's server binaries (initdb, pg_ctl) were not found and AUDIT_TEST_DATABASE_URL is not set: install them with `apt-get install -y postgresql`";

/// A PostgreSQL server the tests may use as superuser.
pub struct Server {
    /// host and port, as `127.0.0.1:PORT`, when we started it.
    cluster: Option<Cluster>,
    /// A superuser URL without a database name.
    base: String,
}

struct Cluster {
    bin: PathBuf,
    root: PathBuf,
    port: u16,
    /// Whether the server syncs its writes (off for tests; on for benchmarks).
    durable: bool,
}

fn server_bin() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                return Some(dir);
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A command of the server's, run as `postgres` when we are root (initdb
/// refuses root).
fn server_command(bin: &Path, program: &str) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(bin.join(program));
        command
    } else {
        Command::new(bin.join(program))
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

impl Cluster {
    fn init() -> Cluster {
        Cluster::init_with(false)
    }

    fn init_with(durable: bool) -> Cluster {
        let bin = server_bin().unwrap_or_else(|| panic!("{INSTALL}"));
        let root = tempfile::Builder::new()
            .prefix("audit-pg-")
            .tempdir()
            .expect("a temporary directory")
            .keep();
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&root)
                .status()
                .expect("chown");
            assert!(status.success(), "chown of the cluster directory failed");
        }
        let output = server_command(&bin, "initdb")
            .arg("-D")
            .arg(root.join("data"))
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .expect("initdb runs");
        assert!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let cluster = Cluster {
            bin,
            root,
            port: free_port(),
            durable,
        };
        cluster.start();
        cluster
    }

    fn start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c max_connections=60{}",
            self.port,
            self.root.display(),
            if self.durable {
                ""
            } else {
                " -c fsync=off -c full_page_writes=off"
            }
        );
        let output = server_command(&self.bin, "pg_ctl")
            .arg("-D")
            .arg(self.root.join("data"))
            .args(["-o", &options, "-l"])
            .arg(self.root.join("server.log"))
            .args(["-w", "-t", "60", "start"])
            .stdin(Stdio::null())
            .output()
            .expect("pg_ctl runs");
        assert!(
            output.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default()
        );
    }

    /// Stops the server at once, as a crash would (`-m immediate`).
    fn kill(&self) {
        let output = server_command(&self.bin, "pg_ctl")
            .arg("-D")
            .arg(self.root.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output()
            .expect("pg_ctl runs");
        assert!(
            output.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Stops the server and removes its files when the test process is
    /// gone, however it ends.
    fn stop_when_process_ends(&self) {
        let stop = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.2; done; {runuser}{pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {root}",
            pid = std::process::id(),
            runuser = if is_root() {
                "runuser -u postgres -- "
            } else {
                ""
            },
            pg_ctl = self.bin.join("pg_ctl").display(),
            data = self.root.join("data").display(),
            root = self.root.display(),
        );
        // Detached (and reaped by init): it outlives this process on purpose.
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "setsid sh -c '{stop}' </dev/null >/dev/null 2>&1 &"
            ))
            .status()
            .expect("the cluster's reaper starts");
        assert!(status.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(cluster) = &self.cluster {
            let _ = server_command(&cluster.bin, "pg_ctl")
                .arg("-D")
                .arg(cluster.root.join("data"))
                .args(["-m", "immediate", "-w", "stop"])
                .output();
            let _ = std::fs::remove_dir_all(&cluster.root);
        }
    }
}

impl Server {
    /// The server every test of this binary shares: named by the variable,
    /// or started once.
    pub fn shared() -> &'static Server {
        static SHARED: OnceLock<Server> = OnceLock::new();
        SHARED.get_or_init(|| match std::env::var(SERVER_VARIABLE) {
            Ok(url) if !url.is_empty() => Server {
                cluster: None,
                base: url.trim_end_matches('/').to_owned(),
            },
            _ => {
                let cluster = Cluster::init();
                cluster.stop_when_process_ends();
                Server {
                    base: format!("postgresql://postgres@127.0.0.1:{}", cluster.port),
                    cluster: Some(cluster),
                }
            }
        })
    }

    /// A server of this test's own, which it may kill and restart.
    pub fn own() -> Server {
        Server::own_with(false)
    }

    /// A server of our own that syncs its writes as a default install does
    /// (for benchmarks).
    pub fn own_durable() -> Server {
        Server::own_with(true)
    }

    fn own_with(durable: bool) -> Server {
        let cluster = Cluster::init_with(durable);
        cluster.stop_when_process_ends();
        Server {
            base: format!("postgresql://postgres@127.0.0.1:{}", cluster.port),
            cluster: Some(cluster),
        }
    }

    fn url_base(&self) -> String {
        // A URL given by the variable may name a database; keep its authority.
        match self.base.find("://").map(|at| at + 3) {
            Some(start) => match self.base[start..].find('/') {
                Some(slash) => self.base[..start + slash].to_owned(),
                None => self.base.clone(),
            },
            None => self.base.clone(),
        }
    }

    /// The superuser's URL of `database`.
    pub fn admin_url(&self, database: &str) -> String {
        format!("{}/{database}", self.url_base())
    }

    /// The URL of `database` for login role `user` (trust auth on a
    /// throwaway cluster; on a given server, the role needs no password).
    pub fn url_as(&self, user: &str, database: &str) -> String {
        let base = self.url_base();
        let start = base.find("://").map_or(0, |at| at + 3);
        let host = base[start..].rsplit('@').next().unwrap_or_default();
        format!("postgresql://{user}@{host}/{database}")
    }

    /// A fresh, empty database for one test, with the schema installed and
    /// login roles `{name}_writer` (audit_writer) and `{name}_reader` (audit_reader).
    pub fn fresh_store(&self, name: &str) -> Store {
        let mut admin = postgres::Client::connect(&self.admin_url("postgres"), postgres::NoTls)
            .expect("the test server accepts the superuser");
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .expect("the old database is dropped");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("a fresh database");
        let mut store = audit_layer::PgStore::connect(&self.admin_url(name)).expect("connect");
        store.init().expect("the schema installs");
        for (login, role) in [("writer", "audit_writer"), ("reader", "audit_reader")] {
            admin
                .batch_execute(&format!(
                    "DO $$ BEGIN
                       IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{name}_{login}') THEN
                         CREATE ROLE {name}_{login} LOGIN;
                       END IF;
                     END $$;
                     GRANT {role} TO {name}_{login};"
                ))
                .expect("login roles");
        }
        Store {
            admin: self.admin_url(name),
            writer: self.url_as(&format!("{name}_writer"), name),
            reader: self.url_as(&format!("{name}_reader"), name),
        }
    }

    /// Kills the server (as a crash would); only for a server of our own.
    pub fn kill(&self) {
        self.cluster.as_ref().expect("a server of our own").kill();
    }

    /// Starts a killed server again, on the same port.
    pub fn restart(&self) {
        self.cluster.as_ref().expect("a server of our own").start();
    }
}

/// The URLs of one test's store.
pub struct Store {
    /// As the superuser.
    pub admin: String,
    /// As a login role holding audit_writer.
    pub writer: String,
    /// As a login role holding audit_reader.
    pub reader: String,
}

impl Store {
    /// A superuser connection, for what a test does behind the store's back.
    pub fn superuser(&self) -> postgres::Client {
        postgres::Client::connect(&self.admin, postgres::NoTls).expect("superuser connects")
    }
}
