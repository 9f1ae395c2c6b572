//! What goes in and out of the decider: [`Command`](command::Command)s in,
//! [`Event`](event::Event)s or a [`Rejection`](rejection::Rejection) out, the
//! [`Notice`](notices::Notice)s events cause, and the ids that name them all.

pub(crate) mod command;
pub(crate) mod event;
pub(crate) mod ids;
pub(crate) mod notices;
pub(crate) mod rejection;
