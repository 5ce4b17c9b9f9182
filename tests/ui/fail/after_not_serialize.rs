use audit_layer::audited;

struct Secret;

#[audited(after = |_| Secret)]
fn rotate() {}

fn main() {}
