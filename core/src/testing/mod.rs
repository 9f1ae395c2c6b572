//! Aids for tests, behind features: the store conformance suite and the
//! property-test strategies.

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
#[cfg(feature = "proptest")]
pub mod strategies;
