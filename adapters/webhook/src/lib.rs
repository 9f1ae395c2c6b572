//! grantflow-webhook: not built yet.
