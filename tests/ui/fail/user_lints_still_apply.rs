#![deny(dead_code, unused_variables)]

use audit_layer::audited;

#[audited(action = "never.called")]
fn never_called() -> Result<(), String> {
    let unused = 1;
    Ok(())
}

fn main() {}
