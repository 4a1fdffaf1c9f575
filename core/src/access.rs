//! Who may read and change what (SPEC §10): one pure function of the actor,
//! the case as the server stores it, and the event.
//!
//! | | caseworker | supervisor | admin |
//! |---|---|---|---|
//! | read a case | of their teams | of their teams | no (admins manage users and teams, not case files) |
//! | create a case | in their team, unassigned or assigned to themselves | in their team, any assignee of the team | no |
//! | edit title, description, priority, tags | assigned to them | their teams' cases | no |
//! | status open ↔ in review | assigned to them | their teams' cases | no |
//! | close or reopen | no | their teams' cases | no |
//! | claim (assign an unassigned case to themselves) | their teams' cases | their teams' cases | no |
//! | assign to another, unassign | no | their teams' cases, to a member of the team | no |
//! | delete, restore | no | their teams' cases | no |
//! | move to another team | no | between their teams, with an assignee of the new team (or none) | no |
//! | add a note | assigned to them, as themselves | their teams' cases, as themselves | no |
//!
//! A case the actor may not read is, to them, no case at all: reads answer
//! 404 and writes are refused as [`Denied::Unreadable`].

use crate::api::CaseStatus;
use crate::event::EventData;
use serde::{Deserialize, Serialize};

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Works the cases assigned to them in their teams.
    Caseworker,
    /// Runs their teams' cases: assigns, closes, deletes.
    Supervisor,
    /// Manages users and teams.
    Admin,
}

impl Role {
    /// Its name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Caseworker => "caseworker",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// The role with this name.
    pub fn parse(name: &str) -> Option<Role> {
        [Role::Caseworker, Role::Supervisor, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == name)
    }
}

/// Who is acting, as the server knows them from their session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The user's sign-in name (what a case's assignee names).
    pub user: String,
    /// Their role.
    pub role: Role,
    /// The teams they belong to (team ids).
    pub teams: Vec<String>,
}

/// What the access rule needs of a case as the server stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseAccess {
    /// The team it belongs to.
    pub team: String,
    /// The user it is assigned to.
    pub assignee: Option<String>,
    /// Its status.
    pub status: CaseStatus,
}

/// Why an actor may not do something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// The case is not one they may read: to them it does not exist.
    Unreadable,
    /// They may read the case but not make this change; the words say why.
    Forbidden(&'static str),
}

impl Denied {
    /// In words, for the per-event answer and the access log.
    pub fn reason(&self) -> &'static str {
        match self {
            Denied::Unreadable => "you do not have access to this case",
            Denied::Forbidden(why) => why,
        }
    }
}

/// Whether `actor` may read `case`.
pub fn may_read(actor: &Actor, case: &CaseAccess) -> bool {
    actor.role != Role::Admin && actor.teams.contains(&case.team)
}

/// Whether a user's role change from `before` to `after` changes which of
/// their teams' cases they may read ([`may_read`]: an administrator reads
/// none), so the server records an access change for each of those cases
/// (SPEC §10: it travels in the pull as granted or revoked).
pub fn role_change_moves_access(before: Role, after: Role) -> bool {
    (before == Role::Admin) != (after == Role::Admin)
}

/// Whom a form offers as a case's assignee, by name: a supervisor, the
/// members of the case's team (`None`: not known on this device, so
/// everyone they may see; the server checks the team again); a caseworker,
/// only themselves. The current assignee stays on offer (a form that loses
/// it would reassign by accident), and "unassigned" (`None`) is first when
/// the actor may unassign or nobody is assigned yet.
pub fn assignable(
    actor: &Actor,
    people: &[crate::api::Person],
    team: Option<&str>,
    current: Option<&str>,
) -> Vec<Option<String>> {
    let supervisor = actor.role == Role::Supervisor;
    let mut offer: Vec<Option<String>> = Vec::new();
    if supervisor || current.is_none() {
        offer.push(None);
    }
    let mut add = |name: &str| {
        if !offer.iter().flatten().any(|n| n == name) {
            offer.push(Some(name.to_string()));
        }
    };
    if let Some(c) = current {
        add(c);
    }
    match actor.role {
        Role::Supervisor => people
            .iter()
            .filter(|p| team.is_none_or(|t| p.teams.iter().any(|m| m == t)))
            .for_each(|p| add(&p.name)),
        Role::Caseworker => add(&actor.user),
        Role::Admin => {}
    }
    offer
}

