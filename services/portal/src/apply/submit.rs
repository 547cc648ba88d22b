//! Submission: the call to intake, with the key kept before it.

use super::*;

pub(super) async fn send(
    S(state): S<State>,
    headers: HeaderMap,
    peer: ConnectInfo<SocketAddr>,
    Posted { s, .. }: Posted,
) -> Response {
    let missing = first_missing(&s.draft);
    if missing != Step::Check {
        let to = if s.submitted.is_some() {
            "/basvuru/tamam"
        } else {
            missing.path()
        };
        return state.sessions.respond(&s, Redirect::to(to)).await;
    }
    let client = client_address(&state, &headers, &peer);
    if needs_confirmation(&state, &s) {
        return send_code(&state, s, &client).await;
    }
    submit(&state, s, &client).await.unwrap_or_else(|r| r)
}

pub(super) fn channel_of(s: &Session) -> pb::Channel {
    match s.channel.as_str() {
        "kiosk" => pb::Channel::Kiosk,
        "mobile" => pb::Channel::Mobile,
        _ => pb::Channel::Web,
    }
}

pub(super) fn request_of(s: &Session) -> pb::SubmitApplicationRequest {
    let d = &s.draft;
    let v = |k: &str| d.vulnerability.iter().any(|x| x == k);
    pb::SubmitApplicationRequest {
        meeting_id: String::new(),
        applicant: Some(pb::Applicant {
            national_id: d.national_id.clone(),
            full_name: d.full_name.clone(),
            mobile_phone: d.mobile_phone.clone(),
            email: d.email.clone(),
        }),
        province_code: d.province,
        district_code: if d.district == NO_DISTRICT {
            0
        } else {
            d.district
        },
        channel: channel_of(s) as i32,
        kind: match d.kind.as_str() {
            "complaint" => pb::Kind::Complaint,
            "suggestion" => pb::Kind::Suggestion,
            _ => pb::Kind::Request,
        } as i32,
        topic_code: d.topic.clone(),
        type_code: d.type_code.clone(),
        subject: d.subject.clone(),
        text: d.text.clone(),
        vulnerability: Some(pb::Vulnerability {
            martyr_relative: v("martyr-relative"),
            veteran: v("veteran"),
            disabled: v("disabled"),
            elderly: v("elderly"),
            sick: v("sick"),
        }),
        idempotency_key: d.idempotency_key.clone(),
    }
}

/// Hands the draft to intake. On success the draft is erased and the
/// number kept for the confirmation page; on a field error the citizen is
/// taken to that field, with intake's verdict in Turkish.
pub(super) async fn submit(
    state: &State,
    mut s: Session,
    client: &str,
) -> Result<Response, Response> {
    if s.draft.idempotency_key.is_empty() {
        s.draft.idempotency_key = uuid::Uuid::new_v4().to_string();
        // Kept before the call: a retry after a lost answer sends the same key.
        state.sessions.save(&s).await;
    }
    let sent = state
        .backend
        .submit(|| state.backend.request(request_of(&s), client))
        .await;
    match sent {
        Ok(r) => {
            let r = r.into_inner();
            s.submitted = Some(Submitted {
                number: r.application_number,
                code: r.tracking_code,
                received_ms: r
                    .received_at
                    .map(|t| t.seconds * 1000)
                    .unwrap_or_else(acikkapi_platform::store::now_ms),
            });
            s.draft = Draft::default();
            s.phone = None;
            tracing::info!(
                channel = s.channel,
                "application submitted through the portal"
            );
            Ok(state
                .sessions
                .respond(&s, Redirect::to("/basvuru/tamam"))
                .await)
        }
        Err(e) if e.code() == tonic::Code::InvalidArgument => {
            let Some(problem) = Problem::of_status(&e) else {
                return Err(failure(
                    state,
                    &s,
                    &tonic::Status::internal("unplaced field"),
                ));
            };
            let mut p = Problems::default();
            let field = problem.field;
            p.add(problem);
            let d = s.draft.clone();
            Ok(match field.page() {
                "/basvuru/kisi" => render_person(state, &s, true, p, d).await,
                "/basvuru/ayrinti" => render_details(state, &s, p, d).await,
                "/basvuru/il" => render_choice(state, &s, province_question(&d), true, p).await,
                "/basvuru/ilce" => render_choice(state, &s, district_question(&d), true, p).await,
                "/basvuru/konu" => render_choice(state, &s, topic_question(&d), true, p).await,
                _ => render_choice(state, &s, type_question(&d), true, p).await,
            })
        }
        Err(e) => Err(failure(state, &s, &e)),
    }
}
