//! The service worker's write queue (SPEC §6): what is stored for a failed
//! write, what each replay outcome means, and the messages between the
//! worker and its pages. Plain data and pure decisions; the worker keeps the
//! entries in IndexedDB and sends the requests.
//!
//! Policy (shared with the app through [`RetryPolicy::SYNC_QUEUE`]):
//! - network unreachable → stays queued, no attempt spent (offline can last
//!   days);
//! - 5xx, 408, 429 → attempt + 1, next try after 5 s, 10 s, 20 s … (cap
//!   300 s, jitter, `Retry-After` honoured); after 3 failed attempts → dead
//!   letter;
//! - any other 4xx → dead letter at once;
//! - 2xx → removed, pages told.
//!
//! Order: FIFO. Only the oldest entry is replayed; the others wait behind it,
//! so writes reach the server in the order they were made.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::retry::{Failure, FailureClass, RetryDecision, RetryPolicy};
use crate::small::{decimal, padded};
use serde::{Deserialize, Serialize};

mod machine;
pub use machine::{Effects, Next, Queue, QueueOp};

/// The most of a failed answer's body kept in a dead letter.
pub const EXCERPT_MAX: usize = 2 * 1024;
/// How often a worker with open pages looks at its queue.
pub const TICK_MS: u64 = 15_000;
/// How long after start-up a worker looks at its queue: just after the
/// event that woke it (most often a fetch), so opening the queue does not
/// delay that answer.
pub const STARTUP_REPLAY_DELAY_MS: u64 = 200;

/// A write as stored: everything needed to send it again, as plain data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRequest {
    /// Queue id (also the `queued` id the page was given).
    pub id: String,
    /// HTTP method.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers to send again (`Idempotency-Key` always among them; no
    /// cookies or credentials: the app sends none).
    pub headers: Vec<(String, String)>,
    /// The body, as text (the app's writes are JSON).
    pub body: String,
    /// The key that makes a replay safe.
    pub idempotency_key: String,
    /// When it was queued (ms).
    pub enqueued_at: u64,
    /// Failed attempts that counted.
    pub attempts: u32,
    /// Not before this time (ms).
    pub next_attempt_at: u64,
    /// The last failure, in words.
    pub last_error: Option<String>,
    /// The last HTTP status, if there was a response.
    pub last_status: Option<u16>,
    /// Whose write it is (the page's [`USER_HEADER`]): it replays only
    /// while that user is signed in on this device. `None` for an entry
    /// stored before the queue knew users.
    #[serde(default)]
    pub user: Option<String>,
}

/// The header a page's write names its user in (their sign-in name): the
/// worker keeps the entry for that user, and the server refuses the write
/// (401 `other_user`) when someone else's session would carry it.
pub const USER_HEADER: &str = "x-casefile-user";

/// On the worker's queued answer: the status the server gave, when it gave
/// one (`strategy::Reach::queued`).
pub const HELD_HEADER: &str = "x-casefile-held";

/// The worker's answer to a write it queued: `202 {"queued": id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueuedAnswer {
    /// The queue entry's id.
    pub queued: String,
}

/// A write that will not be retried on its own: for the person to retry or
/// discard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The request as it was queued.
    pub request: StoredRequest,
    /// Why it stopped.
    pub reason: String,
    /// The last status, if any.
    pub status: Option<u16>,
    /// The start of the last answer's body (≤ [`EXCERPT_MAX`] bytes).
    pub excerpt: String,
    /// When it was given up (ms).
    pub dead_at: u64,
}

/// What became of one replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx.
    Delivered,
    /// No answer, or an error status.
    Failed(Failure),
}

/// What to do with the entry next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Delivered: remove it and tell the pages.
    Remove,
    /// Try again at this time (ms).
    RetryAt(u64),
    /// The network is unreachable: keep it, spend nothing, wait for a trigger.
    Wait,
    /// The server answered 401 (the session ended): keep it, spend nothing,
    /// pause the replay and tell the pages; it goes once someone signs in.
    SignIn,
    /// Give up on it: into the dead letter store.
    DeadLetter(String),
}

