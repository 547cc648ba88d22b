//! Tokens of the platform's identity provider, on both backends: every
//! service accepts its ES256 and RS256 access tokens by the key set it
//! publishes, maps the role and scope claims to the platform's, follows a
//! key rotation (a token naming a new key makes the node fetch the set
//! again), and refuses a token of another audience, issuer or role, or one
//! signed with a key the provider never published.

use acikkapi::testing::TestNode;
use acikkapi_platform::auth::ClientCredentials;
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::oidc::{OidcProvider, Person};
use acikkapi_testkit::{Backend, backend_tests, settings, submission};

backend_tests!(services_accept_the_identity_providers_tokens);

async fn list_as(n: &TestNode, token: &str, province: u32) -> Result<usize, tonic::Status> {
    let creds = ClientCredentials::new(Some(token)).expect("token");
    let mut c =
        pb::intake_service_client::IntakeServiceClient::with_interceptor(n.channel().await, creds);
    c.list_applications(pb::ListApplicationsRequest {
        province_code: province,
        ..Default::default()
    })
    .await
    .map(|r| r.into_inner().applications.len())
}

async fn services_accept_the_identity_providers_tokens(backend: Backend) {
    let idp = OidcProvider::start().await;
    let (mut s, _dir) = settings(backend);
    s.auth.oidc_issuer = idp.issuer();
    let n = TestNode::start(s).await;
    n.submit(submission(1)).await;

    // ES256, a desk officer of Ankara: the province's applications.
    let desk = Person::new("masa-06-7", "desk-officer", 6);
    let es = idp.access_token(&desk);
    assert_eq!(list_as(&n, &es, 6).await.expect("ES256 accepted"), 1);
    // The scope claim is the platform's: a listing of another province is
    // narrowed to the caller's own, where it has nothing.
    assert_eq!(list_as(&n, &es, 34).await.expect("narrowed"), 0);
    // RS256 from the same provider.
    idp.use_rsa();
    let rs = idp.access_token(&desk);
    assert_eq!(list_as(&n, &rs, 6).await.expect("RS256 accepted"), 1);
    let fetched = idp.jwks_fetches();
    assert_eq!(fetched, 1, "the key set is fetched once and kept");

    // Rotation: a token naming a key the node has not seen makes it fetch
    // the set again, and the new key verifies.
    idp.rotate();
    tokio::time::sleep(acikkapi_platform::idp::REFRESH_GAP).await;
    let rotated = idp.access_token(&desk);
    assert_eq!(list_as(&n, &rotated, 6).await.expect("new key accepted"), 1);
    assert_eq!(idp.jwks_fetches(), fetched + 1);
    // Tokens of the old key still verify while it is published.
    assert!(list_as(&n, &es, 6).await.is_ok());

    // Refused: a role the platform does not have, and a forged signature.
    let stranger = idp.access_token(&Person::new("x", "superuser", 6));
    let e = list_as(&n, &stranger, 6).await.expect_err("unknown role");
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    let mut forged = rotated.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let e = list_as(&n, &forged, 6).await.expect_err("forged");
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    // A role the method does not allow (the Ministry's analysts see
    // reports, never applications).
    let analyst = idp.access_token(&Person::new("analist-1", "ministry-analyst", 0));
    let e = list_as(&n, &analyst, 6)
        .await
        .expect_err("role not allowed");
    assert!(matches!(e.code(), tonic::Code::PermissionDenied), "{e:?}");
    n.stop_and_clean().await;
}
