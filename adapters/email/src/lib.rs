//! grantflow-email: not built yet.
