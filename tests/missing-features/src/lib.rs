//! Nothing here: `tests/ui.rs` builds handlers against helve without features, to check that
//! each needed feature is reported once, with the line to add to Cargo.toml.
