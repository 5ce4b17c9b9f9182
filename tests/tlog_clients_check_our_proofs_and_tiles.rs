//! An independent client, Go's `golang.org/x/mod/sumdb/tlog` and `note`
//! (Debian's golang-golang-x-mod-dev), checks what we publish: the signed
//! checkpoint opens under our public key, the tree hash it computes from
//! our tiles (through its own TileHashReader, which authenticates every
//! tile against the root) is the checkpoint's root, and our inclusion and
//! consistency proofs pass its CheckRecord and CheckTree.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use audit_layer::{AuditWriter, CheckpointDir, Checkpoints, FileSink, SignerKey};
use common::run_audit as audit;

const INSTALL: &str = "Go and golang.org/x/mod were not found: install them with `apt-get install -y golang-go golang-golang-x-mod-dev`";
const GOPATH: &str = "/usr/share/gocode";

const CLIENT: &str = r#"
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type inclusion struct {
	Index int64    `json:"index"`
	Size  int64    `json:"size"`
	Root  string   `json:"root"`
	Leaf  string   `json:"leaf"`
	Proof []string `json:"proof"`
}

type consistency struct {
	OldSize int64    `json:"old_size"`
	NewSize int64    `json:"new_size"`
	OldRoot string   `json:"old_root"`
	NewRoot string   `json:"new_root"`
	Proof   []string `json:"proof"`
}

func hash(b64 string) tlog.Hash {
	var h tlog.Hash
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != len(h) {
		fail("not a hash: %q", b64)
	}
	copy(h[:], b)
	return h
}

