use audit_layer::audited;

#[audited(fields = 1)]
fn publish() {}

fn main() {}