/// Decides what follows a replay of `entry` (whose `attempts` do not yet
/// count this one), and updates the entry's bookkeeping to match.
pub fn after_replay(
    entry: &mut StoredRequest,
    outcome: Outcome,
    now: u64,
    jitter: f64,
    online: bool,
) -> Step {
    let failure = match outcome {
        Outcome::Delivered => return Step::Remove,
        Outcome::Failed(f) => f,
    };
    let policy = RetryPolicy::SYNC_QUEUE;
    if RetryPolicy::classify(&failure) == FailureClass::NeedsSignIn {
        entry.last_status = Some(401);
        entry.last_error = Some("waiting for you to sign in again".into());
        return Step::SignIn;
    }
    if policy.counts_attempt(&failure, online) {
        entry.attempts += 1;
    }
    entry.last_status = match failure {
        Failure::Http { status, .. } => Some(status),
        _ => None,
    };
    entry.last_error = Some(describe(&failure));
    match policy.decide(&failure, entry.attempts, online, jitter) {
        RetryDecision::WaitForNetwork => Step::Wait,
        // The dead-letter limit is the policy's: after `max_retries`
        // counted failures the write is given up.
        RetryDecision::RetryIn(ms) if entry.attempts < policy.max_retries => {
            entry.next_attempt_at = now + ms;
            Step::RetryAt(entry.next_attempt_at)
        }
        RetryDecision::RetryIn(_) | RetryDecision::GiveUp => Step::DeadLetter(match failure {
            Failure::Http { status, .. }
                if RetryPolicy::classify(&failure) == FailureClass::Permanent =>
            {
                [
                    "the server refused it (",
                    &decimal(status.into()),
                    "); retrying cannot help",
                ]
                .concat()
            }
            _ => [
                "failed ",
                &decimal(entry.attempts.into()),
                " times: ",
                &describe(&failure),
            ]
            .concat(),
        }),
    }
}

fn describe(f: &Failure) -> String {
    match f {
        Failure::Network => "the server could not be reached".into(),
        Failure::Http { status, .. } => {
            ["the server answered ", &decimal((*status).into())].concat()
        }
        Failure::Decode => "the answer could not be read".into(),
    }
}

/// The start of a body, cut at a character boundary within [`EXCERPT_MAX`].
pub fn excerpt(body: &str) -> String {
    if body.len() <= EXCERPT_MAX {
        return body.to_string();
    }
    let mut end = EXCERPT_MAX;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    body[..end].to_string()
}

/// The entry to replay now: the oldest, if it is due (FIFO: the others wait
/// behind it). Entries are ordered by id.
pub fn due(entries: &[StoredRequest], now: u64) -> Option<&StoredRequest> {
    entries
        .iter()
        .min_by(|a, b| (a.enqueued_at, &a.id).cmp(&(b.enqueued_at, &b.id)))
        .filter(|e| e.next_attempt_at <= now)
}

/// A dead letter back in the queue, attempts reset (the person's Retry).
pub fn revive(dead: DeadLetter, now: u64) -> StoredRequest {
    StoredRequest {
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        last_status: None,
        ..dead.request
    }
}

/// Whether the worker keeps a write whose first try failed this way (and
/// answers `202`): a passing problem (unreachable, 5xx, 408, 429), or a
/// session that ended (401: it waits for sign-in). Any other answer goes
/// back to the page as it is.
pub fn keeps(failure: &Failure) -> bool {
    matches!(
        RetryPolicy::classify(failure),
        FailureClass::Transient | FailureClass::NeedsSignIn
    )
}

/// Whether a queued entry waits for someone to sign in (its last try got
/// 401): what the pages' "sign in to send N changes" counts.
pub fn waits_for_sign_in(entry: &StoredRequest) -> bool {
    entry.last_status == Some(401)
}

/// Whether a request is a write the worker queues when it fails. Sign-in
/// and the other `/api/v1/auth/` requests never are: a password must not
/// wait in storage, and a stale sign-in or sign-out replayed later would act
/// for whoever uses the device then.
pub fn is_queueable(method: &str, path: &str, same_origin: bool) -> bool {
    same_origin
        && path.starts_with("/api/")
        && !path.starts_with("/api/v1/auth/")
        && matches!(method, "POST" | "PUT" | "PATCH" | "DELETE")
}

