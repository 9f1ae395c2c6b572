//! # grantflow-webhook
//!
//! Signed webhook notifications, per the [Standard Webhooks] convention.
//!
//! - [`WebhookNotifier`] — a [`Notifier`] that POSTs each notice as JSON to
//!   one endpoint, built from a [`WebhookConfig`]. Every request carries the
//!   headers `webhook-id` (the notice's stable [`NoticeId`], so receivers can
//!   drop duplicates), `webhook-timestamp` (unix seconds) and
//!   `webhook-signature` (`v1,` + base64 of HMAC-SHA256 over
//!   `"{id}.{timestamp}.{body}"`). A 2xx answer is a delivery; 408, 429, 5xx,
//!   a timeout or a refused connection is [`DeliveryError::Retryable`]; any
//!   other answer (other 4xx, a redirect) is [`DeliveryError::Permanent`].
//! - [`Secret`] — the signing key, from raw bytes or the `whsec_<base64>` form.
//! - [`sign`] and [`verify`] — the signature, and its check for receivers:
//!   [`VerifyError`] says why a request is refused (signature mismatch, a
//!   timestamp outside the tolerance, a malformed header).
//! - [`Payload`] — the JSON body: `type` (the template id), `timestamp` and
//!   `data` (the programme and the notice).
//!
//! ```
//! use grantflow_webhook::{Secret, sign, verify, VerifyError};
//! use std::time::Duration;
//!
//! let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//! let body = br#"{"type":"claim_paid"}"#;
//! let signature = sign(&secret, "msg_1", 1_600_000_000, body);
//! assert!(verify(&secret, "msg_1", "1600000000", &signature, body, 1_600_000_010, Duration::from_secs(300)).is_ok());
//! assert_eq!(
//!     verify(&secret, "msg_1", "1600000000", &signature, b"{}", 1_600_000_010, Duration::from_secs(300)),
//!     Err(VerifyError::SignatureMismatch)
//! );
//! ```
//!
//! [Standard Webhooks]: https://www.standardwebhooks.com/
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations, missing_docs)]

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use grantflow_core::{ApplicationId, DeliveryError, Notice, NoticeId, Notifier, ProgrammeId, Role};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Header carrying the notice id (the idempotency key).
pub const HEADER_ID: &str = "webhook-id";
/// Header carrying the unix time of the attempt, in seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Header carrying the signatures, space separated, each `v1,<base64>`.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// The tolerance Standard Webhooks recommends for [`verify`]: five minutes.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// A webhook signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// A secret that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The text after `whsec_` is not base64.
    #[error("the webhook secret after `whsec_` is not valid base64")]
    NotBase64,
    /// The secret is shorter than 16 bytes.
    #[error(
        "the webhook secret is {0} bytes long: use at least 16 random bytes (24 to 64 recommended)"
    )]
    TooShort(usize),
}

impl Secret {
    /// The shortest secret accepted, in bytes.
    pub const MIN_LEN: usize = 16;

    /// A secret from raw bytes (at least [`Secret::MIN_LEN`]).
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Secret, SecretError> {
        let bytes = bytes.into();
        if bytes.len() < Self::MIN_LEN {
            return Err(SecretError::TooShort(bytes.len()));
        }
        Ok(Secret(bytes))
    }

    /// A secret in the `whsec_<base64>` form; text without the prefix is
    /// taken as base64 too.
    pub fn parse(text: &str) -> Result<Secret, SecretError> {
        let encoded = text.trim();
        let encoded = encoded.strip_prefix("whsec_").unwrap_or(encoded);
        let bytes = BASE64.decode(encoded).map_err(|_| SecretError::NotBase64)?;
        Secret::from_bytes(bytes)
    }

    /// The `whsec_<base64>` form of the secret.
    pub fn to_whsec(&self) -> String {
        format!("whsec_{}", BASE64.encode(&self.0))
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length.
        match HmacSha256::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable_key(),
        }
    }
}

#[cold]
fn unreachable_key() -> HmacSha256 {
    // `Hmac::new_from_slice` never fails (any key length is valid); fall back to an
    // empty key rather than panic, which only yields signatures that fail to verify.
    <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default())
}

