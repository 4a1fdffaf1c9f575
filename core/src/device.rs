//! What a device keeps for whom (SPEC §10): every local store is one
//! user's, so two people on one browser never mix data, stamps or node ids;
//! and what signing out clears. The app carries these decisions out; the
//! worker's queue keeps its entries per user on its own
//! ([`crate::queue::Queue::set_user`]).

/// The IndexedDB database of `user`'s event log (events, snapshots, clock,
/// node id, cursor).
pub fn events_db(user: &str) -> String {
    format!("casefile-events:{user}")
}

/// The IndexedDB database of `user`'s saved query cache.
pub fn query_db(user: &str) -> String {
    format!("casefile-query-cache:{user}")
}

/// The Web Lock and BroadcastChannel name of `user`'s syncing tabs: tabs of
/// different users never lead for each other.
pub fn sync_channel(user: &str) -> String {
    format!("casefile-sync:{user}")
}

/// The Cache Storage caches that hold answers a user read (the worker's
/// runtime caches). The precache holds only the app shell and stays.
pub fn holds_user_data(cache_name: &str) -> bool {
    cache_name.starts_with("casefile-runtime")
}

/// A store every user of a device shared before each had their own (issue
/// 14): a device used then may still hold one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shared {
    /// The event log (`casefile-events`).
    Log,
    /// The saved query cache (`casefile-query-cache`).
    QueryCache,
}

/// The shared stores by their database names.
pub const SHARED: [(&str, Shared); 2] = [
    ("casefile-events", Shared::Log),
    ("casefile-query-cache", Shared::QueryCache),
];

/// What becomes of a shared store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedPlan {
    /// Deleted.
    Delete,
    /// Cut to the changes that are not on the server, as a sign-out that
    /// keeps them cuts a log ([`kept_at_sign_out`]): nobody owns them, and
    /// they are not lost; the team's cases go.
    KeepOnlyUnsent,
    /// Left as it is: it could not be read.
    Leave,
}

/// What becomes of a shared store. The query cache is deleted: it holds
/// answers anyone at the device could read. The log is deleted when it
/// holds nothing [`kept_at_sign_out`] keeps (`kept`: how many such events;
/// `None`: it could not be read), else cut to them.
pub fn shared_plan(store: Shared, kept: Option<usize>) -> SharedPlan {
    match (store, kept) {
        (Shared::QueryCache, _) | (Shared::Log, Some(0)) => SharedPlan::Delete,
        (Shared::Log, Some(_)) => SharedPlan::KeepOnlyUnsent,
        (Shared::Log, None) => SharedPlan::Leave,
    }
}

/// What the person chose for their unsent changes at sign-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsent {
    /// Keep them on this device; they go when this user signs in again.
    Keep,
    /// Throw them away.
    Discard,
}

/// What signing out does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// IndexedDB databases to delete.
    pub drop: Vec<String>,
    /// Drop the user's entries and dead letters from the worker's queue.
    pub forget_queue: bool,
    /// Keep only the person's own work in their event log (what
    /// [`kept_at_sign_out`] says): every case the server already has goes,
    /// with its snapshot, known version and both pull cursors, so the log
    /// left on the device holds nothing another person could read of the
    /// team's cases. The next sign-in pulls them again.
    pub prune_log: bool,
}

/// Whether a stored event in state `kind` stays in a log kept at sign-out:
/// the person's own changes that are not on the server (waiting, refused,
/// overruled or parked: theirs to send, copy or decide) stay; what the
/// server has goes.
pub fn kept_at_sign_out(kind: crate::sync::SyncKind) -> bool {
    kind != crate::sync::SyncKind::Synced
}

/// The answer to "sign out".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignOut {
    /// Changes are unsent: the person must choose (Keep is offered unless
    /// the device is shared).
    Ask {
        /// Changes not on the server yet.
        unsent: usize,
        /// Whether "Keep on this device" may be offered.
        can_keep: bool,
    },
    /// Go ahead.
    Go(Plan),
}

