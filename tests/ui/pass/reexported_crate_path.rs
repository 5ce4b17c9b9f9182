// A crate that re-exports audit-layer under another name names the path.
mod platform {
    pub use audit_layer as audit;
}

#[platform::audit::audited(action = "a", crate = platform::audit)]
fn through_reexport() {}

fn main() {
    through_reexport();
}
