//! Accounts: sign up, log in, log out, who am I.
#[cfg(feature = "ssr")]
pub mod actor;
pub mod domain;
mod functions;
mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use std::collections::BTreeMap;

pub use domain::{AccountId, AccountStatus, AccountView, Email, Password, Role, safe_next};
pub use functions::*;
pub use pages::{AccountPage, LoginPage, LogoutButton, SignupPage, UsersPage};

use crate::error::AppError;

/// A sign-up request that passed every field rule.
#[derive(Debug)]
pub struct NewAccount {
    pub email: Email,
    pub password: Password,
}

impl NewAccount {
    /// Parses both fields and reports every problem at once, keyed by field name.
    pub fn parse(email: &str, password: String) -> Result<Self, AppError> {
        let email = Email::parse(email);
        let password = Password::parse(password);
        match (email, password) {
            (Ok(email), Ok(password)) => Ok(Self { email, password }),
            (email, password) => {
                let mut fields = BTreeMap::new();
                if let Err(e) = email {
                    fields.insert("email".to_string(), e.to_string());
                }
                if let Err(e) = password {
                    fields.insert("password".to_string(), e.to_string());
                }
                Err(AppError::invalid_fields(fields))
            }
        }
    }
}

/// Login only checks that both fields were filled; whether they match is one answer for all.
pub fn check_login_fields(email: &str, password: &str) -> Result<(), AppError> {
    let mut fields = BTreeMap::new();
    if email.trim().is_empty() {
        fields.insert("email".to_string(), "Enter your email address.".to_string());
    }
    if password.is_empty() {
        fields.insert("password".to_string(), "Enter your password.".to_string());
    }
    if fields.is_empty() { Ok(()) } else { Err(AppError::invalid_fields(fields)) }
}
