//! # grantflow-email
//!
//! Plain-text email notifications over SMTP (lettre's blocking transport).
//!
//! - [`EmailNotifier`] — a [`Notifier`] built from an [`EmailConfig`]
//!   (server host, port, [`Security`], optional credentials, sender, and the
//!   finance and assessor addresses). Applicant notices go to
//!   [`Notice::to`]; finance and assessor notices go to the configured
//!   addresses. Each message's `Message-ID` and `X-Grantflow-Notice-Id`
//!   carry the notice id, so a duplicate delivery can be recognised.
//! - [`render`] — the plain-text template of every template id in
//!   [`grantflow_core::TEMPLATES`], as a [`Rendered`] subject and
//!   body: the programme's name, amounts in pounds (`£1,400.00`) and dates
//!   written for people (`14 October 2020`). An unknown template id or a
//!   missing value is a typed [`RenderError`].
//! - Failures map onto the port's [`DeliveryError`]: a render error, a
//!   missing or invalid recipient, or a permanent (5xx) SMTP answer is
//!   [`DeliveryError::Permanent`]; a transient (4xx) answer, a refused
//!   connection or a timeout is [`DeliveryError::Retryable`].
//!
//! ```
//! use std::collections::BTreeMap;
//! use grantflow_core::{Notice, NoticeId, Role};
//!
//! let mut data = BTreeMap::new();
//! data.insert("programme".to_string(), "Healthcare Cyber Essentials 2020".to_string());
//! data.insert("organisation".to_string(), "Acme Medical Supplies".to_string());
//! data.insert("date".to_string(), "2020-10-01".to_string());
//! data.insert("amount".to_string(), "1400.00".to_string());
//! data.insert("expires".to_string(), "2020-10-14".to_string());
//! let notice = Notice { id: NoticeId::from_name("n"), template: "offer_made".into(), recipient: Role::Applicant,
//!     to: Some("office@acme.example".into()), application: None, data };
//! let mail = grantflow_email::render(&notice).unwrap();
//! assert!(mail.subject.contains("£1,400.00"));
//! assert!(mail.body.contains("14 October 2020"));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations, missing_docs)]

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::NaiveDate;
use grantflow_core::{DeliveryError, Money, Notice, Notifier, ProgrammeId, Role};
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{SmtpTransport, Transport};

/// How the connection to the SMTP server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Security {
    /// No TLS (a local relay or a test server).
    #[default]
    None,
    /// Plain connection upgraded with STARTTLS (usually port 587); needs the `tls` feature.
    StartTls,
    /// TLS from the start (usually port 465); needs the `tls` feature.
    Tls,
}

/// Where and how to send email.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailConfig {
    /// SMTP server host.
    pub host: String,
    /// SMTP server port.
    pub port: u16,
    /// Connection security.
    pub security: Security,
    /// User name and password, if the server asks for them.
    pub credentials: Option<(String, String)>,
    /// The sender, e.g. `Grants Team <grants@example.org>`.
    pub from: String,
    /// Where replies go, if not to the sender.
    pub reply_to: Option<String>,
    /// Who receives finance notices.
    pub finance: Vec<String>,
    /// Who receives assessor notices.
    pub assessors: Vec<String>,
    /// The longest one SMTP command may take.
    pub timeout: Duration,
}

impl fmt::Debug for EmailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|(user, _)| (user, "***")),
            )
            .field("from", &self.from)
            .field("reply_to", &self.reply_to)
            .field("finance", &self.finance)
            .field("assessors", &self.assessors)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl EmailConfig {
    /// A configuration without TLS or credentials, a 30-second timeout and no role addresses.
    pub fn new(host: impl Into<String>, port: u16, from: impl Into<String>) -> Self {
        EmailConfig {
            host: host.into(),
            port,
            security: Security::None,
            credentials: None,
            from: from.into(),
            reply_to: None,
            finance: Vec::new(),
            assessors: Vec::new(),
            timeout: Duration::from_secs(30),
        }
    }

    /// The same with finance officers' addresses.
    pub fn finance<I: IntoIterator<Item = S>, S: Into<String>>(mut self, addresses: I) -> Self {
        self.finance = addresses.into_iter().map(Into::into).collect();
        self
    }

    /// The same with assessors' addresses.
    pub fn assessors<I: IntoIterator<Item = S>, S: Into<String>>(mut self, addresses: I) -> Self {
        self.assessors = addresses.into_iter().map(Into::into).collect();
        self
    }
}

