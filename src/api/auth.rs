//! Who is signed in, on either kind of organization, and what they may do.
//!
//! * The local organization: sign-in with `POST /api/auth/login` (its session cookie),
//!   `POST /api/auth/logout`; who is signed in from `GET /api/auth/me` (with the role
//!   names, for the header).
//! * A Dataverse environment: signed in when the console holds a token for it
//!   (`crate::org::flow`); who is signed in from `WhoAmI()` and the user's record.
//!
//! On both, what the user may do comes from their privileges
//! (`systemusers(<id>)/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()`, roles inherited
//! through teams included), not from role names: a customized organization's roles are
//! whatever it made them.

use serde::{Deserialize, Serialize};

use super::{get_json, post_empty, post_json, ApiResult};
use crate::org::current::{self, Org};

/// One privilege the user holds, at a depth (`Basic`: their own records; `Local`,
/// `Deep`, `Global`: their business unit's or the organization's).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Privilege {
    #[serde(rename = "PrivilegeName")]
    pub name: String,
    #[serde(rename = "Depth", default)]
    pub depth: String,
}

/// The signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    pub systemuserid: String,
    #[serde(default)]
    pub fullname: String,
    #[serde(default)]
    pub domainname: String,
    /// Security role names, when the organization says them ("System
    /// Administrator", ...); for the header only.
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(skip)]
    pub privileges: Vec<Privilege>,
}

impl User {
    /// The name to show: the full name, else the user name.
    pub fn display_name(&self) -> &str {
        if self.fullname.trim().is_empty() {
            &self.domainname
        } else {
            &self.fullname
        }
    }

    /// Holds `privilege` at any depth.
    pub fn can(&self, privilege: &str) -> bool {
        self.privileges
            .iter()
            .any(|p| p.name.eq_ignore_ascii_case(privilege))
    }

    /// Holds `privilege` beyond their own records (any depth but Basic).
    pub fn can_broadly(&self, privilege: &str) -> bool {
        self.privileges
            .iter()
            .any(|p| p.name.eq_ignore_ascii_case(privilege) && p.depth != "Basic")
    }

    /// May change System Settings, profiles, users and queues, and create or delete
    /// mailboxes (Write on the organization, an organization-owned table: any depth
    /// counts, as privileges inherited through a team are reported at Basic).
    pub fn is_admin(&self) -> bool {
        self.can("prvWriteOrganization")
    }

    /// The roles as one line; without names, what the privileges make them.
    pub fn roles_label(&self) -> String {
        if !self.roles.is_empty() {
            return self.roles.join(", ");
        }
        if self.is_admin() {
            "Administrator".to_string()
        } else if self.can("prvApproveRejectEmailAddress") {
            "Approver".to_string()
        } else {
            "User".to_string()
        }
    }
}

#[derive(Serialize)]
struct Credentials<'a> {
    username: &'a str,
    password: &'a str,
}

/// `POST /api/auth/login` answer. The token is also set as the HttpOnly session cookie,
/// which is what the console uses; the token itself is not kept.
#[derive(Deserialize)]
struct LoginAnswer {
    #[serde(rename = "access_token")]
    _access_token: String,
}

/// Signs in to the local organization; on success the browser holds the session
/// cookie. Wrong credentials are a 401 [`ApiError`](super::ApiError) whose message
/// says so.
pub async fn login(username: &str, password: &str) -> ApiResult<()> {
    let _: LoginAnswer = post_json("/api/auth/login", &Credentials { username, password }).await?;
    Ok(())
}

/// Ends the session: the local organization's cookie, or the environment's tokens.
pub async fn logout() -> ApiResult<()> {
    match current::current() {
        Org::Local => post_empty("/api/auth/logout").await,
        Org::Dataverse(env) => {
            crate::org::flow::sign_out(&env);
            Ok(())
        }
    }
}

#[derive(Deserialize)]
struct WhoAmI {
    #[serde(rename = "UserId")]
    user_id: String,
}

#[derive(Deserialize)]
struct Privileges {
    #[serde(rename = "RolePrivileges", default)]
    list: Vec<Privilege>,
}

