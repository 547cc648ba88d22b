//! Signing staff in and out: the identity provider's code flow with PKCE,
//! and the embedded default's local page.

use super::*;

pub struct RoleChoice {
    pub value: &'static str,
    pub label: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "konsol_giris.html")]
pub(super) struct SignIn {
    l: Layout,
    oidc: bool,
    local: bool,
    roles: Vec<RoleChoice>,
    signed_out: bool,
}

#[derive(Deserialize, Default)]
pub(super) struct SignInQuery {
    cikis: Option<String>,
}

pub(super) const STAFF_ROLES: &[Role] = &[
    Role::DeskOfficer,
    Role::UnitOfficer,
    Role::Kaymakam,
    Role::DeputyGovernor,
    Role::Governor,
    Role::MinistryOfficer,
    Role::MinistryAnalyst,
    Role::PlatformOperator,
];

pub(super) async fn sign_in_page(
    S(state): S<State>,
    headers: HeaderMap,
    Query(q): Query<SignInQuery>,
) -> Response {
    let s = load(&state, &headers).await;
    if s.signed_in() {
        return Redirect::to("/konsol").into_response();
    }
    render_sign_in(
        &state,
        &s,
        crate::fields::Problems::default(),
        q.cikis.is_some(),
    )
    .await
}

pub(super) async fn render_sign_in(
    state: &State,
    s: &Staff,
    problems: crate::fields::Problems,
    signed_out: bool,
) -> Response {
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = SignIn {
        l: layout(state, s, "Personel girişi").problems(problems),
        oidc: state.oidc_enabled(),
        local: state.keys.local_issuer,
        roles: STAFF_ROLES
            .iter()
            .map(|r| RoleChoice {
                value: r.as_str(),
                label: role_name(r.as_str()),
            })
            .collect(),
        signed_out,
    };
    respond(state, s, (status, page)).await
}

/// Starts the identity provider's sign-in: state, nonce and a PKCE
/// verifier kept in the (not yet signed-in) session.
pub(super) async fn sign_in_start(S(state): S<State>, headers: HeaderMap) -> Response {
    let (Some(idp), true) = (state.keys.idp(), state.oidc_enabled()) else {
        return Redirect::to("/konsol/giris").into_response();
    };
    let endpoints = match idp.endpoints().await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "identity provider unreachable");
            return unavailable(&state).await;
        }
    };
    let mut s = load(&state, &headers).await;
    let pending = Pending {
        state: crate::session::random_token(),
        nonce: crate::session::random_token(),
        verifier: format!(
            "{}{}",
            crate::session::random_token(),
            crate::session::random_token()
        ),
    };
    let challenge = acikkapi_platform::idp::pkce_challenge(&pending.verifier);
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair(
            "client_id",
            &state.platform.settings.portal.console_client_id,
        )
        .append_pair("redirect_uri", &state.redirect_uri())
        .append_pair("scope", "openid")
        .append_pair("state", &pending.state)
        .append_pair("nonce", &pending.nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    s.pending = Some(pending);
    let to = format!("{}?{q}", endpoints.authorization);
    respond(&state, &s, Redirect::to(&to)).await
}

#[derive(Deserialize)]
pub(super) struct Return {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
}

pub(super) async fn sign_in_return(
    S(state): S<State>,
    headers: HeaderMap,
    Query(r): Query<Return>,
) -> Response {
    let s = load(&state, &headers).await;
    let Some(pending) = s.pending.clone() else {
        return refused(
            &state,
            &s,
            "Oturum açma isteği bulunamadı; yeniden deneyin.",
        )
        .await;
    };
    if r.code.is_empty() || !constant_time_eq(&pending.state, &r.state) {
        return refused(
            &state,
            &s,
            "Oturum açma isteği doğrulanamadı; yeniden deneyin.",
        )
        .await;
    }
    let Some(idp) = state.keys.idp() else {
        return refused(&state, &s, "Kimlik sağlayıcı tanımlı değil.").await;
    };
    let p = &state.platform.settings.portal;
    let answer = idp
        .exchange(&[
            ("grant_type", "authorization_code"),
            ("code", &r.code),
            ("redirect_uri", &state.redirect_uri()),
            ("client_id", &p.console_client_id),
            ("client_secret", p.console_client_secret.expose()),
            ("code_verifier", &pending.verifier),
        ])
        .await;
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "code exchange refused");
            return refused(
                &state,
                &s,
                "Kimlik sağlayıcı girişi onaylamadı; yeniden deneyin.",
            )
            .await;
        }
    };
    let access = answer["access_token"].as_str().unwrap_or("");
    let id_token = answer["id_token"].as_str().unwrap_or("");
    // The ID token must be this sign-in's (its nonce) and for this client.
    let nonce_ok = match jsonwebtoken::decode_header(id_token) {
        Ok(h) => idp
            .decode(id_token, &h, &p.console_client_id)
            .await
            .is_ok_and(|c| c["nonce"].as_str() == Some(pending.nonce.as_str())),
        Err(_) => false,
    };
    if !nonce_ok {
        return refused(&state, &s, "Kimlik doğrulanamadı; yeniden deneyin.").await;
    }
    match state.keys.verify_any(access).await {
        Ok(claims) => begin(&state, s, access.to_owned(), claims).await,
        Err(e) => {
            tracing::warn!(error = %e, "the provider's access token was refused");
            refused(&state, &s, "Bu hesapla Açık Kapı'ya giriş yetkiniz yok.").await
        }
    }
}

