use audit_layer::audited;

#[audited(action = "")]
fn publish() {}

fn main() {}
