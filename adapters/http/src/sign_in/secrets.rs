//! The secrets of signing in: random tokens and codes, their hashes,
//! password hashes (argon2id), password strength (zxcvbn) and second-factor
//! codes (TOTP, RFC 6238).

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::TryRngCore;
use sha2::{Digest, Sha256};
use totp_rs::{Secret, TOTP};

/// Argon2id with OWASP's first recommended setting: 19 MiB, 2 passes, 1 lane.
pub const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
/// Passes over the memory.
pub const ARGON2_PASSES: u32 = 2;
/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password accepted (hashing cost is bounded, not the input).
pub const MAX_PASSWORD_CHARS: usize = 256;
/// A TOTP step, in seconds.
pub const TOTP_STEP: u64 = 30;

/// The operating system gave no random bytes.
#[derive(Debug, thiserror::Error)]
#[error("no random source: {0}")]
pub struct NoRandom(String);

/// `n` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], NoRandom> {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| NoRandom(e.to_string()))?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A 256-bit random token, as hex (session ids, CSRF tokens, setup links).
pub fn token() -> Result<String, NoRandom> {
    Ok(hex(&random_bytes::<32>()?))
}

/// A six-digit sign-in code.
pub fn six_digits() -> Result<String, NoRandom> {
    let n = u64::from_le_bytes(random_bytes::<8>()?) % 1_000_000;
    Ok(format!("{n:06}"))
}

/// SHA-256 of `parts` joined by NUL, as hex: how tokens and codes are kept.
pub fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update([0u8]);
        }
        h.update(p.as_bytes());
    }
    hex(&h.finalize())
}

/// Compares two secrets without a timing leak: their digests are compared.
pub fn same_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

fn argon2() -> Argon2<'static> {
    // The parameters are constants within argon2's ranges.
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashing a password failed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// No salt could be drawn.
    #[error(transparent)]
    Random(#[from] NoRandom),
    /// argon2 refused.
    #[error("the password could not be hashed: {0}")]
    Argon2(String),
}

/// The argon2id hash of `password`, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| HashError::Argon2(e.to_string()))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Argon2(e.to_string()))
}

/// A hash of a password nobody knows, checked when an account does not
/// exist so that the answer takes as long as for a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let password = token().unwrap_or_else(|_| "no account has this password".into());
        hash_password(&password).unwrap_or_default()
    })
}

