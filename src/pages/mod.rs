//! One module per page.

mod case_detail;
mod cases;
mod dashboard;
pub mod new_case;
mod not_found;
mod performance;
mod sign_in;
mod sync;

pub use case_detail::CaseDetail;
pub use cases::CasesPage;
pub use dashboard::DashboardPage;
pub use new_case::{EditCase, NewCase};
pub use not_found::NotFound;
pub use performance::PerformancePage;
pub use sign_in::SignIn;
pub use sync::SyncCenter;