#[derive(Deserialize)]
struct RoleName {
    #[serde(default)]
    name: String,
}

/// The signed-in user with their privileges; `None` when signed out (no session or
/// token, or it expired).
pub async fn me() -> ApiResult<Option<User>> {
    let user = match current::current() {
        Org::Local => match get_json::<User>("/api/auth/me").await {
            Ok(user) => user,
            Err(e) if e.is_unauthorized() => return Ok(None),
            Err(e) => return Err(e),
        },
        Org::Dataverse(env) => {
            if !current::has_token(&env.url) && current::refresh_token(&env.url).is_none() {
                return Ok(None);
            }
            let who = match get_json::<WhoAmI>("/api/data/v9.2/WhoAmI()").await {
                Ok(w) => w,
                Err(e) if e.is_unauthorized() => return Ok(None),
                Err(e) => return Err(e),
            };
            let mut user: User = get_json(&format!(
                "/api/data/v9.2/systemusers({})?$select=fullname,domainname",
                who.user_id
            ))
            .await?;
            user.systemuserid = who.user_id;
            // Role names only label the header; an organization that will not say them
            // still works.
            if let Ok(roles) = get_json::<super::Collection<RoleName>>(&format!(
                "/api/data/v9.2/systemusers({})/systemuserroles_association?$select=name",
                user.systemuserid
            ))
            .await
            {
                user.roles = roles.value.into_iter().map(|r| r.name).collect();
            }
            user
        }
    };
    let privileges: Privileges = get_json(&format!(
        "/api/data/v9.2/systemusers({})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()",
        user.systemuserid
    ))
    .await?;
    Ok(Some(User {
        privileges: privileges.list,
        ..user
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(privileges: &[(&str, &str)]) -> User {
        User {
            systemuserid: "0d1".into(),
            fullname: String::new(),
            domainname: "pat".into(),
            roles: vec![],
            privileges: privileges
                .iter()
                .map(|(n, d)| Privilege {
                    name: n.to_string(),
                    depth: d.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn reads_the_me_answer() {
        let user: User = serde_json::from_str(
            r#"{"systemuserid":"0d1","fullname":"Avery Admin","domainname":"admin",
                "roles":["System Administrator","Global Administrator"]}"#,
        )
        .unwrap();
        assert_eq!(user.display_name(), "Avery Admin");
        assert_eq!(
            user.roles_label(),
            "System Administrator, Global Administrator"
        );
        let plain: User = serde_json::from_str(
            r#"{"systemuserid":"0d2","fullname":"","domainname":"pat","roles":[]}"#,
        )
        .unwrap();
        assert_eq!(plain.display_name(), "pat");
        assert_eq!(plain.roles_label(), "User");
    }

    #[test]
    fn what_a_user_may_do_comes_from_privileges() {
        let admin = with(&[
            ("prvWriteOrganization", "Global"),
            ("prvApproveRejectEmailAddress", "Global"),
        ]);
        assert!(admin.is_admin());
        assert_eq!(admin.roles_label(), "Administrator");
        let approver = with(&[
            ("prvWriteMailbox", "Global"),
            ("prvApproveRejectEmailAddress", "Global"),
        ]);
        assert!(!approver.is_admin() && approver.can("prvApproveRejectEmailAddress"));
        assert_eq!(approver.roles_label(), "Approver");
        let plain = with(&[("prvWriteMailbox", "Basic"), ("prvReadMailbox", "Basic")]);
        assert!(plain.can("prvWriteMailbox") && !plain.can_broadly("prvWriteMailbox"));
        assert!(!plain.can("prvReadOrganization"));
        assert_eq!(plain.roles_label(), "User");
        let privileges: Privileges = serde_json::from_str(
            r#"{"RolePrivileges":[{"Depth":"Global","PrivilegeId":"x","BusinessUnitId":"y","PrivilegeName":"prvReadMailbox"}]}"#,
        )
        .unwrap();
        assert_eq!(privileges.list[0].name, "prvReadMailbox");
        assert_eq!(privileges.list[0].depth, "Global");
    }
}
