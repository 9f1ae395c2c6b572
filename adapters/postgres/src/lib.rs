//! grantflow-postgres: not built yet.
