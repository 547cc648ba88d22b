//! The application journey: question pages (who, where, about what, the
//! application itself), check your answers with Change links, optional
//! phone confirmation, submission to intake and the confirmation page.
//! Each page validates on the server with the same domain rules intake
//! uses; intake's own verdict, should it differ, is shown at its field.

mod check;
mod details;
mod done;
mod phone;
mod place;
mod submit;
mod what;
mod who;

use check::*;
use details::*;
use done::*;
use phone::*;
use place::*;
use submit::*;
use what::*;
use who::*;

use crate::State;
use crate::fields::{Field, Problem, Problems};
use crate::pages::{Layout, expired, failure};
use crate::security::client_address;
use crate::session::{Draft, NO_DISTRICT, PhoneCheck, Session, Submitted, random_token, session};
use acikkapi_domain::catalog::Catalog;
use acikkapi_domain::national_id::NationalId;
use acikkapi_domain::phone::MobilePhone;
use acikkapi_domain::text;
use acikkapi_proto::v1 as pb;
use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, Query, State as S};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;

pub fn routes() -> Router<State> {
    Router::new()
        .route("/basvuru", get(|| async { Redirect::to("/basvuru/kisi") }))
        .route("/basvuru/kisi", get(person).post(person_post))
        .route("/basvuru/il", get(province).post(province_post))
        .route("/basvuru/ilce", get(district).post(district_post))
        .route("/basvuru/konu", get(topic).post(topic_post))
        .route("/basvuru/tur", get(app_type).post(app_type_post))
        .route("/basvuru/ayrinti", get(details).post(details_post))
        .route("/basvuru/kontrol", get(check))
        .route("/basvuru/gonder", axum::routing::post(send))
        .route("/basvuru/telefon", get(phone).post(phone_post))
        .route("/basvuru/tamam", get(done))
}

type Pairs = Vec<(String, String)>;

fn value<'a>(form: &'a Pairs, name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn values(form: &Pairs, name: &str) -> Vec<String> {
    form.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

#[derive(Deserialize, Default)]
pub struct ChangeQuery {
    /// `kontrol`: came from check-your-answers; go back there after.
    donus: Option<String>,
}

impl ChangeQuery {
    fn to_check(&self) -> bool {
        self.donus.as_deref() == Some("kontrol")
    }
}

fn catalog() -> &'static Catalog {
    Catalog::builtin()
}

/// The journey's question pages, in the order a citizen meets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Person,
    Province,
    District,
    Topic,
    Type,
    Details,
    Check,
}

impl Step {
    fn path(self) -> &'static str {
        match self {
            Step::Person => "/basvuru/kisi",
            Step::Province => "/basvuru/il",
            Step::District => "/basvuru/ilce",
            Step::Topic => "/basvuru/konu",
            Step::Type => "/basvuru/tur",
            Step::Details => "/basvuru/ayrinti",
            Step::Check => "/basvuru/kontrol",
        }
    }
}

/// The first page whose answer is still missing, or the check page.
fn first_missing(d: &Draft) -> Step {
    if d.national_id.is_empty() || d.full_name.is_empty() || d.mobile_phone.is_empty() {
        Step::Person
    } else if d.province == 0 {
        Step::Province
    } else if d.district == 0 {
        Step::District
    } else if d.topic.is_empty() {
        Step::Topic
    } else if d.type_code.is_empty() {
        Step::Type
    } else if d.kind.is_empty() || d.subject.is_empty() || d.text.is_empty() {
        Step::Details
    } else {
        Step::Check
    }
}

/// Where a page's Continue leads: the next missing answer, or back to
/// check-your-answers when the citizen came from there and nothing is missing.
fn after(d: &Draft, next: Step, to_check: bool) -> Redirect {
    let missing = first_missing(d);
    if to_check || missing == Step::Check {
        return Redirect::to(missing.path());
    }
    // Answering a page never skips an earlier question left unanswered;
    // the order is the journey's (it was the paths' alphabetical order).
    Redirect::to(missing.min(next).path())
}

/// A form posted to the journey, its session's CSRF token checked: a
/// handler that takes one cannot forget the check. A missing or wrong token
/// answers the "session expired" page.
pub(super) struct Posted {
    s: Session,
    f: Pairs,
}

impl axum::extract::FromRequest<State> for Posted {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &State) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let Form(f) = Form::<Pairs>::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let s = guard(state, &headers, &f).await?;
        Ok(Posted { s, f })
    }
}

async fn guard(state: &State, headers: &HeaderMap, form: &Pairs) -> Result<Session, Response> {
    let s = session(state, headers).await;
    if s.csrf_ok(value(form, "_csrf")) {
        Ok(s)
    } else {
        Err(expired(state, &s).await)
    }
}
