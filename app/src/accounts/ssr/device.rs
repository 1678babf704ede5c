//! Device cookies, as OWASP suggests against lockouts: a browser or script that logged in to an
//! account carries a cookie, sealed under the master key, naming that account. Its later attempts
//! are counted on their own, so guesses from anywhere else, which arm the account-wide counter,
//! never lock the owner's known devices out; a stolen cookie gets only one device's allowance.
use chrono::{Duration, Utc};
use http::HeaderValue;
use secrecy::ExposeSecret;

use crate::error::AppError;
use crate::state::AppState;

pub const DEVICE_COOKIE: &str = "gatehouse_device";
const CONTEXT: &str = "device cookie";
const LIFETIME: Duration = Duration::days(365);

/// The id of the device whose cookie (in the request's `Cookie` header) was issued for `email`.
pub fn recognised(state: &AppState, cookie_header: Option<&HeaderValue>, email: &str) -> Option<String> {
    let header = cookie_header?.to_str().ok()?;
    let sealed = header.split(';').filter_map(|c| c.trim().split_once('=')).find(|(name, _)| *name == DEVICE_COOKIE)?.1;
    let opened = state.cipher.open_string(sealed, CONTEXT).ok()?;
    let mut parts = opened.expose_secret().splitn(3, '\n');
    let (who, id, issued) = (parts.next()?, parts.next()?, parts.next()?.parse::<i64>().ok()?);
    let fresh = Utc::now().timestamp() - issued < LIFETIME.num_seconds();
    (who == super::throttle::counted_email(email) && fresh).then(|| id.to_string())
}

/// A `Set-Cookie` value giving this device (`id`, or a new one) a cookie for `email`.
pub fn cookie_for(state: &AppState, email: &str, id: Option<String>) -> Result<HeaderValue, AppError> {
    let id = id.unwrap_or_else(|| format!("{:032x}", rand::random::<u128>()));
    let plain = format!("{}\n{id}\n{}", super::throttle::counted_email(email), Utc::now().timestamp());
    let sealed = state.cipher.seal(plain.as_bytes(), CONTEXT)?;
    let secure = if state.settings.public_url.starts_with("https:") { "; Secure" } else { "" };
    let cookie = format!("{DEVICE_COOKIE}={sealed}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}", LIFETIME.num_seconds());
    HeaderValue::from_str(&cookie).map_err(AppError::internal)
}
