use audit_layer::audited;

#[audited(after = |_| "done")]
fn serve_forever() -> ! {
    loop {}
}

fn main() {}
