use audit_layer::audited;

#[audited]
const fn publish() {}

fn main() {}