/// Decides a sign-out of `user` with `unsent` changes not on the server.
/// Nothing unsent: every store of the user goes. Keep: the event log stays,
/// pruned to the unsent changes (nobody else's session reads it, and it no
/// longer holds the cases the server has), and the query cache goes. Discard: everything goes, the worker's entries too. A
/// shared device never keeps.
pub fn sign_out(user: &str, unsent: usize, choice: Option<Unsent>, shared_device: bool) -> SignOut {
    let everything = || Plan {
        drop: vec![events_db(user), query_db(user)],
        forget_queue: true,
        prune_log: false,
    };
    match (unsent, choice) {
        (0, _) | (_, Some(Unsent::Discard)) => SignOut::Go(everything()),
        (_, Some(Unsent::Keep)) if !shared_device => SignOut::Go(Plan {
            drop: vec![query_db(user)],
            forget_queue: false,
            prune_log: true,
        }),
        (unsent, _) => SignOut::Ask {
            unsent,
            can_keep: !shared_device,
        },
    }
}

/// Whether to ask the browser to keep this origin's storage (so it is not
/// evicted silently when space runs low): once a user's stores are open,
/// and again whenever unsent work appears, until it is granted.
pub fn ask_to_persist(
    persisted: Option<bool>,
    unsent_before: usize,
    unsent_now: usize,
    starting: bool,
) -> bool {
    persisted != Some(true) && (starting || (unsent_before == 0 && unsent_now > 0))
}

/// The warning to show while changes wait on storage the browser may clear.
pub fn storage_warning(persisted: Option<bool>, unsent: usize) -> Option<String> {
    if persisted == Some(true) || unsent == 0 {
        return None;
    }
    let what = if unsent == 1 {
        "1 change waits".to_string()
    } else {
        format!("{unsent} changes wait")
    };
    Some(format!(
        "{what} on storage this browser may clear when space runs low: get online to send them, or export them."
    ))
}

/// Whether the user's event log was wiped behind the app's back (evicted
/// by the browser, cleared by hand): the device remembered its log by its
/// node id, and the log it opens now has another. A sign-out that deletes
/// the log forgets the remembered id, so that is never reported.
pub fn store_lost(remembered: Option<&str>, node_now: &str) -> bool {
    remembered.is_some_and(|r| r != node_now)
}

/// What to tell the person whose log was wiped, with what the server says
/// it received from the lost log's device (`None`: it cannot be asked now,
/// or knows nothing of it); `date` writes a time (ms) for people.
pub fn lost_words(
    record: Option<&crate::api::DeviceRecord>,
    date: impl Fn(i64) -> String,
) -> String {
    let head = "This device's saved copy of your cases was cleared since you last opened Casefile here (by the browser or by hand). ";
    let safe = match record {
        Some(r) => match (r.events, r.last_received_at) {
            (0, _) | (_, None) => "The server had received no change from it: anything made on it is gone from this device.".to_string(),
            (1, Some(at)) => format!("The server has the 1 change it received from it, on {}: anything made after that and not sent is gone.", date(at)),
            (n, Some(at)) => format!("The server has the {n} changes it received from it, the last on {}: anything made after that and not sent is gone.", date(at)),
        },
        None => "Changes that had not reached the server by then are gone from this device; everything the server received is safe.".to_string(),
    };
    [head, &safe, " Your cases are being loaded again."].concat()
}

/// Where the device remembers `user`'s log (local storage, beside it).
pub fn store_marker(user: &str) -> String {
    format!("casefile-log-node:{user}")
}

/// The cookie name that remembers `user`'s log beside the local-storage
/// marker: `casefile_log_` and the name's bytes in hex (a cookie name
/// allows no `:`, `=`, `;` or spaces, whatever a user name holds).
fn marker_cookie_name(user: &str) -> String {
    let hex: String = user.bytes().map(|b| format!("{b:02x}")).collect();
    format!("casefile_log_{hex}")
}

