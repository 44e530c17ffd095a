//! `huggingface-cli`: the command line client for the Hugging Face Hub.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod commands;
mod hint;
mod human_format;
mod logger;
mod progress_bars;
mod session;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use hub_api::TokenStore;
use hub_url::{HubConfig, Token, redact_tokens};

use crate::commands::Cli;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version are printed by clap and are not failures.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    if cli.verbose > 0 {
        logger::init(cli.verbose, held_tokens());
    }
    match cli.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // The last line of defence: whoever wrote the message, no token leaves in it.
            let message = format!("{err:#}");
            let message = redact_tokens(&message, &held_tokens());
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "error: {message}");
            if let Some(hint) = hint::hint_for(&err) {
                let _ = writeln!(stderr, "hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

/// A closed pipe (`huggingface-cli ... | head`) ends the program quietly.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Every token this process may have been given or sent: `--token`,
/// `HF_TOKEN`, the token file and the saved tokens.
fn held_tokens() -> Vec<Token> {
    let mut held = token_arguments(std::env::args_os().skip(1));
    // A failure here is no reason to hide the error being reported.
    if let Ok(config) = HubConfig::from_env() {
        let store = TokenStore::from_config(&config);
        held.extend(config.token);
        held.extend(store.active().ok().flatten());
        held.extend(store.stored().into_iter().flatten().map(|(_, token)| token));
    }
    held
}

/// The values of `--token VALUE` and `--token=VALUE` among the arguments.
fn token_arguments(args: impl IntoIterator<Item = OsString>) -> Vec<Token> {
    let mut args = args.into_iter().map(|arg| arg.to_string_lossy().into_owned());
    let mut held = Vec::new();
    while let Some(arg) = args.next() {
        let value = match arg.strip_prefix("--token=") {
            Some(value) => Some(value.to_owned()),
            None if arg == "--token" => args.next(),
            None => None,
        };
        held.extend(value.and_then(Token::non_empty));
    }
    held
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_arguments_in_both_forms() {
        let args = [
            "login",
            "--token",
            "hf_a",
            "--token=hf_b",
            "--token=",
            "--tokens",
            "x",
            "--token",
        ];
        let held = token_arguments(args.map(OsString::from));
        assert_eq!(held, [Token::new("hf_a"), Token::new("hf_b")]);
    }
}
