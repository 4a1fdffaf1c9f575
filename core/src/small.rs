//! Small helpers for the service worker's rules, in place of `core::fmt`
//! and the standard library's sorts: in the worker's wasm each of those
//! weighs kilobytes (SPEC §9 budgets the whole worker at 15 KB), and the
//! worker only formats a few numbers and sorts short, nearly sorted lists.

use alloc::string::String;

/// `n` in decimal.
pub fn decimal(n: u64) -> String {
    itoa::Buffer::new().format(n).into()
}

/// `n` in decimal, zero-padded on the left to at least `width` digits.
pub fn padded(n: u64, width: usize) -> String {
    let digits = decimal(n);
    let mut out = String::with_capacity(width.max(digits.len()));
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(&digits);
    out
}

/// Sorts `items` so that no item is `before` the one ahead of it; stable.
/// An insertion sort: linear on the nearly sorted lists the worker has (a
/// build's paths, cache entries by time, queue records read in key order),
/// quadratic only on lists it never holds.
pub fn sort_by<T>(items: &mut [T], mut before: impl FnMut(&T, &T) -> bool) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && before(&items[j], &items[j - 1]) {
            items.swap(j, j - 1);
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn numbers_read_as_the_standard_formatting_writes_them() {
        assert_eq!(decimal(0), "0");
        assert_eq!(decimal(u64::MAX), u64::MAX.to_string());
        assert_eq!(padded(42, 5), "00042");
        assert_eq!(padded(123_456, 3), "123456");
    }

    proptest! {
        #[test]
        fn padded_matches_the_standard_zero_padding(n: u64, width in 0usize..25) {
            prop_assert_eq!(padded(n, width), format!("{n:0width$}"));
        }

        #[test]
        fn sorts_like_the_standard_stable_sort(mut v in proptest::collection::vec((0u8..8, any::<u16>()), 0..60)) {
            let mut expected = v.clone();
            expected.sort_by_key(|(k, _)| *k);
            sort_by(&mut v, |a, b| a.0 < b.0);
            prop_assert_eq!(v, expected);
        }
    }
}
