//! A browser without JavaScript, for the portal's tests and its load
//! scenario: plain HTTP/1.1, one cookie jar, no redirect following (a test
//! sees each 303 and where it leads), and the form's CSRF token read from
//! the last page, as a browser would post it back.

use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::collections::BTreeMap;

/// One response, read whole.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// Where a redirect leads ("" when it is not one).
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The page's `<title>`.
    pub fn title(&self) -> &str {
        between(&self.body, "<title>", "</title>").unwrap_or("")
    }

    /// The CSRF token of the page's first form.
    pub fn csrf(&self) -> Option<&str> {
        between(&self.body, "name=\"_csrf\" value=\"", "\"")
    }

    /// Whether the body contains `needle`, with askama's HTML escaping of
    /// apostrophes and quotes undone.
    pub fn shows(&self, needle: &str) -> bool {
        self.text().contains(needle)
    }

    /// The body with the entities askama writes turned back into text.
    pub fn text(&self) -> String {
        self.body
            .replace("&#39;", "'")
            .replace("&#x27;", "'")
            .replace("&quot;", "\"")
            .replace("&#34;", "\"")
            .replace("&amp;", "&")
    }
}

/// The text between the first `start` and the next `end`.
pub fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

pub struct WebClient {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
    /// Cookies by name, as the server last set them.
    pub cookies: BTreeMap<String, String>,
    /// Sent as the ingress's client-address header, when set.
    pub forwarded_for: Option<String>,
    /// Sent with every request (e.g. an `Origin` another site would send).
    pub headers: Vec<(String, String)>,
    /// The CSRF token of the last page that had a form.
    csrf: String,
}

impl WebClient {
    /// A fresh browser for the portal at `addr` (host:port).
    pub fn new(addr: impl std::fmt::Display) -> Self {
        Self {
            base: format!("http://{addr}"),
            client: Client::builder(TokioExecutor::new()).build_http(),
            cookies: BTreeMap::new(),
            forwarded_for: None,
            headers: Vec::new(),
            csrf: String::new(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, None).await
    }

    /// Posts `fields` as a form, with the last page's CSRF token added.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.csrf.clone();
        let mut all: Vec<(&str, &str)> = vec![("_csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Posts exactly `fields` (no token added): for forgeries.
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send(Method::POST, path, Some(body)).await
    }

    /// GETs `path` and then every redirect it leads to.
    pub async fn follow(&mut self, first: Page) -> Page {
        let mut page = first;
        for _ in 0..10 {
            if !page.status.is_redirection() {
                return page;
            }
            let to = page.location().to_owned();
            page = self.get(&to).await;
        }
        panic!("more than 10 redirects");
    }

    /// GETs `url` at another server (an identity provider): no cookies of
    /// this site go there. A URL of this site is fetched as a path.
    pub async fn get_url(&mut self, url: &str) -> Page {
        if let Some(path) = url.strip_prefix(&self.base) {
            return self.get(path).await;
        }
        let req = Request::get(url)
            .body(Full::new(Bytes::new()))
            .expect("request");
        let res = self
            .client
            .request(req)
            .await
            .expect("reach the other server");
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.expect("read body").to_bytes();
        Page {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn send(&mut self, method: Method, path: &str, form: Option<String>) -> Page {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header(header::COOKIE, jar.join("; "));
        }
        if let Some(a) = &self.forwarded_for {
            req = req.header("x-forwarded-for", a);
        }
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let body = match form {
            Some(f) => {
                req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Full::new(Bytes::from(f))
            }
            None => Full::new(Bytes::new()),
        };
        let res = self
            .client
            .request(req.body(body).expect("request"))
            .await
            .unwrap_or_else(|e| panic!("portal unreachable at {path}: {e}"));
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.expect("read body").to_bytes();
        for v in parts.headers.get_all(header::SET_COOKIE) {
            let v = v.to_str().expect("cookie is text");
            if let Some((name, value)) = v.split(';').next().and_then(|kv| kv.split_once('=')) {
                self.cookies
                    .insert(name.trim().to_owned(), value.to_owned());
            }
        }
        let page = Page {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        };
        if let Some(t) = page.csrf() {
            self.csrf = t.to_owned();
        }
        page
    }
}
