//! The blog's rules, with no knowledge of HTTP or auditing.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Author,
    Editor,
    Admin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub email: String,
    pub two_factor: bool,
}

/// What the audit trail and the API show of a user (never the password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserView {
    pub name: String,
    pub role: Role,
    pub settings: Settings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Draft,
    Approved,
    Rejected,
    Published,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    pub id: u64,
    pub title: String,
    pub body: String,
    pub author: String,
    pub status: Status,
    pub approved_by: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Draft {
    pub title: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlogError {
    BadCredentials,
    NotSignedIn,
    Forbidden(String),
    NoSuchPost(u64),
    NoSuchUser(String),
}

impl fmt::Display for BlogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlogError::BadCredentials => f.write_str("wrong user name or password"),
            BlogError::NotSignedIn => f.write_str("not signed in"),
            BlogError::Forbidden(why) => f.write_str(why),
            BlogError::NoSuchPost(id) => write!(f, "there is no post {id}"),
            BlogError::NoSuchUser(name) => write!(f, "there is no user {name}"),
        }
    }
}

impl std::error::Error for BlogError {}

struct Account {
    password: String,
    role: Role,
    settings: Settings,
}

struct State {
    accounts: BTreeMap<String, Account>,
    posts: BTreeMap<u64, Post>,
    sessions: HashMap<String, String>,
    next_post: u64,
}

pub struct Blog {
    state: Mutex<State>,
    token_keys: RandomState,
}

