//! The case list as the device shows it (SPEC §7): search by title, filter
//! by status and priority, sort, and page, over every case this device
//! knows. Pure and allocation-light, so 10,000 cases filter and sort well
//! within one frame.

use crate::api::{Case, CaseStatus, Priority};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

/// Rows shown per page.
pub const PAGE_SIZE: usize = 50;

/// One case in the list: what the table shows, plus the lower-cased title
/// that search compares against (computed once, not per keystroke).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRow {
    /// The case's fields.
    pub case: Case,
    /// Events this device has not yet delivered.
    pub pending: usize,
    folded: String,
    order: String,
}

impl CaseRow {
    /// A row for `case` with `pending` undelivered events.
    pub fn new(case: Case, pending: usize) -> Self {
        let folded = case.title.to_lowercase();
        let order = natural_key(&folded);
        CaseRow {
            case,
            pending,
            folded,
            order,
        }
    }
}

/// The order of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Most recently updated first.
    #[default]
    Updated,
    /// Most urgent first, then most recently updated.
    Priority,
    /// Title A → Z, ignoring case.
    Title,
}

impl SortKey {
    /// Every order, as offered in the list.
    pub const ALL: [SortKey; 3] = [SortKey::Updated, SortKey::Priority, SortKey::Title];

    /// The name used in URLs and forms.
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Updated => "updated",
            SortKey::Priority => "priority",
            SortKey::Title => "title",
        }
    }

    /// The label shown to the person.
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Updated => "Recently updated",
            SortKey::Priority => "Most urgent",
            SortKey::Title => "Title A–Z",
        }
    }

    /// Reads [`as_str`](Self::as_str)'s form.
    pub fn parse(s: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What the person asked the list for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListQuery {
    /// Words the title must contain (ignoring case); blank matches all.
    pub q: String,
    /// Only this status.
    pub status: Option<CaseStatus>,
    /// Only this priority.
    pub priority: Option<Priority>,
    /// The order.
    pub sort: SortKey,
}

/// The positions in `rows` of the live cases that match `query`, in its
/// order. Deleted cases never show. Ties fall back to the case id, so the
/// order is total and the same on every device.
pub fn select(rows: &[CaseRow], query: &ListQuery) -> Vec<usize> {
    let needle = query.q.trim().to_lowercase();
    let mut hits: Vec<usize> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            !r.case.deleted
                && query.status.is_none_or(|s| r.case.status == s)
                && query.priority.is_none_or(|p| r.case.priority == p)
                && (needle.is_empty() || r.folded.contains(&needle))
        })
        .map(|(i, _)| i)
        .collect();
    let by = |a: &CaseRow, b: &CaseRow| -> Ordering {
        let recent = b.case.updated_at.cmp(&a.case.updated_at);
        match query.sort {
            SortKey::Updated => recent,
            SortKey::Priority => b.case.priority.cmp(&a.case.priority).then(recent),
            SortKey::Title => a.order.cmp(&b.order),
        }
        .then_with(|| a.case.id.cmp(&b.case.id))
    };
    hits.sort_unstable_by(|&a, &b| by(&rows[a], &rows[b]));
    hits
}

/// A title's sort key: numbers compare by value ("#998" before "#1000"),
/// computed once per row so sorting stays a plain string comparison.
fn natural_key(folded: &str) -> String {
    const WIDTH: usize = 20;
    let mut key = String::with_capacity(folded.len() + WIDTH);
    let mut digits = String::new();
    let flush = |digits: &mut String, key: &mut String| {
        let trimmed = digits.trim_start_matches('0');
        let trimmed = if trimmed.is_empty() && !digits.is_empty() {
            "0"
        } else {
            trimmed
        };
        for _ in trimmed.len()..WIDTH {
            key.push('0');
        }
        key.push_str(trimmed);
        digits.clear();
    };
    for c in folded.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            if !digits.is_empty() {
                flush(&mut digits, &mut key);
            }
            key.push(c);
        }
    }
    if !digits.is_empty() {
        flush(&mut digits, &mut key);
    }
    key
}

/// More changed cases than this and the whole list is read again in one go.
pub const REBUILD_OVER: usize = 300;

