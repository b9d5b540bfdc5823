//! The control API under `/_sim/api/`, for test automation. JSON in and out; errors are
//! `{"error": "..."}` with a message that says what was wrong.

pub mod admin;
pub mod bulk;
pub mod conform;
pub mod decrypt;
pub mod faults;
pub mod gate;
pub mod journal;
pub mod lists;
pub mod sandboxes;
pub mod tokens;
