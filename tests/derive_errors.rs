//! Compile-fail tests for `#[derive(Model)]`: every misuse is rejected with a clear message
//! pointing at the attribute or field at fault. Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test --test derive_errors` and review the diff.

#[test]
fn derive_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail_*.rs");
    t.pass("tests/ui/pass_*.rs");
}
