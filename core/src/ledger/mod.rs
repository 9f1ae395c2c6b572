//! Money and the pot: exact [`Money`](money::Money) in pence with the one
//! rounding policy, and the [`Pot`](pot::Pot) and per-award
//! [`Account`](pot::Account) that reserve, post, release and recover.

pub(crate) mod money;
pub(crate) mod pot;
