//! Sign-in: `POST /api/auth/login`, `POST /api/auth/logout`, `GET /api/auth/me`.

use serde::{Deserialize, Serialize};

use super::{get_json, post_empty, post_json, ApiResult};

/// The signed-in user, as `GET /api/auth/me` returns them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    pub systemuserid: String,
    #[serde(default)]
    pub fullname: String,
    #[serde(default)]
    pub domainname: String,
    /// Security role names ("System Administrator", ...); empty for a plain user.
    #[serde(default)]
    pub roles: Vec<String>,
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

    /// System or Global Administrator: may change System Settings, profiles, users and
    /// queues, and create or delete mailboxes. The other roles manage mailboxes only.
    pub fn is_admin(&self) -> bool {
        self.roles
            .iter()
            .any(|r| r == "System Administrator" || r == "Global Administrator")
    }

    /// The roles as one line ("User" when there are none).
    pub fn roles_label(&self) -> String {
        if self.roles.is_empty() {
            "User".to_string()
        } else {
            self.roles.join(", ")
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

/// Signs in; on success the browser holds the session cookie. Wrong credentials are a
/// 401 [`ApiError`](super::ApiError) whose message says so.
pub async fn login(username: &str, password: &str) -> ApiResult<()> {
    let _: LoginAnswer = post_json("/api/auth/login", &Credentials { username, password }).await?;
    Ok(())
}

/// Ends the session and clears the cookie.
pub async fn logout() -> ApiResult<()> {
    post_empty("/api/auth/logout").await
}

/// The signed-in user; `None` when signed out (no session, or it expired).
pub async fn me() -> ApiResult<Option<User>> {
    match get_json::<User>("/api/auth/me").await {
        Ok(user) => Ok(Some(user)),
        Err(e) if e.is_unauthorized() => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(!plain.is_admin());
        let exchange: User = serde_json::from_str(
            r#"{"systemuserid":"0d3","roles":["Exchange Administrator","Delegated Mailbox Approver"]}"#,
        )
        .unwrap();
        assert!(!exchange.is_admin());
        let global: User =
            serde_json::from_str(r#"{"systemuserid":"0d4","roles":["Global Administrator"]}"#)
                .unwrap();
        assert!(global.is_admin());
    }
}