/// Every case the device knows, as list rows, and what must be read again
/// to keep them current: the cases whose events changed, plus those whose
/// writes were or are waiting (their badges and rollbacks). The adapter
/// reads what [`plan`](Self::plan) asks and hands the rows to
/// [`apply`](Self::apply).
#[derive(Debug, Default)]
pub struct CaseIndex {
    rows: std::rc::Rc<Vec<CaseRow>>,
    built: bool,
    dirty: HashSet<String>,
    waiting: HashSet<String>,
}

/// What to read for the next refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// Nothing (the list is current, or the server's list stands in).
    Nothing,
    /// Every case.
    Whole,
    /// These cases.
    Some(Vec<String>),
}

impl CaseIndex {
    /// The rows, once built (cheap to clone).
    pub fn rows(&self) -> Option<std::rc::Rc<Vec<CaseRow>>> {
        self.built.then(|| self.rows.clone())
    }

    /// Notes cases whose events changed.
    pub fn touch<'a>(&mut self, ids: impl IntoIterator<Item = &'a String>) {
        self.dirty.extend(ids.into_iter().cloned());
    }

    /// What to read, given the cases waiting now. Before the device's first
    /// catch-up is complete (`filling`) the server's list stands in, unless
    /// the device has writes of its own to show.
    pub fn plan(&mut self, filling: bool, waiting_now: &HashSet<String>) -> Refresh {
        if !self.built && filling && waiting_now.is_empty() {
            return Refresh::Nothing;
        }
        let mut ids = std::mem::take(&mut self.dirty);
        ids.extend(waiting_now.iter().cloned());
        ids.extend(self.waiting.iter().cloned());
        if !self.built || ids.len() > REBUILD_OVER {
            Refresh::Whole
        } else if ids.is_empty() {
            Refresh::Nothing
        } else {
            let mut ids: Vec<String> = ids.into_iter().collect();
            ids.sort();
            Refresh::Some(ids)
        }
    }

    /// Takes in what `plan` asked for: `fresh` rows for every case read (a
    /// case read but not returned had every event rolled back, and goes).
    pub fn apply(&mut self, plan: &Refresh, fresh: Vec<CaseRow>, waiting_now: HashSet<String>) {
        match plan {
            Refresh::Nothing => return,
            Refresh::Whole => self.rows = std::rc::Rc::new(fresh),
            Refresh::Some(read) => {
                let rows = std::rc::Rc::make_mut(&mut self.rows);
                let mut at: HashMap<String, usize> = rows
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (r.case.id.clone(), i))
                    .collect();
                let mut found = HashSet::new();
                for row in fresh {
                    found.insert(row.case.id.clone());
                    match at.get(&row.case.id) {
                        Some(&i) => rows[i] = row,
                        None => {
                            at.insert(row.case.id.clone(), rows.len());
                            rows.push(row);
                        }
                    }
                }
                rows.retain(|r| !read.contains(&r.case.id) || found.contains(&r.case.id));
            }
        }
        self.built = true;
        self.waiting = waiting_now;
    }
}

/// One page of a selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// The page shown, from 0 (clamped to the last page).
    pub index: usize,
    /// How many pages there are (at least 1).
    pub count: usize,
    /// The first position shown.
    pub start: usize,
    /// One past the last position shown.
    pub end: usize,
}

/// Page `index` of `total` matches, [`PAGE_SIZE`] per page; an index past
/// the end shows the last page (a filter that shrinks the list never leaves
/// the person on an empty page).
pub fn page(total: usize, index: usize) -> Page {
    let count = total.div_ceil(PAGE_SIZE).max(1);
    let index = index.min(count - 1);
    let start = index * PAGE_SIZE;
    Page {
        index,
        count,
        start,
        end: (start + PAGE_SIZE).min(total),
    }
}

/// Rows a [`Peek`] keeps: a screenful (a phone shows about 8, a laptop
/// about 15), not the whole page; painting fewer rows paints sooner, and
/// the app, which shows the page, replaces the peek within a tenth of a
/// second.
pub const PEEK_ROWS: usize = 20;

