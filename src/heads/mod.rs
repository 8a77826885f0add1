//! The two heads: the reference notebook's ([`head`]) and Boltz-2's ([`boltz2`]).
//!
//! Each head's module holds its configuration, its weights, its inference pass
//! and (in its `backward` submodule) its training pass: the forward pass keeping
//! what the backward pass needs, and the backward pass. Both heads' `forward`
//! returns a [`HeadOutput`](head::HeadOutput) (bin logits and the decoded
//! B-factors) and their `logits` the logits alone. The crate root re-exports both
//! modules and both heads.

pub mod boltz2;
pub mod head;