/// Headers a queued write never keeps (SPEC §10: the queue holds nothing
/// secret). Cookies come back on their own: the replay is a same-origin
/// fetch, and the browser attaches the cookies that hold *then*, so a stored
/// copy could only be stale or leak. `Authorization` is a credential: a
/// script that sends one signs its own replays. Proxy credentials and
/// hop-by-hop headers are the connection's, not the request's.
pub const UNSTORED_HEADERS: [&str; 8] = [
    "cookie",
    "cookie2",
    "authorization",
    "proxy-authorization",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
];

/// The headers of a write as the queue keeps them: lower-cased names,
/// without [`UNSTORED_HEADERS`].
pub fn stored_headers(
    headers: impl IntoIterator<Item = (String, String)>,
) -> Vec<(String, String)> {
    headers
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .filter(|(k, _)| !UNSTORED_HEADERS.contains(&k.as_str()))
        .collect()
}

/// The queue's figures, for the sync center and the header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStats {
    /// Entries waiting.
    pub queued: usize,
    /// Dead letters.
    pub dead: usize,
    /// When the next replay is planned (ms), if any.
    pub next_attempt_at: Option<u64>,
    /// A replay is running.
    pub replaying: bool,
    /// Stored records that no longer read (damaged storage): kept for
    /// inspection, never replayed, never silently dropped.
    #[serde(default)]
    pub unreadable: usize,
    /// Entries held because the server answered 401: they go once someone
    /// signs in (the pages say so).
    #[serde(default)]
    pub sign_in: usize,
    /// Whose figures these are (the user the worker acts for): a page of
    /// another user ignores them.
    #[serde(default)]
    pub user: Option<String>,
}

/// From the worker to every page: JSON with its kind under `type` (the
/// worker writes it by hand, `sw/src/codec.rs`; pages read it with
/// [`ToPage::from_json`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToPage {
    /// A failed write was queued (the page got `202 {"queued": id}`).
    Queued {
        /// Queue id.
        id: String,
    },
    /// A queued write reached the server; `status` and `body` are its answer.
    Synced {
        /// Queue id.
        id: String,
        /// The request's URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The answer's body (an event push: a `PushResponse`).
        body: String,
    },
    /// The next try is planned.
    RetryScheduled {
        /// Queue id.
        id: String,
        /// When (ms).
        at: u64,
    },
    /// A write was given up.
    DeadLettered {
        /// The dead letter.
        letter: Box<DeadLetter>,
    },
    /// A dead letter was discarded by the person.
    Discarded {
        /// The dead letter as it was.
        letter: Box<DeadLetter>,
    },
    /// The queue's figures.
    Stats {
        /// The figures.
        stats: QueueStats,
    },
    /// The signed-in user's entries in the queue and the dead letter store.
    Listing {
        /// Waiting entries, oldest first.
        queued: Vec<StoredRequest>,
        /// Dead letters.
        dead: Vec<DeadLetter>,
        /// Whose they are: a page of another user must not read this
        /// listing's absences as answers it missed.
        #[serde(default)]
        user: Option<String>,
    },
}

#[cfg(feature = "std")]
impl ToPage {
    /// A message as the worker posts it. Read field by field rather than
    /// by serde's derive for an internally tagged enum, which buffers every
    /// message in serde's generic `Content` first: that code was the app's
    /// largest single item (issue 18, `scripts/size-report.sh --why`).
    pub fn from_json(v: &serde_json::Value) -> Result<ToPage, String> {
        fn field<T: serde::de::DeserializeOwned>(
            v: &serde_json::Value,
            name: &str,
        ) -> Result<T, String> {
            T::deserialize(v.get(name).unwrap_or(&serde_json::Value::Null))
                .map_err(|e| format!("{name}: {e}"))
        }
        Ok(match v.get("type").and_then(serde_json::Value::as_str) {
            Some("queued") => ToPage::Queued {
                id: field(v, "id")?,
            },
            Some("synced") => ToPage::Synced {
                id: field(v, "id")?,
                url: field(v, "url")?,
                status: field(v, "status")?,
                body: field(v, "body")?,
            },
            Some("retry_scheduled") => ToPage::RetryScheduled {
                id: field(v, "id")?,
                at: field(v, "at")?,
            },
            Some("dead_lettered") => ToPage::DeadLettered {
                letter: field(v, "letter")?,
            },
            Some("discarded") => ToPage::Discarded {
                letter: field(v, "letter")?,
            },
            Some("stats") => ToPage::Stats {
                stats: field(v, "stats")?,
            },
            Some("listing") => ToPage::Listing {
                queued: field(v, "queued")?,
                dead: field(v, "dead")?,
                user: field(v, "user")?,
            },
            other => return Err(format!("not a worker message: type {other:?}")),
        })
    }
}

