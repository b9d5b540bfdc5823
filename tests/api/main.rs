//! Integration tests: the real server on free ports, real HTTPS and HTTP over real sockets.

mod helpers;

mod bad_input;
mod bench;
mod browser;
mod cert;
mod checkurl;
mod chromium;
mod conform;
mod conform_runs;
mod control;
mod cookies;
mod core;
mod deploy;
mod faults;
mod fidelity;
mod fixtures;
mod gate;
mod hardening;
mod lifecycle;
mod network;
mod newcomer;
mod outages;
mod pages;
mod phone;
mod processes;
mod races;
mod reliability;
mod replicas;
mod runtime_fixtures;
mod sandboxes;
mod sandboxes_store;
mod security;
mod store;
mod store_redis;
mod tls;
