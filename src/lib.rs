//! benecafe-sim: a local stand-in for the eZenedu welfare mall (이제너두 복리후생관, "benecafe")
//! as its partner vendors see it. It issues one-time OTP tokens, posts the GATE form to the
//! partner's URL, and answers the partner's server-to-server cert call with the member's data.
//!
//! # Layout
//! Five layers; every arrow points down, and no file imports one that imports it back.
//!
//! - [`app`]: the process: the command line and settings, logs, certificates, binding the
//!   listeners and running the servers ([`app::Application`]).
//! - [`web`]: the HTTP edge (actix-web): the one route table, the guards every route passes
//!   (hosts, origin, control token, operator sign-in, canonical paths, size limits), thin
//!   adapters from requests to the protocol, the control API and the browser pages.
//!   [`conform`]: the partner conformance kit, beside the edge.
//! - [`protocol`]: the mall's rules without HTTP: result codes and bodies, the strict
//!   parameter readers, the cert endpoint's and CHECKURL's decisions, issuing a GATE,
//!   auto-join, every URL given out. It takes a [`store::Store`] and plain values, never a
//!   request or the application state.
//! - [`store`]: the storage seam: tokens, directory, faults and journal behind one door, with
//!   a memory and a Redis backend, each owning its own housekeeping.
//! - [`domain`]: plain values: records, the directory, tokens, faults, events, clock.
//!
//! One cert call, down and back: `web/mod.rs` (the route and its guard) → `web/cert.rs` (the
//! request read into a typed call) → `protocol/cert.rs` (the rules, in the guide's order) →
//! `store/mod.rs` (one visit) → `store/memory/tokens.rs` or `store/redis/tokens.rs` (the
//! atomic use), then back up to `web/cert.rs`, which answers and records the journal event.
//! The book's architecture page (`docs/src/architecture.md`) walks it in full.

pub mod app;
pub mod conform;
pub mod domain;
pub mod protocol;
pub mod store;
pub mod web;
