use audit_layer::audited;

#[derive(Debug)]
struct UserId(u64);

#[audited(actor = ?user, resource = %id, fields(request = ?id))]
fn debug_and_display(user: UserId, id: u64) {
    let _ = user.0;
}

macro_rules! audited_fn {
    ($name:ident, $after:expr, $body:block) => {
        #[audited(after = $after)]
        fn $name() -> u32 $body
    };
}

audited_fn!(seven, |ret: &u32| *ret, { 7 });

fn main() {
    debug_and_display(UserId(1), 2);
    assert_eq!(seven(), 7);
}
