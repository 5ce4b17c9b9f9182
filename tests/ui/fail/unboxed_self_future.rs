use std::future::{Future, Ready, ready};

use audit_layer::audited;

trait Service {
    type Future: Future<Output = u8>;
    fn call(&mut self) -> Self::Future;
}

struct Answer;

impl Service for Answer {
    type Future = Ready<u8>;

    #[audited]
    fn call(&mut self) -> Self::Future {
        ready(42)
    }
}

fn main() {}
