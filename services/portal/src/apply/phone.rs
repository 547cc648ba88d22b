//! The optional phone confirmation: a code sent through notification.

use super::*;

#[derive(Template, WebTemplate)]
#[template(path = "telefon.html")]
pub(super) struct Phone {
    l: Layout,
    masked_phone: String,
}

pub(super) const CODE_LIFETIME_MS: i64 = 10 * 60 * 1000;
pub(super) const CODE_ATTEMPTS: u32 = 5;
/// A new code no sooner than this after the last.
pub(super) const CODE_RESEND_MS: i64 = 30 * 1000;

pub(super) fn hash_code(session_id: &str, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{session_id}:{code}")))
}

/// Asks notification to send a new code (none if one went to this phone
/// in the last 30 s): the code goes out like every SMS, within the
/// account's rate, priced and audited; the portal keeps only its hash.
pub(super) async fn send_code(state: &State, mut s: Session, client: &str) -> Response {
    let Ok(phone) = MobilePhone::parse(&s.draft.mobile_phone) else {
        return Redirect::to("/basvuru/kisi").into_response();
    };
    let now = acikkapi_platform::store::now_ms();
    let recent = s
        .phone
        .as_ref()
        .is_some_and(|p| p.phone == phone.e164() && now - p.sent_ms < CODE_RESEND_MS);
    if !recent {
        let code = format!("{:06}", rand::random::<u32>() % 1_000_000);
        let ask = pb::SendPhoneCodeRequest {
            mobile_phone: phone.e164().to_owned(),
            code: code.clone(),
            province_code: s.draft.province,
            idempotency_key: format!("portal-{}", random_token()),
        };
        let sent = match state.backend.request(ask, client) {
            Ok(req) => state.backend.notification().send_phone_code(req).await,
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            tracing::warn!(code = ?e.code(), "phone confirmation code not sent");
            return failure(state, &s, &e);
        }
        s.phone = Some(PhoneCheck {
            code_hash: hash_code(&s.id, &code),
            phone: phone.e164().to_owned(),
            attempts: 0,
            sent_ms: now,
        });
    }
    state
        .sessions
        .respond(&s, Redirect::to("/basvuru/telefon"))
        .await
}

pub(super) async fn render_phone(state: &State, s: &Session, problems: Problems) -> Response {
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let masked = MobilePhone::parse(&s.draft.mobile_phone)
        .map(|p| acikkapi_domain::mask::phone(p.e164()))
        .unwrap_or_default();
    let page = Phone {
        l: Layout::new(state, s, "Telefonunuzu kontrol edin")
            .back("/basvuru/kontrol")
            .problems(problems),
        masked_phone: masked,
    };
    state.sessions.respond(s, (status, page)).await
}

pub(super) async fn phone(S(state): S<State>, headers: HeaderMap) -> Response {
    let s = session(&state, &headers).await;
    if s.phone.is_none() {
        return Redirect::to("/basvuru/kontrol").into_response();
    }
    render_phone(&state, &s, Problems::default()).await
}

pub(super) async fn phone_post(
    S(state): S<State>,
    headers: HeaderMap,
    peer: ConnectInfo<SocketAddr>,
    Posted { mut s, f }: Posted,
) -> Response {
    let Some(mut check) = s.phone.clone() else {
        return state
            .sessions
            .respond(&s, Redirect::to("/basvuru/kontrol"))
            .await;
    };
    let given: String = value(&f, "code")
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect();
    let now = acikkapi_platform::store::now_ms();
    let fresh = now - check.sent_ms < CODE_LIFETIME_MS && check.attempts < CODE_ATTEMPTS;
    check.attempts += 1;
    if !fresh || given.len() != 6 || hash_code(&s.id, &given) != check.code_hash {
        s.phone = fresh.then_some(check);
        let mut p = Problems::default();
        p.add(Problem::new(Field::PhoneCode, given.is_empty()));
        if s.phone.is_none() {
            // Used up or expired: a new code on the next press of Gönder.
            return state
                .sessions
                .respond(&s, Redirect::to("/basvuru/kontrol"))
                .await;
        }
        return render_phone(&state, &s, p).await;
    }
    s.phone = None;
    s.phone_confirmed = s.draft.mobile_phone.clone();
    let client = client_address(&state, &headers, &peer);
    submit(&state, s, &client).await.unwrap_or_else(|r| r)
}
