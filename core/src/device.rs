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
/// Nothing unsent: every store of the user goes. Keep: the event log stays
/// (it holds the unsent changes; nobody else's session reads it) and the
/// query cache goes. Discard: everything goes, the worker's entries too. A
/// shared device never keeps.
pub fn sign_out(user: &str, unsent: usize, choice: Option<Unsent>, shared_device: bool) -> SignOut {
    let everything = || Plan {
        drop: vec![events_db(user), query_db(user)],
        forget_queue: true,
    };
    match (unsent, choice) {
        (0, _) | (_, Some(Unsent::Discard)) => SignOut::Go(everything()),
        (_, Some(Unsent::Keep)) if !shared_device => SignOut::Go(Plan {
            drop: vec![query_db(user)],
            forget_queue: false,
        }),
        (unsent, _) => SignOut::Ask {
            unsent,
            can_keep: !shared_device,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let SignOut::Go(discard) = sign_out("sam", 3, Some(Unsent::Discard), false) else {
            panic!()
        };
        assert!(discard.forget_queue);
        assert_eq!(discard.drop.len(), 2);
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
}
