//! The sidebar's navigation, as one table: a new page adds its row here (in sidebar
//! order) with who may see it; `CurrentUser::layout` keeps the rows this user may use.

use crate::domain::roles::Role;
use crate::web::view::layout::NavItem;

/// Who sees an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every signed-in member of the tenant (not staff: they see no tenant pages).
    Members,
    /// Analysts and up of the tenant (not staff): what they may change, e.g. API tokens.
    Analysts,
    /// Admins and owners of the tenant (not staff).
    Admins,
    /// PayerWatch staff, whatever their role in the tenant.
    Staff,
    /// Everyone signed in, staff included (their own account).
    Everyone,
}

#[derive(Debug, Clone, Copy)]
pub struct NavEntry {
    pub label: &'static str,
    pub href: &'static str,
    pub audience: Audience,
}

const fn entry(label: &'static str, href: &'static str, audience: Audience) -> NavEntry {
    NavEntry {
        label,
        href,
        audience,
    }
}

/// The sidebar, top to bottom.
pub const NAV: &[NavEntry] = &[
    entry("Overview", "/portal", Audience::Members),
    entry("Uploads", "/portal/uploads", Audience::Members),
    entry("Drift", "/portal/drift", Audience::Members),
    entry("Denials", "/portal/denials", Audience::Members),
    entry("Delays", "/portal/delays", Audience::Members),
    entry("Alerts", "/portal/alerts", Audience::Members),
    entry("Payers", "/portal/payers", Audience::Members),
    entry("Mappings", "/portal/settings/mappings", Audience::Members),
    entry("Alert rules", "/portal/settings/rules", Audience::Admins),
    entry("Analytics", "/portal/settings/analytics", Audience::Members),
    entry("API tokens", "/portal/settings/tokens", Audience::Analysts),
    entry("Channels", "/portal/settings/channels", Audience::Admins),
    entry("Users", "/portal/settings/users", Audience::Admins),
    entry("Audit", "/portal/settings/audit", Audience::Admins),
    entry("Metrics", "/portal/admin/metrics", Audience::Staff),
    entry("Help", "/portal/help", Audience::Members),
    entry("Password", "/portal/account/password", Audience::Everyone),
];

/// The entries a user with `role` (and staff flag) may use, `active` marked.
pub fn nav_for(role: Role, is_staff: bool, active: &str) -> Vec<NavItem> {
    NAV.iter()
        .filter(|e| match e.audience {
            // Staff hold no tenant data: every tenant page answers them 404 (SPEC §1).
            Audience::Members => !is_staff,
            Audience::Analysts => !is_staff && role.allows(Role::Analyst),
            Audience::Admins => !is_staff && role.allows(Role::Admin),
            Audience::Staff => is_staff,
            Audience::Everyone => true,
        })
        .map(|e| NavItem {
            label: e.label,
            href: e.href,
            active: e.href == active,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(role: Role, staff: bool) -> Vec<&'static str> {
        nav_for(role, staff, "").iter().map(|i| i.label).collect()
    }

    #[test]
    fn each_role_sees_its_rows_in_table_order() {
        let viewer = labels(Role::Viewer, false);
        assert_eq!(viewer.first(), Some(&"Overview"));
        assert_eq!(viewer.last(), Some(&"Password"));
        assert!(!viewer.contains(&"Users") && !viewer.contains(&"Metrics"));
        let admin = labels(Role::Admin, false);
        assert!(admin.contains(&"Channels") && admin.contains(&"Audit"));
        assert!(!admin.contains(&"Metrics"));
        assert_eq!(labels(Role::Viewer, true), ["Metrics", "Password"]);
        assert_eq!(
            labels(Role::Owner, true),
            ["Metrics", "Password"],
            "staff see no tenant pages, whatever their role"
        );
    }

    #[test]
    fn the_active_page_is_marked() {
        let nav = nav_for(Role::Admin, false, "/portal/alerts");
        let active: Vec<_> = nav.iter().filter(|i| i.active).map(|i| i.href).collect();
        assert_eq!(active, ["/portal/alerts"]);
    }
}
