//! The HTTP server: hyper's HTTP/1 on a single-threaded tokio runtime, on
//! one thread of its own, so a board pays one thread however many viewers
//! connect. Limits keep a bad client from holding it: headers must arrive
//! within [`HEADER_TIMEOUT`] (an idle or slowloris connection is closed), a
//! request's head and body are small, a viewer that stops reading is
//! dropped after [`STALL`], and the number of connections and of streams
//! is capped. Only the fixed routes exist; nothing is read from disk.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::{watch, Notify};

use super::auth::{form_value, Access};
use super::hub::Hub;
use super::review;

/// A client must send a request's headers within this time, the first
/// request and every later one on a kept-alive connection.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// A viewer that has not taken a frame for this long is disconnected.
pub const STALL: Duration = Duration::from_secs(20);
/// How long a TLS handshake may take.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// The largest request body (the login form).
const MAX_BODY: usize = 1024;
/// Open connections beyond the viewers: page loads, scrapes, idle ones.
const SPARE_CONNECTIONS: usize = 256;
/// Streams with nothing to send say so this often, which also finds
/// viewers that went away while the source was silent.
const KEEPALIVE: Duration = Duration::from_secs(10);
/// A wrong login waits this long, so guessing is slow.
const LOGIN_DELAY: Duration = Duration::from_millis(500);
/// `/snapshot.jpg` waits at most this long for a frame.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(3);
/// The MJPEG part boundary.
const BOUNDARY: &str = "ssdcamframe";

const PAGE: &str = include_str!("page.html");
const LOGIN: &str = include_str!("login.html");

type Body = BoxBody<Bytes, Infallible>;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Who may use it.
    pub access: Access,
    /// TLS, when a certificate and key were given.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The most video and detection streams at once.
    pub max_clients: usize,
    /// `/healthz` fails when no frame came for this long.
    pub health_timeout: Duration,
    /// The events database (`--clips`), for `/api/events` queries and
    /// `/review`.
    pub events_db: Option<std::path::PathBuf>,
}

/// A bound listening socket: binding happens at start, so that a port in
/// use is an error before any frame.
pub struct Bound {
    listener: std::net::TcpListener,
    /// The address bound (the port the system chose for `:0`).
    pub addr: SocketAddr,
}

/// Binds `addr`.
pub fn bind(addr: SocketAddr) -> Result<Bound, String> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| format!("--http {addr}: cannot listen: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| format!("--http {addr}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| format!("--http {addr}: {e}"))?;
    Ok(Bound { listener, addr })
}

/// The running server.
pub struct Server {
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Serves the cameras' `hubs` (the first is the default one) and their
    /// `metrics` on `bound`, from a thread of its own.
    pub fn start(
        bound: Bound,
        hubs: Vec<Arc<Hub>>,
        metrics: Arc<super::metrics::MetricsSet>,
        options: ServerOptions,
    ) -> Result<Self, String> {
        if hubs.is_empty() {
            return Err("--http: no camera to show".into());
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("--http: cannot start the server: {e}"))?;
        let (stop, stop_rx) = watch::channel(false);
        let ctx = Arc::new(Ctx {
            hubs,
            metrics,
            connections: AtomicUsize::new(0),
            streams: AtomicUsize::new(0),
            tls: options.tls.clone().map(tokio_rustls::TlsAcceptor::from),
            options,
            started: Instant::now(),
        });
        let thread = std::thread::Builder::new()
            .name("http".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(bound.listener) {
                        Ok(listener) => accept_loop(listener, ctx, stop_rx).await,
                        Err(e) => log::warn!("http: cannot serve: {e}"),
                    }
                });
            })
            .map_err(|e| format!("--http: cannot start a thread: {e}"))?;
        Ok(Self { stop, thread: Some(thread) })
    }
}

