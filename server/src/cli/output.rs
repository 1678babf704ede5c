//! What commands print, and how they fail: text for people, `--json` for scripts, and exit
//! codes a script can branch on.
use std::process::ExitCode;

use app::error::{AppError, ErrorCode};
use serde::Serialize;

pub struct Output {
    pub json: bool,
}

impl Output {
    /// One JSON document with `--json`, else the text `human` gives.
    pub fn print<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value).expect("views serialise"));
        } else {
            let text = human();
            if !text.is_empty() {
                println!("{}", text.trim_end());
            }
        }
    }

    /// A note for the person at the terminal (stderr, so stdout stays the value alone).
    pub fn note(&self, text: &str) {
        if !self.json {
            eprintln!("{text}");
        }
    }
}

/// Columns padded to their widest cell; an empty table says `empty`.
pub fn table(header: &[&str], rows: Vec<Vec<String>>, empty: &str) -> String {
    if rows.is_empty() {
        return empty.to_string();
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!("{c:<width$}", width = widths[i])).collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut text = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        text.push('\n');
        text.push_str(&line(row));
    }
    text
}

pub fn when(at: Option<chrono::DateTime<chrono::Utc>>, none: &str) -> String {
    at.map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| none.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 2: the command was given something it cannot use.
    BadInput,
    /// 1: anything else (the database unreachable, a wrong master key…).
    Failed,
}

#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub message: String,
}

impl CliError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self { exit: Exit::BadInput, message: message.into() }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self { exit: Exit::Failed, message: message.into() }
    }

    /// Exit 1 with nothing more to say (the answer is already printed: `token find` found
    /// nothing, as grep does).
    pub fn failed_quietly() -> Self {
        Self::failed("")
    }

    pub fn exit_code(&self) -> ExitCode {
        match self.exit {
            Exit::BadInput => ExitCode::from(2),
            Exit::Failed => ExitCode::from(1),
        }
    }
}

impl From<AppError> for CliError {
    /// Field errors are bad input, named by the flag they came from.
    fn from(err: AppError) -> Self {
        // A form's "correct the highlighted fields" means nothing here: name each flag instead.
        let mut message = if err.fields.is_empty() { err.message.clone() } else { String::from("Some values are not right:") };
        for (field, why) in &err.fields {
            message.push_str(&format!("\n  --{}: {why}", field.replace('_', "-")));
        }
        match err.code {
            ErrorCode::InvalidInput | ErrorCode::NotFound | ErrorCode::Conflict | ErrorCode::EmailUnavailable | ErrorCode::Forbidden => {
                Self::bad_input(message)
            }
            _ => Self::failed(message),
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(err: anyhow::Error) -> Self {
        Self::failed(format!("{err:#}"))
    }
}

impl From<sea_orm::DbErr> for CliError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::failed(format!("database: {err}"))
    }
}
