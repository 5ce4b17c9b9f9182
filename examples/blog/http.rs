//! The blog as an axum service: one request span per request, carrying the
//! audit context, and one `#[audited]` handler per action.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use audit_layer::http_status::outcome_of_status;
use audit_layer::{
    ClassifyFailure, FailureKind, audited, audited_calls_within, set_context, set_resource,
};
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use super::domain::{Blog, BlogError, Draft, Post, Role, Settings, UserView};

/// The signed-in user, put into the request by the middleware.
#[derive(Debug, Clone)]
pub struct SignedIn(pub String);

/// What a handler can fail with; says how the audit trail should class it.
#[derive(Debug)]
pub struct ApiError(BlogError);

impl From<BlogError> for ApiError {
    fn from(error: BlogError) -> Self {
        ApiError(error)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ClassifyFailure for ApiError {
    fn failure_kind(&self) -> FailureKind {
        match self.0 {
            BlogError::BadCredentials | BlogError::NotSignedIn | BlogError::Forbidden(_) => {
                FailureKind::Denied
            }
            BlogError::NoSuchPost(_) | BlogError::NoSuchUser(_) => {
                FailureKind::Other("not_found".into())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self.0 {
            BlogError::BadCredentials | BlogError::NotSignedIn => StatusCode::UNAUTHORIZED,
            BlogError::Forbidden(_) => StatusCode::FORBIDDEN,
            BlogError::NoSuchPost(_) | BlogError::NoSuchUser(_) => StatusCode::NOT_FOUND,
        };
        (
            status,
            Json(serde_json::json!({ "error": self.0.to_string() })),
        )
            .into_response()
    }
}

type Blogs = State<Arc<Blog>>;
type MaybeSignedIn = Option<Extension<SignedIn>>;

fn signed_in(user: MaybeSignedIn) -> Result<String, ApiError> {
    user.map(|Extension(SignedIn(name))| name)
        .ok_or(ApiError(BlogError::NotSignedIn))
}

/// The service, with its request-span middleware.
pub fn app(blog: Arc<Blog>) -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/posts", post(create_post))
        .route("/posts/{id}", put(edit_post).delete(delete_post))
        .route("/posts/{id}/approve", post(approve_post))
        .route("/posts/{id}/reject", post(reject_post))
        .route("/posts/{id}/publish", post(publish_post))
        .route("/users/{name}/role", put(change_role))
        .route("/account/settings", put(update_settings))
        .route("/export", get(export))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&blog),
            request_span,
        ))
        .with_state(blog)
}

/// Serves `app` on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, blog: Arc<Blog>) -> std::io::Result<()> {
    axum::serve(
        listener,
        app(blog).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

static REQUESTS: AtomicU64 = AtomicU64::new(1);

fn session_token(headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies
        .split(';')
        .find_map(|cookie| cookie.trim().strip_prefix("session="))
        .map(str::to_owned)
}

/// A session's name in the trail: a digest of the token, never the token
/// itself, which would let anyone who reads the trail take over the session.
fn session_id(token: &str) -> String {
    hex::encode(&Sha256::digest(token.as_bytes())[..6])
}

/// Opens the request span: source IP, session, request id, and the actor of
/// a signed-in session. Every audited call in the request inherits them.
async fn request_span(State(blog): Blogs, mut request: Request, next: Next) -> Response {
    // X-Forwarded-For is only to be trusted behind a proxy that sets it; the
    // demo plays the proxy.
    let forwarded = request
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|ip| ip.trim().to_owned());
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    let source_ip = forwarded.or(peer).unwrap_or_default();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("r-{:06}", REQUESTS.fetch_add(1, Ordering::Relaxed)));
    let token = session_token(request.headers());
    let user = token.as_deref().and_then(|token| blog.session_user(token));
    if let Some(user) = &user {
        request.extensions_mut().insert(SignedIn(user.clone()));
    }
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = request.uri().path(),
        audit.source_ip = source_ip,
        audit.request_id = request_id,
        audit.session = token.as_deref().map(session_id),
        audit.actor = user,
    );
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let response = next.run(request).instrument(span.clone()).await;
    if audited_calls_within(&span) == Some(0) && !response.status().is_success() {
        // No audited handler ran: axum's extractors rejected the request
        // (malformed JSON, a missing field, a bad path id) or no route
        // matched. The trail records it, with axum's reason.
        let (parts, body) = response.into_parts();
        let (reason, body) = match rejection_text(body).await {
            Ok(bytes) => (
                String::from_utf8_lossy(&bytes).into_owned(),
                Body::from(bytes),
            ),
            Err(body) => (String::new(), body),
        };
        let _ = span.in_scope(|| rejected(&method, &path, parts.status, &reason));
        return Response::from_parts(parts, body);
    }
    response
}

/// The longest rejection text kept; longer bodies are not read.
const REJECTION_TEXT_LIMIT: usize = 4096;

/// The body of a rejection, read when it is known to be short (axum's are
/// a line); a longer one is passed on unread.
async fn rejection_text(body: Body) -> Result<axum::body::Bytes, Body> {
    let short = axum::body::HttpBody::size_hint(&body)
        .upper()
        .is_some_and(|length| length <= REJECTION_TEXT_LIMIT as u64);
    if !short {
        return Err(body);
    }
    Ok(axum::body::to_bytes(body, REJECTION_TEXT_LIMIT)
        .await
        .unwrap_or_default())
}

/// A request refused before any handler ran.
#[derive(Debug)]
pub struct Rejected {
    status: StatusCode,
    reason: String,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}: {}", self.status.as_u16(), self.reason)
    }
}

impl ClassifyFailure for Rejected {
    fn failure_kind(&self) -> FailureKind {
        outcome_of_status(self.status)
            .kind()
            .cloned()
            .unwrap_or(FailureKind::Invalid)
    }
}

