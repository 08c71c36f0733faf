//! Values as path, query, header and cookie parameters: their text before styling.

use serde::Serialize;

/// A parameter value as the upstream will see it, before styling.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamText {
    /// Not given (an absent optional parameter).
    Absent,
    /// One value.
    One(String),
    /// An array's items.
    Many(Vec<String>),
    /// An object's properties, in order (nested values as JSON text).
    Pairs(Vec<(String, String)>),
}

/// Types that can be sent as path, query or header parameters.
pub trait ParamValue {
    /// The textual form of the value.
    fn param_text(&self) -> ParamText;
}

macro_rules! display_param {
    ($($ty:ty),*) => {$(
        impl ParamValue for $ty {
            fn param_text(&self) -> ParamText {
                ParamText::One(self.to_string())
            }
        }
    )*};
}
display_param!(String, str, bool, i32, i64, u32, u64, f32, f64, serde_json::Number);

impl<T: ParamValue + ?Sized> ParamValue for &T {
    fn param_text(&self) -> ParamText {
        (**self).param_text()
    }
}

impl<T: ParamValue> ParamValue for Option<T> {
    fn param_text(&self) -> ParamText {
        self.as_ref().map_or(ParamText::Absent, ParamValue::param_text)
    }
}

impl<T: ParamValue> ParamValue for crate::value::Nullable<T> {
    fn param_text(&self) -> ParamText {
        match self {
            Self::Null => ParamText::Absent,
            Self::Value(value) => value.param_text(),
        }
    }
}

impl<T: Serialize> ParamValue for indexmap::IndexMap<String, T> {
    fn param_text(&self) -> ParamText {
        param_text_of(self)
    }
}

/// The parameter text of a generated type: as its JSON value would be sent.
pub fn param_text_of<T: Serialize>(value: &T) -> ParamText {
    serde_json::to_value(value).map_or(ParamText::Absent, |value| value.param_text())
}

impl<T: ParamValue> ParamValue for Vec<T> {
    fn param_text(&self) -> ParamText {
        ParamText::Many(
            self.iter()
                .flat_map(|item| match item.param_text() {
                    ParamText::Absent => Vec::new(),
                    ParamText::One(text) => vec![text],
                    ParamText::Many(texts) => texts,
                    ParamText::Pairs(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
                })
                .collect(),
        )
    }
}

impl ParamValue for serde_json::Value {
    fn param_text(&self) -> ParamText {
        use serde_json::Value;
        match self {
            Value::Null => ParamText::Absent,
            Value::String(s) => ParamText::One(s.clone()),
            Value::Array(items) => items.param_text(),
            Value::Object(map) => ParamText::Pairs(
                map.iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                    .collect(),
            ),
            other => ParamText::One(other.to_string()),
        }
    }
}
