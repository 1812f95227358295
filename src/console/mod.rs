//! The admin console's face (issue 19). So far: the operator's commands for
//! console administrators (`cli.rs`); the pages at `/admin` come next.

pub mod cli;