/// What a device keeps of the case list's first page, so that its next
/// start paints the list before the rest of the app has loaded (SPEC §11's
/// repeat visit). It holds only what a row shows, of at most a screenful of
/// cases: no description, no tags, no notes; and it names its user, so it
/// is never shown to anyone else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peek {
    /// Whose list it is.
    pub user: String,
    /// How many rows the page showed, and how many cases matched (its
    /// "Showing n of N" line).
    pub shown: usize,
    /// See `shown`.
    pub matches: usize,
    /// The rows, in the list's order.
    pub rows: Vec<PeekRow>,
}

/// One row of a [`Peek`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeekRow {
    /// The case id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its status.
    pub status: CaseStatus,
    /// Its priority.
    pub priority: Priority,
    /// Who works on it.
    pub assignee: Option<String>,
    /// When it last changed (ms).
    pub updated_at: i64,
    /// Changes of it not yet on the server.
    pub pending: usize,
}

impl Peek {
    /// Whether the list shown (its question, its page) is the one a peek
    /// keeps: the first page of the whole list, in its default order, which
    /// is what a start on the list shows.
    pub fn keeps(query: &ListQuery, page_index: usize) -> bool {
        page_index == 0 && *query == ListQuery::default()
    }

    /// The peek of `rows`, the first page of `user`'s unfiltered list.
    pub fn of(user: &str, matches: usize, rows: &[CaseRow]) -> Self {
        let kept = rows
            .iter()
            .take(PEEK_ROWS)
            .map(|r| PeekRow {
                id: r.case.id.clone(),
                title: r.case.title.clone(),
                status: r.case.status,
                priority: r.case.priority,
                assignee: r.case.assignee.clone(),
                updated_at: r.case.updated_at,
                pending: r.pending,
            })
            .collect();
        Peek {
            user: user.to_string(),
            shown: rows.len(),
            rows: kept,
            matches,
        }
    }