/// One replay at a time: a trigger while one runs makes it look once more
/// when it ends (the worker's replay loop holds one of these).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayGate {
    running: bool,
    again: bool,
}

impl ReplayGate {
    /// No replay running.
    pub const fn new() -> Self {
        ReplayGate {
            running: false,
            again: false,
        }
    }

    /// Whether a replay runs.
    pub fn running(&self) -> bool {
        self.running
    }

    /// A replay wants to start: true when it may; false when one runs (it
    /// will look once more at its end).
    pub fn enter(&mut self) -> bool {
        if self.running {
            self.again = true;
            false
        } else {
            self.running = true;
            true
        }
    }

    /// The running replay ended: true when it must run once more (a
    /// trigger came meanwhile).
    pub fn leave(&mut self) -> bool {
        self.running = false;
        core::mem::take(&mut self.again)
    }
}

/// A queue id: `q`, the enqueue time (ms, 13 digits), `-`, a random number
/// (12 digits). Ids sort by enqueue time, and [`queued_at`] reads it back.
pub fn queue_id(now_ms: u64, random: u64) -> String {
    [
        "q",
        &padded(now_ms, 13),
        "-",
        &padded(random % 1_000_000_000_000, 12),
    ]
    .concat()
}

/// When the entry with this [`queue_id`] was queued; `None` for another shape.
pub fn queued_at(id: &str) -> Option<u64> {
    let digits = id.strip_prefix('q')?.split('-').next()?;
    if digits.len() != 13 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// How long after being queued an entry must be missing from a listing
/// before a page counts its answer as missed (a listing taken just before
/// the worker stored the entry must not count).
pub const MISSED_ANSWER_GRACE_MS: u64 = 10_000;

/// The events whose answer this page missed: marked queued under an entry
/// that the worker's listing (`listed`: its queued and dead ids) no longer
/// has, queued more than [`MISSED_ANSWER_GRACE_MS`] before `now_ms`. The
/// worker sent its answer while no tab was leading (the leader closed or
/// crashed), so nobody recorded it. Such events are sent again: the server
/// answers a duplicate for one it applied, and refuses again, visibly, one
/// it refused. `queued` holds `(event id, queue id)` pairs; the missed ones
/// come back.
pub fn missed_answers<'a>(
    queued: impl IntoIterator<Item = (&'a str, &'a str)>,
    listed: &[&str],
    now_ms: u64,
) -> Vec<(&'a str, &'a str)> {
    queued
        .into_iter()
        .filter(|(_, queue_id)| !listed.contains(queue_id))
        .filter(|(_, queue_id)| {
            // An id of another shape has no time to wait for.
            queued_at(queue_id).is_none_or(|at| now_ms.saturating_sub(at) > MISSED_ANSWER_GRACE_MS)
        })
        .collect()
}