/// The team a new case joins: the one its creation names, else the
/// creator's first team (`None`: they have none). Whether they may create
/// there is [`authorize`]'s question.
pub fn new_case_team<'a>(actor: &'a Actor, event: &'a EventData) -> Option<&'a str> {
    match event {
        EventData::CaseCreated(f) => f.team.as_deref(),
        _ => None,
    }
    .or_else(|| actor.teams.first().map(String::as_str))
}

/// Whether `actor` may apply `event` to `case` (`None`: a new case, whose
/// team is `new_team`). `team_members` lists the users of the team the
/// case is in after the event (its own, or the one a move names), for an
/// assignee the event names. Checks the event's intent only;
/// whether the event fits the case's version is the judge's business.
pub fn authorize(
    actor: &Actor,
    case: Option<&CaseAccess>,
    new_team: Option<&str>,
    event: &EventData,
    team_members: &[String],
) -> Result<(), Denied> {
    if actor.role == Role::Admin {
        return Err(Denied::Forbidden(
            "administrators manage users and teams, not cases",
        ));
    }
    let supervisor = actor.role == Role::Supervisor;
    let member = |user: &str| team_members.iter().any(|m| m == user);
    let Some(case) = case else {
        let EventData::CaseCreated(fields) = event else {
            return Err(Denied::Unreadable);
        };
        if !new_team.is_some_and(|t| actor.teams.iter().any(|m| m == t)) {
            return Err(Denied::Forbidden(
                "you can create cases only in your own team",
            ));
        }
        return match fields.assignee.as_deref() {
            None => Ok(()),
            Some(a) if a == actor.user => Ok(()),
            Some(a) if supervisor && member(a) => Ok(()),
            Some(_) if supervisor => Err(Denied::Forbidden(
                "the assignee must be a member of the case's team",
            )),
            Some(_) => Err(Denied::Forbidden(
                "a caseworker can assign a new case only to themselves",
            )),
        };
    };
    if !may_read(actor, case) {
        return Err(Denied::Unreadable);
    }
    let mine = case.assignee.as_deref() == Some(actor.user.as_str());
    let works_on = supervisor || mine;
    match event {
        EventData::CaseCreated(_) => Ok(()), // the judge refuses a second creation
        EventData::CaseDeleted | EventData::CaseRestored => {
            if supervisor {
                Ok(())
            } else {
                Err(Denied::Forbidden(
                    "only a supervisor can delete or restore a case",
                ))
            }
        }
        EventData::NoteAdded(note) => {
            if note.author != actor.user {
                Err(Denied::Forbidden("a note's author must be you"))
            } else if works_on {
                Ok(())
            } else {
                Err(Denied::Forbidden(
                    "you can add notes only to cases assigned to you",
                ))
            }
        }
        EventData::CaseUpdated(patch) => {
            let moving = patch.team.as_ref().filter(|t| **t != case.team);
            if let Some(to) = moving {
                if !supervisor || !actor.teams.contains(to) {
                    return Err(Denied::Forbidden(
                        "only a supervisor of both teams can move a case",
                    ));
                }
                // Whoever it stays with must be able to read it there.
                let keeps = patch
                    .assignee
                    .clone()
                    .unwrap_or_else(|| case.assignee.clone());
                if keeps.as_deref().is_some_and(|a| !member(a)) {
                    return Err(Denied::Forbidden(
                        "the assignee must be a member of the team the case moves to",
                    ));
                }
            }
            if let Some(assignee) = &patch.assignee {
                let claim = case.assignee.is_none() && assignee.as_deref() == Some(&actor.user);
                let allowed = claim
                    || (supervisor && assignee.as_deref().is_none_or(member))
                    || assignee == &case.assignee;
                if !allowed {
                    return Err(Denied::Forbidden(if supervisor {
                        "the assignee must be a member of the case's team"
                    } else {
                        "a caseworker can only claim an unassigned case for themselves"
                    }));
                }
            }
            let claiming_only = patch.assignee.is_some() && patch.fields().len() == 1;
            if claiming_only {
                return Ok(());
            }
            // Other fields: the case must be theirs once a claim in this
            // same change is counted.
            let claimed = patch
                .assignee
                .as_ref()
                .is_some_and(|a| a.as_deref() == Some(&actor.user));
            if !(works_on || claimed) {
                return Err(Denied::Forbidden(
                    "you can change only cases assigned to you",
                ));
            }
            if let Some(status) = patch.status {
                let closing = status == CaseStatus::Closed || case.status == CaseStatus::Closed;
                if closing && status != case.status && !supervisor {
                    return Err(Denied::Forbidden(
                        "only a supervisor can close or reopen a case",
                    ));
                }
            }
            Ok(())
        }
    }
}

