//! Notification (issue #5, in progress): the SMS a citizen gets, exactly
//! once, at a known cost. This part: the providers (a file for the embedded
//! default, an HTTP bulk-SMS gateway for production) and how a send is made
//! idempotent. The encoding and segment count are `acikkapi_domain::sms`,
//! the templates `acikkapi_domain::templates`. The service that consumes
//! events, retries, dead-letters and answers gRPC is not built yet, and the
//! binary does not serve it.

pub mod provider;
