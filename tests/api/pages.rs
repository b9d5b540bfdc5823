//! The browser pages as a phone and a person read them: every page in the site's layout, times
//! that say their zone. (How they lay out at a phone's width is for a real browser:
//! `browser.rs`.)

use awc::http::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

/// Panics unless `html` is a page of the site: scaled to the device, under the header whose
/// navigation reaches every page, the conformance kit's among them.
fn assert_site_page(html: &str, page: &str) {
    assert!(
        html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"),
        "{page} is not scaled to the device:\n{html}"
    );
    for link in [
        "/member/login",
        "/_sim/demo",
        "/_sim/partner/gate",
        "/_sim/journal",
        "/_sim/conform",
    ] {
        assert!(
            html.contains(&format!("<a href=\"{link}\">")),
            "{page}'s navigation has no link to {link}:\n{html}"
        );
    }
}

#[actix_web::test]
async fn the_conform_page_and_its_report_are_pages_of_the_site() {
    let app = spawn_app().await;
    let landing = app.get("/").await;
    assert_site_page(&landing.text(), "the landing page");
    let form = app.get("/_sim/conform").await;
    assert_eq!(form.status, StatusCode::OK);
    assert_site_page(&form.text(), "the conform page");
    assert!(
        form.text().contains("<label for=\"vndrNo\">"),
        "{}",
        form.text()
    );
    let report = app.post_form("/_sim/conform", "vndrNo=VR000216").await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.text());
    let html = report.text();
    assert_site_page(&html, "the conformance report");
    assert!(html.contains("first-visit"), "{html}");
    for header in [
        "content-security-policy",
        "referrer-policy",
        "x-frame-options",
    ] {
        assert!(
            report.header(header).is_some(),
            "the report has no {header}"
        );
    }
}

/// `HH:MM:SS` followed by `rest`, somewhere in `text`.
fn has_time_then(text: &str, rest: &str) -> bool {
    text.match_indices(rest).any(|(at, _)| {
        let before = &text.as_bytes()[..at];
        let clock = &before[before.len().saturating_sub(8)..];
        clock.len() == 8
            && clock.iter().enumerate().all(|(i, c)| {
                if i % 3 == 2 {
                    *c == b':'
                } else {
                    c.is_ascii_digit()
                }
            })
    })
}

#[actix_web::test]
async fn times_people_read_say_kst_and_the_journal_api_keeps_rfc_3339() {
    let app = spawn_app().await;
    let token = app.token().await;
    assert_eq!(
        app.cert(&format!("otpTokenp={token}")).await.result_code(),
        "OK"
    );
    let again = app.cert(&format!("otpTokenp={token}")).await;
    let reason = again.header("x-sim-reason").unwrap();
    assert!(has_time_then(&reason, " KST by 127.0.0.1"), "{reason}");
    // A later GATE says when the member fields went, with the date: it may be another day.
    let later = app
        .gate(json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216"}))
        .await
        .json();
    let omitted = later["omitted"].to_string();
    assert!(
        has_time_then(&omitted, " KST, member data unchanged"),
        "{omitted}"
    );
    let page = app.get("/_sim/journal").await.text();
    // Each event's time (milliseconds kept: events come quickly), and the used token's reason.
    assert!(page.matches(" KST</time>").count() >= 3, "{page}");
    assert!(has_time_then(&page, " KST by 127.0.0.1"), "{page}");
    // Partners parse the JSON's `at`: RFC 3339 with the +09:00 offset, as before.
    let events = app.get("/_sim/api/journal").await.json();
    for e in events.as_array().unwrap() {
        let at = e["at"].as_str().unwrap();
        assert!(
            at.len() == 29 && at.ends_with("+09:00") && at.as_bytes()[10] == b'T',
            "{at}"
        );
    }
}