#[derive(Deserialize)]
pub(super) struct Local {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    province: String,
    #[serde(default)]
    district: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    sub: String,
}

/// The embedded default's sign-in: a role and scope picked on the page,
/// signed with the laptop's own key. Refused wherever keys are configured.
pub(super) async fn sign_in_local(
    S(state): S<State>,
    headers: HeaderMap,
    Form(f): Form<Local>,
) -> Response {
    let s = load(&state, &headers).await;
    if cross_origin(&state, &headers) || !constant_time_eq(&s.csrf, &f.csrf) {
        return forbidden(&state, &s).await;
    }
    if !state.keys.local_issuer {
        return refused(
            &state,
            &s,
            "Yerel giriş yalnızca dizüstü kurulumunda açıktır.",
        )
        .await;
    }
    let mut problems = crate::fields::Problems::default();
    let role = Role::parse(&f.role).filter(|r| STAFF_ROLES.contains(r));
    if role.is_none() {
        problems.add(crate::fields::Problem {
            field: crate::fields::Field::Role,
            message: "Rolünüzü seçin".into(),
        });
    }
    let province = f.province.trim().parse::<u32>().unwrap_or(0);
    let district = f.district.trim().parse::<u32>().unwrap_or(0);
    let needs_province = matches!(
        role,
        Some(
            Role::DeskOfficer
                | Role::UnitOfficer
                | Role::Kaymakam
                | Role::DeputyGovernor
                | Role::Governor
        )
    );
    if needs_province && Catalog::builtin().province(province).is_none() {
        problems.add(crate::fields::Problem {
            field: crate::fields::Field::Province,
            message: "Bu rol için ilinizi seçin".into(),
        });
    }
    let sub = f.sub.trim();
    if sub.is_empty()
        || sub.len() > 64
        || !sub
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        problems.add(crate::fields::Problem {
            field: crate::fields::Field::StaffId,
            message:
                "Personel kimliğinizi harf, rakam ve tire ile girin (T.C. kimlik numarası değil)"
                    .into(),
        });
    }
    let Some(role) = role.filter(|_| problems.is_empty()) else {
        return render_sign_in(&state, &s, problems, false).await;
    };
    let claims = Claims {
        sub: sub.to_owned(),
        role,
        province: if needs_province { province } else { 0 },
        district: if role == Role::Kaymakam || role == Role::DeskOfficer {
            district
        } else {
            0
        },
        unit: if role == Role::UnitOfficer {
            f.unit.trim().to_owned()
        } else {
            String::new()
        },
        iss: String::new(),
        aud: String::new(),
        iat: 0,
        exp: 0,
    };
    let ttl = state.platform.settings.portal.console_idle_secs.max(3_600);
    match state.keys.issue(claims.clone(), ttl) {
        Ok(token) => begin(&state, s, token, claims).await,
        Err(e) => {
            tracing::error!(error = %e, "local sign-in could not sign");
            unavailable(&state).await
        }
    }
}

/// Signed in: the session before sign-in is erased and a new one, with a
/// new id and token, takes its place (a planted session id gains nothing).
pub(super) async fn begin(state: &State, before: Staff, token: String, c: Claims) -> Response {
    // Machine roles (channels, provincial instances) call the services;
    // they do not sign in to the console.
    if !STAFF_ROLES.contains(&c.role) {
        tracing::warn!(role = %c.role.as_str(), "a machine role tried the console");
        return refused(
            state,
            &before,
            "Bu hesapla Açık Kapı'ya giriş yetkiniz yok.",
        )
        .await;
    }
    erase(state, &before).await;
    let mut s = Staff::fresh();
    s.token = token;
    s.sub = c.sub;
    s.role = c.role.as_str().to_owned();
    s.province = c.province;
    s.district = c.district;
    s.unit = c.unit;
    tracing::info!(role = %s.role, "staff signed in");
    respond(state, &s, Redirect::to("/konsol")).await
}

#[derive(Deserialize)]
pub(super) struct Token {
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

pub(super) async fn sign_out(
    S(state): S<State>,
    headers: HeaderMap,
    Form(f): Form<Token>,
) -> Response {
    let s = load(&state, &headers).await;
    if cross_origin(&state, &headers) || !constant_time_eq(&s.csrf, &f.csrf) {
        return forbidden(&state, &s).await;
    }
    erase(&state, &s).await;
    with_cookie(
        &state,
        Redirect::to("/konsol/giris?cikis=1"),
        &format!("{COOKIE}=; Max-Age=0"),
    )
}
