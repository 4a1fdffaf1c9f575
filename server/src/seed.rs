//! Demo data, so a new user sees a living app.

use crate::db::Db;
use casefile_core::api::{Case, CaseStatus, Note, Priority};
use casefile_core::event::{CaseFields, DomainEvent, EventData, EventHeader, NoteData};

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

/// The events that make `cases` and `notes`, as the device `demo-seed`.
pub fn demo_events(cases: &[Case], notes: &[Note], seed: u64) -> Vec<DomainEvent> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut uuid = move || {
        let mut bytes = [0u8; 16];
        rng.fill(&mut bytes);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    };
    let mut clock = 0u64;
    let mut events = Vec::new();
    let mut make = |case_id: &str, base: u64, at: i64, data: EventData| {
        clock += 1;
        let header = EventHeader {
            id: uuid(),
            aggregate_id: case_id.to_string(),
            node_id: "demo-seed".into(),
            clock,
            base_version: base,
            timestamp: at as u64,
        };
        DomainEvent::new(header, &data)
    };
    for case in cases {
        let fields = CaseFields {
            title: case.title.clone(),
            description: case.description.clone(),
            status: case.status,
            priority: case.priority,
            assignee: case.assignee.clone(),
            tags: case.tags.clone(),
            team: None,
        };
        events.push(make(
            &case.id,
            0,
            case.created_at,
            EventData::CaseCreated(fields),
        ));
        let mut mine: Vec<&Note> = notes.iter().filter(|n| n.case_id == case.id).collect();
        mine.sort_by_key(|n| n.created_at);
        for (i, note) in mine.into_iter().enumerate() {
            let data = EventData::NoteAdded(NoteData {
                note_id: note.id.clone(),
                body: note.body.clone(),
                author: note.author.clone(),
            });
            events.push(make(&case.id, 1 + i as u64, note.created_at, data));
        }
    }
    events
}

/// Fills in `n` demo cases with notes, through the event log like any
/// other write, if the database has no cases yet; returns how many cases
/// were created. Every `north_every`-th case is team north's, the others
/// south's (2: alternately).
pub async fn seed_if_empty(
    db: &Db,
    n: u32,
    now_ms: i64,
    north_every: usize,
) -> Result<u32, sqlx::Error> {
    if n == 0 || db.count_cases().await? > 0 {
        return Ok(0);
    }
    let cases = demo_cases(n, 0x5eed, now_ms);
    let notes = demo_notes(&cases, 0x5eed);
    let events: Vec<serde_json::Value> = demo_events(&cases, &notes, 0x5eed)
        .iter()
        .map(|e| serde_json::to_value(e).expect("events encode"))
        .collect();
    for chunk in events.chunks(500) {
        let (response, _) = crate::events::ingest(db, chunk.to_vec(), None, now_ms, None)
            .await
            .map_err(|e| match e {
                crate::events::IngestError::Db(e) => e,
                // Without a key no key is reused.
                crate::events::IngestError::KeyReused => sqlx::Error::Protocol(e.to_string()),
            })?;
        if let Some(bad) = response
            .results
            .iter()
            .find(|r| r.status != casefile_core::api::PushStatus::Applied)
        {
            tracing::error!(?bad, "a demo event was not applied");
        }
    }
    // The demo's two teams share the cases.
    let mut tx = db.pool().begin().await?;
    for (i, case) in cases.iter().enumerate() {
        let team = if i % north_every.max(1) == 0 {
            DEMO_TEAMS[0]
        } else {
            DEMO_TEAMS[1]
        };
        sqlx::query("UPDATE cases SET team_id = $1 WHERE id = $2")
            .bind(team)
            .bind(case.id.as_str())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(n)
}

/// The teams demo cases belong to, alternately.
pub const DEMO_TEAMS: [&str; 2] = ["north", "south"];

/// The demo users `--demo-users` creates: (name, display name, role, teams).
pub const DEMO_USERS: [(&str, &str, casefile_core::access::Role, &[&str]); 4] = [
    (
        "admin",
        "Ada Admin",
        casefile_core::access::Role::Admin,
        &[],
    ),
    (
        "sam",
        "Sam Supervisor",
        casefile_core::access::Role::Supervisor,
        &["north", "south"],
    ),
    (
        "casey",
        "Casey Caseworker",
        casefile_core::access::Role::Caseworker,
        &["north"],
    ),
    (
        "kim",
        "Kim Caseworker",
        casefile_core::access::Role::Caseworker,
        &["south"],
    ),
];

/// Every demo user's password (printed at start: demo data only).
pub const DEMO_PASSWORD: &str = "casefile-demo";

/// Creates the demo users when the database has none, and prints how to
/// sign in as each.
pub async fn demo_users(state: &crate::AppState) -> Result<(), Box<dyn std::error::Error>> {
    use sqlx::Row;
    let users: i64 = sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(state.db.pool())
        .await?
        .try_get("n")?;
    if users == 0 {
        for (name, display, role, teams) in DEMO_USERS {
            match crate::auth::create_user(state, name, display, role, DEMO_PASSWORD, teams).await {
                // Another instance starting beside this one made it first.
                Err(e) if e.code == "user_exists" => {}
                other => other.map_err(|e| e.message)?,
            }
        }
    }
    // On stderr: stdout's first line says where the server listens.
    eprintln!("demo users (password {DEMO_PASSWORD:?} for each):");
    for (name, _, role, teams) in DEMO_USERS {
        eprintln!(
            "  {name:<6} {:<11} teams: {}",
            role.as_str(),
            teams.join(", ")
        );
    }
    Ok(())
}
