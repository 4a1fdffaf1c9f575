//! What one observer shows: the cache's data, or while a new key loads, the
//! previous key's data (keep-previous-data) or placeholder data.

/// Where the data an observer shows comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataSource {
    /// The cache's data for the current key.
    Cache,
    /// The previous key's data, kept while the new key loads.
    Previous,
    /// The observer's placeholder, shown while the key loads.
    Placeholder,
    /// Nothing to show yet.
    Nothing,
}

/// Chooses what to show: the cache's data first; otherwise the previous
/// key's data when `keep_previous` is on; otherwise the placeholder.
pub fn pick_data<'a, D>(
    cached: Option<&'a D>,
    previous: Option<&'a D>,
    placeholder: Option<&'a D>,
    keep_previous: bool,
) -> (Option<&'a D>, DataSource) {
    match (cached, previous.filter(|_| keep_previous), placeholder) {
        (Some(d), _, _) => (Some(d), DataSource::Cache),
        (None, Some(d), _) => (Some(d), DataSource::Previous),
        (None, None, Some(d)) => (Some(d), DataSource::Placeholder),
        (None, None, None) => (None, DataSource::Nothing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_data_wins() {
        assert_eq!(
            pick_data(Some(&1), Some(&2), Some(&3), true),
            (Some(&1), DataSource::Cache)
        );
    }

    #[test]
    fn previous_data_only_when_asked() {
        assert_eq!(
            pick_data(None, Some(&2), Some(&3), true),
            (Some(&2), DataSource::Previous)
        );
        assert_eq!(
            pick_data(None, Some(&2), Some(&3), false),
            (Some(&3), DataSource::Placeholder)
        );
        assert_eq!(
            pick_data::<i32>(None, Some(&2), None, false),
            (None, DataSource::Nothing)
        );
    }
}
