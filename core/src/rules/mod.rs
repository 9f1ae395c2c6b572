//! The rules as data: the [`Programme`](programme::Programme) with its
//! sourced parameters, who is eligible and why
//! ([`explain`](eligibility::explain)), what an award covers
//! ([`Coverage`](coverage::Coverage)), the [`Applicant`](applicant::Applicant)
//! it is judged on, and the one set of text checks every input passes.

pub(crate) mod applicant;
pub(crate) mod coverage;
pub(crate) mod eligibility;
pub(crate) mod programme;
pub(crate) mod text;
