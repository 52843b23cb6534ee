//! The command line. `api-proxy` serves; `api-proxy rotate-master-key` re-encrypts every stored
//! key under a new master key (see [`crate::key_rotation`]), says what it did, and exits.
//! `--help` and `--version` answer and exit; any other argument is a usage error, so a mistyped
//! flag never starts a server on the current folder's data.

use crate::config::{ProviderCatalog, ServerConfig};
use crate::crypto::Secret;
use crate::key_rotation::{self, NewKeyPlace, RotationError};

/// What the command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Serve,
    RotateMasterKey,
    Help,
    Version,
}

/// A command line api-proxy does not understand (exit status [`UsageError::EXIT_CODE`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    #[error("unknown argument `{0}`")]
    UnknownArgument(String),
    #[error("unexpected argument `{extra}` after `{command}`")]
    ExtraArgument { command: String, extra: String },
}

impl UsageError {
    /// The conventional exit status of a usage error (as in BSD's `EX_USAGE` family and clap).
    pub const EXIT_CODE: i32 = 2;
}

/// `api-proxy --version`.
pub const VERSION: &str = concat!("api-proxy ", env!("CARGO_PKG_VERSION"));

/// `api-proxy --help`.
pub const HELP: &str = concat!(
    "api-proxy ",
    env!("CARGO_PKG_VERSION"),
    " - a local OpenAI-compatible LLM gateway\n",
    "\n",
    "Usage:\n",
    "  api-proxy                      serve (settings from the environment and ./.env)\n",
    "  api-proxy rotate-master-key    re-encrypt every stored key under a new master key\n",
    "  api-proxy --help | -h          this help\n",
    "  api-proxy --version | -V       the version\n",
    "\n",
    "Settings (environment or ./.env): HOST (127.0.0.1), PORT (3000), DATABASE_PATH\n",
    "(./data/api-proxy.db), ADMIN_TOKEN, ENCRYPTION_KEY, LOG_LEVEL, ... (see .env.example).\n",
    "The admin token is generated into <data folder>/admin.token unless ADMIN_TOKEN is set.\n",
);

/// The command named by the arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, UsageError> {
    let mut args = args.into_iter();
    let Some(first) = args.next() else {
        return Ok(Command::Serve);
    };
    let command = match first.as_str() {
        "rotate-master-key" => Command::RotateMasterKey,
        "-h" | "--help" | "help" => return Ok(Command::Help),
        "-V" | "--version" => return Ok(Command::Version),
        _ => return Err(UsageError::UnknownArgument(first)),
    };
    match args.next() {
        None => Ok(command),
        Some(extra) if extra == "-h" || extra == "--help" => Ok(Command::Help),
        Some(extra) => Err(UsageError::ExtraArgument {
            command: first,
            extra,
        }),
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

    fn parse_strs(args: &[&str]) -> Result<Command, UsageError> {
        parse(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn no_argument_serves_and_the_subcommand_is_the_first_argument() {
        assert_eq!(parse_strs(&[]), Ok(Command::Serve));
        assert_eq!(
            parse_strs(&["rotate-master-key"]),
            Ok(Command::RotateMasterKey)
        );
    }

    #[test]
    fn help_and_version_have_short_and_long_forms() {
        for help in [
            &["--help"][..],
            &["-h"],
            &["help"],
            &["rotate-master-key", "--help"],
        ] {
            assert_eq!(parse_strs(help), Ok(Command::Help), "{help:?}");
        }
        assert_eq!(parse_strs(&["--version"]), Ok(Command::Version));
        assert_eq!(parse_strs(&["-V"]), Ok(Command::Version));
        assert!(HELP.contains("rotate-master-key") && HELP.contains("--version"));
        assert_eq!(VERSION, concat!("api-proxy ", env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn anything_else_is_a_usage_error_not_a_server() {
        assert_eq!(
            parse_strs(&["rotate-master-keys"]),
            Err(UsageError::UnknownArgument("rotate-master-keys".into()))
        );
        assert_eq!(
            parse_strs(&["--port", "8080"]),
            Err(UsageError::UnknownArgument("--port".into()))
        );
        assert_eq!(
            parse_strs(&["rotate-master-key", "now"]),
            Err(UsageError::ExtraArgument {
                command: "rotate-master-key".into(),
                extra: "now".into()
            })
        );
        assert_eq!(
            UsageError::UnknownArgument("-x".into()).to_string(),
            "unknown argument `-x`"
        );
    }
}
