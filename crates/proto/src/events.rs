//! The platform's events, typed: one [`EventKind`] and one [`Event`]
//! variant per message of `events.proto`. The bus carries the kind's name
//! (its routing key) and the encoded message; everything else names a kind
//! through this enum, so a misspelt kind does not build.

use crate::v1;
use prost::Message;

macro_rules! events {
    ($($name:ident),* $(,)?) => {
        /// Which event: the message name of `events.proto`, which is also
        /// its routing key on the bus.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventKind {
            $($name),*
        }

        impl EventKind {
            pub const ALL: &'static [EventKind] = &[$(EventKind::$name),*];

            /// The name on the bus and in the outbox (usable in `const`
            /// lists of the kinds a queue binds).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$name => stringify!($name)),*
                }
            }

            pub fn parse(name: &str) -> Option<Self> {
                match name {
                    $(stringify!($name) => Some(EventKind::$name),)*
                    _ => None,
                }
            }
        }

        /// An event, decoded.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $($name(v1::$name)),*
        }

        impl Event {
            pub fn kind(&self) -> EventKind {
                match self {
                    $(Event::$name(_) => EventKind::$name),*
                }
            }

            /// The payload as the outbox stores it and the bus carries it.
            pub fn encode_to_vec(&self) -> Vec<u8> {
                match self {
                    $(Event::$name(m) => m.encode_to_vec()),*
                }
            }

            /// The event named `kind` from its payload.
            pub fn decode(kind: &str, payload: &[u8]) -> Result<Self, DecodeError> {
                match EventKind::parse(kind) {
                    $(Some(EventKind::$name) => v1::$name::decode(payload)
                        .map(Event::$name)
                        .map_err(|e| DecodeError::Payload(kind.to_owned(), e)),)*
                    None => Err(DecodeError::UnknownKind(kind.to_owned())),
                }
            }
        }

        $(
            impl From<v1::$name> for Event {
                fn from(m: v1::$name) -> Self {
                    Event::$name(m)
                }
            }
        )*
    };
}

events!(
    ApplicationReceived,
    ApplicationNoteAdded,
    PersonalDataErased,
    ApplicationRouted,
    ApplicationTransferred,
    ApplicationReclassified,
    UnitResponded,
    ApplicationConcluded,
    ApplicationReopened,
    ApplicationEscalated,
    SmsSent,
    SlaConcluded,
    SlaDeadlineChanged,
    SurveyAnswered,
);

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an event could not be read: never retried (the same bytes will not
/// decode later), so consumers dead-letter it.
#[derive(Debug)]
pub enum DecodeError {
    UnknownKind(String),
    Payload(String, prost::DecodeError),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::UnknownKind(k) => write!(f, "unknown event kind {k:?}"),
            DecodeError::Payload(k, e) => write!(f, "{k}: {e}"),
        }
    }
}

impl std::error::Error for DecodeError {}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::FileDescriptorSet;

    /// Every message of events.proto has its variant, and no other.
    #[test]
    fn every_message_of_events_proto_is_a_kind() {
        let fds = FileDescriptorSet::decode(crate::FILE_DESCRIPTOR_SET).unwrap();
        let mut in_proto: Vec<String> = fds
            .file
            .iter()
            .filter(|f| f.name().ends_with("events.proto"))
            .flat_map(|f| f.message_type.iter().map(|m| m.name().to_owned()))
            .collect();
        in_proto.sort();
        let mut kinds: Vec<String> = EventKind::ALL.iter().map(|k| k.to_string()).collect();
        kinds.sort();
        assert_eq!(kinds, in_proto);
    }

    #[test]
    fn an_event_round_trips_and_a_stranger_is_refused() {
        let e = Event::from(v1::SmsSent {
            application_number: "202600000001".into(),
            message_id: "m1".into(),
            ..Default::default()
        });
        let back = Event::decode(e.kind().as_str(), &e.encode_to_vec()).unwrap();
        assert_eq!(back, e);
        assert!(matches!(
            Event::decode("Nope", b""),
            Err(DecodeError::UnknownKind(_))
        ));
        assert!(matches!(
            Event::decode("SmsSent", b"\xff\xff\xff"),
            Err(DecodeError::Payload(..))
        ));
    }
}