/// Why a notice cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// No template has this id.
    #[error("no email template for `{0}`")]
    UnknownTemplate(String),
    /// The notice lacks a value the template needs.
    #[error("template `{template}` needs the value `{key}`, which the notice lacks")]
    MissingValue {
        /// The template id.
        template: String,
        /// The missing key.
        key: &'static str,
    },
    /// A value is not an amount of money.
    #[error("`{key}` = `{value}` is not an amount of money")]
    BadAmount {
        /// The key.
        key: &'static str,
        /// The value found.
        value: String,
    },
    /// A value is not a date (`YYYY-MM-DD`).
    #[error("`{key}` = `{value}` is not a date (YYYY-MM-DD)")]
    BadDate {
        /// The key.
        key: &'static str,
        /// The value found.
        value: String,
    },
}

/// Why an email notifier cannot be made or a message built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// An address (sender, reply-to, role or recipient) does not parse.
    #[error("`{address}` is not an email address: {reason}")]
    InvalidAddress {
        /// The address.
        address: String,
        /// Why.
        reason: String,
    },
    /// The notice's recipient has no address.
    #[error("no email address for the {0} of this notice")]
    NoRecipient(&'static str),
    /// The notice cannot be rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The configuration cannot work.
    #[error("invalid email configuration: {0}")]
    Config(String),
    /// The message cannot be built.
    #[error("cannot build the message: {0}")]
    Build(String),
    /// The SMTP server did not take a message sent directly.
    #[error("the SMTP server did not take the message: {0}")]
    Send(String),
}

/// A rendered message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

/// Read access to a notice's values, with the conversions templates need.
struct Values<'a> {
    template: &'a str,
    data: &'a BTreeMap<String, String>,
}

impl Values<'_> {
    fn text(&self, key: &'static str) -> Result<String, RenderError> {
        self.data
            .get(key)
            .map(|v| v.trim().to_string())
            .ok_or(RenderError::MissingValue {
                template: self.template.to_string(),
                key,
            })
    }

    fn text_or(&self, key: &str, default: &str) -> String {
        self.data
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .unwrap_or(default)
            .to_string()
    }

    fn pounds(&self, key: &'static str) -> Result<String, RenderError> {
        let v = self.text(key)?;
        Money::from_str(&v)
            .map(Money::display_pounds)
            .map_err(|_| RenderError::BadAmount { key, value: v })
    }

    fn date(&self, key: &'static str) -> Result<String, RenderError> {
        let v = self.text(key)?;
        human_date(&v).ok_or(RenderError::BadDate { key, value: v })
    }
}

/// `2020-10-14` as `14 October 2020`.
pub fn human_date(iso: &str) -> Option<String> {
    let date = NaiveDate::parse_from_str(iso.trim(), "%Y-%m-%d").ok()?;
    Some(date.format("%-d %B %Y").to_string())
}

/// An amount as stored in notices (`"1400.00"`) written for people (`£1,400.00`).
pub fn human_amount(amount: &str) -> Option<String> {
    Money::from_str(amount).ok().map(Money::display_pounds)
}

fn item_name(item: &str) -> String {
    match item {
        "consultancy" => "consultancy".to_string(),
        "certification_fee" => "the Cyber Essentials assessment fee".to_string(),
        "plus_audit" => "the Cyber Essentials Plus audit".to_string(),
        other => other.replace('_', " "),
    }
}