/// What a request says about where it comes from, for [`forgery`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Provenance<'a> {
    /// Its `Origin` header.
    pub origin: Option<&'a str>,
    /// The origin pages of this server have.
    pub own_origin: Option<&'a str>,
    /// Its `Sec-Fetch-Site` header.
    pub fetch_site: Option<&'a str>,
    /// Its `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// Its `X-Casefile` header.
    pub app_header: Option<&'a str>,
}

/// Why a request authenticated by the browser's cookie may be forged by
/// another site (SPEC §10), or `None`. It must come from the server's own
/// origin and not be a cross-site fetch; a `write` must also be JSON and
/// carry the app's header (`X-Casefile: 1`, which no cross-site form can
/// set).
pub fn forgery(p: Provenance<'_>, write: bool) -> Option<&'static str> {
    match (p.origin, p.own_origin) {
        (None, _) => return Some("the request has no Origin header"),
        (Some(o), Some(own)) if o == own => {}
        _ => return Some("the request comes from another origin"),
    }
    if p.fetch_site == Some("cross-site") {
        return Some("a cross-site request");
    }
    if write {
        if !p
            .content_type
            .is_some_and(|c| c.starts_with("application/json"))
        {
            return Some("a write must be JSON (Content-Type: application/json)");
        }
        if p.app_header != Some("1") {
            return Some("the request lacks the app's X-Casefile header");
        }
    }
    None
}

/// Why a write that names its user ([`crate::queue::USER_HEADER`]) may not
/// travel under this session, or `None`. On a shared device one person's
/// queued write must never land as whoever is signed in when it replays:
/// the server refuses it (401, so the worker keeps it, spending nothing,
/// until its user signs in again). A write that names nobody (an API
/// client) is the session's own.
pub fn other_user(claimed: Option<&str>, signed_in: &str) -> Option<&'static str> {
    match claimed {
        Some(user) if user != signed_in => Some(
            "this change was made by another person signed in on this device; it waits until they sign in again",
        ),
        _ => None,
    }
}

/// Names a server always answers to (loopback), whatever it is configured
/// with.
pub const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "localhost", "[::1]"];

/// The name part of a `Host` (no port; an IPv6 literal keeps its brackets).
pub fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or(host)
    } else {
        host.split(':').next().unwrap_or(host)
    }
}