impl Drop for Server {
    /// Closes every connection and ends the thread.
    fn drop(&mut self) {
        self.stop.send_replace(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Ctx {
    /// One per camera, the first the default.
    hubs: Vec<Arc<Hub>>,
    metrics: Arc<super::metrics::MetricsSet>,
    options: ServerOptions,
    tls: Option<tokio_rustls::TlsAcceptor>,
    connections: AtomicUsize,
    streams: AtomicUsize,
    started: Instant,
}

/// Counts something open until dropped.
struct Counted {
    ctx: Arc<Ctx>,
    stream: bool,
}

impl Drop for Counted {
    fn drop(&mut self) {
        if self.stream {
            let n = self.ctx.streams.fetch_sub(1, Ordering::SeqCst) - 1;
            self.ctx.metrics.set_viewers(n);
        } else {
            self.ctx.connections.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    let mut warned = false;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        match accepted {
            Ok((socket, peer)) => {
                let limit = ctx.options.max_clients + SPARE_CONNECTIONS;
                if ctx.connections.fetch_add(1, Ordering::SeqCst) >= limit {
                    ctx.connections.fetch_sub(1, Ordering::SeqCst);
                    ctx.metrics.refused("too_many_connections");
                    continue; // dropping the socket closes it
                }
                let guard = Counted { ctx: Arc::clone(&ctx), stream: false };
                let stop = stop.clone();
                tokio::spawn(async move {
                    connection(socket, peer, guard, stop).await;
                });
            }
            Err(e) => {
                // Out of file descriptors, mostly: wait for some to close.
                if !warned {
                    log::warn!("http: cannot accept a connection: {e}");
                    warned = true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn connection(socket: tokio::net::TcpStream, peer: SocketAddr, guard: Counted, mut stop: watch::Receiver<bool>) {
    let _ = socket.set_nodelay(true);
    let ctx = Arc::clone(&guard.ctx);
    let stalled = Arc::new(Notify::new());
    let served = async {
        match ctx.tls.clone() {
            Some(acceptor) => match tokio::time::timeout(HANDSHAKE, acceptor.accept(socket)).await {
                Ok(Ok(tls)) => serve_http(hyper_util::rt::TokioIo::new(tls), &ctx, &stalled, true).await,
                Ok(Err(e)) => log::debug!("http: {peer}: TLS handshake failed: {e}"),
                Err(_) => log::debug!("http: {peer}: TLS handshake timed out"),
            },
            None => serve_http(hyper_util::rt::TokioIo::new(socket), &ctx, &stalled, false).await,
        }
    };
    tokio::select! {
        () = served => {}
        () = stalled.notified() => log::debug!("http: {peer}: stopped reading; disconnected"),
        _ = stop.changed() => {}
    }
}

async fn serve_http<I>(io: I, ctx: &Arc<Ctx>, stalled: &Arc<Notify>, tls: bool)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(|req| {
        let (ctx, stalled) = (Arc::clone(ctx), Arc::clone(stalled));
        async move { Ok::<_, Infallible>(secured(route(req, &ctx, stalled, tls).await)) }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(16 * 1024)
        .max_headers(48)
        .serve_connection(io, service)
        .await;
    if let Err(e) = served {
        log::debug!("http: connection ended: {e}");
    }
}

/// Headers every answer carries: nothing cached, sniffed, framed or referred.
fn secured(mut response: Response<Body>) -> Response<Body> {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into()).boxed()
}

fn answer(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    answer(status, "text/plain; charset=utf-8", body)
}

const ROUTES: [&str; 11] = [
    "/",
    "/review",
    "/login",
    "/stream.mjpg",
    "/snapshot.jpg",
    "/api/detections",
    "/api/events",
    "/api/live",
    "/api/info",
    "/metrics",
    "/healthz",
];

async fn route(req: Request<Incoming>, ctx: &Arc<Ctx>, stalled: Arc<Notify>, tls: bool) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let prefixed = path.starts_with(SNAPSHOTS) || path.starts_with(review::CLIPS);
    if !ROUTES.contains(&path.as_str()) && !prefixed {
        ctx.metrics.refused("not_found");
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    let allowed = method == Method::GET || method == Method::HEAD || (method == Method::POST && path == "/login");
    if !allowed {
        ctx.metrics.refused("method");
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    if path == "/healthz" {
        return health(ctx);
    }
    if path == "/login" && method == Method::POST {
        return login(req, ctx, tls).await;
    }
    let h = req.headers();
    let authorized = ctx.options.access.allows(
        h.get(header::AUTHORIZATION).map(HeaderValue::as_bytes),
        h.get(header::COOKIE).map(HeaderValue::as_bytes),
    );
    if !authorized {
        ctx.metrics.refused("unauthorized");
        if path == "/" || path == "/login" || path == "/review" {
            // Back to the page asked for once signed in.
            return login_page(StatusCode::UNAUTHORIZED, "", if path == "/review" { "/review" } else { "/" });
        }
        let mut r = text(StatusCode::UNAUTHORIZED, "unauthorized: send Authorization: Bearer TOKEN\n");
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"ssd-cam\""));
        return r;
    }
    if let Some(rest) = path.strip_prefix(SNAPSHOTS) {
        return object_snapshot(ctx, rest).await;
    }
    if let Some(rest) = path.strip_prefix(review::CLIPS) {
        let range = req.headers().get(header::RANGE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        return clip(ctx, rest, range).await;
    }
    if path == "/review" {
        return review_page();
    }
    // With the events database, /api/events answers queries in JSON; an
    // EventSource (the live page) still gets the stream.
    let streaming = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    let wants_json =
        req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json"));
    if path == "/api/events" && !streaming && (wants_json || ctx.options.events_db.is_some()) {
        let Some(db) = ctx.options.events_db.clone() else {
            // Not the endless stream: a page that fetches JSON (the review
            // page) expects an answer.
            return text(
                StatusCode::NOT_FOUND,
                "No events database: past events are kept with --clips DIR (the live page shows events as they come).\n",
            );
        };
        return events_api(ctx, db, req.uri().query().unwrap_or_default()).await;
    }
    // `?camera=NAME` picks a camera; without it, the first.
    let wanted = req
        .uri()
        .query()
        .and_then(|q| form_value(q.as_bytes(), "camera"))
        .map(|v| String::from_utf8_lossy(&v).into_owned());
    let hub = match &wanted {
        None => ctx.hubs.first(),
        Some(name) => ctx.hubs.iter().find(|h| &h.info.source == name),
    };
    let Some(hub) = hub.cloned() else {
        ctx.metrics.refused("not_found");
        return text(StatusCode::NOT_FOUND, "no such camera\n");
    };
    match path.as_str() {
        "/" => page(),
        "/login" => redirect_home(None),
        "/stream.mjpg" => mjpeg(ctx, &hub, stalled),
        "/snapshot.jpg" => snapshot(&hub).await,
        "/api/detections" => {
            let rx = hub.detections();
            sse(ctx, &hub, stalled, Vec::new(), rx)
        }
        "/api/events" => {
            let (recent, rx) = hub.events();
            sse(ctx, &hub, stalled, recent, rx)
        }
        "/api/live" => {
            // The live page's one stream: a browser holds six connections
            // per host, and the picture takes one already.
            let (recent, events) = hub.events();
            let detections = hub.detections();
            sse_feeds(
                ctx,
                &hub,
                stalled,
                Feed::new(None, Vec::new(), detections),
                Some(Feed::new(Some("event"), recent, events)),
            )
        }
        "/api/info" => {
            let mut info = serde_json::to_value(&hub.info).unwrap_or_default();
            let names: Vec<&str> = ctx.hubs.iter().map(|h| h.info.source.as_str()).collect();
            info["cameras"] = serde_json::json!(names);
            answer(StatusCode::OK, "application/json", info.to_string())
        }
        _ => answer(StatusCode::OK, super::metrics::CONTENT_TYPE, ctx.metrics.render()),
    }
}

fn page() -> Response<Body> {
    let mut r = answer(StatusCode::OK, "text/html; charset=utf-8", PAGE);
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
             connect-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    r
}

/// The login form; once signed in it goes to `next` (`/` or `/review`,
/// never a place the request named).
fn login_page(status: StatusCode, message: &str, next: &'static str) -> Response<Body> {
    let html = LOGIN.replace("{{message}}", message).replace("{{next}}", next);
    let mut r = answer(status, "text/html; charset=utf-8", html);
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"),
    );
    r
}

fn redirect_home(cookie: Option<String>) -> Response<Body> {
    redirect_to("/", cookie)
}

fn redirect_to(place: &'static str, cookie: Option<String>) -> Response<Body> {
    let mut r = text(StatusCode::SEE_OTHER, "");
    r.headers_mut().insert(header::LOCATION, HeaderValue::from_static(place));
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    r
}

async fn login(req: Request<Incoming>, ctx: &Ctx, tls: bool) -> Response<Body> {
    let body = tokio::time::timeout(HEADER_TIMEOUT, Limited::new(req.into_body(), MAX_BODY).collect()).await;
    let Ok(Ok(body)) = body else {
        ctx.metrics.refused("bad_request");
        return text(StatusCode::PAYLOAD_TOO_LARGE, "the login form is too large or too slow\n");
    };
    let body = body.to_bytes();
    let token = form_value(&body, "token").unwrap_or_default();
    let next = if form_value(&body, "next").as_deref() == Some(b"/review".as_slice()) { "/review" } else { "/" };
    if ctx.options.access.login(&token) {
        return redirect_to(next, Some(ctx.options.access.cookie(tls)));
    }
    ctx.metrics.refused("unauthorized");
    tokio::time::sleep(LOGIN_DELAY).await;
    login_page(StatusCode::UNAUTHORIZED, "That token is not right.", next)
}

/// Healthy while some camera has given a frame within the limit (or the
/// run is younger than it): one camera gone is in the body, but a restart
/// would not bring it back, so it does not fail the probe.
fn health(ctx: &Ctx) -> Response<Body> {
    let limit = ctx.options.health_timeout.as_secs_f64();
    let ages: Vec<(String, f64)> = ctx.hubs.iter().map(|h| (h.info.source.clone(), h.last_frame_age())).collect();
    let silent: Vec<String> = ages
        .iter()
        .filter(|(_, age)| *age > limit)
        .map(|(name, age)| format!("{name}: no frame for {age:.0} s"))
        .collect();
    let young = ctx.started.elapsed().as_secs_f64() <= limit;
    if silent.len() < ages.len() || young {
        if silent.is_empty() {
            return text(StatusCode::OK, "ok\n");
        }
        return answer(StatusCode::OK, "text/plain; charset=utf-8", format!("ok; {}\n", silent.join("; ")));
    }
    let body = if ages.len() == 1 {
        format!("no frame for {:.0} s (limit {limit:.0} s)\n", ages[0].1)
    } else {
        format!("every camera is silent (limit {limit:.0} s): {}\n", silent.join("; "))
    };
    answer(StatusCode::SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", body)
}

/// Takes a stream slot, or gives the answer that says why not.
fn open_stream(ctx: &Arc<Ctx>) -> Result<Counted, Box<Response<Body>>> {
    let n = ctx.streams.fetch_add(1, Ordering::SeqCst);
    if n >= ctx.options.max_clients {
        ctx.streams.fetch_sub(1, Ordering::SeqCst);
        ctx.metrics.refused("too_many_viewers");
        let mut r = text(StatusCode::SERVICE_UNAVAILABLE, "too many viewers (--http-max-clients)\n");
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return Err(Box::new(r));
    }
    ctx.metrics.set_viewers(n + 1);
    Ok(Counted { ctx: Arc::clone(ctx), stream: true })
}

fn mjpeg(ctx: &Arc<Ctx>, hub: &Arc<Hub>, stalled: Arc<Notify>) -> Response<Body> {
    let slot = match open_stream(ctx) {
        Ok(slot) => slot,
        Err(r) => return *r,
    };
    let (watch_guard, mut frames) = hub.watch_jpegs();
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(2);
    let mut ended = hub.ended();
    tokio::spawn(async move {
        let _held = (slot, watch_guard);
        // A fresh frame is shown at once; an old one waits for the next.
        frames.mark_changed();
        loop {
            let changed = tokio::select! {
                changed = frames.changed() => changed.is_ok(),
                _ = tokio::time::sleep(KEEPALIVE) => true, // the same frame again
                _ = ended.wait_for(|e| *e) => false,
            };
            if !changed {
                break;
            }
            let Some(jpeg) = frames.borrow_and_update().clone() else { continue };
            let head = format!(
                "--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nX-Frame: {}\r\n\r\n",
                jpeg.bytes.len(),
                jpeg.frame
            );
            let sent = async {
                tx.send_data(Bytes::from(head)).await?;
                tx.send_data(jpeg.bytes.clone()).await?;
                tx.send_data(Bytes::from_static(b"\r\n")).await
            };
            match tokio::time::timeout(STALL, sent).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break, // the viewer left
                Err(_) => {
                    stalled.notify_one();
                    break;
                }
            }
        }
    });
    let mut r = Response::new(body.boxed());
    let content_type = format!("multipart/x-mixed-replace; boundary={BOUNDARY}");
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

/// The review page.
const REVIEW: &str = include_str!("review.html");

fn review_page() -> Response<Body> {
    let mut r = answer(StatusCode::OK, "text/html; charset=utf-8", REVIEW);
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; \
             script-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
        ),
    );
    r
}

/// `/api/events?…`: the events database's rows, newest first, with where
/// their snapshots and clips are served.
async fn events_api(ctx: &Arc<Ctx>, db: std::path::PathBuf, query: &str) -> Response<Body> {
    let q = match review::parse_query(query) {
        Ok(q) => q,
        Err(e) => {
            ctx.metrics.refused("bad_request");
            return answer(StatusCode::BAD_REQUEST, "text/plain; charset=utf-8", format!("{e}\n"));
        }
    };
    // Per camera of this run: its snapshots and clips folders.
    let folders: std::collections::HashMap<String, (Option<std::path::PathBuf>, Option<std::path::PathBuf>)> =
        ctx.hubs.iter().map(|h| (h.info.source.clone(), (h.info.snapshots.clone(), h.info.clips.clone()))).collect();
    let read = tokio::task::spawn_blocking(move || -> Result<String, String> {
        let store = crate::store::Store::open(&db)?;
        let rows = store.query(&q).map_err(|e| e.to_string())?;
        let events: Vec<review::EventJson> = rows
            .into_iter()
            .map(|row| {
                let (snapshots, clips) = folders.get(&row.camera).cloned().unwrap_or_default();
                let snapshot_url = row
                    .snapshot
                    .as_ref()
                    .filter(|f| snapshots.as_ref().is_some_and(|d| d.join(f).is_file()))
                    .map(|f| crate::records::snapshot_path(&row.camera, f));
                let clip_url = row
                    .clip
                    .as_ref()
                    .filter(|f| clips.as_ref().is_some_and(|d| d.join(f).is_file()))
                    .map(|f| format!("{}{}/{f}", review::CLIPS, row.camera));
                let duration_ms = row.end_ms.map(|end| ((end - row.start_ms) * 10.0).round() / 10.0);
                review::EventJson { row, duration_ms, snapshot_url, clip_url }
            })
            .collect();
        serde_json::to_string(&events).map_err(|e| e.to_string())
    });
    match read.await {
        Ok(Ok(json)) => answer(StatusCode::OK, "application/json", json),
        Ok(Err(e)) => {
            log::warn!("/api/events: {e}");
            text(StatusCode::SERVICE_UNAVAILABLE, "the events database cannot be read\n")
        }
        Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "the events database cannot be read\n"),
    }
}

/// A clip from a camera's `--clips` folder, in parts when asked
/// (`Range`), so that a video element can seek.
async fn clip(ctx: &Arc<Ctx>, rest: &str, range: Option<String>) -> Response<Body> {
    let found = rest.split_once('/').and_then(|(camera, file)| {
        let hub = ctx.hubs.iter().find(|h| h.info.source == camera)?;
        let dir = hub.info.clips.as_ref()?;
        review::is_clip_name(file).then(|| dir.join(file))
    });
    let Some(path) = found else {
        ctx.metrics.refused("not_found");
        return text(StatusCode::NOT_FOUND, "no such clip\n");
    };
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<(u64, review::Part, Vec<u8>)> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = std::fs::File::open(&path)?;
        let len = file.metadata()?.len();
        let part = range.as_deref().map_or(review::Part::Whole, |r| review::parse_range(r, len));
        let bytes = match part {
            review::Part::Whole => {
                let mut all = Vec::with_capacity(len as usize);
                file.read_to_end(&mut all)?;
                all
            }
            review::Part::Range(start, end) => {
                file.seek(SeekFrom::Start(start))?;
                let mut some = vec![0; (end - start + 1) as usize];
                file.read_exact(&mut some)?;
                some
            }
            review::Part::Unsatisfiable => Vec::new(),
        };
        Ok((len, part, bytes))
    });
    let (len, part, bytes) = match read.await {
        Ok(Ok(read)) => read,
        _ => {
            ctx.metrics.refused("not_found");
            return text(StatusCode::NOT_FOUND, "no such clip\n");
        }
    };
    let mut r = match part {
        review::Part::Whole => answer(StatusCode::OK, "video/mp4", bytes),
        review::Part::Range(start, end) => {
            let mut r = answer(StatusCode::PARTIAL_CONTENT, "video/mp4", bytes);
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            r
        }
        review::Part::Unsatisfiable => {
            let mut r = text(StatusCode::RANGE_NOT_SATISFIABLE, "");
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return r;
        }
    };
    r.headers_mut().insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    r
}

/// Where objects' snapshots are served: `/snapshots/CAMERA/FILE`.
const SNAPSHOTS: &str = "/snapshots/";

/// Whether `file` is a name the snapshot sink writes (`<ms>-<id>.jpg`): the
/// only files served, so no path can reach outside the folder.
fn is_snapshot_name(file: &str) -> bool {
    crate::records::is_object_file(file, "jpg")
}

/// An object's snapshot file from a camera's `--snapshots` folder.
async fn object_snapshot(ctx: &Arc<Ctx>, rest: &str) -> Response<Body> {
    let found = rest.split_once('/').and_then(|(camera, file)| {
        let hub = ctx.hubs.iter().find(|h| h.info.source == camera)?;
        let dir = hub.info.snapshots.as_ref()?;
        is_snapshot_name(file).then(|| dir.join(file))
    });
    let Some(path) = found else {
        ctx.metrics.refused("not_found");
        return text(StatusCode::NOT_FOUND, "no such snapshot\n");
    };
    // A small file, read off the server's threads.
    match tokio::task::spawn_blocking(move || std::fs::read(path)).await {
        Ok(Ok(bytes)) => {
            let mut r = answer(StatusCode::OK, "image/jpeg", bytes);
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }
        _ => {
            ctx.metrics.refused("not_found");
            text(StatusCode::NOT_FOUND, "no such snapshot\n")
        }
    }
}

async fn snapshot(hub: &Arc<Hub>) -> Response<Body> {
    let fresh = |j: &Option<Arc<super::hub::Jpeg>>| j.as_ref().is_some_and(|j| j.at.elapsed() < Duration::from_secs(1));
    let latest = hub.latest_jpeg();
    let jpeg = if fresh(&latest) {
        latest
    } else {
        // Nobody was watching: ask for the next frame.
        let (_guard, mut frames) = hub.watch_jpegs();
        let waited = tokio::time::timeout(SNAPSHOT_WAIT, async { frames.wait_for(fresh).await.map(|j| j.clone()) });
        match waited.await {
            Ok(Ok(j)) => j,
            _ => latest,
        }
    };
    match jpeg {
        Some(j) => answer(StatusCode::OK, "image/jpeg", j.bytes.clone()),
        None => text(StatusCode::SERVICE_UNAVAILABLE, "no frame yet\n"),
    }
}

/// One kind of message on a server-sent event stream: its event name
/// (`None`: the default, `message`), what was sent before the stream was
/// opened, and what comes.
struct Feed {
    name: Option<&'static str>,
    recent: Vec<Arc<str>>,
    rx: tokio::sync::broadcast::Receiver<Arc<str>>,
}

impl Feed {
    fn new(name: Option<&'static str>, recent: Vec<Arc<str>>, rx: tokio::sync::broadcast::Receiver<Arc<str>>) -> Self {
        Self { name, recent, rx }
    }

    fn message(&self, line: &str) -> Bytes {
        match self.name {
            Some(name) => Bytes::from(format!("event: {name}\ndata: {line}\n\n")),
            None => Bytes::from(format!("data: {line}\n\n")),
        }
    }

    /// The next message, or `None` when the feed closed; a slow reader
    /// skips what it missed.
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            match self.rx.recv().await {
                Ok(line) => return Some(self.message(&line)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

fn sse(
    ctx: &Arc<Ctx>,
    hub: &Hub,
    stalled: Arc<Notify>,
    first: Vec<Arc<str>>,
    rx: tokio::sync::broadcast::Receiver<Arc<str>>,
) -> Response<Body> {
    sse_feeds(ctx, hub, stalled, Feed::new(None, first, rx), None)
}

/// A server-sent event stream of one feed, or two on one connection.
fn sse_feeds(ctx: &Arc<Ctx>, hub: &Hub, stalled: Arc<Notify>, mut one: Feed, mut two: Option<Feed>) -> Response<Body> {
    let slot = match open_stream(ctx) {
        Ok(slot) => slot,
        Err(r) => return *r,
    };
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(8);
    let mut ended = hub.ended();
    tokio::spawn(async move {
        let _held = slot;
        let mut pending: std::collections::VecDeque<Bytes> =
            std::mem::take(&mut one.recent).iter().map(|l| one.message(l)).collect();
        if let Some(two) = two.as_mut() {
            pending.extend(std::mem::take(&mut two.recent).iter().map(|l| two.message(l)));
        }
        loop {
            let message = if let Some(message) = pending.pop_front() {
                message
            } else {
                let second = async {
                    match two.as_mut() {
                        Some(feed) => feed.next().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    message = one.next() => match message {
                        Some(message) => message,
                        None => break,
                    },
                    message = second => match message {
                        Some(message) => message,
                        None => break,
                    },
                    _ = tokio::time::sleep(KEEPALIVE) => Bytes::from_static(b": keep-alive\n\n"),
                    _ = ended.wait_for(|e| *e) => break,
                }
            };
            match tokio::time::timeout(STALL, tx.send_data(message)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break,
                Err(_) => {
                    stalled.notify_one();
                    break;
                }
            }
        }
    });
    let mut r = Response::new(body.boxed());
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    r
}