/// Renders `notice` with its template: a subject and a plain-text body.
pub fn render(notice: &Notice) -> Result<Rendered, RenderError> {
    let template = notice.template.as_str();
    let v = Values {
        template,
        data: &notice.data,
    };
    let programme = v.text_or("programme", "the grant programme");
    let org = v.text_or("organisation", "your organisation");
    let applicant = notice.recipient == Role::Applicant;
    let (subject, lines): (String, Vec<String>) = match template {
        "application_ineligible" => (
            "Your application is not eligible".into(),
            vec![
                format!("We are sorry: the application from {org} cannot be funded by {programme}."),
                String::new(),
                format!("Why: {}.", v.text_or("reasons", "the eligibility criteria were not met").trim_end_matches('.')),
                String::new(),
                "If something in your application was wrong, you may apply again with the right details.".into(),
            ],
        ),
        "application_waitlisted" => (
            "Your application is on the waiting list".into(),
            vec![
                format!("The application from {org} is eligible for {programme}, but the funds available are committed at the moment."),
                String::new(),
                "It is on the waiting list, in the order it was received. We will write again as soon as funds allow an offer.".into(),
            ],
        ),
        "offer_made" => {
            let amount = v.pounds("amount")?;
            let expires = v.date("expires")?;
            (
                format!("Your offer of {amount}"),
                vec![
                    format!("{programme} offers {org} a grant of up to {amount} towards its Cyber Essentials certification."),
                    String::new(),
                    format!("Please accept the offer by {expires}. After that date the offer lapses and the money goes to the next applicant."),
                ],
            )
        }
        "offer_expiring" => {
            let expires = v.date("expires")?;
            (
                format!("Reminder: your offer expires on {expires}"),
                vec![
                    format!("The grant offered to {org} by {programme} has not been accepted yet."),
                    String::new(),
                    format!("It expires on {expires}. Please accept it before then if you still want the funding."),
                ],
            )
        }
        "offer_lapsed" => (
            "Your offer has lapsed".into(),
            vec![
                format!("The grant offered to {org} by {programme} was not accepted in time, and the offer has lapsed."),
                String::new(),
                "You may apply again while the programme is open.".into(),
            ],
        ),
        "award_accepted" => {
            let pass_by = v.date("pass_by")?;
            if applicant {
                (
                    "Your grant is confirmed".into(),
                    vec![
                        format!("Thank you for accepting the grant from {programme}."),
                        String::new(),
                        format!("{org} must be certified by {pass_by}. Send your consultant's and certification body's invoices to us as each stage is done."),
                    ],
                )
            } else {
                (
                    format!("Award accepted: {org}"),
                    vec![format!("{org} accepted its award from {programme} on {}.", v.date("date")?), format!("Certification is due by {pass_by}.")],
                )
            }
        }
        "assessment_failed" => {
            let respond_by = v.date("respond_by")?;
            (
                "Your self-assessment needs changes".into(),
                vec![
                    format!("The assessor did not pass the self-assessment of {org} at the first attempt."),
                    String::new(),
                    format!("Please answer the assessor's feedback and resubmit by {respond_by}. A second fail ends the funded attempt."),
                ],
            )
        }
        "feedback_closing" => {
            let closes = v.date("closes")?;
            (
                format!("Reminder: resubmit by {closes}"),
                vec![
                    format!("The window to answer the assessor's feedback for {org} closes on {closes}."),
                    String::new(),
                    format!("If the self-assessment is not resubmitted by then, the funding from {programme} ends."),
                ],
            )
        }
        "certification_failed" => {
            let reason = v.text_or("reason", "the certification did not succeed");
            if applicant {
                (
                    "Your funded certification has ended".into(),
                    vec![
                        format!("The funded Cyber Essentials certification of {org} has ended without a certificate: {reason}."),
                        String::new(),
                        format!("The money reserved for it has gone back to {programme}."),
                    ],
                )
            } else {
                (
                    format!("Certification failed: {org}"),
                    vec![format!("The certification of {org} ended without a certificate: {reason}."), format!("Released to the pot: {}.", v.pounds("released")?)],
                )
            }
        }
        "certified" => {
            let expires = v.date("expires")?;
            if applicant {
                (
                    "Congratulations: you are certified".into(),
                    vec![
                        format!("{org} is now certified to Cyber Essentials, with funding from {programme}."),
                        String::new(),
                        format!("The certificate is valid until {expires}."),
                    ],
                )
            } else {
                (format!("Certified: {org}"), vec![format!("{org} was certified on {}; the certificate is valid until {expires}.", v.date("date")?)])
            }
        }
        "plus_window_closing" => {
            let closes = v.date("closes")?;
            (
                format!("Reminder: your Plus audit must pass by {closes}"),
                vec![
                    format!("The funded Cyber Essentials Plus audit of {org} must pass by {closes}."),
                    String::new(),
                    "Please book the audit, or the re-test, soon enough to finish before then.".into(),
                ],
            )
        }
        "plus_certified" => (
            "Congratulations: you are certified to Cyber Essentials Plus".into(),
            vec![format!("{org} has passed its Cyber Essentials Plus audit, funded by {programme}.")],
        ),
        "claim_paid" => {
            let amount = v.pounds("amount")?;
            let item = item_name(&v.text("item")?);
            let invoice = v.text("invoice_ref")?;
            if applicant {
                (format!("Invoice paid: {amount}"), vec![format!("{programme} has paid {amount} for {item} (invoice {invoice}) on behalf of {org}.")])
            } else {
                (format!("Claim paid: {amount} to {org}"), vec![format!("Paid {amount} for {item}, invoice {invoice}, from the award to {org}.")])
            }
        }
        "award_completed" => (
            format!("Award completed: {org}"),
            vec![format!("The award to {org} is complete."), format!("Released to the pot: {}.", v.pounds("released")?)],
        ),
        "clawback_recorded" => (
            format!("Clawback recorded: {} from {org}", v.pounds("amount")?),
            vec![format!("{} was recovered from {org} and credited to the pot.", v.pounds("amount")?), format!("Reason: {}.", v.text_or("reason", "not given"))],
        ),
        "certificate_expiring" => {
            let expires = v.date("expires")?;
            let days = v.text("days")?;
            (
                format!("Your Cyber Essentials certificate expires on {expires}"),
                vec![
                    format!("The Cyber Essentials certificate of {org} expires on {expires}, in {days} days."),
                    String::new(),
                    "Renew it before then to stay certified. Renewal is not funded by this award.".into(),
                ],
            )
        }
        "pot_topped_up" => (
            format!("Pot topped up by {}", v.pounds("amount")?),
            vec![format!("{} was added to the pot of {programme}.", v.pounds("amount")?), format!("Note: {}.", v.text_or("note", "none"))],
        ),
        "application_withdrawn" => (
            format!("Application withdrawn: {org}"),
            vec![format!("{org} withdrew from {programme} on {}.", v.date("date")?), format!("Released to the pot: {}.", v.pounds("released")?)],
        ),
        other => return Err(RenderError::UnknownTemplate(other.to_string())),
    };
    let greeting = if applicant {
        format!("Dear {org},")
    } else {
        "Hello,".to_string()
    };
    let mut body = String::new();
    body.push_str(&greeting);
    body.push_str("\n\n");
    for line in lines {
        body.push_str(&line);
        body.push('\n');
    }
    body.push_str(&format!(
        "\n{programme}\n\nNotice reference: {}\n",
        notice.id
    ));
    Ok(Rendered {
        subject: format!("[{programme}] {subject}"),
        body,
    })
}