/// Whether `password` matches `hash`; with no hash, a dummy one is checked
/// (and `false` returned) so that both take the same time.
pub fn verify_password(password: &str, hash: Option<&str>) -> bool {
    let password = truncate(password);
    let checked = |phc: &str| {
        PasswordHash::new(phc)
            .map(|parsed| {
                argon2()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    };
    match hash {
        Some(phc) => checked(phc),
        None => {
            checked(dummy_hash());
            false
        }
    }
}

fn truncate(password: &str) -> &str {
    match password.char_indices().nth(MAX_PASSWORD_CHARS) {
        Some((i, _)) => &password[..i],
        None => password,
    }
}

/// Warms the dummy hash, so the first unknown account is not answered
/// faster than later ones.
pub fn warm() {
    let _ = dummy_hash();
}

/// Why a new password is refused.
pub fn weak_password(password: &str, email: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Some(format!(
            "the password has {chars} characters: use at least {MIN_PASSWORD_CHARS} (three or four unrelated words work well)"
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Some(format!(
            "the password is longer than {MAX_PASSWORD_CHARS} characters: use a shorter one"
        ));
    }
    let local = email.split('@').next().unwrap_or(email).to_lowercase();
    if local.chars().count() >= 3 && password.to_lowercase().contains(&local) {
        return Some(
            "the password contains your e-mail address, which an attacker tries first: choose one without it".into(),
        );
    }
    // The address and each word of it count as known to an attacker.
    let mut known: Vec<&str> = email
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 3)
        .collect();
    known.extend([email, "grantflow"]);
    let estimate = zxcvbn::zxcvbn(password, &known);
    if (estimate.score() as u8) < 3 {
        let hint = estimate
            .feedback()
            .and_then(|f| {
                f.warning()
                    .map(|w| w.to_string())
                    .or_else(|| f.suggestions().first().map(|s| s.to_string()))
            })
            .unwrap_or_else(|| "it is too easy to guess".into());
        return Some(format!(
            "the password is too easy to guess ({hint}): choose a longer one, e.g. three or four unrelated words"
        ));
    }
    None
}

/// A new second-factor secret (160 bits), base32.
pub fn totp_secret() -> Result<String, NoRandom> {
    Ok(Secret::Raw(random_bytes::<20>()?.to_vec())
        .to_encoded()
        .to_string())
}

fn totp(secret: &str, email: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().ok()?;
    TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        TOTP_STEP,
        bytes,
        Some("grantflow".into()),
        email.to_string(),
    )
    .ok()
}

/// The `otpauth://` URI an authenticator app reads (usually as a QR code).
pub fn otpauth_uri(secret: &str, email: &str) -> Option<String> {
    totp(secret, email).map(|t| t.get_url())
}

/// The code `secret` gives at `unix_seconds` (for tests and setup help).
pub fn totp_code(secret: &str, unix_seconds: u64) -> Option<String> {
    totp(secret, "").map(|t| t.generate(unix_seconds))
}

/// The time step whose code `code` is, if it is the code of the step at
/// `unix_seconds` or a neighbour, and later than `last_step` (so no code
/// works twice).
pub fn totp_step(
    secret: &str,
    code: &str,
    unix_seconds: u64,
    last_step: Option<u64>,
) -> Option<u64> {
    let t = totp(secret, "")?;
    let now = unix_seconds / TOTP_STEP;
    let code = code.trim();
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .filter(|step| last_step.is_none_or(|last| *step > last))
        .find(|step| same_secret(&t.generate(step * TOTP_STEP), code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_gives_rfc_6238s_sha1_test_vector() {
        // RFC 6238, appendix B: the SHA-1 secret "12345678901234567890" at T = 59 s.
        let t = TOTP::new(
            totp_rs::Algorithm::SHA1,
            8,
            1,
            30,
            b"12345678901234567890".to_vec(),
            None,
            String::new(),
        )
        .unwrap();
        assert_eq!(t.generate(59), "94287082");
        assert_eq!(t.generate(1_111_111_109), "07081804");
    }

    #[test]
    fn a_totp_code_works_once_and_only_near_its_time() {
        let secret = totp_secret().unwrap();
        let now = 1_600_000_000;
        let code = totp_code(&secret, now).unwrap();
        let step = totp_step(&secret, &code, now, None).unwrap();
        assert_eq!(step, now / TOTP_STEP);
        assert_eq!(totp_step(&secret, &code, now, Some(step)), None, "replayed");
        assert_eq!(totp_step(&secret, &code, now + 300, None), None, "too late");
    }

    #[test]
    fn passwords_verify_and_unknown_accounts_never_do() {
        let hash = hash_password("correct horse battery staple").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password("correct horse battery staple", Some(&hash)));
        assert!(!verify_password(
            "correct horse battery stapler",
            Some(&hash)
        ));
        assert!(!verify_password("correct horse battery staple", None));
        assert!(!verify_password("anything", Some("not a phc string")));
    }

    #[test]
    fn short_and_common_passwords_are_refused_with_a_reason() {
        assert!(
            weak_password("short", "a@b.org")
                .unwrap()
                .contains("at least 12")
        );
        assert!(weak_password("password1234", "a@b.org").is_some());
        assert!(weak_password("annsmith2020!", "annsmith2020@nhs.example").is_some());
        assert_eq!(
            weak_password("violet tractor mango lighthouse", "a@b.org"),
            None
        );
    }
}
