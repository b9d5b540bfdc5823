//! benecafe-sim: a local stand-in for the eZenedu welfare mall (이제너두 복리후생관, "benecafe")
//! as its partner vendors see it. It issues one-time OTP tokens, posts the GATE form to the
//! partner's URL, and answers the partner's server-to-server cert call with the member's data.
//!
//! # Layout
//! - [`settings`]: every setting, as flags and environment variables.
//! - [`startup`]: binds the listeners, loads fixtures and certificate, runs the server.
//! - [`routes`]: every HTTP route, registered in one place; the protocol endpoints
//!   (`cert`, `check`), the control API (`api`) and the browser pages (`pages`).
//! - [`session`]: the mock mall's signed member cookie.
//! - [`gate`]: issuing a GATE (consent, member-field rules, token), shared by API and pages.
//! - [`tokens`]: the one-time token store.
//! - [`directory`]: companies, members, vendors, consents and delivery memory at run time.
//! - [`fixtures`]: the fixture files and their validation.
//! - [`params`]: strict reading of urlencoded query strings and form bodies.
//! - [`persist`]: saving and loading state across restarts (`--state FILE`).
//! - [`limits`]: request-size limits (413, 414).
//! - [`journal`]: the bounded record of what happened.
//! - [`domain`]: values parsed at the edge (`OtpToken`).
//! - [`access`]: who may reach what: the access level of every route (control token, operator
//!   sign-in, served hosts, cross-site refusals).
//! - [`watch`]: reloading the fixtures folder when it changes (`--watch`).
//! - [`client_ip`]: who is calling (TCP peer, trusted proxies).
//! - [`tls`]: the HTTPS certificate and rustls configurations.
//! - [`clock`]: time in the protocol's forms (KST).
//! - [`error`]: the control API's error type.
//! - [`faults`]: faults injected into the protocol endpoints for the next N calls.
//! - [`telemetry`]: logging set-up.

pub mod access;
pub mod client_ip;
pub mod clock;
pub mod directory;
pub mod domain;
pub mod encryption;
pub mod endpoints;
pub mod error;
pub mod faults;
pub mod fixtures;
pub mod gate;
pub mod journal;
pub mod limits;
pub mod persist;
pub mod protocol;
pub mod routes;
pub mod session;
pub mod settings;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod tokens;
pub mod watch;