impl Blog {
    /// The social-media team of the demo. Passwords are the user name
    /// reversed (it is a demo).
    pub fn with_team() -> Blog {
        let team = [
            ("alice", Role::Admin),
            ("bob", Role::Editor),
            ("carol", Role::Author),
            ("dave", Role::Author),
            ("mallory", Role::Author),
        ];
        let accounts = team
            .into_iter()
            .map(|(name, role)| {
                let account = Account {
                    password: name.chars().rev().collect(),
                    role,
                    settings: Settings {
                        email: format!("{name}@example.com"),
                        two_factor: false,
                    },
                };
                (name.to_owned(), account)
            })
            .collect();
        Blog {
            state: Mutex::new(State {
                accounts,
                posts: BTreeMap::new(),
                sessions: HashMap::new(),
                next_post: 40,
            }),
            token_keys: RandomState::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Returns a session token.
    pub fn login(&self, user: &str, password: &str) -> Result<String, BlogError> {
        let mut state = self.state();
        match state.accounts.get(user) {
            Some(account) if account.password == password => {
                let token = format!(
                    "{:016x}{:016x}",
                    self.token_keys.hash_one((user, 1)),
                    self.token_keys.hash_one((user, state.sessions.len()))
                );
                state.sessions.insert(token.clone(), user.to_owned());
                Ok(token)
            }
            _ => Err(BlogError::BadCredentials),
        }
    }

    pub fn logout(&self, token: &str) -> bool {
        self.state().sessions.remove(token).is_some()
    }

    pub fn session_user(&self, token: &str) -> Option<String> {
        self.state().sessions.get(token).cloned()
    }

    pub fn post(&self, id: u64) -> Option<Post> {
        self.state().posts.get(&id).cloned()
    }

    pub fn user_view(&self, name: &str) -> Option<UserView> {
        self.state().accounts.get(name).map(|account| UserView {
            name: name.to_owned(),
            role: account.role,
            settings: account.settings.clone(),
        })
    }

    fn role(state: &State, user: &str) -> Result<Role, BlogError> {
        state
            .accounts
            .get(user)
            .map(|a| a.role)
            .ok_or(BlogError::NotSignedIn)
    }

    pub fn create(&self, author: &str, draft: Draft) -> Result<Post, BlogError> {
        let mut state = self.state();
        Self::role(&state, author)?;
        let id = state.next_post;
        state.next_post += 1;
        let post = Post {
            id,
            title: draft.title,
            body: draft.body,
            author: author.to_owned(),
            status: Status::Draft,
            approved_by: None,
        };
        state.posts.insert(id, post.clone());
        Ok(post)
    }

    fn update(
        &self,
        by: &str,
        id: u64,
        change: impl FnOnce(Role, &mut Post) -> Result<(), BlogError>,
    ) -> Result<Post, BlogError> {
        let mut state = self.state();
        let role = Self::role(&state, by)?;
        let post = state.posts.get_mut(&id).ok_or(BlogError::NoSuchPost(id))?;
        change(role, post)?;
        Ok(post.clone())
    }

    pub fn edit(&self, by: &str, id: u64, draft: Draft) -> Result<Post, BlogError> {
        self.update(by, id, |role, post| {
            if post.author != by && role == Role::Author {
                return Err(BlogError::Forbidden(format!(
                    "{by} may only edit their own posts"
                )));
            }
            post.title = draft.title;
            post.body = draft.body;
            // An approval is for the text that was approved.
            post.status = Status::Draft;
            post.approved_by = None;
            Ok(())
        })
    }

    pub fn approve(&self, by: &str, id: u64) -> Result<Post, BlogError> {
        self.update(by, id, |role, post| {
            if role == Role::Author {
                return Err(BlogError::Forbidden(format!("{by} is not an editor")));
            }
            post.status = Status::Approved;
            post.approved_by = Some(by.to_owned());
            Ok(())
        })
    }

    pub fn reject(&self, by: &str, id: u64) -> Result<Post, BlogError> {
        self.update(by, id, |role, post| {
            if role == Role::Author {
                return Err(BlogError::Forbidden(format!("{by} is not an editor")));
            }
            post.status = Status::Rejected;
            post.approved_by = None;
            Ok(())
        })
    }

    /// Publishing does not check for an approval: the flaw the incident
    /// demo is about, and that the audit trail brings to light.
    pub fn publish(&self, by: &str, id: u64) -> Result<Post, BlogError> {
        self.update(by, id, |role, post| {
            if post.author != by && role == Role::Author {
                return Err(BlogError::Forbidden(format!(
                    "{by} may only publish their own posts"
                )));
            }
            post.status = Status::Published;
            Ok(())
        })
    }

    pub fn delete(&self, by: &str, id: u64) -> Result<Post, BlogError> {
        let mut state = self.state();
        let role = Self::role(&state, by)?;
        let post = state.posts.get(&id).ok_or(BlogError::NoSuchPost(id))?;
        if post.author != by && role == Role::Author {
            return Err(BlogError::Forbidden(format!(
                "{by} may only delete their own posts"
            )));
        }
        state.posts.remove(&id).ok_or(BlogError::NoSuchPost(id))
    }

    pub fn change_role(&self, by: &str, user: &str, role: Role) -> Result<UserView, BlogError> {
        {
            let mut state = self.state();
            if Self::role(&state, by)? != Role::Admin {
                return Err(BlogError::Forbidden(format!("{by} is not an admin")));
            }
            let account = state
                .accounts
                .get_mut(user)
                .ok_or_else(|| BlogError::NoSuchUser(user.to_owned()))?;
            account.role = role;
        }
        self.user_view(user)
            .ok_or_else(|| BlogError::NoSuchUser(user.to_owned()))
    }

    pub fn update_settings(&self, by: &str, settings: Settings) -> Result<UserView, BlogError> {
        {
            let mut state = self.state();
            let account = state.accounts.get_mut(by).ok_or(BlogError::NotSignedIn)?;
            account.settings = settings;
        }
        self.user_view(by).ok_or(BlogError::NotSignedIn)
    }

    pub fn export(&self, by: &str) -> Result<Vec<Post>, BlogError> {
        let state = self.state();
        if Self::role(&state, by)? == Role::Author {
            return Err(BlogError::Forbidden(format!("{by} may not export posts")));
        }
        Ok(state.posts.values().cloned().collect())
    }
}
