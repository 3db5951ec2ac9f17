//! The HTTP transport: `tiny_http` accepts connections and parses HTTP/1.1; a few worker threads
//! read each request (the body capped at [`MAX_BODY_BYTES`]), hand it to [`Api::handle`] and
//! write the answer. Nothing here knows what a scenario is.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;

use super::api::{Api, MAX_BODY_BYTES, Response};

/// A bound server. Requests are answered by [`Server::run`] (blocking) or [`Server::spawn`].
pub struct Server {
    http: Arc<tiny_http::Server>,
    api: Arc<Api>,
    addr: SocketAddr,
}

/// A server answering on background threads; dropping it stops them.
pub struct Running {
    http: Arc<tiny_http::Server>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// The address it listens on.
    pub addr: SocketAddr,
}

impl Server {
    /// Binds `addr` (`127.0.0.1:0` picks a free port).
    pub fn bind(addr: &str, api: Api) -> Result<Server, String> {
        let http = tiny_http::Server::http(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let addr = http.server_addr().to_ip().ok_or_else(|| format!("{addr} is not an IP address"))?;
        Ok(Server { http: Arc::new(http), api: Arc::new(api), addr })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers requests on `workers` threads (this one included) until the process ends.
    pub fn run(self, workers: usize) {
        let (http, api, addr) = (Arc::clone(&self.http), Arc::clone(&self.api), self.addr);
        let _others = self.spawn(workers.saturating_sub(1));
        worker(&http, &api, addr);
    }

    /// Answers requests on `workers` background threads.
    pub fn spawn(self, workers: usize) -> Running {
        let threads = (0..workers)
            .map(|i| {
                let (http, api, addr) = (Arc::clone(&self.http), Arc::clone(&self.api), self.addr);
                std::thread::Builder::new()
                    .name(format!("serve-{i}"))
                    .spawn(move || worker(&http, &api, addr))
                    .expect("spawning a server thread")
            })
            .collect();
        Running { http: self.http, threads, addr: self.addr }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for _ in &self.threads {
            self.http.unblock();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn worker(http: &tiny_http::Server, api: &Api, addr: SocketAddr) {
    while let Ok(request) = http.recv() {
        answer(request, api, addr);
    }
}

/// On a loopback address, only requests for `localhost` or the address itself are answered:
/// a web page elsewhere cannot reach the server through a name it controls (DNS rebinding).
fn host_allowed(request: &tiny_http::Request, addr: SocketAddr) -> bool {
    if !addr.ip().is_loopback() {
        return true;
    }
    let Some(host) = request.headers().iter().find(|h| h.field.equiv("Host")).map(|h| h.value.as_str()) else {
        return true;
    };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn answer(mut request: tiny_http::Request, api: &Api, addr: SocketAddr) {
    let response = match read_body(&mut request) {
        Ok(_) if !host_allowed(&request, addr) => {
            Response::error(403, "the Host header names another site (bind an address with --bind to serve others)")
        }
        Ok(body) => {
            let method = request.method().as_str().to_ascii_uppercase();
            api.handle(&method, request.url(), &body)
        }
        Err(r) => r,
    };
    let mut out = tiny_http::Response::from_data(response.body).with_status_code(response.status);
    let mut headers = vec![
        ("Content-Type", response.content_type.to_string()),
        ("Cache-Control", "no-store".to_string()),
        ("X-Content-Type-Options", "nosniff".to_string()),
        (
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'"
                .to_string(),
        ),
    ];
    if let Some(name) = response.attachment {
        headers.push(("Content-Disposition", format!("attachment; filename=\"{name}\"")));
    }
    for (k, v) in headers {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            out.add_header(h);
        }
    }
    // A client that went away (a cancelled fetch) is not an error of the server.
    let _ = request.respond(out);
}

/// The body, at most [`MAX_BODY_BYTES`]; a larger one is refused with 413 before it is read
/// whole.
fn read_body(request: &mut tiny_http::Request) -> Result<Vec<u8>, Response> {
    let too_large = || Response::error(413, format!("request body over {MAX_BODY_BYTES} bytes"));
    if request.body_length().is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| Response::error(400, format!("reading the request body: {e}")))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(body)
}
