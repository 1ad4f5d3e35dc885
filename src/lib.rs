//! Skalio ID API v3: an event-sourced identity service.
//!
//! HTTP requests are authenticated and authorized here, turned into one
//! command for one aggregate (`skalio-id-aggregates`), appended to the
//! Postgres event store, and answered once the read models
//! (`skalio-id-projections`) show the result.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod admin;
pub mod app;
pub mod authorization;
pub mod avatar;
pub mod avatars;
pub mod claims;
pub mod cli;
pub mod config;
pub mod db;
pub mod embedded_postgres;
pub mod error;
pub mod etag;
pub mod event_store;
pub mod extract;
pub mod fingerprint;
pub mod ids;
pub mod organization_services;
pub mod organizations;
pub mod passwords;
pub mod person_services;
pub mod rate_limit;
pub mod routes;
pub mod sessions;
pub mod telemetry;
pub mod tokens;