    /// The rows to paint for `user`: none when the peek is another
    /// person's, or holds more than a page (not one this app wrote).
    pub fn rows_for(self, user: &str) -> Option<Vec<CaseRow>> {
        let fits = self.rows.len() <= PEEK_ROWS.min(self.shown) && self.shown <= self.matches;
        if self.user != user || !fits {
            return None;
        }
        let rows = self
            .rows
            .into_iter()
            .map(|r| {
                let case = Case {
                    id: r.id,
                    title: r.title,
                    description: String::new(),
                    status: r.status,
                    priority: r.priority,
                    assignee: r.assignee,
                    tags: Vec::new(),
                    created_at: r.updated_at,
                    updated_at: r.updated_at,
                    version: 0,
                    deleted: false,
                };
                CaseRow::new(case, r.pending)
            })
            .collect();
        Some(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn case(id: &str, title: &str, status: CaseStatus, priority: Priority, at: i64) -> CaseRow {
        CaseRow::new(
            Case {
                id: id.into(),
                title: title.into(),
                description: String::new(),
                status,
                priority,
                assignee: None,
                tags: vec![],
                created_at: 0,
                updated_at: at,
                version: 1,
                deleted: false,
            },
            0,
        )
    }

    fn ids(rows: &[CaseRow], q: &ListQuery) -> Vec<String> {
        select(rows, q)
            .into_iter()
            .map(|i| rows[i].case.id.clone())
            .collect()
    }

    fn sample() -> Vec<CaseRow> {
        use CaseStatus::*;
        use Priority::*;
        vec![
            case("a", "Housing repair", Open, High, 30),
            case("b", "housing benefit", Closed, Low, 10),
            case("c", "Ärger mit Vermieter", Open, Critical, 20),
            case("d", "School place", InReview, High, 40),
        ]
    }

    #[test]
    fn search_ignores_case_and_surrounding_blanks() {
        let rows = sample();
        let q = ListQuery {
            q: "  HOUSING ".into(),
            ..ListQuery::default()
        };
        assert_eq!(ids(&rows, &q), ["a", "b"]);
        let q = ListQuery {
            q: "ärger".into(),
            ..ListQuery::default()
        };
        assert_eq!(ids(&rows, &q), ["c"], "non-ASCII titles fold too");
    }

    #[test]
    fn filters_combine_with_search() {
        let rows = sample();
        let q = ListQuery {
            q: "housing".into(),
            status: Some(CaseStatus::Open),
            ..ListQuery::default()
        };
        assert_eq!(ids(&rows, &q), ["a"]);
        let q = ListQuery {
            priority: Some(Priority::High),
            ..ListQuery::default()
        };
        assert_eq!(ids(&rows, &q), ["d", "a"]);
        let q = ListQuery {
            priority: Some(Priority::Medium),
            ..ListQuery::default()
        };
        assert!(ids(&rows, &q).is_empty());
    }

    #[test]
    fn each_sort_order() {
        let rows = sample();
        let sorted = |sort| {
            ids(
                &rows,
                &ListQuery {
                    sort,
                    ..ListQuery::default()
                },
            )
        };
        assert_eq!(sorted(SortKey::Updated), ["d", "a", "c", "b"]);
        assert_eq!(sorted(SortKey::Priority), ["c", "d", "a", "b"]);
        assert_eq!(sorted(SortKey::Title), ["b", "a", "d", "c"]);
    }

    #[test]
    fn titles_sort_numbers_by_value() {
        use CaseStatus::Open;
        use Priority::Low;
        let rows = vec![
            case("1", "Appeal #10178", Open, Low, 0),
            case("2", "Appeal #1042", Open, Low, 0),
            case("3", "appeal #998", Open, Low, 0),
            case("4", "Appeal #0042", Open, Low, 0),
            case("5", "Appeal", Open, Low, 0),
        ];
        let q = ListQuery {
            sort: SortKey::Title,
            ..ListQuery::default()
        };
        assert_eq!(ids(&rows, &q), ["5", "4", "3", "2", "1"]);
    }

    #[test]
    fn deleted_cases_never_show() {
        let mut rows = sample();
        rows[0].case.deleted = true;
        assert_eq!(ids(&rows, &ListQuery::default()), ["d", "c", "b"]);
    }

    #[test]
    fn sort_keys_read_back() {
        for k in SortKey::ALL {
            assert_eq!(SortKey::parse(k.as_str()), Some(k));
        }
        assert_eq!(SortKey::parse("nope"), None);
    }

    #[test]
    fn pages_cover_the_selection_and_clamp() {
        assert_eq!(
            page(0, 0),
            Page {
                index: 0,
                count: 1,
                start: 0,
                end: 0
            }
        );
        assert_eq!(page(120, 1).start..page(120, 1).end, 50..100);
        let last = page(120, 9);
        assert_eq!(
            (last.index, last.count, last.start, last.end),
            (2, 3, 100, 120)
        );
    }

    fn waiting(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_index_reads_only_what_changed_or_waits() {
        let mut index = CaseIndex::default();
        assert_eq!(
            index.plan(true, &waiting(&[])),
            Refresh::Nothing,
            "server list stands in"
        );
        assert_eq!(index.rows(), None);
        let plan = index.plan(false, &waiting(&[]));
        assert_eq!(plan, Refresh::Whole, "first build reads everything");
        index.apply(&plan, sample(), waiting(&["a"]));
        assert_eq!(index.rows().unwrap().len(), 4);
        // "a" was waiting: it is read again even when nothing touched it.
        index.touch(&["c".to_string()]);
        let plan = index.plan(false, &waiting(&[]));
        assert_eq!(plan, Refresh::Some(vec!["a".into(), "c".into()]));
        // "a" comes back changed; "c" is gone (its creation was rolled back).
        let mut a = sample().remove(0);
        a.case.title = "Renamed".into();
        index.apply(&plan, vec![a], waiting(&[]));
        let rows = index.rows().unwrap();
        let ids: Vec<&str> = rows.iter().map(|r| r.case.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "d"]);
        assert_eq!(rows[0].case.title, "Renamed");
        assert_eq!(index.plan(false, &waiting(&[])), Refresh::Nothing);
        let many: Vec<String> = (0..=REBUILD_OVER).map(|i| i.to_string()).collect();
        index.touch(&many);
        assert_eq!(index.plan(false, &waiting(&[])), Refresh::Whole);
    }

    proptest! {
        /// Every match is shown exactly once, on exactly one page, in an
        /// order where no neighbour pair is out of order.
        #[test]
        fn selection_is_a_sorted_subset(
            titles in proptest::collection::vec("[a-cA-C ]{0,6}", 0..120),
            q in "[a-c]{0,2}",
            sort in 0usize..3,
        ) {
            let rows: Vec<CaseRow> = titles
                .iter()
                .enumerate()
                .map(|(i, t)| case(&format!("{i:03}"), t, CaseStatus::Open, Priority::Medium, (i % 7) as i64))
                .collect();
            let query = ListQuery { q: q.clone(), sort: SortKey::ALL[sort], ..ListQuery::default() };
            let hits = select(&rows, &query);
            let expected = rows.iter().filter(|r| r.case.title.to_lowercase().contains(&q)).count();
            prop_assert_eq!(hits.len(), expected);
            let mut seen = hits.clone();
            seen.sort_unstable();
            seen.dedup();
            prop_assert_eq!(seen.len(), hits.len());
            for pair in hits.windows(2) {
                let (a, b) = (&rows[pair[0]], &rows[pair[1]]);
                let ordered = match query.sort {
                    SortKey::Updated => (b.case.updated_at, &a.case.id) <= (a.case.updated_at, &b.case.id),
                    SortKey::Priority => true,
                    SortKey::Title => (&a.order, &a.case.id) <= (&b.order, &b.case.id),
                };
                prop_assert!(ordered);
            }
            let mut shown = 0;
            for i in 0..page(hits.len(), 0).count {
                let p = page(hits.len(), i);
                shown += p.end - p.start;
            }
            prop_assert_eq!(shown, hits.len());
        }
    }

    fn peek_row(id: &str, title: &str) -> CaseRow {
        let mut c = case(id, title, CaseStatus::Open, Priority::High, 5).case;
        c.description = "Her landlord's letters and the rent arrears".into();
        c.tags = vec!["housing".into()];
        CaseRow::new(c, 2)
    }

    #[test]
    fn a_peek_keeps_a_screenful_of_what_rows_show_and_nothing_more() {
        let rows: Vec<CaseRow> = (0..80)
            .map(|i| peek_row(&format!("c{i}"), &format!("Case {i}")))
            .collect();
        let peek = Peek::of("casey", 80, &rows[..PAGE_SIZE]);
        assert_eq!(peek.rows.len(), PEEK_ROWS, "at most a screenful");
        assert_eq!(
            (peek.shown, peek.matches),
            (PAGE_SIZE, 80),
            "what the page said"
        );
        let back = peek.clone().rows_for("casey").expect("hers");
        assert_eq!(back.len(), PEEK_ROWS);
        assert_eq!(back[3].case.title, "Case 3");
        assert_eq!(back[3].case.id, "c3");
        assert_eq!(back[3].pending, 2);
        assert!(back
            .iter()
            .all(|r| r.case.description.is_empty() && r.case.tags.is_empty()));
    }

    #[test]
    fn a_peek_is_shown_only_to_its_user_and_only_if_this_app_could_have_written_it() {
        let rows = vec![peek_row("a", "A")];
        assert_eq!(
            Peek::of("casey", 1, &rows).rows_for("kim"),
            None,
            "not Kim's"
        );
        let mut long = Peek::of("casey", 500, &rows);
        long.rows = vec![long.rows[0].clone(); PEEK_ROWS + 1];
        assert_eq!(long.rows_for("casey"), None, "longer than a screenful");
        let mut odd = Peek::of("casey", 1, &rows);
        odd.matches = 0;
        assert_eq!(odd.rows_for("casey"), None, "more shown than matches");
        let mut odd = Peek::of("casey", 1, &rows);
        odd.shown = 0;
        assert_eq!(odd.rows_for("casey"), None, "more rows than shown");
    }

    #[test]
    fn a_peek_keeps_only_the_first_page_of_the_whole_list() {
        assert!(Peek::keeps(&ListQuery::default(), 0));
        assert!(!Peek::keeps(&ListQuery::default(), 1), "a later page");
        let searched = ListQuery {
            q: "housing".into(),
            ..ListQuery::default()
        };
        assert!(!Peek::keeps(&searched, 0), "a search");
    }
}
