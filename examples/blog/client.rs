//! A small HTTP client for the blog: JSON in, JSON out, one session cookie,
//! and a chosen source address (sent as X-Forwarded-For, as a proxy would).

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::http::{Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub struct Client {
    http: HyperClient<HttpConnector, Full<Bytes>>,
    base: String,
    cookie: Option<String>,
    source_ip: String,
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Client {
    /// A client of the service at `addr`, appearing to come from `source_ip`.
    pub fn new(addr: SocketAddr, source_ip: &str) -> Client {
        Client {
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
            base: format!("http://{addr}"),
            cookie: None,
            source_ip: source_ip.to_owned(),
        }
    }

    pub async fn send(&mut self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let body = body.map(|body| ("application/json", body.to_string()));
        self.send_raw(method, path, body).await
    }

    /// Sends `body` as it is, with its content type: for malformed requests.
    pub async fn send_raw(
        &mut self,
        method: Method,
        path: &str,
        body: Option<(&str, String)>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("x-forwarded-for", &self.source_ip);
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let payload = match body {
            Some((content_type, body)) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                Bytes::from(body)
            }
            None => Bytes::new(),
        };
        let response = self
            .http
            .request(request.body(Full::new(payload)).expect("a valid request"))
            .await
            .expect("the service answers");
        if let Some(cookie) = response
            .headers()
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
        {
            self.cookie = cookie.split(';').next().map(str::to_owned);
        }
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, body }
    }

    pub async fn login(&mut self, user: &str, password: &str) -> Reply {
        self.send(
            Method::POST,
            "/login",
            Some(serde_json::json!({"user": user, "password": password})),
        )
        .await
    }
}
