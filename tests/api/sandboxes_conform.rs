//! Conformance runs in sandboxes of their own: a run on the base leaves the base's vendors,
//! consents and journal as they were, and two runs at once both pass.

use actix_web::http::StatusCode;
use serde_json::{json, Value};

use crate::conform::failed;
use crate::helpers::{spawn_app, TestApp};

async fn state(app: &TestApp, path: &str) -> Value {
    let r = app.get(path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
}

async fn run(app: &TestApp) -> Value {
    let r = app
        .post_json(
            "/_sim/api/conform",
            &json!({"vndrNo": "VR000216", "timeoutSeconds": 5}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
}

#[actix_web::test]
async fn conformance_runs_change_nothing_outside_their_sandbox_and_never_meet() {
    let app = spawn_app().await;
    let before = (
        state(&app, "/_sim/api/vendors").await,
        state(&app, "/_sim/api/consents").await,
        state(&app, "/_sim/api/journal").await,
    );
    // Two runs at once: both pass.
    let (one, two) = futures_util::future::join(run(&app), run(&app)).await;
    for report in [&one, &two] {
        assert!(failed(report).is_empty(), "{report}");
        assert!(
            report["cases"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["status"] == "pass"),
            "{report}"
        );
    }
    let after = (
        state(&app, "/_sim/api/vendors").await,
        state(&app, "/_sim/api/consents").await,
        state(&app, "/_sim/api/journal").await,
    );
    assert_eq!(before, after, "the base changed");
    // Their sandboxes are gone.
    let listed = state(&app, "/_sim/api/sandboxes").await;
    assert_eq!(listed["sandboxes"], json!([]));
}
