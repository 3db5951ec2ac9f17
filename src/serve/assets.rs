//! The page's files, embedded in the binary: the page works offline and the server reads no
//! file. Only these paths are served; anything else is 404 (there is no file system path to
//! traverse).

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// URL path.
    pub path: &'static str,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Contents.
    pub bytes: &'static [u8],
}

/// Every served file.
pub const ASSETS: &[Asset] = &[
    Asset { path: "/", content_type: "text/html; charset=utf-8", bytes: include_bytes!("page/index.html") },
    Asset {
        path: "/assets/style.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("page/style.css"),
    },
    Asset {
        path: "/assets/app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("page/app.js"),
    },
    Asset {
        path: "/assets/charts.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("page/charts.js"),
    },
    Asset { path: "/assets/favicon.svg", content_type: "image/svg+xml", bytes: include_bytes!("page/favicon.svg") },
];

/// The asset served at `path`, if any.
pub fn find(path: &str) -> Option<&'static Asset> {
    let path = if path == "/index.html" { "/" } else { path };
    ASSETS.iter().find(|a| a.path == path)
}
