//! Structured query keys (`["cases", "list", {"status": "open"}]`), their
//! deterministic hash, and prefix matching for invalidation.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

/// One element of a query key: JSON-like, with maps kept sorted so two keys
/// built in different orders are the same key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KeyPart {
    /// `null`: an absent filter.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// Text.
    Str(String),
    /// An ordered list.
    List(Vec<KeyPart>),
    /// Named fields, sorted by name.
    Map(BTreeMap<String, KeyPart>),
}

impl From<&str> for KeyPart {
    fn from(s: &str) -> Self {
        KeyPart::Str(s.to_string())
    }
}
impl From<String> for KeyPart {
    fn from(s: String) -> Self {
        KeyPart::Str(s)
    }
}
impl From<i64> for KeyPart {
    fn from(n: i64) -> Self {
        KeyPart::Int(n)
    }
}
impl From<bool> for KeyPart {
    fn from(b: bool) -> Self {
        KeyPart::Bool(b)
    }
}
impl<T: Into<KeyPart>> From<Option<T>> for KeyPart {
    fn from(v: Option<T>) -> Self {
        v.map_or(KeyPart::Null, Into::into)
    }
}

impl KeyPart {
    /// A map part from `(name, value)` pairs; `Null` values are left out, so
    /// "no filter" and "filter absent" are the same key.
    pub fn map<K, V, I>(fields: I) -> KeyPart
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<KeyPart>,
    {
        KeyPart::Map(
            fields
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .filter(|(_, v)| *v != KeyPart::Null)
                .collect(),
        )
    }

    /// Whether `self` (from a key) matches `pattern` (from a filter): equal
    /// scalars, list prefixes, and maps whose every field in `pattern` matches
    /// (TanStack's partial matching).
    pub fn matches(&self, pattern: &KeyPart) -> bool {
        match (self, pattern) {
            (KeyPart::Map(have), KeyPart::Map(want)) => want
                .iter()
                .all(|(k, v)| have.get(k).is_some_and(|h| h.matches(v))),
            (KeyPart::List(have), KeyPart::List(want)) => {
                want.len() <= have.len() && have.iter().zip(want).all(|(h, w)| h.matches(w))
            }
            _ => self == pattern,
        }
    }

    fn write_canonical(&self, out: &mut String) {
        match self {
            KeyPart::Null => out.push_str("null"),
            KeyPart::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            KeyPart::Int(n) => {
                let _ = write!(out, "{n}");
            }
            KeyPart::Str(s) => write_json_string(s, out),
            KeyPart::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_canonical(out);
                }
                out.push(']');
            }
            KeyPart::Map(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(k, out);
                    out.push(':');
                    v.write_canonical(out);
                }
                out.push('}');
            }
        }
    }
}

fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            // JSON.stringify's short escapes, so hashes equal TanStack's.
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A query key: a list of parts, most general first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QueryKey(pub Vec<KeyPart>);

/// The canonical text of a key: JSON with sorted map fields. Equal keys have
/// equal hashes and different keys different ones, across runs and builds
/// (it is also the persisted form).
pub type KeyHash = String;

impl QueryKey {
    /// A key from its parts.
    pub fn new<I, P>(parts: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<KeyPart>,
    {
        QueryKey(parts.into_iter().map(Into::into).collect())
    }

    /// This key with one more part.
    pub fn with(mut self, part: impl Into<KeyPart>) -> Self {
        self.0.push(part.into());
        self
    }

    /// The canonical hash.
    pub fn hash_key(&self) -> KeyHash {
        let mut out = String::with_capacity(16 * self.0.len() + 2);
        out.push('[');
        for (i, part) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            part.write_canonical(&mut out);
        }
        out.push(']');
        out
    }

    /// Whether this key starts with `prefix` (partially matching maps).
    pub fn starts_with(&self, prefix: &QueryKey) -> bool {
        prefix.0.len() <= self.0.len() && self.0.iter().zip(&prefix.0).all(|(k, p)| k.matches(p))
    }

