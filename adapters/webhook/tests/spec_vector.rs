//! `verify` against the test vector of the Standard Webhooks specification
//! (the example its reference libraries check): the headers and body exactly
//! as given there are accepted, and each alteration is refused with the
//! error that names it.

use std::time::Duration;

use grantflow_webhook::{DEFAULT_TOLERANCE, Secret, VerifyError, sign, verify};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TIMESTAMP: &str = "1614265330";
const NOW: i64 = 1_614_265_330;
const BODY: &[u8] = br#"{"test": 2432232314}"#;
const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn secret() -> Secret {
    Secret::parse(SECRET).unwrap()
}

/// `verify` with the vector's values, each replaceable.
fn check(
    id: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    verify(
        &secret(),
        id,
        timestamp,
        signature,
        body,
        now,
        DEFAULT_TOLERANCE,
    )
}

#[test]
fn the_vector_is_accepted() {
    assert_eq!(check(ID, TIMESTAMP, SIGNATURE, BODY, NOW), Ok(()));
    // And it is what `sign` makes of it.
    assert_eq!(sign(&secret(), ID, NOW, BODY), SIGNATURE);
}

#[test]
fn the_vector_with_any_byte_of_the_body_changed_is_refused() {
    for i in 0..BODY.len() {
        let mut body = BODY.to_vec();
        body[i] ^= 0x01;
        assert_eq!(
            check(ID, TIMESTAMP, SIGNATURE, &body, NOW),
            Err(VerifyError::SignatureMismatch),
            "byte {i} changed: {:?}",
            String::from_utf8_lossy(&body)
        );
    }
    // One byte more or less.
    let mut longer = BODY.to_vec();
    longer.push(b' ');
    assert_eq!(
        check(ID, TIMESTAMP, SIGNATURE, &longer, NOW),
        Err(VerifyError::SignatureMismatch)
    );
    assert_eq!(
        check(ID, TIMESTAMP, SIGNATURE, &BODY[..BODY.len() - 1], NOW),
        Err(VerifyError::SignatureMismatch)
    );
}

#[test]
fn the_vector_with_another_id_is_refused() {
    for id in [
        "msg_p5jXN8AQM9LWM0D4loKWxJel",
        "msg_p5jXN8AQM9LWM0D4loKWxJe",
        "msg_p5jXN8AQM9LWM0D4loKWxJek ",
    ] {
        assert_eq!(
            check(id, TIMESTAMP, SIGNATURE, BODY, NOW),
            Err(VerifyError::SignatureMismatch),
            "id {id:?}"
        );
    }
    assert_eq!(
        check("", TIMESTAMP, SIGNATURE, BODY, NOW),
        Err(VerifyError::MissingId)
    );
}

#[test]
fn the_vector_with_another_timestamp_header_is_refused() {
    // Within the tolerance, but not the signed value.
    assert_eq!(
        check(ID, "1614265331", SIGNATURE, BODY, NOW),
        Err(VerifyError::SignatureMismatch)
    );
    assert_eq!(
        check(ID, "1614265330.0", SIGNATURE, BODY, NOW),
        Err(VerifyError::MalformedTimestamp("1614265330.0".into()))
    );
}

#[test]
fn the_vector_outside_the_tolerance_is_refused() {
    let tolerance = DEFAULT_TOLERANCE.as_secs();
    let edge = i64::try_from(tolerance).unwrap();
    // At the edge of the tolerance, either way, it still passes.
    assert_eq!(check(ID, TIMESTAMP, SIGNATURE, BODY, NOW + edge), Ok(()));
    assert_eq!(check(ID, TIMESTAMP, SIGNATURE, BODY, NOW - edge), Ok(()));
    // One second past it, it does not.
    assert_eq!(
        check(ID, TIMESTAMP, SIGNATURE, BODY, NOW + edge + 1),
        Err(VerifyError::TimestampTooOld {
            age_secs: tolerance + 1,
            tolerance_secs: tolerance,
        })
    );
    assert_eq!(
        check(ID, TIMESTAMP, SIGNATURE, BODY, NOW - edge - 1),
        Err(VerifyError::TimestampInFuture {
            ahead_secs: tolerance + 1,
            tolerance_secs: tolerance,
        })
    );
    // With a tolerance of zero only the exact second passes.
    let zero = |now| {
        verify(
            &secret(),
            ID,
            TIMESTAMP,
            SIGNATURE,
            BODY,
            now,
            Duration::ZERO,
        )
    };
    assert_eq!(zero(NOW), Ok(()));
    assert_eq!(
        zero(NOW + 1),
        Err(VerifyError::TimestampTooOld {
            age_secs: 1,
            tolerance_secs: 0,
        })
    );
}

#[test]
fn the_vector_among_other_signatures_is_accepted() {
    let headers = [
        // Another v1 signature first, and a v2 one.
        format!(
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {SIGNATURE}"
        ),
        // The vector first, then others.
        format!("{SIGNATURE} v1,bm9ldHUjZWFzdCBsaWtlIGl0Cg=="),
        // In the middle, with a malformed entry around it.
        format!("v1,not-base64! {SIGNATURE} v1a,xyz"),
    ];
    for header in &headers {
        assert_eq!(
            check(ID, TIMESTAMP, header, BODY, NOW),
            Ok(()),
            "header {header:?}"
        );
    }
    // The same others without the vector's signature match nothing.
    assert_eq!(
        check(
            ID,
            TIMESTAMP,
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1,bm9ldHUjZWFzdCBsaWtlIGl0Cg==",
            BODY,
            NOW
        ),
        Err(VerifyError::SignatureMismatch)
    );
}

#[test]
fn only_a_v2_signature_is_refused() {
    // Even one whose bytes are the right HMAC: only `v1,` is HMAC-SHA256.
    let v2 = SIGNATURE.replacen("v1,", "v2,", 1);
    assert_eq!(
        check(ID, TIMESTAMP, &v2, BODY, NOW),
        Err(VerifyError::NoV1Signature)
    );
    assert_eq!(
        check(
            ID,
            TIMESTAMP,
            "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            BODY,
            NOW
        ),
        Err(VerifyError::NoV1Signature)
    );
    assert_eq!(
        check(ID, TIMESTAMP, "", BODY, NOW),
        Err(VerifyError::NoV1Signature)
    );
}
