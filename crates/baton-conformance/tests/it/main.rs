//! Runs the conformance suite on every backend.

mod sqlite {
    baton_conformance::conformance_suite!(baton_conformance::harness::sqlite);
}

mod postgres {
    baton_conformance::conformance_suite!(baton_conformance::harness::postgres);
}