/// The `document.cookie` assignment that remembers `node` as `user`'s log
/// (`None`: forgets it). Not a secret (the node id travels in every event
/// the device sends); a year long, this origin's pages only.
pub fn store_marker_cookie(user: &str, node: Option<&str>) -> String {
    let name = marker_cookie_name(user);
    match node {
        Some(node) => {
            let node: String = node
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            format!("{name}={node}; Max-Age=31536000; Path=/; SameSite=Strict")
        }
        None => format!("{name}=; Max-Age=0; Path=/; SameSite=Strict"),
    }
}

/// The node id a `document.cookie` string remembers for `user`'s log.
pub fn read_marker_cookie(cookies: &str, user: &str) -> Option<String> {
    let name = marker_cookie_name(user);
    cookies
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// What the export of unsent changes holds: every unsent event, readable.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Export {
    /// Whose changes.
    pub user: String,
    /// When exported (ms).
    pub exported_at: u64,
    /// The changes, oldest first.
    pub changes: Vec<ExportedChange>,
}

/// One unsent change in an [`Export`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExportedChange {
    /// Its sync state in words (pending, queued, refused …).
    pub state: String,
    /// Why, when there is a reason (a refusal, the last error).
    pub note: Option<String>,
    /// The event itself (case, type, data, stamp).
    pub event: crate::event::DomainEvent,
}

