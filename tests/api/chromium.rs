//! A real headless Chromium for the end-to-end tests, driven through chromedriver (WebDriver):
//! started on a free port with a profile of its own, stopped when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// The width of the phone the pages are tried on (an iPhone's, in CSS pixels).
pub(crate) const PHONE_WIDTH: u32 = 375;

/// A headless Chromium session; dropping it stops chromedriver.
pub(crate) struct Browser {
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn find_program(names: &[&str]) -> String {
    for name in names {
        for dir in std::env::var("PATH")
            .unwrap_or_default()
            .split(':')
            .chain(["/usr/bin"])
        {
            let path = std::path::Path::new(dir).join(name);
            if path.is_file() {
                return path.display().to_string();
            }
        }
    }
    panic!(
        "{} not found: install Debian's chromium and chromium-driver",
        names.join(" or ")
    );
}

impl Browser {
    pub(crate) async fn start(javascript: bool) -> Browser {
        let driver_path = find_program(&["chromedriver"]);
        let chromium = find_program(&["chromium", "chromium-browser", "google-chrome"]);
        let port = free_port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--window-size=1100,900".into(),
            // As on a phone: scrollbars take no width from the page.
            "--hide-scrollbars".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        if !javascript {
            args.push("--blink-settings=scriptEnabled=false".into());
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = None;
        for _ in 0..100 {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Browser {
                        client: Some(client),
                        driver,
                        _profile: profile,
                    }
                }
                Err(e) => last_error = Some(e),
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no WebDriver session: {last_error:?}");
    }

    pub(crate) fn c(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.c().goto(url).await.expect("navigates");
    }

    /// The element, once it is on the page. Any error while looking (no such element yet, or
    /// "aborted by navigation" while the self-posting page submits itself) means "look again".
    pub(crate) async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            match self.c().find(Locator::Css(css)).await {
                Ok(e) => return e,
                Err(e) if std::time::Instant::now() > deadline => {
                    let url = self.c().current_url().await.map(|u| u.to_string());
                    let source = self.c().source().await.unwrap_or_default();
                    let excerpt: String = source.chars().take(1500).collect();
                    panic!("no {css} on the page {url:?}: {e}\n{excerpt}")
                }
                Err(_) => actix_web::rt::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// The element's text, retried while the page is still changing under it.
    pub(crate) async fn text(&self, css: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            match self.wait_for(css).await.text().await {
                Ok(t) => return t,
                Err(e) if std::time::Instant::now() > deadline => {
                    panic!("cannot read {css}: {e}")
                }
                Err(_) => actix_web::rt::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    pub(crate) async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.expect("clicks");
    }

    pub(crate) async fn close(mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.close().await;
        }
    }

    /// A phone's window: 375 CSS pixels wide.
    pub(crate) async fn phone(&self) {
        self.c()
            .set_window_size(PHONE_WIDTH, 812)
            .await
            .expect("window resized");
    }

    /// The result of a script that returns a JSON value.
    pub(crate) async fn eval(&self, script: &str) -> serde_json::Value {
        self.c().execute(script, vec![]).await.expect("script runs")
    }

    /// Panics unless the page is laid out no wider than the phone's window: nothing to scroll
    /// sideways to.
    pub(crate) async fn assert_fits(&self, page: &str) {
        let widths = self
            .eval("return [document.documentElement.scrollWidth, window.innerWidth];")
            .await;
        assert_eq!(widths[1], json!(PHONE_WIDTH), "the window is not a phone's");
        assert!(
            widths[0].as_u64().unwrap() <= u64::from(PHONE_WIDTH),
            "{page} is {} px wide at {PHONE_WIDTH} px",
            widths[0]
        );
    }

    /// Saves a screenshot when `SIM_SCREENSHOT_DIR` is set (how the README's pictures are made).
    pub(crate) async fn screenshot(&self, name: &str) {
        if let Some(dir) = std::env::var_os("SIM_SCREENSHOT_DIR") {
            let png = self.c().screenshot().await.expect("screenshot");
            std::fs::write(std::path::Path::new(&dir).join(name), png).unwrap();
        }
    }
}
