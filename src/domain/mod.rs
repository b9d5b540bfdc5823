//! Plain values: what the simulator knows (companies, members, vendors, consents, tokens,
//! faults, journal events) and time in the protocol's forms. Nothing here does I/O beyond
//! reading fixture files, and nothing here knows HTTP, the store or the protocol's rules.

pub mod clock;
pub mod directory;
pub mod encryption;
pub mod event;
pub mod fault;
pub mod fixtures;
pub mod grant;
pub mod hosts;
pub mod records;
pub mod sandbox;
pub mod token;

pub use token::{OtpToken, TokenFormatError};
