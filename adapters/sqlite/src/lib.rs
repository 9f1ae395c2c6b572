//! grantflow-sqlite: not built yet.
