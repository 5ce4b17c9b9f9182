use audit_layer::audited;

#[audited(fields(ticket = 1, ticket = 2))]
fn publish() {}

fn main() {}