    /// The first part as text, used to group metrics (`"cases"`).
    pub fn prefix_label(&self) -> &str {
        match self.0.first() {
            Some(KeyPart::Str(s)) => s,
            _ => "other",
        }
    }
}

/// Builds a [`QueryKey`] from parts: `query_key!["cases", id]`.
#[macro_export]
macro_rules! query_key {
    ($($part:expr),* $(,)?) => {
        $crate::query::QueryKey(vec![$($crate::query::KeyPart::from($part)),*])
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list_key(status: Option<&str>, q: Option<&str>) -> QueryKey {
        QueryKey::new(["cases", "list"]).with(KeyPart::map([("status", status), ("q", q)]))
    }

    #[test]
    fn hash_is_canonical_json_with_sorted_fields() {
        let a = QueryKey::new(["cases"]).with(KeyPart::map([("b", 2i64), ("a", 1i64)]));
        let b = QueryKey::new(["cases"]).with(KeyPart::map([("a", 1i64), ("b", 2i64)]));
        assert_eq!(a.hash_key(), r#"["cases",{"a":1,"b":2}]"#);
        assert_eq!(a.hash_key(), b.hash_key());
    }

    #[test]
    fn absent_filters_are_left_out_of_the_key() {
        assert_eq!(list_key(None, None).hash_key(), r#"["cases","list",{}]"#);
        assert_eq!(
            list_key(Some("open"), None).hash_key(),
            r#"["cases","list",{"status":"open"}]"#
        );
    }

    #[test]
    fn strings_are_escaped_so_keys_cannot_collide() {
        let tricky = QueryKey::new([r#"a","b"#]);
        let two = QueryKey::new(["a", "b"]);
        assert_ne!(tricky.hash_key(), two.hash_key());
        // As JSON.stringify writes it (TanStack's hash).
        assert_eq!(QueryKey::new(["\n\u{1}"]).hash_key(), r#"["\n\u0001"]"#);
    }

    #[test]
    fn prefixes_match_by_parts_and_partial_maps() {
        let open = list_key(Some("open"), Some("rent"));
        assert!(open.starts_with(&QueryKey::new(["cases"])));
        assert!(open.starts_with(&QueryKey::new(["cases", "list"])));
        assert!(open.starts_with(&list_key(Some("open"), None)));
        assert!(!open.starts_with(&list_key(Some("closed"), None)));
        assert!(!open.starts_with(&QueryKey::new(["dashboard"])));
        assert!(!QueryKey::new(["cases"]).starts_with(&QueryKey::new(["cases", "list"])));
        assert!(open.starts_with(&QueryKey(vec![])));
    }

    #[test]
    fn the_macro_builds_keys() {
        let id = "abc".to_string();
        assert_eq!(
            query_key!["cases", id.clone()],
            QueryKey::new(["cases", "abc"])
        );
        assert_eq!(query_key!["page", 3i64].hash_key(), r#"["page",3]"#);
    }

    fn part() -> impl Strategy<Value = KeyPart> {
        let leaf = prop_oneof![
            Just(KeyPart::Null),
            any::<bool>().prop_map(KeyPart::Bool),
            any::<i64>().prop_map(KeyPart::Int),
            ".{0,8}".prop_map(KeyPart::Str),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(KeyPart::List),
                prop::collection::btree_map(".{0,4}", inner, 0..4).prop_map(KeyPart::Map),
            ]
        })
    }

    proptest! {
        #[test]
        fn equal_hashes_mean_equal_keys(a in prop::collection::vec(part(), 0..4), b in prop::collection::vec(part(), 0..4)) {
            let (a, b) = (QueryKey(a), QueryKey(b));
            prop_assert_eq!(a.hash_key() == b.hash_key(), a == b);
        }

        #[test]
        fn every_key_starts_with_its_own_prefixes(parts in prop::collection::vec(part(), 0..5), cut in 0usize..5) {
            let key = QueryKey(parts.clone());
            let prefix = QueryKey(parts.into_iter().take(cut).collect());
            prop_assert!(key.starts_with(&prefix));
        }
    }
}