fn mac_over(secret: &Secret, id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
    let mut mac = secret.mac();
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` value for a message: `v1,` + base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}")).
pub fn sign(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = mac_over(secret, id, &timestamp.to_string(), body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

/// Why [`verify`] refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The `webhook-id` header is empty.
    #[error("the webhook-id header is missing or empty")]
    MissingId,
    /// The `webhook-timestamp` header is not a unix time in seconds.
    #[error("the webhook-timestamp header `{0}` is not a unix time in seconds")]
    MalformedTimestamp(String),
    /// The timestamp is older than the tolerance: a replay or a stale retry.
    #[error(
        "the webhook timestamp is {age_secs} s old, more than the {tolerance_secs} s tolerated"
    )]
    TimestampTooOld {
        /// How old the timestamp is.
        age_secs: u64,
        /// The tolerance.
        tolerance_secs: u64,
    },
    /// The timestamp is further in the future than the tolerance.
    #[error(
        "the webhook timestamp is {ahead_secs} s in the future, more than the {tolerance_secs} s tolerated"
    )]
    TimestampInFuture {
        /// How far ahead the timestamp is.
        ahead_secs: u64,
        /// The tolerance.
        tolerance_secs: u64,
    },
    /// The `webhook-signature` header holds no `v1,<base64>` signature.
    #[error("the webhook-signature header holds no v1 signature")]
    NoV1Signature,
    /// No signature matches: the body, id or timestamp was altered, or the
    /// secret is not the sender's. HMAC cannot tell these apart, by design.
    #[error("no webhook signature matches: the message was altered or signed with another secret")]
    SignatureMismatch,
}

/// Checks a webhook request as a receiver: `id`, `timestamp` and
/// `signature` are the values of the `webhook-id`, `webhook-timestamp` and
/// `webhook-signature` headers, `body` the raw body, `now` the receiver's
/// unix time in seconds. The timestamp must be within `tolerance` of `now`
/// (either way), and one of the space-separated `v1,` signatures must match,
/// compared in constant time.
pub fn verify(
    secret: &Secret,
    id: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    if id.trim().is_empty() {
        return Err(VerifyError::MissingId);
    }
    let ts = timestamp.trim();
    let sent: i64 = ts
        .parse()
        .map_err(|_| VerifyError::MalformedTimestamp(ts.chars().take(40).collect()))?;
    let tolerance_secs = tolerance.as_secs();
    let diff = i128::from(now) - i128::from(sent);
    if diff > i128::from(tolerance_secs) {
        return Err(VerifyError::TimestampTooOld {
            age_secs: u64::try_from(diff).unwrap_or(u64::MAX),
            tolerance_secs,
        });
    }
    if -diff > i128::from(tolerance_secs) {
        return Err(VerifyError::TimestampInFuture {
            ahead_secs: u64::try_from(-diff).unwrap_or(u64::MAX),
            tolerance_secs,
        });
    }
    let candidates: Vec<Vec<u8>> = signature
        .split_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b64| BASE64.decode(b64).ok())
        .collect();
    if candidates.is_empty() {
        return Err(VerifyError::NoV1Signature);
    }
    let mac = mac_over(secret, id, ts, body);
    if candidates
        .iter()
        .any(|c| mac.clone().verify_slice(c).is_ok())
    {
        Ok(())
    } else {
        Err(VerifyError::SignatureMismatch)
    }
}

/// The unix time now, in seconds.
pub fn unix_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// The JSON body of a webhook: `{"type": ..., "timestamp": ..., "data": {...}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// The template id, e.g. `claim_paid`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When the attempt was made, RFC 3339.
    pub timestamp: String,
    /// The notice.
    pub data: PayloadData,
}

/// The `data` of a [`Payload`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadData {
    /// The notice id (also the `webhook-id` header).
    pub id: NoticeId,
    /// The programme the notice belongs to.
    pub programme: ProgrammeId,
    /// Who the notice is for.
    pub recipient: Role,
    /// The applicant's email, for applicant notices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The application the notice is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<ApplicationId>,
    /// The template's values: programme name, organisation, amounts (`"1400.00"`), dates (`YYYY-MM-DD`).
    pub values: BTreeMap<String, String>,
}

