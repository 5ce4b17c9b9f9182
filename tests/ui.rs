//! `#[audited]`'s compile errors point at the offending token, are the only
//! error the user sees, and every accepted argument form compiles.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