#[audited(action = "request.rejected", resource = path, fields(method = method))]
fn rejected(method: &str, path: &str, status: StatusCode, reason: &str) -> Result<(), Rejected> {
    Err(Rejected {
        status,
        reason: reason.to_owned(),
    })
}

#[derive(Debug, Deserialize, Serialize)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

/// The password is an argument, and therefore not recorded: only what the
/// attribute names is.
#[audited(action = "session.login", actor = credentials.user)]
async fn login(
    State(blog): Blogs,
    Json(credentials): Json<Credentials>,
) -> Result<(HeaderMap, Json<UserView>), ApiError> {
    let token = blog.login(&credentials.user, &credentials.password)?;
    set_context("session", session_id(&token));
    let mut headers = HeaderMap::new();
    let cookie = format!("session={token}; HttpOnly; SameSite=Strict; Path=/");
    headers.insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("a token is ASCII"),
    );
    let view = blog
        .user_view(&credentials.user)
        .ok_or(ApiError(BlogError::BadCredentials))?;
    Ok((headers, Json(view)))
}

#[audited(action = "session.logout")]
async fn logout(
    State(blog): Blogs,
    user: MaybeSignedIn,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    signed_in(user)?;
    if let Some(token) = session_token(&headers) {
        blog.logout(&token);
    }
    Ok(StatusCode::NO_CONTENT)
}

#[audited(action = "post.create", after = |ret| ret.as_ref().ok().map(|(_, Json(post))| post))]
async fn create_post(
    State(blog): Blogs,
    user: MaybeSignedIn,
    Json(draft): Json<Draft>,
) -> Result<(StatusCode, Json<Post>), ApiError> {
    let post = blog.create(&signed_in(user)?, draft)?;
    // The id is known only now.
    set_resource(format_args!("post:{}", post.id));
    Ok((StatusCode::CREATED, Json(post)))
}

#[audited(
    action = "post.edit",
    resource = format_args!("post:{id}"),
    before = blog.post(id),
    after = |ret| ret.as_ref().ok().map(|Json(post)| post),
)]
async fn edit_post(
    State(blog): Blogs,
    user: MaybeSignedIn,
    Path(id): Path<u64>,
    Json(draft): Json<Draft>,
) -> Result<Json<Post>, ApiError> {
    Ok(Json(blog.edit(&signed_in(user)?, id, draft)?))
}

#[audited(action = "post.approve", resource = format_args!("post:{id}"), before = blog.post(id), after = |_| blog.post(id))]
async fn approve_post(
    State(blog): Blogs,
    user: MaybeSignedIn,
    Path(id): Path<u64>,
) -> Result<Json<Post>, ApiError> {
    let user = signed_in(user)?;
    let post = blog.approve(&user, id)?;
    // The approval is an electronic signature of the exact text approved.
    if let Ok(signature) = audit_layer::ESignature::new(
        user.clone(),
        printed_name(&user),
        audit_layer::SignatureMeaning::Approval,
        format!("post:{id}"),
        audit_layer::DocumentHash::of(format!("{}\n{}", post.title, post.body).as_bytes()),
    ) {
        audit_layer::record_esignature(&signature);
    }
    Ok(Json(post))
}

/// The name a signature shows: the demo's user names, capitalised.
fn printed_name(user: &str) -> String {
    let mut chars = user.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[audited(action = "post.reject", resource = format_args!("post:{id}"), before = blog.post(id), after = |_| blog.post(id))]
async fn reject_post(
    State(blog): Blogs,
    user: MaybeSignedIn,
    Path(id): Path<u64>,
) -> Result<Json<Post>, ApiError> {
    Ok(Json(blog.reject(&signed_in(user)?, id)?))
}

#[audited(action = "post.publish", resource = format_args!("post:{id}"), before = blog.post(id), after = |_| blog.post(id))]
async fn publish_post(
    State(blog): Blogs,
    user: MaybeSignedIn,
    Path(id): Path<u64>,
) -> Result<Json<Post>, ApiError> {
    Ok(Json(blog.publish(&signed_in(user)?, id)?))
}

#[audited(action = "post.delete", resource = format_args!("post:{id}"), before = blog.post(id))]
async fn delete_post(
    State(blog): Blogs,
    user: MaybeSignedIn,
    Path(id): Path<u64>,
) -> Result<StatusCode, ApiError> {
    blog.delete(&signed_in(user)?, id)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, Serialize)]
pub struct RoleChange {
    pub role: Role,
}

#[audited(
    action = "user.role_change",
    resource = format_args!("user:{name}"),
    before = blog.user_view(&name),
    after = |_| blog.user_view(&name),
)]
async fn change_role(
    State(blog): Blogs,
    user: MaybeSignedIn,
    Path(name): Path<String>,
    Json(change): Json<RoleChange>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(blog.change_role(
        &signed_in(user)?,
        &name,
        change.role,
    )?))
}

#[audited(action = "account.settings_change", after = |ret| ret.as_ref().ok().map(|Json(view)| view))]
async fn update_settings(
    State(blog): Blogs,
    user: MaybeSignedIn,
    Json(settings): Json<Settings>,
) -> Result<Json<UserView>, ApiError> {
    let name = signed_in(user)?;
    set_resource(format_args!("user:{name}"));
    audit_layer::record_before(&blog.user_view(&name));
    Ok(Json(blog.update_settings(&name, settings)?))
}

#[audited(action = "export.posts", resource = "posts", fields(format = "json"))]
async fn export(State(blog): Blogs, user: MaybeSignedIn) -> Result<Json<Vec<Post>>, ApiError> {
    let posts = blog.export(&signed_in(user)?)?;
    set_context("rows", posts.len());
    Ok(Json(posts))
}
