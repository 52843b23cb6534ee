//! The command line. `api-proxy` serves; `api-proxy rotate-master-key` re-encrypts every stored
//! key under a new master key (see [`crate::key_rotation`]), says what it did, and exits.

use crate::config::{ProviderCatalog, ServerConfig};
use crate::crypto::Secret;
use crate::key_rotation::{self, NewKeyPlace, RotationError};

/// What the command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Serve,
    RotateMasterKey,
}

/// The subcommand named by the first argument, if any.
pub fn parse(args: impl IntoIterator<Item = String>) -> Command {
    match args.into_iter().next().as_deref() {
        Some("rotate-master-key") => Command::RotateMasterKey,
        _ => Command::Serve,
    }
}

/// `api-proxy rotate-master-key`, with the new key from `NEW_ENCRYPTION_KEY` if set; returns
/// what to tell the user.
pub fn rotate_master_key(
    config: &ServerConfig,
    new_key: Option<Secret>,
) -> Result<String, RotationError> {
    let catalog = ProviderCatalog::load(config.providers_dir.as_deref())?;
    let rotated = key_rotation::rotate(config, &catalog, new_key.as_ref())?;
    let next = match rotated.place {
        NewKeyPlace::File(path) => format!(
            "the new key is in {}: back it up with the database (backups taken before now need \
             the old key)",
            path.display()
        ),
        NewKeyPlace::Environment => "set ENCRYPTION_KEY to the value of NEW_ENCRYPTION_KEY (in \
                                     your secret store) before the next start"
            .to_owned(),
    };
    Ok(format!(
        "re-encrypted {} stored key(s) under a new master key; {next}",
        rotated.keys
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subcommand_is_the_first_argument() {
        let parse = |args: &[&str]| parse(args.iter().map(|a| (*a).to_owned()));
        assert_eq!(parse(&[]), Command::Serve);
        assert_eq!(parse(&["rotate-master-key"]), Command::RotateMasterKey);
        assert_eq!(parse(&["rotate-master-keys"]), Command::Serve);
    }
}
