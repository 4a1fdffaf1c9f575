//! `packages/query-core/src/__tests__/utils.test.tsx`: key hashing
//! (`hashKey`) and partial matching (`partialMatchKey`).

use crate::query::*;
use std::collections::BTreeMap;

fn map(fields: &[(&str, KeyPart)]) -> KeyPart {
    KeyPart::Map(
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn list(items: &[KeyPart]) -> KeyPart {
    KeyPart::List(items.to_vec())
}

fn s(v: &str) -> KeyPart {
    KeyPart::Str(v.into())
}

fn n(v: i64) -> KeyPart {
    KeyPart::Int(v)
}

/// `partialMatchKey(a, b)`: does key `a` match filter `b`?
fn partial(a: KeyPart, b: KeyPart) -> bool {
    QueryKey(vec![a]).starts_with(&QueryKey(vec![b]))
}

/// "should use default hash function when no options provided"
#[test]
fn should_use_default_hash_function_when_no_options_provided() {
    let k = QueryKey(vec![s("test"), map(&[("a", n(1)), ("b", n(2))])]);
    assert_eq!(k.hash_key(), r#"["test",{"a":1,"b":2}]"#);
}

/// "should return `true` if a includes b"
#[test]
fn should_return_true_if_a_includes_b() {
    let a = map(&[
        ("a", map(&[("b", s("b"))])),
        ("c", s("c")),
        ("d", list(&[map(&[("d", s("d"))])])),
    ]);
    let b = map(&[
        ("a", map(&[("b", s("b"))])),
        ("c", s("c")),
        ("d", list(&[])),
    ]);
    assert!(partial(a, b));
}

/// "should return `false` if a does not include b"
#[test]
fn should_return_false_if_a_does_not_include_b() {
    let a = map(&[
        ("a", map(&[("b", s("b"))])),
        ("c", s("c")),
        ("d", list(&[])),
    ]);
    let b = map(&[
        ("a", map(&[("b", s("b"))])),
        ("c", s("c")),
        ("d", list(&[map(&[("d", s("d"))])])),
    ]);
    assert!(!partial(a, b));
}

/// "should return `true` if array a includes array b"
#[test]
fn should_return_true_if_array_a_includes_array_b() {
    assert!(partial(list(&[n(1), n(2), n(3)]), list(&[n(1), n(2)])));
}

/// "should return `false` if a is null and b is not"
#[test]
fn should_return_false_if_a_is_null_and_b_is_not() {
    let b = map(&[
        ("a", map(&[("b", s("b"))])),
        ("c", s("c")),
        ("d", list(&[])),
    ]);
    assert!(!partial(KeyPart::Null, b));
}

/// "should return `false` if a contains null and b is not"
#[test]
fn should_return_false_if_a_contains_null_and_b_is_not() {
    let a = map(&[("a", KeyPart::Null), ("c", s("c")), ("d", list(&[]))]);
    let b = map(&[
        ("a", map(&[("b", s("b"))])),
        ("c", s("c")),
        ("d", list(&[])),
    ]);
    assert!(!partial(a, b));
}

/// "should return `false` if b is null and a is not"
#[test]
fn should_return_false_if_b_is_null_and_a_is_not() {
    let a = map(&[
        ("a", map(&[("b", s("b"))])),
        ("c", s("c")),
        ("d", list(&[])),
    ]);
    assert!(!partial(a, KeyPart::Null));
}

/// "should return `false` if b contains null and a is not"
#[test]
fn should_return_false_if_b_contains_null_and_a_is_not() {
    let a = map(&[
        ("a", map(&[("b", s("b"))])),
        ("c", s("c")),
        ("d", list(&[])),
    ]);
    let b = map(&[("a", KeyPart::Null), ("c", s("c")), ("d", list(&[]))]);
    assert!(!partial(a, b));
}

/// "should treat undefined object properties as matching missing properties"
/// (`KeyPart::map` leaves absent, `None`, fields out)
#[test]
fn should_treat_undefined_object_properties_as_matching_missing_properties() {
    let a = KeyPart::map([("a", KeyPart::from(1i64))]);
    let b = KeyPart::map([("a", Some(1i64)), ("b", None)]);
    assert!(partial(a.clone(), b));
    assert!(partial(a, KeyPart::map([("b", None::<i64>)])));
}

/// "should hash primitives correctly"
#[test]
fn should_hash_primitives_correctly() {
    let h = |p: KeyPart| QueryKey(vec![p]).hash_key();
    assert_eq!(h(s("test")), r#"["test"]"#);
    assert_eq!(h(n(123)), "[123]");
    assert_eq!(h(n(-7)), "[-7]");
    assert_eq!(h(KeyPart::Bool(true)), "[true]");
    assert_eq!(h(KeyPart::Null), "[null]");
    // As JSON.stringify writes them.
    assert_eq!(h(s("a\"b\\c\nd\te\u{1}")), r#"["a\"b\\c\nd\te\u0001"]"#);
}

/// "should hash objects with sorted keys consistently"
#[test]
fn should_hash_objects_with_sorted_keys_consistently() {
    let one = QueryKey(vec![map(&[("b", n(2)), ("a", n(1))])]);
    let two = QueryKey(vec![map(&[("a", n(1)), ("b", n(2))])]);
    assert_eq!(one.hash_key(), r#"[{"a":1,"b":2}]"#);
    assert_eq!(one.hash_key(), two.hash_key());
}

/// "should hash arrays consistently"
#[test]
fn should_hash_arrays_consistently() {
    let k = QueryKey(vec![s("test"), list(&[n(1), n(2), n(3)])]);
    assert_eq!(k.hash_key(), r#"["test",[1,2,3]]"#);
}

/// "should handle nested objects with sorted keys"
#[test]
fn should_handle_nested_objects_with_sorted_keys() {
    let one = QueryKey(vec![map(&[
        ("a", map(&[("d", n(3)), ("c", n(2))])),
        ("b", n(1)),
    ])]);
    assert_eq!(one.hash_key(), r#"[{"a":{"c":2,"d":3},"b":1}]"#);
}

/// "should hash undefined object properties the same as missing properties"
#[test]
fn should_hash_undefined_object_properties_the_same_as_missing_properties() {
    let with_none = QueryKey(vec![KeyPart::map([("a", Some(1i64)), ("b", None)])]);
    let without = QueryKey(vec![KeyPart::map([("a", Some(1i64))])]);
    assert_eq!(with_none.hash_key(), without.hash_key());
}
