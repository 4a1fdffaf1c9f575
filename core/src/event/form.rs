//! The case form's rules (SPEC §4): what each field may hold, in the form's
//! words, and what an edit sends. The limits are the event model's, so what
//! the form accepts the server accepts.

use super::model::{CaseFields, CasePatch, ASSIGNEE_MAX, TAGS_MAX, TAG_MAX, TITLE_MAX};
use crate::api::Case;

/// The title's problem, in words, if any.
pub fn title_problem(title: &str) -> Option<String> {
    let len = title.trim().chars().count();
    if len == 0 {
        Some("A title is required.".to_string())
    } else if len > TITLE_MAX {
        Some(format!("At most {TITLE_MAX} characters ({len} now)."))
    } else {
        None
    }
}

/// The assignee's problem, if any.
pub fn assignee_problem(assignee: &str) -> Option<String> {
    let len = assignee.trim().chars().count();
    (len > ASSIGNEE_MAX).then(|| format!("At most {ASSIGNEE_MAX} characters ({len} now)."))
}

/// The tags' problem, if any.
pub fn tags_problem(text: &str) -> Option<String> {
    let tags = parse_tags(text);
    if tags.len() > TAGS_MAX {
        return Some(format!("At most {TAGS_MAX} tags ({} now).", tags.len()));
    }
    tags.iter()
        .find(|t| t.chars().count() > TAG_MAX)
        .map(|t| format!("Each tag at most {TAG_MAX} characters (“{t}” is longer)."))
}

/// Comma-separated tags, trimmed, empty ones dropped.
pub fn parse_tags(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Only what changed between `before` and `after` (a `case.updated` carries
/// nothing else).
pub fn patch_between(before: &Case, after: &CaseFields) -> CasePatch {
    CasePatch {
        title: (before.title != after.title).then(|| after.title.clone()),
        description: (before.description != after.description).then(|| after.description.clone()),
        status: (before.status != after.status).then_some(after.status),
        priority: (before.priority != after.priority).then_some(after.priority),
        assignee: (before.assignee != after.assignee).then(|| after.assignee.clone()),
        tags: (before.tags != after.tags).then(|| after.tags.clone()),
        // A case's team is not part of `Case`: the form names one only to
        // move it.
        team: after.team.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CaseStatus, Priority};
    use crate::event::{validate_fields, EventData, NoteData};

    fn fields() -> CaseFields {
        CaseFields {
            title: "x".repeat(TITLE_MAX),
            description: String::new(),
            status: CaseStatus::Open,
            priority: Priority::Low,
            assignee: Some("a".repeat(ASSIGNEE_MAX)),
            tags: vec!["t".repeat(TAG_MAX); TAGS_MAX],
            team: None,
        }
    }

    #[test]
    fn the_form_refuses_exactly_what_the_event_model_refuses() {
        assert_eq!(title_problem("  ").as_deref(), Some("A title is required."));
        assert!(title_problem(&"x".repeat(TITLE_MAX)).is_none());
        assert!(title_problem(&"x".repeat(TITLE_MAX + 1)).is_some());
        assert!(assignee_problem(&"a".repeat(ASSIGNEE_MAX + 1)).is_some());
        assert!(tags_problem(&["t"; TAGS_MAX + 1].join(",")).is_some());
        assert!(tags_problem(&"x".repeat(TAG_MAX + 1)).is_some());
        assert_eq!(parse_tags(" a, ,b ,"), vec!["a", "b"]);
        // At every limit the form says nothing and core agrees.
        assert!(validate_fields(&fields()).is_ok());
        let mut over = fields();
        over.title.push('x');
        assert!(validate_fields(&over).is_err());
    }

    #[test]
    fn event_data_validates_without_an_event_around_it() {
        assert!(EventData::CaseCreated(fields()).validate().is_ok());
        assert!(EventData::CaseUpdated(CasePatch::default())
            .validate()
            .is_err());
        let note = |body: String| {
            EventData::NoteAdded(NoteData {
                note_id: "00000000-0000-4000-8000-000000000001".into(),
                body,
                author: "dana".into(),
            })
        };
        assert!(note("x".repeat(crate::event::NOTE_MAX)).validate().is_ok());
        assert!(note("x".repeat(crate::event::NOTE_MAX + 1))
            .validate()
            .is_err());
        assert!(note(String::new()).validate().is_err());
    }

    #[test]
    fn an_edit_sends_only_what_changed() {
        let before = Case {
            id: "c".into(),
            title: "Old".into(),
            description: "Same".into(),
            status: CaseStatus::Open,
            priority: Priority::Low,
            assignee: None,
            tags: vec![],
            created_at: 0,
            updated_at: 0,
            version: 3,
            deleted: false,
        };
        let after = CaseFields {
            title: "New".into(),
            description: "Same".into(),
            status: CaseStatus::Open,
            priority: Priority::High,
            assignee: Some("Dana".into()),
            tags: vec![],
            team: None,
        };
        let patch = patch_between(&before, &after);
        assert_eq!(
            patch.fields().into_iter().collect::<Vec<_>>(),
            vec!["assignee", "priority", "title"]
        );
    }
}