func hashes(list []string) []tlog.Hash {
	var out []tlog.Hash
	for _, s := range list {
		out = append(out, hash(s))
	}
	return out
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

// Our tiles follow C2SP tlog-tiles, whose paths are Go's without the height.
type tiles struct{ dir string }

func (t tiles) Height() int { return 8 }
func (t tiles) SaveTiles([]tlog.Tile, [][]byte) {}
func (t tiles) ReadTiles(list []tlog.Tile) ([][]byte, error) {
	var out [][]byte
	for _, tile := range list {
		path := t.dir + "/tile/" + strings.TrimPrefix(tile.Path(), "tile/8/")
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		out = append(out, data)
	}
	return out, nil
}

func main() {
	// main LOG_DIR CHECKPOINT_FILE VERIFIER_KEY PROOF_FILE...
	dir, checkpointFile, vkey := os.Args[1], os.Args[2], os.Args[3]
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		fail("our public key is not a note verifier key: %v", err)
	}
	msg, _ := os.ReadFile(checkpointFile)
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fail("our checkpoint does not open: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	size, _ := strconv.ParseInt(lines[1], 10, 64)
	root := hash(lines[2])
	th, err := tlog.TreeHash(size, tlog.TileHashReader(tlog.Tree{N: size, Hash: root}, tiles{dir}))
	if err != nil || th != root {
		fail("the tree hash from our tiles is %v (%v), not the checkpoint's %v", th, err, root)
	}
	fmt.Printf("checkpoint size %d: tiles agree\n", size)
	for _, file := range os.Args[4:] {
		data, _ := os.ReadFile(file)
		if strings.Contains(string(data), "\"old_size\"") {
			var c consistency
			if err := json.Unmarshal(data, &c); err != nil {
				fail("%s: %v", file, err)
			}
			if err := tlog.CheckTree(hashes(c.Proof), c.NewSize, hash(c.NewRoot), c.OldSize, hash(c.OldRoot)); err != nil {
				fail("%s: CheckTree: %v", file, err)
			}
			fmt.Printf("consistency %d -> %d: ok\n", c.OldSize, c.NewSize)
		} else {
			var i inclusion
			if err := json.Unmarshal(data, &i); err != nil {
				fail("%s: %v", file, err)
			}
			if err := tlog.CheckRecord(hashes(i.Proof), i.Size, hash(i.Root), i.Index, hash(i.Leaf)); err != nil {
				fail("%s: CheckRecord: %v", file, err)
			}
			fmt.Printf("inclusion %d in %d: ok\n", i.Index, i.Size)
		}
	}
}
"#;

fn go() -> PathBuf {
    let found = ["/usr/bin/go", "/usr/lib/go/bin/go"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    let tlog = Path::new(GOPATH).join("src/golang.org/x/mod/sumdb/tlog");
    match found {
        Some(go) if tlog.is_dir() => go,
        _ => panic!("{INSTALL}"),
    }
}

fn run_client(work: &Path, args: &[String]) -> std::process::Output {
    let source = work.join("client/main.go");
    std::fs::create_dir_all(source.parent().unwrap()).unwrap();
    std::fs::write(&source, CLIENT).unwrap();
    Command::new(go())
        .arg("run")
        .arg(&source)
        .args(args)
        .env("GO111MODULE", "off")
        .env("GOPATH", GOPATH)
        .env("GOCACHE", work.join("gocache"))
        .env("HOME", work)
        .env("GOFLAGS", "")
        .output()
        .expect("go runs")
}

#[test]
fn go_tlog_checks_our_checkpoint_tiles_and_proofs() {
    let go = go();
    assert!(go.is_file());
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let checkpoints = dir.path().join("checkpoints");
    let key = SignerKey::generate("example.com/audit/interop").unwrap();
    let sink = FileSink::builder(&log)
        .max_segment_bytes(128 * 1024)
        .open()
        .unwrap();
    let (handle, guard) = AuditWriter::builder()
        .checkpoints(Checkpoints::new(
            key.clone(),
            CheckpointDir::new(&checkpoints),
        ))
        .spawn(sink)
        .unwrap();
    for event in common::varied_events(70_000 / 64) {
        handle.submit(event).unwrap();
    }
    guard.shutdown(Duration::from_secs(30)).unwrap();
    let mut notes: Vec<PathBuf> = std::fs::read_dir(&checkpoints)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    notes.sort();
    let note = notes.last().unwrap().to_str().unwrap().to_owned();
    let public = key.verifier().to_string();
    let log_arg = log.to_str().unwrap();

    let mut args = vec![log_arg.to_owned(), note.clone(), public.clone()];
    for (n, query) in [
        vec!["--seq", "0"],
        vec!["--seq", "255"],
        vec!["--seq", "256"],
        vec!["--seq", "1000"],
        vec!["--from", "1", "--to", "1093"],
        vec!["--from", "256", "--to", "1000"],
        vec!["--from", "700"],
    ]
    .into_iter()
    .enumerate()
    {
        let mut full = vec![
            "prove",
            log_arg,
            "--json",
            "--checkpoint",
            &note,
            "--key",
            &public,
        ];
        if query[0] == "--from" {
            full.truncate(3);
        }
        full.extend(query);
        let output = audit(&full);
        assert!(
            output.status.success(),
            "{full:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let file = dir.path().join(format!("proof-{n}.json"));
        std::fs::write(&file, &output.stdout).unwrap();
        args.push(file.to_str().unwrap().to_owned());
    }
    let output = run_client(dir.path(), &args);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{said}");
    assert!(said.contains("tiles agree"), "{said}");
    assert_eq!(said.matches(": ok").count(), 7, "{said}");

    // And it refuses what it should: a proof with one hash changed.
    let mut forged: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&args[6]).unwrap()).unwrap();
    forged["proof"][0] = serde_json::Value::from("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    let file = dir.path().join("forged.json");
    std::fs::write(&file, forged.to_string()).unwrap();
    let output = run_client(
        dir.path(),
        &[
            args[0].clone(),
            args[1].clone(),
            args[2].clone(),
            file.to_str().unwrap().to_owned(),
        ],
    );
    assert!(!output.status.success(), "a forged proof was accepted");
}