/// From a page to the worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWorker {
    /// Replay now (page came online, got focus, or "Sync now").
    ReplayNow,
    /// Send a `Listing`.
    List,
    /// Put a dead letter back in the queue.
    Retry {
        /// Queue id.
        id: String,
    },
    /// Drop a dead letter, or a write still waiting.
    Discard {
        /// Queue id.
        id: String,
    },
    /// Activate the waiting update.
    SkipWaiting,
    /// Who is signed in on this device now (`None`: nobody): only their
    /// entries replay, list and count.
    Session {
        /// Sign-in name.
        user: Option<String>,
    },
    /// Drop every entry and dead letter of this user (sign-out with
    /// "Discard").
    Forget {
        /// Sign-in name.
        user: String,
    },
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_trigger_during_a_replay_makes_it_look_once_more_not_run_twice() {
        let mut gate = ReplayGate::default();
        assert!(gate.enter());
        assert!(!gate.enter(), "one at a time");
        assert!(!gate.enter());
        assert!(gate.leave(), "once more, not twice");
        assert!(gate.enter());
        assert!(!gate.leave());
    }

    #[test]
    fn the_dead_letter_limit_is_the_policys() {
        let mut e = entry("1", T0);
        let server = Failure::Http {
            status: 503,
            retry_after_ms: None,
        };
        let mut steps = 0;
        while !matches!(
            after_replay(&mut e, Outcome::Failed(server), T0, 0.0, true),
            Step::DeadLetter(_)
        ) {
            steps += 1;
        }
        assert_eq!(steps + 1, RetryPolicy::SYNC_QUEUE.max_retries as usize);
    }

    #[test]
    fn queue_ids_carry_their_time_and_sort_by_it() {
        let early = queue_id(1_700_000_000_000, 42);
        let late = queue_id(1_700_000_000_001, 1);
        assert_eq!(early, "q1700000000000-000000000042");
        assert!(early < late);
        assert_eq!(queued_at(&early), Some(1_700_000_000_000));
        assert_eq!(queued_at("q12-3"), None);
        assert_eq!(queued_at("x1700000000000-000000000042"), None);
    }

    #[test]
    fn an_answer_counts_as_missed_only_when_its_entry_is_gone_for_a_while() {
        let now = 1_700_000_100_000;
        let old = queue_id(now - MISSED_ANSWER_GRACE_MS - 1, 7);
        let fresh = queue_id(now - 500, 8);
        let still = queue_id(now - 60_000, 9);
        let dead = queue_id(now - 60_000, 10);
        let queued = [
            ("e-old", old.as_str()),
            ("e-fresh", fresh.as_str()),
            ("e-still", still.as_str()),
            ("e-dead", dead.as_str()),
            ("e-odd", "legacy-id"),
        ];
        let listed = [still.as_str(), dead.as_str()];
        let missed: Vec<&str> = missed_answers(queued, &listed, now)
            .into_iter()
            .map(|(e, _)| e)
            .collect();
        assert_eq!(missed, vec!["e-old", "e-odd"]);
        // Nothing is missed while the worker still holds every entry.
        assert!(missed_answers(
            queued,
            &[
                old.as_str(),
                fresh.as_str(),
                still.as_str(),
                dead.as_str(),
                "legacy-id"
            ],
            now
        )
        .is_empty());
    }

    #[test]
    fn a_queued_write_keeps_no_credentials_or_connection_headers() {
        let kept = stored_headers(
            [
                ("Content-Type", "application/json"),
                ("Idempotency-Key", "k1"),
                ("Cookie", "session=secret"),
                ("Proxy-Authorization", "Basic eA=="),
                ("Authorization", "Bearer t"),
                ("Content-Length", "12"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let names: Vec<&str> = kept.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["content-type", "idempotency-key"]);
    }

    use super::*;

    fn entry(id: &str, at: u64) -> StoredRequest {
        StoredRequest {
            id: id.into(),
            method: "POST".into(),
            url: "http://127.0.0.1/api/v1/events".into(),
            headers: vec![("idempotency-key".into(), "k".into())],
            body: "{}".into(),
            idempotency_key: "k".into(),
            enqueued_at: at,
            attempts: 0,
            next_attempt_at: at,
            last_error: None,
            last_status: None,
            user: None,
        }
    }

    const T0: u64 = 1_000_000;

    fn http(status: u16) -> Outcome {
        Outcome::Failed(Failure::Http {
            status,
            retry_after_ms: None,
        })
    }

    #[test]
    fn server_errors_retry_after_5_then_10_s_and_the_third_goes_to_the_dead_letter() {
        let mut e = entry("a", T0);
        assert_eq!(
            after_replay(&mut e, http(500), T0, 0.0, true),
            Step::RetryAt(T0 + 5_000)
        );
        assert_eq!(
            after_replay(&mut e, http(503), T0 + 5_000, 0.0, true),
            Step::RetryAt(T0 + 15_000)
        );
        let step = after_replay(&mut e, http(500), T0 + 15_000, 0.0, true);
        assert!(
            matches!(step, Step::DeadLetter(ref why) if why.contains("3 times")),
            "{step:?}"
        );
        assert_eq!((e.attempts, e.last_status), (3, Some(500)));
    }

    #[test]
    fn a_401_waits_for_sign_in_spending_nothing_and_never_dead_letters() {
        let mut e = entry("a", T0);
        for n in 0..10 {
            let step = after_replay(&mut e, http(401), T0 + n * 60_000, 0.0, true);
            assert_eq!(step, Step::SignIn, "try {n}");
        }
        assert_eq!((e.attempts, e.last_status), (0, Some(401)));
        assert_eq!(
            e.next_attempt_at, T0,
            "due again as soon as someone signs in"
        );
        assert!(waits_for_sign_in(&e));
        let status = |status| Failure::Http {
            status,
            retry_after_ms: None,
        };
        assert!(keeps(&status(401)) && keeps(&status(503)) && keeps(&Failure::Network));
        assert!(!keeps(&status(403)) && !keeps(&status(422)));
        // A 403 (e.g. a CSRF check) is a refusal: dead letter at once.
        let step = after_replay(&mut e, http(403), T0, 0.0, true);
        assert!(
            matches!(step, Step::DeadLetter(ref why) if why.contains("403")),
            "{step:?}"
        );
    }

    #[test]
    fn jitter_stays_within_a_fifth_and_retry_after_is_honoured() {
        let mut e = entry("a", T0);
        let Step::RetryAt(at) = after_replay(&mut e, http(502), T0, 0.999, true) else {
            panic!()
        };
        assert!((T0 + 5_000..T0 + 6_000).contains(&at));
        let mut e = entry("b", T0);
        let limited = Outcome::Failed(Failure::Http {
            status: 429,
            retry_after_ms: Some(60_000),
        });
        assert_eq!(
            after_replay(&mut e, limited, T0, 0.0, true),
            Step::RetryAt(T0 + 60_000)
        );
    }

    #[test]
    fn offline_for_days_spends_no_attempt() {
        let mut e = entry("a", T0);
        for day in 0..5u64 {
            let now = T0 + day * 86_400_000;
            assert_eq!(
                after_replay(&mut e, Outcome::Failed(Failure::Network), now, 0.5, false),
                Step::Wait
            );
            // Even with the browser believing it is online.
            assert_eq!(
                after_replay(&mut e, Outcome::Failed(Failure::Network), now, 0.5, true),
                Step::Wait
            );
        }
        assert_eq!(e.attempts, 0);
        assert_eq!(
            after_replay(&mut e, Outcome::Delivered, T0, 0.0, true),
            Step::Remove
        );
    }

    #[test]
    fn other_4xx_go_to_the_dead_letter_at_once_but_408_and_429_retry() {
        for status in [400, 404, 409, 413, 422] {
            let mut e = entry("a", T0);
            let step = after_replay(&mut e, http(status), T0, 0.0, true);
            assert!(
                matches!(step, Step::DeadLetter(ref why) if why.contains("refused")),
                "{status}: {step:?}"
            );
        }
        for status in [408, 429] {
            let mut e = entry("a", T0);
            assert!(matches!(
                after_replay(&mut e, http(status), T0, 0.0, true),
                Step::RetryAt(_)
            ));
        }
    }

    #[test]
    fn fifo_only_the_oldest_is_due() {
        let mut first = entry("2", T0);
        let second = entry("1", T0 + 10);
        assert_eq!(due(&[second.clone(), first.clone()], T0).unwrap().id, "2");
        first.next_attempt_at = T0 + 5_000;
        assert!(
            due(&[second.clone(), first.clone()], T0 + 100).is_none(),
            "the rest wait behind it"
        );
        assert_eq!(due(&[second, first], T0 + 5_000).unwrap().id, "2");
        assert!(due(&[], T0).is_none());
    }

    #[test]
    fn retry_revives_with_attempts_reset_and_excerpts_are_bounded() {
        let mut e = entry("a", T0);
        e.attempts = 3;
        e.last_status = Some(500);
        let letter = DeadLetter {
            request: e,
            reason: "x".into(),
            status: Some(500),
            excerpt: excerpt(&"é".repeat(3_000)),
            dead_at: T0,
        };
        assert!(letter.excerpt.len() <= EXCERPT_MAX);
        assert!(letter.excerpt.chars().all(|c| c == 'é'));
        let back = revive(letter, T0 + 1);
        assert_eq!(
            (back.attempts, back.next_attempt_at, back.last_status),
            (0, T0 + 1, None)
        );
    }

    #[test]
    fn only_same_origin_api_writes_are_queued() {
        assert!(is_queueable("POST", "/api/v1/events", true));
        assert!(is_queueable("DELETE", "/api/v1/cases/1", true));
        assert!(!is_queueable("GET", "/api/v1/cases", true));
        assert!(!is_queueable("POST", "/api/v1/events", false));
        assert!(!is_queueable("POST", "/login", true));
        assert!(
            !is_queueable("POST", "/api/v1/auth/login", true),
            "a password is never stored"
        );
        assert!(!is_queueable("POST", "/api/v1/auth/logout", true));
    }

    #[test]
    fn messages_round_trip_as_tagged_json() {
        let m = ToPage::Synced {
            id: "q1".into(),
            url: "/api/v1/events".into(),
            status: 200,
            body: "{}".into(),
        };
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.starts_with(r#"{"type":"synced""#), "{text}");
        let w: ToWorker = serde_json::from_str(r#"{"type":"retry","id":"q9"}"#).unwrap();
        assert_eq!(w, ToWorker::Retry { id: "q9".into() });
        assert!(serde_json::from_str::<ToWorker>(r#"{"type":"explode"}"#).is_err());
    }

    /// Every kind of worker message reads back as written (the worker
    /// writes the same JSON by hand); a message of an unknown kind, or
    /// with a field missing or of the wrong type, is refused by name.
    #[test]
    fn every_worker_message_reads_back_from_its_json() {
        let request = StoredRequest {
            id: "q1".into(),
            method: "POST".into(),
            url: "/api/v1/events".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: "{}".into(),
            idempotency_key: "k1".into(),
            enqueued_at: 5,
            attempts: 2,
            next_attempt_at: 9,
            last_error: Some("503".into()),
            last_status: Some(503),
            user: Some("sam".into()),
        };
        let letter = DeadLetter {
            request: request.clone(),
            reason: "refused".into(),
            status: Some(422),
            excerpt: "{}".into(),
            dead_at: 11,
        };
        let stats = QueueStats {
            queued: 1,
            dead: 2,
            next_attempt_at: Some(3),
            replaying: true,
            unreadable: 4,
            sign_in: 5,
            user: Some("sam".into()),
        };
        let all = [
            ToPage::Queued { id: "q1".into() },
            ToPage::Synced {
                id: "q1".into(),
                url: "/api/v1/events".into(),
                status: 200,
                body: "{}".into(),
            },
            ToPage::RetryScheduled {
                id: "q1".into(),
                at: 1_790_000_000_000,
            },
            ToPage::DeadLettered {
                letter: Box::new(letter.clone()),
            },
            ToPage::Discarded {
                letter: Box::new(letter.clone()),
            },
            ToPage::Stats { stats },
            ToPage::Listing {
                queued: vec![request],
                dead: vec![letter],
                user: None,
            },
        ];
        for m in all {
            let json = serde_json::to_value(&m).unwrap();
            assert_eq!(ToPage::from_json(&json), Ok(m));
        }
        let no_user = serde_json::json!({"type": "listing", "queued": [], "dead": []});
        assert!(matches!(
            ToPage::from_json(&no_user),
            Ok(ToPage::Listing { user: None, .. })
        ));
        let unknown = serde_json::json!({"type": "explode", "id": "q1"});
        assert!(ToPage::from_json(&unknown).unwrap_err().contains("explode"));
        let wrong = serde_json::json!({"type": "synced", "id": "q1", "url": "/", "status": "ok", "body": ""});
        assert!(ToPage::from_json(&wrong)
            .unwrap_err()
            .starts_with("status:"));
        let missing = serde_json::json!({"type": "queued"});
        assert!(ToPage::from_json(&missing).unwrap_err().starts_with("id:"));
    }
}
