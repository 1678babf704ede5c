//! Asking for what a command needs when a person runs it: only when stdin is a terminal (a
//! script gets an error naming the flag instead), and never echoing a password.
use std::io::{BufRead, IsTerminal, Read, Write};

use super::CliError;

fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// `value`, or the answer to `question` when stdin is a terminal, or an error naming `flag`.
pub fn required(value: Option<String>, flag: &str, question: &str) -> Result<String, CliError> {
    if let Some(value) = value {
        return Ok(value);
    }
    if !interactive() {
        return Err(CliError::bad_input(format!("{flag} is required.")));
    }
    eprint!("{question}: ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).map_err(|e| CliError::failed(format!("reading stdin: {e}")))?;
    let answer = answer.trim().to_string();
    if answer.is_empty() {
        return Err(CliError::bad_input(format!("{flag} is required.")));
    }
    Ok(answer)
}

/// A new password: the first line of stdin with `from_stdin`, else asked for twice, unechoed.
pub fn new_password(from_stdin: bool) -> Result<String, CliError> {
    if from_stdin {
        return Ok(stdin_line()?.trim_end_matches(['\r', '\n']).to_string());
    }
    if !interactive() {
        return Err(CliError::bad_input("Give the password on stdin with --password-stdin (stdin is not a terminal)."));
    }
    let first = rpassword::prompt_password("Password: ").map_err(|e| CliError::failed(format!("reading the password: {e}")))?;
    let again = rpassword::prompt_password("Again: ").map_err(|e| CliError::failed(format!("reading the password: {e}")))?;
    if first != again {
        return Err(CliError::bad_input("The two passwords differ."));
    }
    Ok(first)
}

/// The first line of stdin (a token, a string to look up), at most 64 KiB.
pub fn stdin_line() -> Result<String, CliError> {
    if interactive() {
        eprint!("Paste it and press Enter: ");
        std::io::stderr().flush().ok();
    }
    let mut line = String::new();
    std::io::stdin().lock().take(64 * 1024).read_line(&mut line).map_err(|e| CliError::failed(format!("reading stdin: {e}")))?;
    Ok(line)
}