/// Whether a request's `Host` is one of the server's names (DNS rebinding:
/// a foreign name that resolves here is refused). No `Host` (HTTP/1.0, an
/// in-process request) has nothing to rebind.
pub fn host_allowed(host: Option<&str>, allowed: &[String]) -> bool {
    let Some(host) = host else { return true };
    let name = host_name(host).to_ascii_lowercase();
    LOOPBACK_HOSTS.contains(&name.as_str()) || allowed.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{CaseFields, CasePatch, NoteData};

    fn actor(user: &str, role: Role, teams: &[&str]) -> Actor {
        Actor {
            user: user.into(),
            role,
            teams: teams.iter().map(|t| t.to_string()).collect(),
        }
    }
    fn cw() -> Actor {
        actor("casey", Role::Caseworker, &["north"])
    }
    fn sv() -> Actor {
        actor("sam", Role::Supervisor, &["north"])
    }
    fn admin() -> Actor {
        actor("ada", Role::Admin, &["north"])
    }
    fn case(assignee: Option<&str>, status: CaseStatus) -> CaseAccess {
        CaseAccess {
            team: "north".into(),
            assignee: assignee.map(str::to_string),
            status,
        }
    }
    fn members() -> Vec<String> {
        ["casey", "sam", "kim"].map(String::from).to_vec()
    }
    fn update(p: CasePatch) -> EventData {
        EventData::CaseUpdated(p)
    }
    fn title() -> EventData {
        update(CasePatch {
            title: Some("t".into()),
            ..CasePatch::default()
        })
    }
    fn status(s: CaseStatus) -> EventData {
        update(CasePatch {
            status: Some(s),
            ..CasePatch::default()
        })
    }
    fn assign(to: Option<&str>) -> EventData {
        update(CasePatch {
            assignee: Some(to.map(str::to_string)),
            ..CasePatch::default()
        })
    }
    fn note(author: &str) -> EventData {
        EventData::NoteAdded(NoteData {
            note_id: "n".into(),
            body: "b".into(),
            author: author.into(),
        })
    }
    fn create(assignee: Option<&str>) -> EventData {
        let mut f = CaseFields::titled("new");
        f.assignee = assignee.map(str::to_string);
        EventData::CaseCreated(f)
    }
    fn on(a: &Actor, c: &CaseAccess, e: &EventData) -> Result<(), Denied> {
        authorize(a, Some(c), None, e, &members())
    }
    fn forbidden(r: Result<(), Denied>) -> bool {
        matches!(r, Err(Denied::Forbidden(_)))
    }

    use CaseStatus::*;

    #[test]
    fn reading_follows_team_membership_and_admins_read_no_cases() {
        let north = case(None, Open);
        let south = CaseAccess {
            team: "south".into(),
            ..north.clone()
        };
        assert!(may_read(&cw(), &north));
        assert!(may_read(&sv(), &north));
        assert!(!may_read(&cw(), &south));
        assert!(!may_read(&sv(), &south));
        assert!(!may_read(&admin(), &north));
    }

    #[test]
    fn another_teams_case_is_unreadable_for_every_change() {
        let south = CaseAccess {
            team: "south".into(),
            ..case(Some("casey"), Open)
        };
        for e in [
            title(),
            status(Closed),
            assign(Some("casey")),
            note("casey"),
            EventData::CaseDeleted,
        ] {
            assert_eq!(on(&cw(), &south, &e), Err(Denied::Unreadable), "{e:?}");
            assert_eq!(on(&sv(), &south, &e), Err(Denied::Unreadable), "{e:?}");
        }
        // And a change to a case that does not exist reads the same.
        assert_eq!(
            authorize(&cw(), None, None, &title(), &members()),
            Err(Denied::Unreadable)
        );
    }

    #[test]
    fn creating_a_case() {
        let new =
            |a: &Actor, team: Option<&str>, e: &EventData| authorize(a, None, team, e, &members());
        assert_eq!(new(&cw(), Some("north"), &create(None)), Ok(()));
        assert_eq!(new(&cw(), Some("north"), &create(Some("casey"))), Ok(()));
        assert!(forbidden(new(&cw(), Some("north"), &create(Some("kim")))));
        assert!(
            forbidden(new(&cw(), Some("south"), &create(None))),
            "not their team"
        );
        assert!(forbidden(new(&cw(), None, &create(None))), "no team");
        assert_eq!(new(&sv(), Some("north"), &create(Some("kim"))), Ok(()));
        assert!(forbidden(new(
            &sv(),
            Some("north"),
            &create(Some("stranger"))
        )));
        assert!(forbidden(new(&admin(), Some("north"), &create(None))));
    }

    #[test]
    fn a_form_offers_the_assignees_the_actor_may_choose() {
        let person = |name: &str, teams: &[&str]| crate::api::Person {
            name: name.into(),
            display_name: name.to_uppercase(),
            teams: teams.iter().map(|t| t.to_string()).collect(),
            role: Role::Caseworker,
        };
        let people = [
            person("casey", &["north"]),
            person("kim", &["south"]),
            person("sam", &["north", "south"]),
        ];
        let some = |n: &str| Some(n.to_string());
        let both = actor("sam", Role::Supervisor, &["north", "south"]);
        assert_eq!(
            assignable(&both, &people, Some("north"), None),
            [None, some("casey"), some("sam")],
            "north's members only"
        );
        assert_eq!(
            assignable(&both, &people, None, Some("kim")),
            [None, some("kim"), some("casey"), some("sam")],
            "team unknown: all they see, the current one first"
        );
        assert_eq!(
            assignable(&cw(), &people, Some("north"), None),
            [None, some("casey")],
            "a caseworker claims, nothing more"
        );
        assert_eq!(
            assignable(&cw(), &people, Some("north"), Some("casey")),
            [some("casey")],
            "and cannot unassign"
        );
        assert_eq!(assignable(&admin(), &people, None, None), [None]);
    }

    #[test]
    fn a_new_case_joins_the_team_its_creation_names_or_the_first() {
        let both = actor("sam", Role::Supervisor, &["north", "south"]);
        let mut named = CaseFields::titled("new");
        named.team = Some("south".into());
        let named = EventData::CaseCreated(named);
        assert_eq!(new_case_team(&both, &named), Some("south"));
        assert_eq!(new_case_team(&both, &create(None)), Some("north"));
        let none = actor("new", Role::Caseworker, &[]);
        assert_eq!(new_case_team(&none, &create(None)), None, "no team at all");
        // Naming a team one is not in is the creator's choice, and refused.
        let casey = cw();
        let team = new_case_team(&casey, &named);
        assert!(forbidden(authorize(&casey, None, team, &named, &members())));
    }

    #[test]
    fn editing_fields() {
        let mine = case(Some("casey"), Open);
        let theirs = case(Some("kim"), Open);
        let nobodys = case(None, Open);
        assert_eq!(on(&cw(), &mine, &title()), Ok(()));
        assert!(forbidden(on(&cw(), &theirs, &title())));
        assert!(forbidden(on(&cw(), &nobodys, &title())));
        assert_eq!(on(&sv(), &theirs, &title()), Ok(()));
        assert_eq!(on(&sv(), &nobodys, &title()), Ok(()));
        assert!(forbidden(on(&admin(), &mine, &title())));
    }

    #[test]
    fn status_changes_and_closing() {
        let mine = case(Some("casey"), Open);
        let mine_closed = case(Some("casey"), Closed);
        let theirs = case(Some("kim"), Open);
        assert_eq!(on(&cw(), &mine, &status(InReview)), Ok(()));
        assert!(forbidden(on(&cw(), &mine, &status(Closed))), "close");
        assert!(forbidden(on(&cw(), &mine_closed, &status(Open))), "reopen");
        assert_eq!(
            on(&cw(), &mine_closed, &status(Closed)),
            Ok(()),
            "no change"
        );
        assert!(forbidden(on(&cw(), &theirs, &status(InReview))));
        assert_eq!(on(&sv(), &theirs, &status(Closed)), Ok(()));
        assert_eq!(on(&sv(), &mine_closed, &status(Open)), Ok(()));
    }

    #[test]
    fn claiming_and_assigning() {
        let nobodys = case(None, Open);
        let theirs = case(Some("kim"), Open);
        let mine = case(Some("casey"), Open);
        assert_eq!(on(&cw(), &nobodys, &assign(Some("casey"))), Ok(()), "claim");
        assert!(forbidden(on(&cw(), &nobodys, &assign(Some("kim")))));
        assert!(
            forbidden(on(&cw(), &theirs, &assign(Some("casey")))),
            "take over"
        );
        assert!(forbidden(on(&cw(), &mine, &assign(None))), "unassign");
        assert!(
            forbidden(on(&cw(), &mine, &assign(Some("kim")))),
            "hand over"
        );
        assert_eq!(on(&sv(), &theirs, &assign(Some("casey"))), Ok(()));
        assert_eq!(on(&sv(), &theirs, &assign(None)), Ok(()));
        assert!(forbidden(on(&sv(), &theirs, &assign(Some("stranger")))));
        // A claim with an edit in the same change.
        let claim_and_edit = update(CasePatch {
            assignee: Some(Some("casey".into())),
            title: Some("mine now".into()),
            ..CasePatch::default()
        });
        assert_eq!(on(&cw(), &nobodys, &claim_and_edit), Ok(()));
    }

    #[test]
    fn a_supervisor_of_both_teams_moves_a_case_with_an_assignee_of_the_new_team() {
        let both = actor("sam", Role::Supervisor, &["north", "south"]);
        let south = ["sol".to_string(), "sam".to_string()];
        let move_to = |team: &str, assignee: Option<Option<&str>>| {
            update(CasePatch {
                team: Some(team.into()),
                assignee: assignee.map(|a| a.map(str::to_string)),
                ..CasePatch::default()
            })
        };
        let caseys = case(Some("casey"), Open);
        let at = |a: &Actor, e: &EventData| authorize(a, Some(&caseys), None, e, &south);
        assert_eq!(at(&both, &move_to("south", Some(Some("sol")))), Ok(()));
        assert_eq!(at(&both, &move_to("south", Some(None))), Ok(()));
        assert!(
            forbidden(at(&both, &move_to("south", None))),
            "casey would keep a case she cannot read"
        );
        assert!(
            forbidden(at(&sv(), &move_to("south", Some(Some("sol"))))),
            "not a supervisor of the team it goes to"
        );
        assert!(forbidden(at(&cw(), &move_to("south", Some(None)))));
        // Naming the team it is in already is no move.
        assert_eq!(on(&sv(), &caseys, &move_to("north", None)), Ok(()));
    }

    #[test]
    fn deleting_and_restoring() {
        let mine = case(Some("casey"), Open);
        for e in [EventData::CaseDeleted, EventData::CaseRestored] {
            assert!(forbidden(on(&cw(), &mine, &e)));
            assert_eq!(on(&sv(), &mine, &e), Ok(()));
            assert!(forbidden(on(&admin(), &mine, &e)));
        }
    }

    #[test]
    fn notes() {
        let mine = case(Some("casey"), Open);
        let theirs = case(Some("kim"), Open);
        assert_eq!(on(&cw(), &mine, &note("casey")), Ok(()));
        assert!(forbidden(on(&cw(), &mine, &note("kim"))), "spoofed author");
        assert!(forbidden(on(&cw(), &theirs, &note("casey"))));
        assert_eq!(on(&sv(), &theirs, &note("sam")), Ok(()));
        assert!(
            forbidden(on(&sv(), &theirs, &note("casey"))),
            "spoofed author"
        );
    }

    #[test]
    fn a_cookie_request_must_come_from_the_apps_own_page() {
        let own = "http://127.0.0.1:8080";
        let page = Provenance {
            origin: Some(own),
            own_origin: Some(own),
            fetch_site: Some("same-origin"),
            content_type: Some("application/json"),
            app_header: Some("1"),
        };
        assert_eq!(forgery(page, true), None);
        let cases = [
            (
                Provenance {
                    origin: None,
                    ..page
                },
                "no Origin",
            ),
            (
                Provenance {
                    origin: Some("http://evil.example"),
                    ..page
                },
                "another origin",
            ),
            (
                Provenance {
                    fetch_site: Some("cross-site"),
                    ..page
                },
                "cross-site",
            ),
            (
                Provenance {
                    content_type: Some("text/plain"),
                    ..page
                },
                "JSON",
            ),
            (
                Provenance {
                    app_header: None,
                    ..page
                },
                "X-Casefile",
            ),
        ];
        for (p, why) in cases {
            assert!(forgery(p, true).is_some_and(|w| w.contains(why)), "{why}");
        }
        // A read (the socket upgrade) needs only the origin checks.
        let upgrade = Provenance {
            content_type: None,
            app_header: None,
            ..page
        };
        assert_eq!(forgery(upgrade, false), None);
    }

    #[test]
    fn only_the_servers_own_names_are_answered() {
        let allowed = vec!["casefile.example.org".to_string()];
        for ok in [
            None,
            Some("127.0.0.1:8080"),
            Some("localhost"),
            Some("[::1]:9"),
            Some("CaseFile.example.org:443"),
        ] {
            assert!(host_allowed(ok, &allowed), "{ok:?}");
        }
        assert!(!host_allowed(Some("attacker.example"), &allowed));
        assert!(!host_allowed(Some("127.0.0.1.attacker.example"), &allowed));
    }

    #[test]
    fn roles_round_trip_their_names() {
        for r in [Role::Caseworker, Role::Supervisor, Role::Admin] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn a_write_naming_another_user_is_not_this_sessions() {
        assert_eq!(other_user(None, "sam"), None);
        assert_eq!(other_user(Some("sam"), "sam"), None);
        assert!(other_user(Some("kim"), "sam").is_some());
        assert!(other_user(Some("Sam"), "sam").is_some(), "names are exact");
    }
    #[test]
    fn only_a_role_change_to_or_from_admin_moves_access() {
        let case = CaseAccess {
            team: "north".into(),
            assignee: None,
            status: CaseStatus::Open,
        };
        let roles = [Role::Caseworker, Role::Supervisor, Role::Admin];
        for before in roles {
            for after in roles {
                let reads = |role| may_read(&actor("x", role, &["north"]), &case);
                assert_eq!(
                    role_change_moves_access(before, after),
                    reads(before) != reads(after),
                    "{before:?} -> {after:?}"
                );
            }
        }
    }
}
