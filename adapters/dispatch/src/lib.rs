//! grantflow-dispatch: not built yet.
