//! benecafe-sim: a local stand-in for the eZenedu welfare mall (이제너두 복리후생관, "benecafe")
//! as its partner vendors see it. It issues one-time OTP tokens, posts the GATE form to the
//! partner's URL, and answers the partner's server-to-server cert call with the member's data.
//!
//! # Layout
//! Three layers that point one way: the edge (`routes/`, `access`, `limits`) adapts HTTP to the
//! protocol core (`protocol/`, `gate`, `endpoints`, `encryption`), which decides from the state
//! behind the storage seam (`store/`). A cert call: [`routes::cert`] (socket → typed call) →
//! [`protocol::cert::decide`] (the rules) → [`store::Store`] (the atomic redeem).
//!
//! - [`cli`], [`settings`]: the command line (`serve`, `conform`) and every setting.
//! - [`startup`]: binds the listeners, loads fixtures and certificates, runs the servers.
//! - [`access`]: who may reach what: the access level of every route (control token, operator
//!   sign-in, served hosts, cross-site refusals); [`limits`]: sizes and the body deadline.
//! - [`routes`]: every HTTP route, registered in one table; the protocol endpoints (`cert`,
//!   `check`, sharing `call`), the control API (`api`) and the browser pages (`pages`).
//! - [`protocol`]: the mall's rules without HTTP: result codes and bodies, the strict parameter
//!   readers, the cert endpoint's and CHECKURL's decisions, the fault plans.
//! - [`gate`]: issuing a GATE: resolve, the typed form, encode (ranNum, encryption).
//! - [`conform`]: the partner conformance kit (cases, simulated browsers, reports).
//! - [`endpoints`]: every URL the simulator gives out (`CUS_URL`, CHECKURL, POPUPURL, pages).
//! - [`encryption`]: parameter encryption, one file per scheme.
//! - [`store`]: the storage seam (tokens, directory, faults, journal) and its backends;
//!   [`tokens`], [`directory`], [`faults`], [`journal`]: the in-memory structures behind it.
//! - [`fixtures`]: the fixture files and their validation; [`watch`]: reloading them.
//! - [`files`]: writing secret files atomically, never through a link.
//! - [`persist`]: saving and loading the memory store across restarts (`--state FILE`).
//! - [`session`]: the signed cookies (mall session, operator sign-in, built-in partner).
//! - [`domain`]: values parsed at the edge (`OtpToken`); [`client_ip`]: who is calling.
//! - [`tls`]: certificates and rustls configurations; [`clock`]: time in the protocol's forms.
//! - [`error`]: the control API's error type; [`telemetry`]: logs.

pub mod access;
pub mod cli;
pub mod client_ip;
pub mod clock;
pub mod conform;
pub mod directory;
pub mod domain;
pub mod encryption;
pub mod endpoints;
pub mod error;
pub mod faults;
pub mod files;
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