impl Payload {
    /// The payload for `notice` of `programme`, sent at unix time `timestamp`.
    pub fn new(programme: &ProgrammeId, notice: &Notice, timestamp: i64) -> Payload {
        let when = chrono_like_rfc3339(timestamp);
        Payload {
            kind: notice.template.clone(),
            timestamp: when,
            data: PayloadData {
                id: notice.id,
                programme: programme.clone(),
                recipient: notice.recipient,
                to: notice.to.clone(),
                application: notice.application,
                values: notice.data.clone(),
            },
        }
    }
}

/// Unix seconds as an RFC 3339 UTC time (`1970-01-01T00:00:00Z`), without a date library.
fn chrono_like_rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (proleptic Gregorian), valid for the whole i64 day range used here.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Where and how to send webhooks.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// The endpoint, `http://` or `https://`.
    pub url: String,
    /// The signing secret shared with the receiver.
    pub secret: Secret,
    /// The longest a whole request may take (connect, send, answer).
    pub timeout: Duration,
    /// The `user-agent` header.
    pub user_agent: String,
}

impl WebhookConfig {
    /// A configuration with a 10-second timeout.
    pub fn new(url: impl Into<String>, secret: Secret) -> Self {
        WebhookConfig {
            url: url.into(),
            secret,
            timeout: Duration::from_secs(10),
            user_agent: format!("grantflow-webhook/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// The same with another timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// A configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The URL is not an absolute `http` or `https` URL.
    #[error("`{0}` is not an http:// or https:// URL")]
    BadUrl(String),
    /// `https` was asked for but this build has no TLS.
    #[error("`{0}` is https but grantflow-webhook was built without its `tls` feature")]
    NoTls(String),
    /// The timeout is zero.
    #[error("the webhook timeout must be longer than zero")]
    ZeroTimeout,
}

/// Sends each notice as a signed JSON POST. See the [crate docs](crate).
pub struct WebhookNotifier {
    agent: ureq::Agent,
    config: WebhookConfig,
    clock: fn() -> i64,
}

impl fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookNotifier")
            .field("url", &self.config.url)
            .field("timeout", &self.config.timeout)
            .finish_non_exhaustive()
    }
}

impl WebhookNotifier {
    /// A notifier for `config`; checks the URL and timeout.
    pub fn new(config: WebhookConfig) -> Result<Self, ConfigError> {
        let url = config.url.trim().to_string();
        let lower = url.to_ascii_lowercase();
        let https = lower.starts_with("https://");
        if !(https || lower.starts_with("http://"))
            || url
                .parse::<ureq::http::Uri>()
                .map_or(true, |u| u.host().is_none_or(str::is_empty))
        {
            return Err(ConfigError::BadUrl(config.url));
        }
        if https && !cfg!(feature = "tls") {
            return Err(ConfigError::NoTls(config.url));
        }
        if config.timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout);
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(config.user_agent.as_str())
            .build()
            .into();
        Ok(WebhookNotifier {
            agent,
            config: WebhookConfig { url, ..config },
            clock: unix_now,
        })
    }

