use audit_layer::audited;

#[audited(level = "loud")]
fn publish() {}

fn main() {}
