//! The engine of `audit watch` runs inside a service: the example the
//! README prints runs, and the README prints it as the example has it.

mod common;
#[path = "common/watch.rs"]
mod watch;

const README: &str = include_str!("../README.md");
const EXAMPLE: &str = include_str!("../examples/watch_in_process.rs");

#[test]
fn the_in_process_example_raises_its_alert() {
    let out = std::process::Command::new(common::example("watch_in_process"))
        .output()
        .expect("the example runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = watch::alerts(&out.stdout);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["message"], "mallory exported 3 times within 1h");
    assert_eq!(alerts[0]["source"], "clinic-api");
    assert_eq!(watch::seqs(&alerts[0]), [0, 1, 2]);
}

#[test]
fn the_readme_prints_the_example_as_it_is() {
    let start = EXAMPLE
        .find("// README: watch-in-process\n")
        .expect("the start marker")
        + "// README: watch-in-process\n".len();
    let end = EXAMPLE.find("    // README: end").expect("the end marker");
    let from_example: String = EXAMPLE[start..end]
        .lines()
        .map(|line| line.strip_prefix("    ").unwrap_or(line))
        .map(|line| format!("{line}\n"))
        .collect();
    let block = README
        .split("```rust\n")
        .skip(1)
        .map(|rest| &rest[..rest.find("```").unwrap()])
        .find(|block| block.contains("export-burst"))
        .expect("the README shows the in-process engine");
    assert_eq!(block, from_example);
}
