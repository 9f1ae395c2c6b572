//! Setting up a staff account from the one-time link an admin (or
//! `grantflow user add`) hands over: `/account/setup?token=…` asks for a
//! password, then shows the second factor to add to an authenticator app
//! (as a QR code and as text) and asks for the code it shows. The same
//! functions as the API's setup sit underneath, so the throttles and the
//! sign-in trail are the same. What was wrong is kept in a draft under the
//! link's hash: never the password.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::account::{Field, FormPage, encode, from_elsewhere, redirect};
use super::{Message, drafts, page};
use crate::AppState;
use crate::sign_in::{self, MIN_PASSWORD_CHARS, Source, setup_key};

type Fields = HashMap<String, String>;

fn draft_key(token: &str) -> String {
    format!("setup/{}", setup_key(token))
}

fn here(token: &str) -> String {
    format!("/account/setup?token={}", encode(token))
}

/// The page for a link that does not work, or for too many tries.
fn refused(p: &crate::Problem) -> Response {
    if p.status == 429 {
        return page(
            StatusCode::TOO_MANY_REQUESTS,
            &Message {
                heading: "There have been too many attempts",
                detail: "Wait 5 minutes, then open the link again.".into(),
            },
        );
    }
    if p.status == 404 {
        return page(
            StatusCode::NOT_FOUND,
            &Message {
                heading: "This setup link does not work",
                detail: "It is unknown, used or expired (a link works once, for 3 days). Ask an admin for a new one.".into(),
            },
        );
    }
    super::trouble(p.clone())
}

/// A QR code of `text` as SVG, drawn on the server.
fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    let start = svg.find("<svg")?;
    Some(svg[start..].replacen(
        "<svg",
        "<svg role=\"img\" aria-label=\"QR code of the key for your authenticator app\" class=\"qr\"",
        1,
    ))
}

/// `/account/setup?token=…`: step 1 (a password) or, once it is set,
/// step 2 (the authenticator app).
pub(super) async fn setup_page(
    State(state): State<AppState>,
    source: Source,
    Query(q): Query<Fields>,
) -> Response {
    let token = q.get("token").cloned().unwrap_or_default();
    let factor = match sign_in::pending_factor(&state, &source, &token).await {
        Ok(f) => f,
        Err(p) => return refused(&p),
    };
    let draft = drafts::take(&state, draft_key(&token), None).await;
    let error = |field: &str| draft.error(field).map(str::to_string);
    let hidden = vec![("token", token.clone())];
    match factor {
        None => FormPage {
            heading: "Choose a password".into(),
            intro: vec![
                format!("At least {MIN_PASSWORD_CHARS} characters. Three or four unrelated words are easy to remember and hard to guess; common passwords are refused."),
            ],
            action: "/account/setup/password".into(),
            hidden,
            fields: vec![Field {
                kind: "password",
                autocomplete: "new-password",
                error: error("password"),
                ..Field::text("password", "New password", "", String::new())
            }],
            button: "Continue",
            picture: None,
            errors: Vec::new(),
            links: Vec::new(),
        }
        .show(),
        Some(f) => FormPage {
            heading: "Add this account to your authenticator app".into(),
            intro: vec![
                format!("Scan the code with an authenticator app, or type this key into it: {}.", grouped(&f.secret)),
                format!("The app then shows a six-digit code for {}: enter the one it shows now.", f.email),
            ],
            action: "/account/setup/code".into(),
            hidden,
            fields: vec![Field {
                width: "input-short",
                autocomplete: "one-time-code",
                error: error("totp"),
                ..Field::text("totp", "Code from your authenticator app", "Six digits, for example 123456.", String::new())
            }],
            button: "Finish setting up",
            picture: qr_svg(&f.otpauth_uri),
            errors: Vec::new(),
            links: vec![(f.otpauth_uri, "On this phone? Open the key in your authenticator app")],
        }
        .show(),
    }
}

/// The key in groups of four, as apps print it.
fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Keeps `message` as the error of `field` and goes back to the page.
async fn back(state: &AppState, token: &str, field: &str, message: String) -> Response {
    let draft = drafts::of(None, [], vec![(field.to_string(), message)]);
    drafts::keep_and_go(state, draft_key(token), draft, &here(token)).await
}

/// Step 1 was sent: the password is set, or the page says why not.
pub(super) async fn password_sent(
    State(state): State<AppState>,
    source: Source,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    if let Some(refused) = from_elsewhere(&headers) {
        return refused;
    }
    let token = f.get("token").cloned().unwrap_or_default();
    let password = f.get("password").cloned().unwrap_or_default();
    // Only a link that works may leave a draft behind.
    if let Err(p) = sign_in::pending_factor(&state, &source, &token).await {
        return refused(&p);
    }
    if password.is_empty() {
        return back(&state, &token, "password", "Enter a password".into()).await;
    }
    match sign_in::set_password(&state, &source, &token, &password).await {
        Ok(_) => redirect(&here(&token), None),
        Err(p) if p.status == 422 => {
            back(&state, &token, "password", super::capitalised(&p.detail)).await
        }
        Err(p) => refused(&p),
    }
}

/// Step 2 was sent: the account is set up, or the page says why not.
pub(super) async fn code_sent(
    State(state): State<AppState>,
    source: Source,
    headers: HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    if let Some(refused) = from_elsewhere(&headers) {
        return refused;
    }
    let token = f.get("token").cloned().unwrap_or_default();
    let code = f.get("totp").cloned().unwrap_or_default();
    // Only a link that works may leave a draft behind.
    let email = match sign_in::pending_factor(&state, &source, &token).await {
        Ok(Some(f)) => f.email,
        Ok(None) => return redirect(&here(&token), None),
        Err(p) => return refused(&p),
    };
    if code.trim().is_empty() {
        let message = "Enter the code your authenticator app shows".into();
        return back(&state, &token, "totp", message).await;
    }
    match sign_in::confirm_factor(&state, &source, &token, &code).await {
        Ok(()) => redirect(
            &format!(
                "/account/staff-sign-in?{}",
                serde_urlencoded::to_string([("set_up", "yes"), ("email", email.as_str())])
                    .unwrap_or_default()
            ),
            None,
        ),
        Err(p) if p.status == 401 => {
            let message = "The code is not the one your app shows now: check the app's clock and the key, and try again".into();
            back(&state, &token, "totp", message).await
        }
        Err(p) => refused(&p),
    }
}