/// The export file's name.
pub fn export_name(user: &str, exported_at: u64) -> String {
    format!("casefile-unsent-{user}-{exported_at}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persistence_is_asked_for_at_start_and_when_unsent_work_appears() {
        assert!(ask_to_persist(Some(false), 0, 0, true));
        assert!(ask_to_persist(None, 0, 0, true));
        assert!(
            !ask_to_persist(Some(true), 0, 3, true),
            "granted: never again"
        );
        assert!(ask_to_persist(Some(false), 0, 1, false), "work appeared");
        assert!(
            !ask_to_persist(Some(false), 1, 2, false),
            "once per appearance"
        );
        assert!(!ask_to_persist(Some(false), 0, 0, false));
    }

    #[test]
    fn a_log_with_another_node_id_than_remembered_was_lost() {
        assert!(!store_lost(None, "n1"), "first start");
        assert!(!store_lost(Some("n1"), "n1"));
        assert!(store_lost(Some("n1"), "n2"));
        assert_ne!(store_marker("sam"), store_marker("kim"));
    }

    #[test]
    fn the_log_marker_cookie_round_trips_for_any_user_name() {
        for user in ["sam", "o'brien; x=1", "élan vital"] {
            let set = store_marker_cookie(user, Some("node-1"));
            let (pair, attributes) = set.split_once("; ").unwrap();
            assert!(attributes.contains("SameSite=Strict"));
            let jar = format!("other=1; {pair}; more=2");
            assert_eq!(read_marker_cookie(&jar, user).as_deref(), Some("node-1"));
            assert_eq!(read_marker_cookie(&jar, "someone-else"), None);
            let name = pair.split_once('=').unwrap().0;
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        }
        assert!(store_marker_cookie("sam", None).contains("Max-Age=0"));
        assert_eq!(read_marker_cookie("casefile_log_73616d=", "sam"), None);
        assert!(!store_marker_cookie("sam", Some("a;b=c")).contains(";b=c"));
    }

    #[test]
    fn a_warning_only_while_changes_wait_on_storage_that_may_go() {
        assert_eq!(storage_warning(Some(true), 5), None);
        assert_eq!(storage_warning(Some(false), 0), None);
        assert!(storage_warning(Some(false), 1)
            .unwrap()
            .starts_with("1 change waits"));
        assert!(storage_warning(None, 2)
            .unwrap()
            .starts_with("2 changes wait"));
        assert_eq!(export_name("sam", 7), "casefile-unsent-sam-7.json");
    }

    #[test]
    fn the_stores_users_once_shared_go_unless_unsent_work_is_in_them() {
        use SharedPlan::*;
        assert_eq!(shared_plan(Shared::QueryCache, None), Delete);
        assert_eq!(shared_plan(Shared::Log, Some(0)), Delete);
        assert_eq!(
            shared_plan(Shared::Log, Some(2)),
            KeepOnlyUnsent,
            "unsent work stays, the team's cases go"
        );
        assert_eq!(shared_plan(Shared::Log, None), Leave, "unread: left");
        for (name, _) in SHARED {
            assert!(
                name != events_db("sam") && name != query_db("sam"),
                "never a user's own"
            );
        }
    }

    #[test]
    fn each_user_has_their_own_stores() {
        assert_ne!(events_db("sam"), events_db("kim"));
        assert_ne!(query_db("sam"), query_db("kim"));
        assert_ne!(events_db("sam"), query_db("sam"));
        assert_ne!(sync_channel("sam"), sync_channel("kim"));
        assert!(holds_user_data("casefile-runtime-api"));
        assert!(!holds_user_data("casefile-precache-v3"));
    }

    #[test]
    fn nothing_unsent_clears_everything_of_the_user() {
        let SignOut::Go(plan) = sign_out("sam", 0, None, false) else {
            panic!()
        };
        assert_eq!(plan.drop, vec![events_db("sam"), query_db("sam")]);
        assert!(plan.forget_queue);
    }

    #[test]
    fn unsent_changes_are_never_dropped_without_a_choice() {
        assert_eq!(
            sign_out("sam", 3, None, false),
            SignOut::Ask {
                unsent: 3,
                can_keep: true
            }
        );
        let SignOut::Go(keep) = sign_out("sam", 3, Some(Unsent::Keep), false) else {
            panic!()
        };
        assert_eq!(
            keep.drop,
            vec![query_db("sam")],
            "the log with the changes stays"
        );
        assert!(!keep.forget_queue);
        assert!(keep.prune_log, "the log keeps only the unsent work");
        let SignOut::Go(discard) = sign_out("sam", 3, Some(Unsent::Discard), false) else {
            panic!()
        };
        assert!(discard.forget_queue);
        assert_eq!(discard.drop.len(), 2);
    }

    #[test]
    fn a_kept_log_holds_only_what_the_server_does_not_have() {
        use crate::sync::SyncKind;
        for kind in SyncKind::ALL {
            assert_eq!(kept_at_sign_out(kind), kind != SyncKind::Synced, "{kind:?}");
        }
    }

    #[test]
    fn a_shared_device_never_keeps() {
        assert_eq!(
            sign_out("sam", 2, Some(Unsent::Keep), true),
            SignOut::Ask {
                unsent: 2,
                can_keep: false
            }
        );
        assert!(matches!(
            sign_out("sam", 2, Some(Unsent::Discard), true),
            SignOut::Go(_)
        ));
    }

    #[test]
    fn a_wiped_log_says_what_the_server_has_of_it() {
        use crate::api::DeviceRecord;
        let date = |ms: i64| format!("t{ms}");
        let record = |events, last| DeviceRecord {
            node_id: "n".into(),
            events,
            last_received_at: last,
        };
        let some = lost_words(Some(&record(3, Some(9))), date);
        assert!(
            some.contains("the 3 changes it received from it, the last on t9"),
            "{some}"
        );
        let one = lost_words(Some(&record(1, Some(9))), date);
        assert!(
            one.contains("the 1 change it received from it, on t9"),
            "{one}"
        );
        let none = lost_words(Some(&record(0, None)), date);
        assert!(none.contains("received no change"), "{none}");
        let unknown = lost_words(None, date);
        assert!(
            unknown.contains("everything the server received is safe"),
            "{unknown}"
        );
        assert!([some, one, none, unknown]
            .iter()
            .all(|w| w.starts_with("This device's saved copy")));
    }
}
