//! Toasts (SPEC §4): which are visible and when each goes. Success and info
//! toasts dismiss themselves after [`AUTO_DISMISS_MS`]; errors stay until the
//! person dismisses them; at most [`MAX_VISIBLE`] show, the oldest going
//! first.

/// How long a success or info toast stays.
pub const AUTO_DISMISS_MS: u64 = 4_000;
/// The most toasts on screen at once.
pub const MAX_VISIBLE: usize = 5;

/// What a toast says about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToastKind {
    /// Something worked.
    Success,
    /// Something failed; it stays until dismissed.
    Error,
    /// For information.
    Info,
}

impl ToastKind {
    /// `alert` for errors (announced at once), `status` otherwise.
    pub fn role(self) -> &'static str {
        match self {
            ToastKind::Error => "alert",
            _ => "status",
        }
    }

    /// `assertive` for errors, `polite` otherwise.
    pub fn live(self) -> &'static str {
        match self {
            ToastKind::Error => "assertive",
            _ => "polite",
        }
    }
}

/// One toast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast<A> {
    /// Unique within the list.
    pub id: u64,
    /// Its kind.
    pub kind: ToastKind,
    /// What it says.
    pub message: String,
    /// An optional action (label and what it does, e.g. Undo).
    pub action: Option<(String, A)>,
    /// When it goes by itself (ms), if it does.
    pub expires_at: Option<u64>,
}

/// The visible toasts, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toasts<A> {
    items: Vec<Toast<A>>,
    next_id: u64,
}

impl<A> Default for Toasts<A> {
    fn default() -> Self {
        Toasts {
            items: Vec::new(),
            next_id: 1,
        }
    }
}

impl<A: Clone> Toasts<A> {
    /// Shows a toast at `now`; returns its id. Past [`MAX_VISIBLE`], the
    /// oldest goes.
    pub fn push(
        &mut self,
        kind: ToastKind,
        message: impl Into<String>,
        action: Option<(String, A)>,
        now: u64,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let expires_at = (kind != ToastKind::Error).then_some(now + AUTO_DISMISS_MS);
        self.items.push(Toast {
            id,
            kind,
            message: message.into(),
            action,
            expires_at,
        });
        while self.items.len() > MAX_VISIBLE {
            self.items.remove(0);
        }
        id
    }

    /// Removes a toast (dismissed, or its action taken).
    pub fn dismiss(&mut self, id: u64) {
        self.items.retain(|t| t.id != id);
    }

    /// Removes the toasts whose time is up; true if any went.
    pub fn expire(&mut self, now: u64) -> bool {
        let before = self.items.len();
        self.items
            .retain(|t| t.expires_at.is_none_or(|at| at > now));
        self.items.len() != before
    }

    /// When the next one expires, to set a timer.
    pub fn next_expiry(&self) -> Option<u64> {
        self.items.iter().filter_map(|t| t.expires_at).min()
    }

    /// The newest toast (Escape dismisses it).
    pub fn newest(&self) -> Option<u64> {
        self.items.last().map(|t| t.id)
    }

    /// The visible toasts, oldest first.
    pub fn items(&self) -> &[Toast<A>] {
        &self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_goes_after_4_s_errors_stay() {
        let mut t: Toasts<()> = Toasts::default();
        t.push(ToastKind::Success, "Saved", None, 0);
        let err = t.push(ToastKind::Error, "Refused: title taken", None, 10);
        assert_eq!(t.next_expiry(), Some(4_000));
        assert!(!t.expire(3_999));
        assert!(t.expire(4_000));
        assert_eq!(t.items().len(), 1);
        assert!(!t.expire(10_000_000), "an error stays");
        t.dismiss(err);
        assert!(t.items().is_empty());
    }

    #[test]
    fn at_most_five_and_the_oldest_go_first() {
        let mut t: Toasts<&str> = Toasts::default();
        for i in 0..7 {
            t.push(ToastKind::Info, format!("n{i}"), None, i);
        }
        let shown: Vec<&str> = t.items().iter().map(|x| x.message.as_str()).collect();
        assert_eq!(shown, vec!["n2", "n3", "n4", "n5", "n6"]);
        let undo = t.push(
            ToastKind::Success,
            "Deleted",
            Some(("Undo".into(), "restore")),
            9,
        );
        assert_eq!(t.newest(), Some(undo));
        assert_eq!(
            t.items().last().unwrap().action,
            Some(("Undo".into(), "restore"))
        );
        assert_eq!(ToastKind::Error.role(), "alert");
        assert_eq!(ToastKind::Success.role(), "status");
    }
}
