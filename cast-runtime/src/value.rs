//! Value types generated argument types are made of, beyond what serde and std give.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value the schema lets be an explicit `null`. Unlike `Option`, `null` is kept, so an
/// optional nullable argument can be absent (`None`), `null` (`Some(Nullable::Null)`) or a
/// value, and each is sent upstream as given.
#[derive(Debug, Clone, PartialEq)]
pub enum Nullable<T> {
    /// `null`.
    Null,
    /// A value.
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nullable<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(deserializer)?.map_or(Self::Null, Self::Value))
    }
}

impl<T: Serialize> Serialize for Nullable<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => serializer.serialize_none(),
            Self::Value(value) => value.serialize(serializer),
        }
    }
}

/// `deserialize_with` for optional fields whose value may be `null`: a present `null` is
/// `Some(Nullable::Null)`, where serde's `Option` would make it `None`.
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Args {
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
        note: Option<Nullable<String>>,
    }

    #[test]
    fn absent_null_and_value_stay_apart() {
        let read = |text: &str| serde_json::from_str::<Args>(text).expect("valid");
        assert_eq!(read("{}").note, None);
        assert_eq!(read(r#"{"note":null}"#).note, Some(Nullable::Null));
        assert_eq!(read(r#"{"note":"x"}"#).note, Some(Nullable::Value("x".into())));
        for text in ["{}", r#"{"note":null}"#, r#"{"note":"x"}"#] {
            assert_eq!(serde_json::to_string(&read(text)).expect("serializes"), text);
        }
    }
}
