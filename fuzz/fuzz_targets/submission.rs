//! A SubmitApplication request off the wire: protobuf decoding, then every
//! field's validation against the catalogue of places, topics and types.
#![no_main]
use acikkapi_domain::catalog::Catalog;
use acikkapi_intake::model::ValidSubmission;
use acikkapi_proto::v1 as pb;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|bytes: &[u8]| {
    let Ok(req) = pb::SubmitApplicationRequest::decode(bytes) else {
        return;
    };
    match ValidSubmission::validate(&req, Catalog::builtin()) {
        Ok(v) => {
            // The fingerprint is computed from validated fields only.
            assert!(!v.fingerprint().is_empty());
        }
        // Every refusal names a field of the request and says what is wrong.
        Err(e) => assert!(!e.field.is_empty() && !e.message.is_empty(), "{e:?}"),
    }
});