/// The `X-Grantflow-Notice-Id` header.
#[derive(Clone, Debug)]
struct NoticeIdHeader(String);

impl Header for NoticeIdHeader {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Grantflow-Notice-Id")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(NoticeIdHeader(s.to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

fn mailbox(address: &str) -> Result<Mailbox, EmailError> {
    address
        .trim()
        .parse::<Mailbox>()
        .map_err(|e| EmailError::InvalidAddress {
            address: address.to_string(),
            reason: e.to_string(),
        })
}

/// Sends each notice as a plain-text email. See the [crate docs](crate).
pub struct EmailNotifier {
    transport: SmtpTransport,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    finance: Vec<Mailbox>,
    assessors: Vec<Mailbox>,
    config: EmailConfig,
}

impl fmt::Debug for EmailNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailNotifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl EmailNotifier {
    /// A notifier for `config`; checks every configured address.
    pub fn new(config: EmailConfig) -> Result<Self, EmailError> {
        if config.host.trim().is_empty() {
            return Err(EmailError::Config("the SMTP host is empty".into()));
        }
        if config.timeout.is_zero() {
            return Err(EmailError::Config(
                "the SMTP timeout must be longer than zero".into(),
            ));
        }
        let from = mailbox(&config.from)?;
        let reply_to = config.reply_to.as_deref().map(mailbox).transpose()?;
        let finance = config
            .finance
            .iter()
            .map(|a| mailbox(a))
            .collect::<Result<Vec<_>, _>>()?;
        let assessors = config
            .assessors
            .iter()
            .map(|a| mailbox(a))
            .collect::<Result<Vec<_>, _>>()?;
        let host = config.host.trim();
        let builder = match config.security {
            Security::None => SmtpTransport::builder_dangerous(host),
            Security::StartTls | Security::Tls => tls_builder(host, config.security)?,
        };
        let mut builder = builder.port(config.port).timeout(Some(config.timeout));
        if let Some((user, password)) = &config.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(EmailNotifier {
            transport: builder.build(),
            from,
            reply_to,
            finance,
            assessors,
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &EmailConfig {
        &self.config
    }

    /// Who receives `notice`.
    pub fn recipients(&self, notice: &Notice) -> Result<Vec<Mailbox>, EmailError> {
        let list = match notice.recipient {
            Role::Applicant => match notice
                .to
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
            {
                Some(to) => vec![mailbox(to)?],
                None => Vec::new(),
            },
            Role::Finance => self.finance.clone(),
            Role::Assessor => self.assessors.clone(),
        };
        if list.is_empty() {
            let role = match notice.recipient {
                Role::Applicant => "applicant",
                Role::Finance => "finance officers",
                Role::Assessor => "assessors",
            };
            return Err(EmailError::NoRecipient(role));
        }
        Ok(list)
    }

    /// The message for `notice`, as it would be sent.
    pub fn message(
        &self,
        _programme: &ProgrammeId,
        notice: &Notice,
    ) -> Result<Message, EmailError> {
        let rendered = render(notice)?;
        let recipients = self.recipients(notice)?;
        let domain = self.from.email.domain().to_string();
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(rendered.subject)
            .message_id(Some(format!("<{}@{domain}>", notice.id)))
            .header(NoticeIdHeader(notice.id.to_string()))
            .header(ContentType::TEXT_PLAIN);
        if let Some(r) = &self.reply_to {
            builder = builder.reply_to(r.clone());
        }
        for to in recipients {
            builder = builder.to(to);
        }
        builder
            .body(rendered.body)
            .map_err(|e| EmailError::Build(e.to_string()))
    }
}

impl EmailNotifier {
    /// Sends one plain-text message to `to` straight away, outside the
    /// outbox (a sign-in code, which is worth nothing once it is late).
    pub fn send_text(&self, to: &str, subject: &str, body: &str) -> Result<(), EmailError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(mailbox(to)?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN);
        if let Some(r) = &self.reply_to {
            builder = builder.reply_to(r.clone());
        }
        let message = builder
            .body(body.to_string())
            .map_err(|e| EmailError::Build(e.to_string()))?;
        self.transport
            .send(&message)
            .map(|_| ())
            .map_err(|e| EmailError::Send(e.to_string()))
    }
}

#[cfg(feature = "tls")]
fn tls_builder(
    host: &str,
    security: Security,
) -> Result<lettre::transport::smtp::SmtpTransportBuilder, EmailError> {
    let made = match security {
        Security::Tls => SmtpTransport::relay(host),
        _ => SmtpTransport::starttls_relay(host),
    };
    made.map_err(|e| EmailError::Config(format!("cannot set up TLS for `{host}`: {e}")))
}

#[cfg(not(feature = "tls"))]
fn tls_builder(
    _host: &str,
    security: Security,
) -> Result<lettre::transport::smtp::SmtpTransportBuilder, EmailError> {
    Err(EmailError::Config(format!(
        "{security:?} needs grantflow-email's `tls` feature"
    )))
}

impl Notifier for EmailNotifier {
    fn deliver(&self, programme: &ProgrammeId, notice: &Notice) -> Result<(), DeliveryError> {
        let message = self
            .message(programme, notice)
            .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        match self.transport.send(&message) {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(DeliveryError::Permanent(format!(
                "the SMTP server refused the message: {e}"
            ))),
            Err(e) => Err(DeliveryError::Retryable(format!(
                "SMTP delivery failed: {e}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use grantflow_core::NoticeId;
    use grantflow_core::TEMPLATES;

    use super::*;

    fn sample(template: &str, recipient: Role) -> Notice {
        let mut data = BTreeMap::new();
        for (k, v) in [
            ("programme", "Healthcare Cyber Essentials 2020"),
            ("organisation", "Acme Medical Supplies"),
            ("date", "2020-10-01"),
            ("amount", "1400.00"),
            ("released", "2500"),
            ("expires", "2020-10-14"),
            ("closes", "2021-01-05"),
            ("pass_by", "2021-03-31"),
            ("respond_by", "2020-10-05"),
            ("reasons", "GP practices buy security centrally"),
            ("reason", "the self-assessment failed a second time"),
            ("item", "certification_fee"),
            ("invoice_ref", "IASME-0001"),
            ("days", "30"),
            ("note", "second tranche"),
        ] {
            data.insert(k.to_string(), v.to_string());
        }
        Notice {
            id: NoticeId::from_name(template),
            template: template.into(),
            recipient,
            to: Some("office@acme.example".into()),
            application: None,
            data,
        }
    }

    #[test]
    fn every_template_renders_for_every_role() {
        for t in TEMPLATES {
            for role in [Role::Applicant, Role::Finance, Role::Assessor] {
                let r = render(&sample(t, role)).unwrap_or_else(|e| panic!("{t}: {e}"));
                assert!(
                    r.subject.starts_with("[Healthcare Cyber Essentials 2020] "),
                    "{t}: {}",
                    r.subject
                );
                assert!(r.body.contains("Healthcare Cyber Essentials 2020"), "{t}");
                assert!(r.body.contains(&NoticeId::from_name(t).to_string()), "{t}");
                assert!(
                    !r.body.contains("2020-10-"),
                    "{t}: dates are written for people:\n{}",
                    r.body
                );
                assert!(
                    !r.body.contains("1400.00") && !r.subject.contains("1400.00"),
                    "{t}: amounts are written in pounds"
                );
            }
        }
    }

    #[test]
    fn amounts_and_dates_are_written_for_people() {
        let r = render(&sample("offer_made", Role::Applicant)).unwrap();
        assert_eq!(
            r.subject,
            "[Healthcare Cyber Essentials 2020] Your offer of £1,400.00"
        );
        assert!(r.body.starts_with("Dear Acme Medical Supplies,\n\n"));
        assert!(r.body.contains("a grant of up to £1,400.00"));
        assert!(
            r.body
                .contains("Please accept the offer by 14 October 2020.")
        );
        let c = render(&sample("claim_paid", Role::Finance)).unwrap();
        assert!(
            c.body.contains(
                "Paid £1,400.00 for the Cyber Essentials assessment fee, invoice IASME-0001"
            ),
            "{}",
            c.body
        );
        let w = render(&sample("application_withdrawn", Role::Finance)).unwrap();
        assert!(
            w.body.contains("Released to the pot: £2,500.00."),
            "{}",
            w.body
        );
        assert_eq!(human_date("2020-10-14").as_deref(), Some("14 October 2020"));
        assert_eq!(human_date("2021-03-01").as_deref(), Some("1 March 2021"));
        assert_eq!(human_date("14/10/2020"), None);
        assert_eq!(human_amount("1234567.5").as_deref(), Some("£1,234,567.50"));
        assert_eq!(human_amount("-1"), None);
    }

    #[test]
    fn unknown_templates_and_bad_values_are_typed_errors() {
        assert_eq!(
            render(&sample("no_such_template", Role::Applicant)),
            Err(RenderError::UnknownTemplate("no_such_template".into()))
        );
        let mut n = sample("offer_made", Role::Applicant);
        n.data.remove("expires");
        assert_eq!(
            render(&n),
            Err(RenderError::MissingValue {
                template: "offer_made".into(),
                key: "expires"
            })
        );
        n.data.insert("expires".into(), "next week".into());
        assert_eq!(
            render(&n),
            Err(RenderError::BadDate {
                key: "expires",
                value: "next week".into()
            })
        );
        n.data.insert("expires".into(), "2020-10-14".into());
        n.data.insert("amount".into(), "£lots".into());
        assert_eq!(
            render(&n),
            Err(RenderError::BadAmount {
                key: "amount",
                value: "£lots".into()
            })
        );
    }

    #[test]
    fn configuration_is_checked() {
        assert!(matches!(
            EmailNotifier::new(EmailConfig::new("", 25, "a@b.example")),
            Err(EmailError::Config(_))
        ));
        assert!(matches!(
            EmailNotifier::new(EmailConfig::new("h", 25, "not an address")),
            Err(EmailError::InvalidAddress { .. })
        ));
        assert!(matches!(
            EmailNotifier::new(EmailConfig::new("h", 25, "a@b.example").finance(["nope"])),
            Err(EmailError::InvalidAddress { .. })
        ));
        let ok = EmailNotifier::new(
            EmailConfig::new("h", 25, "Grants <grants@b.example>").finance(["f@b.example"]),
        )
        .unwrap();
        let mut n = sample("claim_paid", Role::Assessor);
        assert_eq!(ok.recipients(&n), Err(EmailError::NoRecipient("assessors")));
        n.recipient = Role::Finance;
        assert_eq!(ok.recipients(&n).unwrap().len(), 1);
        n.recipient = Role::Applicant;
        n.to = None;
        assert_eq!(ok.recipients(&n), Err(EmailError::NoRecipient("applicant")));
        let mut c = EmailConfig::new("h", 25, "a@b.example");
        c.credentials = Some(("user".into(), "hunter2".into()));
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
