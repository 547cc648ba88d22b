//! A generic gRPC client, as a provincial system's developer would use
//! one (grpcurl, Python's dynamic stubs): it knows the platform only by
//! what server reflection tells it, writes requests as JSON and reads
//! answers as dynamic messages. Nothing here imports the platform's
//! generated types, so what it sees is the contract on the wire.

use acikkapi::testing::TestNode;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, ReflectMessage, Value};
use std::collections::BTreeSet;
use tokio_stream::StreamExt;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

pub struct Generic {
    channel: Channel,
    pool: DescriptorPool,
    bearer: Option<String>,
}

impl Generic {
    /// Learns every service the node lists over reflection v1, with the
    /// files they need, and calls with `token` (a bearer JWT) if given.
    pub async fn connect(n: &TestNode, token: Option<String>) -> Generic {
        let channel = n.channel().await;
        let mut reflection = ServerReflectionClient::new(channel.clone());
        let services = match ask(&mut reflection, MessageRequest::ListServices(String::new()))
            .await
            .message_response
        {
            Some(MessageResponse::ListServicesResponse(l)) => l.service,
            other => panic!("list services: {other:?}"),
        };
        let mut files: Vec<prost_types::FileDescriptorProto> = Vec::new();
        let mut wanted: Vec<MessageRequest> = services
            .iter()
            .map(|s| MessageRequest::FileContainingSymbol(s.name.clone()))
            .collect();
        let mut asked = BTreeSet::new();
        // Each answer may name dependencies not yet known: ask for them by
        // file name, as grpcurl does.
        while let Some(request) = wanted.pop() {
            let answer = ask(&mut reflection, request).await;
            let Some(MessageResponse::FileDescriptorResponse(f)) = answer.message_response else {
                panic!("file descriptors: {answer:?}");
            };
            for bytes in f.file_descriptor_proto {
                let file = prost_types::FileDescriptorProto::decode(bytes.as_slice())
                    .expect("a file descriptor");
                asked.insert(file.name().to_owned());
                for dep in &file.dependency {
                    if asked.insert(dep.clone()) {
                        wanted.push(MessageRequest::FileByFilename(dep.clone()));
                    }
                }
                if !files.iter().any(|known| known.name() == file.name()) {
                    files.push(file);
                }
            }
        }
        let mut pool = DescriptorPool::new();
        // A file goes in once everything it imports is in.
        while !files.is_empty() {
            let ready = files
                .iter()
                .position(|f| {
                    f.dependency
                        .iter()
                        .all(|d| pool.get_file_by_name(d).is_some())
                })
                .expect("reflection gave every imported file");
            pool.add_file_descriptor_proto(files.remove(ready))
                .expect("a valid file");
        }
        Generic {
            channel,
            pool,
            bearer: token,
        }
    }

    /// Calls `method` ("acikkapi.v1.IntakeService/SubmitApplication")
    /// with the request written as proto3 JSON.
    pub async fn call(
        &self,
        method: &str,
        request: serde_json::Value,
    ) -> Result<DynamicMessage, tonic::Status> {
        let (service, name) = method.split_once('/').expect("Service/Method");
        let m = self
            .pool
            .get_service_by_name(service)
            .unwrap_or_else(|| panic!("reflection lists no {service}"))
            .methods()
            .find(|m| m.name() == name)
            .unwrap_or_else(|| panic!("{service} has no {name}"));
        let msg = DynamicMessage::deserialize(m.input(), request)
            .unwrap_or_else(|e| panic!("{method}: the JSON is not its request: {e}"));
        let mut req = tonic::Request::new(msg);
        if let Some(t) = &self.bearer {
            req.metadata_mut().insert(
                "authorization",
                format!("Bearer {t}").parse().expect("header text"),
            );
        }
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let path = format!("/{method}").parse().expect("a method path");
        grpc.unary(req, path, Dynamic(m.output()))
            .await
            .map(tonic::Response::into_inner)
    }

    /// The message `message_name` as JSON a caller could have written,
    /// from a message of the same shape (a fixture).
    pub fn json_of(&self, message_name: &str, m: &impl Message) -> serde_json::Value {
        let d = self
            .pool
            .get_message_by_name(message_name)
            .unwrap_or_else(|| panic!("no message {message_name}"));
        let dynamic = DynamicMessage::decode(d, m.encode_to_vec().as_slice()).expect("same shape");
        serde_json::to_value(&dynamic).expect("JSON")
    }
}

async fn ask(
    c: &mut ServerReflectionClient<Channel>,
    request: MessageRequest,
) -> ServerReflectionResponse {
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    c.server_reflection_info(tokio_stream::iter([req]))
        .await
        .expect("reflection")
        .into_inner()
        .next()
        .await
        .expect("an answer")
        .expect("a good answer")
}

/// A field of an answer, by its proto name.
pub fn field(m: &DynamicMessage, name: &str) -> Value {
    m.get_field_by_name(name)
        .unwrap_or_else(|| panic!("{} has no field {name}", m.descriptor().full_name()))
        .into_owned()
}

pub fn string(m: &DynamicMessage, name: &str) -> String {
    field(m, name).as_str().expect("a string").to_owned()
}

/// A `google.protobuf.Timestamp` field in milliseconds; `None` when unset.
pub fn millis(m: &DynamicMessage, name: &str) -> Option<i64> {
    if !m.has_field_by_name(name) {
        return None;
    }
    let t = field(m, name);
    let t = t.as_message().expect("a timestamp");
    let seconds = field(t, "seconds").as_i64().expect("seconds");
    let nanos = field(t, "nanos").as_i32().expect("nanos");
    Some(seconds * 1000 + i64::from(nanos) / 1_000_000)
}

/// The messages of a repeated field.
pub fn messages(m: &DynamicMessage, name: &str) -> Vec<DynamicMessage> {
    field(m, name)
        .as_list()
        .expect("a repeated field")
        .iter()
        .map(|v| v.as_message().expect("a message").clone())
        .collect()
}

/// Encodes and decodes dynamic messages of the method's types.
struct Dynamic(MessageDescriptor);

impl Codec for Dynamic {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = Dynamic;
    type Decoder = Dynamic;

    fn encoder(&mut self) -> Self::Encoder {
        Dynamic(self.0.clone())
    }

    fn decoder(&mut self) -> Self::Decoder {
        Dynamic(self.0.clone())
    }
}

impl Encoder for Dynamic {
    type Item = DynamicMessage;
    type Error = tonic::Status;

    fn encode(&mut self, item: DynamicMessage, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        item.encode(dst)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl Decoder for Dynamic {
    type Item = DynamicMessage;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Self::Error> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}
