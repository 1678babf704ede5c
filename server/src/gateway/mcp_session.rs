//! Streamable HTTP sessions belong to the grant that opened them, as HTTP+SSE sessions do.
//!
//! The client gets the upstream's `Mcp-Session-Id` with a tag after it: an HMAC of the server,
//! the token and the id, under a key every process derives from the master key. A request that
//! names the session must carry the tag its own token makes, so another token, even of the same
//! account for the same server, is refused on whichever process it lands. Nothing is kept in
//! memory: a binding lasts exactly as long as the session, since the upstream answers 404 for a
//! session it has ended, and there is no table to grow or to forget entries from.
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use http::HeaderValue;
use sha2::Sha256;
use uuid::Uuid;

use super::error::GatewayError;

/// 128 bits of HMAC-SHA256, as 22 characters of base64url.
const TAG_BYTES: usize = 16;
const TAG_CHARS: usize = 22;

pub struct SessionTags {
    mac: Hmac<Sha256>,
}

impl SessionTags {
    /// The tag key, derived from the master key for this one purpose.
    pub fn new(master_key: &[u8; 32]) -> Self {
        let derived = Hmac::<Sha256>::new_from_slice(master_key)
            .expect("HMAC takes keys of every length")
            .chain_update(b"gatehouse: streamable HTTP session binding v1")
            .finalize()
            .into_bytes();
        Self { mac: Hmac::new_from_slice(&derived).expect("HMAC takes keys of every length") }
    }

    fn mac(&self, server: Uuid, token: Option<Uuid>, session: &[u8]) -> Hmac<Sha256> {
        let token = token.unwrap_or(Uuid::nil());
        self.mac.clone().chain_update(server.as_bytes()).chain_update(token.as_bytes()).chain_update(session)
    }

    /// The session id the client is given for the upstream's `session`.
    pub fn for_client(&self, server: Uuid, token: Option<Uuid>, session: &HeaderValue) -> Option<HeaderValue> {
        let tag = URL_SAFE_NO_PAD.encode(&self.mac(server, token, session.as_bytes()).finalize().into_bytes()[..TAG_BYTES]);
        let mut tagged = Vec::with_capacity(session.len() + 1 + TAG_CHARS);
        tagged.extend_from_slice(session.as_bytes());
        tagged.push(b'.');
        tagged.extend_from_slice(tag.as_bytes());
        HeaderValue::from_bytes(&tagged).ok()
    }

    /// The upstream's session id inside the client's `tagged` one, if `token` opened it.
    pub fn for_upstream(&self, server: Uuid, token: Option<Uuid>, tagged: &HeaderValue) -> Result<HeaderValue, GatewayError> {
        let bytes = tagged.as_bytes();
        let split = bytes.len().checked_sub(TAG_CHARS + 1).filter(|at| bytes[*at] == b'.').ok_or(GatewayError::UnknownSession)?;
        let (session, tag) = (&bytes[..split], &bytes[split + 1..]);
        let mut given = [0u8; TAG_BYTES + 2];
        match URL_SAFE_NO_PAD.decode_slice(tag, &mut given) {
            Ok(TAG_BYTES) => {}
            _ => return Err(GatewayError::UnknownSession),
        }
        // In constant time, like every MAC comparison.
        if self.mac(server, token, session).verify_truncated_left(&given[..TAG_BYTES]).is_err() {
            return Err(GatewayError::SessionTokenMismatch);
        }
        HeaderValue::from_bytes(session).map_err(|_| GatewayError::UnknownSession)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_opens_only_for_its_own_token_and_server() {
        let tags = SessionTags::new(&[7; 32]);
        let (server, a, b) = (Uuid::new_v4(), Some(Uuid::new_v4()), Some(Uuid::new_v4()));
        let upstream = HeaderValue::from_static("3f1c.session-id.with.dots");
        let tagged = tags.for_client(server, a, &upstream).unwrap();
        assert_eq!(tags.for_upstream(server, a, &tagged), Ok(upstream.clone()));
        assert_eq!(tags.for_upstream(server, b, &tagged), Err(GatewayError::SessionTokenMismatch));
        assert_eq!(tags.for_upstream(server, None, &tagged), Err(GatewayError::SessionTokenMismatch));
        assert_eq!(tags.for_upstream(Uuid::new_v4(), a, &tagged), Err(GatewayError::SessionTokenMismatch));
        assert_eq!(tags.for_upstream(server, a, &upstream), Err(GatewayError::UnknownSession), "an untagged id");
        assert_eq!(tags.for_upstream(server, a, &HeaderValue::from_static("")), Err(GatewayError::UnknownSession));
        let other_key = SessionTags::new(&[8; 32]);
        assert_eq!(other_key.for_upstream(server, a, &tagged), Err(GatewayError::SessionTokenMismatch), "another deployment");
        let open = tags.for_client(server, None, &upstream).unwrap();
        assert_eq!(tags.for_upstream(server, None, &open), Ok(upstream), "servers without tokens bind to no token");
    }
}