    /// The same notifier reading the unix time from `clock` (for tests).
    pub fn with_clock(mut self, clock: fn() -> i64) -> Self {
        self.clock = clock;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// The body, and the headers of one attempt at `timestamp`.
    pub fn request_parts(
        &self,
        programme: &ProgrammeId,
        notice: &Notice,
        timestamp: i64,
    ) -> (Vec<u8>, [(&'static str, String); 3]) {
        let body =
            serde_json::to_vec(&Payload::new(programme, notice, timestamp)).unwrap_or_default();
        let id = notice.id.to_string();
        let signature = sign(&self.config.secret, &id, timestamp, &body);
        (
            body,
            [
                (HEADER_ID, id),
                (HEADER_TIMESTAMP, timestamp.to_string()),
                (HEADER_SIGNATURE, signature),
            ],
        )
    }
}

/// How an HTTP status answers a delivery.
pub fn classify_status(status: u16) -> Result<(), DeliveryError> {
    match status {
        200..=299 => Ok(()),
        408 | 429 => Err(DeliveryError::Retryable(format!(
            "the receiver answered {status}"
        ))),
        500..=599 => Err(DeliveryError::Retryable(format!(
            "the receiver answered {status}"
        ))),
        300..=399 => Err(DeliveryError::Permanent(format!(
            "the receiver answered {status} (a redirect): point the webhook at the final URL"
        ))),
        _ => Err(DeliveryError::Permanent(format!(
            "the receiver answered {status}"
        ))),
    }
}

fn classify_error(e: &ureq::Error) -> DeliveryError {
    use ureq::Error as E;
    match e {
        E::BadUri(_) | E::InvalidProxyUrl | E::RequireHttpsOnly(_) | E::BodyExceedsLimit(_) => {
            DeliveryError::Permanent(format!("the webhook request cannot be made: {e}"))
        }
        _ => DeliveryError::Retryable(format!("the webhook request failed: {e}")),
    }
}

impl Notifier for WebhookNotifier {
    fn deliver(&self, programme: &ProgrammeId, notice: &Notice) -> Result<(), DeliveryError> {
        let timestamp = (self.clock)();
        let (body, headers) = self.request_parts(programme, notice, timestamp);
        let mut request = self
            .agent
            .post(&self.config.url)
            .header("content-type", "application/json");
        for (name, value) in &headers {
            request = request.header(*name, value.as_str());
        }
        let response = request.send(&body[..]).map_err(|e| classify_error(&e))?;
        let status = response.status().as_u16();
        // Read (a bounded part of) the answer so the connection can be reused.
        let mut body = response.into_body();
        let _ = body.with_config().limit(64 * 1024).read_to_vec();
        classify_status(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_unix_times() {
        assert_eq!(chrono_like_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(chrono_like_rfc3339(1_602_633_600), "2020-10-14T00:00:00Z");
        assert_eq!(
            chrono_like_rfc3339(951_782_400 + 3661),
            "2000-02-29T01:01:01Z"
        );
        assert_eq!(chrono_like_rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn statuses_are_classified() {
        assert!(classify_status(200).is_ok());
        assert!(classify_status(204).is_ok());
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(classify_status(s), Err(DeliveryError::Retryable(_))),
                "{s}"
            );
        }
        for s in [301, 400, 401, 403, 404, 410, 413, 422] {
            assert!(
                matches!(classify_status(s), Err(DeliveryError::Permanent(_))),
                "{s}"
            );
        }
    }

    #[test]
    fn urls_and_timeouts_are_checked() {
        let secret = Secret::from_bytes([7u8; 32]).unwrap();
        for bad in ["", "ftp://x.example/", "localhost:8080/hook", "http://"] {
            assert!(
                matches!(
                    WebhookNotifier::new(WebhookConfig::new(bad, secret.clone())),
                    Err(ConfigError::BadUrl(_))
                ),
                "{bad}"
            );
        }
        assert!(
            WebhookNotifier::new(WebhookConfig::new(
                "http://127.0.0.1:9/hook",
                secret.clone()
            ))
            .is_ok()
        );
        let zero = WebhookConfig::new("http://127.0.0.1:9/hook", secret).timeout(Duration::ZERO);
        assert_eq!(
            WebhookNotifier::new(zero).unwrap_err(),
            ConfigError::ZeroTimeout
        );
    }

    #[test]
    fn secrets_parse() {
        let s = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(Secret::parse(&s.to_whsec()).unwrap(), s);
        assert_eq!(
            Secret::parse("whsec_not base64!"),
            Err(SecretError::NotBase64)
        );
        assert_eq!(
            Secret::parse("whsec_c2hvcnQ="),
            Err(SecretError::TooShort(5))
        );
        assert!(!format!("{s:?}").contains("MfKQ"));
    }

    /// The example from the Standard Webhooks specification's reference libraries.
    #[test]
    fn known_signature() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let sig = sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
