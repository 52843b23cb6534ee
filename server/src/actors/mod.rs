//! Actors: one supervised [`key::KeyActor`] per provider key, managed by the [`registry::KeyRegistry`].

pub mod inbox;
pub mod key;
pub mod registry;

pub use key::KeyActor;
pub use registry::KeyRegistry;
