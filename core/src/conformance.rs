//! The store conformance suite (feature `conformance`): one set of checks every `EventStore` + `Outbox` must pass.
