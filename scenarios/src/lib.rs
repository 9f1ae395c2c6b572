//! grantflow-scenarios: not built yet.
