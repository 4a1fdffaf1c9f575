//! Demo data, so a new user sees a living app.

use crate::db::Db;
use casefile_core::api::{Case, CaseStatus, Note, Priority};

const SUBJECTS: &[&str] = &[
    "Housing benefit",
    "Rent arrears",
    "School transport",
    "Care package",
    "Disability grant",
    "Council tax",
    "Home adaptation",
    "Respite care",
    "Tenancy dispute",
    "Energy debt",
    "Child maintenance",
    "Blue badge",
    "Meal delivery",
    "Hospital discharge",
    "Carer's allowance",
];
const ACTIONS: &[&str] = &[
    "review",
    "appeal",
    "assessment",
    "renewal",
    "complaint",
    "referral",
    "follow-up",
    "application",
];
const PEOPLE: &[&str] = &[
    "A. Okafor",
    "B. Lindqvist",
    "C. Moreau",
    "D. Haddad",
    "E. Nakamura",
    "F. Byrne",
];
const TAGS: &[&str] = &[
    "urgent-review",
    "vulnerable",
    "interpreter",
    "repeat",
    "legal",
    "escalated",
];
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// `n` plausible cases, the same ones for the same `seed` and `now_ms`.
pub fn demo_cases(n: u32, seed: u64, now_ms: i64) -> Vec<Case> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n)
        .map(|i| {
            let created_at = now_ms - rng.i64(DAY_MS..90 * DAY_MS);
            // Anywhere between creation and now, so "recently updated" is spread out.
            let updated_at = created_at + rng.i64(0..=now_ms - created_at);
            let subject = SUBJECTS[rng.usize(..SUBJECTS.len())];
            let action = ACTIONS[rng.usize(..ACTIONS.len())];
            let tags = (0..rng.usize(0..3))
                .map(|_| TAGS[rng.usize(..TAGS.len())].to_string())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let mut id_bytes = [0u8; 16];
            rng.fill(&mut id_bytes);
            Case {
                id: uuid::Builder::from_random_bytes(id_bytes)
                    .into_uuid()
                    .to_string(),
                title: format!("{subject} {action} #{}", 1000 + i),
                description: format!(
                    "{subject} {action} opened from the demo seed. Check documents and call the client back."
                ),
                status: CaseStatus::ALL[rng.usize(..CaseStatus::ALL.len())],
                priority: Priority::ALL[rng.usize(..Priority::ALL.len())],
                assignee: rng
                    .bool()
                    .then(|| PEOPLE[rng.usize(..PEOPLE.len())].to_string()),
                tags,
                created_at,
                updated_at,
                version: 1,
                deleted: false,
            }
        })
        .collect()
}

const NOTE_BODIES: &[&str] = &[
    "Called the client; documents arrive next week.",
    "Landlord confirmed the arrears figure by email.",
    "Home visit booked. Bring the consent form.",
    "Referred to the benefits team for a second opinion.",
    "Client asked for an interpreter at the next meeting.",
];

/// Zero to three notes per case, written after the case was created.
pub fn demo_notes(cases: &[Case], seed: u64) -> Vec<Note> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut notes = Vec::new();
    for case in cases {
        for _ in 0..rng.usize(0..4) {
            let mut id_bytes = [0u8; 16];
            rng.fill(&mut id_bytes);
            notes.push(Note {
                id: uuid::Builder::from_random_bytes(id_bytes)
                    .into_uuid()
                    .to_string(),
                case_id: case.id.clone(),
                body: NOTE_BODIES[rng.usize(..NOTE_BODIES.len())].to_string(),
                author: PEOPLE[rng.usize(..PEOPLE.len())].to_string(),
                created_at: case.created_at + rng.i64(0..=case.updated_at - case.created_at),
            });
        }
    }
    notes
}

/// Inserts `n` demo cases (and notes) if the database has no cases yet;
/// returns how many cases were inserted.
pub async fn seed_if_empty(db: &Db, n: u32, now_ms: i64) -> Result<u32, sqlx::Error> {
    if n == 0 || db.count_cases().await? > 0 {
        return Ok(0);
    }
    let cases = demo_cases(n, 0x5eed, now_ms);
    for chunk in cases.chunks(500) {
        db.insert_cases(chunk).await?;
    }
    for chunk in demo_notes(&cases, 0x5eed).chunks(500) {
        db.insert_notes(chunk).await?;
    }
    Ok(n)
}
