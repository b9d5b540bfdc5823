//! The pages on a phone, in real headless Chromium at 375 CSS pixels: the conformance page and
//! its report, the journal, the login fields, the test partner and every other page fit the
//! screen with no word split inside a token. Ignored by a plain `cargo test` (no browser there);
//! `.ci/run` runs them with `--include-ignored`.

use std::time::Duration;

use serde_json::json;

use crate::browser::{log_in, Browser};
use crate::helpers::spawn_app;

#[actix_web::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it with --include-ignored"]
async fn on_a_phone_the_conform_page_and_its_result_fit_the_screen_under_the_site_header() {
    let app = spawn_app().await;
    let b = Browser::start(true).await;
    b.phone().await;
    b.goto(&format!("{}/_sim/conform", app.http)).await;
    b.wait_for("header nav a[href='/_sim/conform']").await;
    // The controls are the site's: a full-width select, the brand-coloured button.
    let select = b
        .eval("const s = document.querySelector('#vndrNo'); return [s.getBoundingClientRect().width, s.parentElement.getBoundingClientRect().width];")
        .await;
    let (list, form) = (select[0].as_f64().unwrap(), select[1].as_f64().unwrap());
    assert!(
        list <= form && list >= form - 40.0,
        "the vendor list is not as wide as its form: {select}"
    );
    assert_eq!(
        b.eval("return getComputedStyle(document.querySelector('#run')).backgroundColor;")
            .await,
        json!("rgb(29, 79, 145)")
    );
    b.assert_fits("the conform page").await;
    b.screenshot("conform-375.png").await;
    b.wait_for("#vndrNo")
        .await
        .select_by_value("VR000216")
        .await
        .unwrap();
    b.click("#run").await;
    b.wait_for("tbody tr").await;
    b.wait_for("header nav a[href='/_sim/conform']").await;
    b.assert_fits("the conformance report").await;
    let cases = b.text("tbody").await;
    assert!(
        cases.contains("first-visit") && cases.contains("spoofed-cus-url"),
        "{cases}"
    );
    b.screenshot("conform-result-375.png").await;
    b.close().await;
}

/// The words of up to 24 characters of ASCII in `#journal` that break across lines or lie
/// beyond the window's right edge, each as "broken: WORD" or "off-screen: WORD".
const BROKEN_OR_HIDDEN_WORDS: &str = r#"
const problems = [];
const width = document.documentElement.clientWidth;
const walker = document.createTreeWalker(document.getElementById('journal'), NodeFilter.SHOW_TEXT);
const range = document.createRange();
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const words = /\S+/g;
  for (let m = words.exec(node.textContent); m; m = words.exec(node.textContent)) {
    range.setStart(node, m.index);
    range.setEnd(node, m.index + m[0].length);
    const rects = [...range.getClientRects()].filter(r => r.width > 0);
    if (rects.some(r => r.left < 0 || r.right > width + 0.5)) problems.push('off-screen: ' + m[0]);
    if (/^[\x21-\x7e]{1,24}$/.test(m[0]) && rects.some(r => r.top >= rects[0].bottom - 1))
      problems.push('broken: ' + m[0]);
  }
}
return problems;
"#;

#[actix_web::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it with --include-ignored"]
async fn on_a_phone_the_journal_shows_every_event_whole_with_no_word_split() {
    let app = spawn_app().await;
    // A GATE and its cert call, the same token again (404), a GATE without consent, a later
    // GATE without member fields, and a token nobody issued.
    let token = app.token().await;
    assert_eq!(
        app.cert(&format!("otpTokenp={token}")).await.result_code(),
        "OK"
    );
    assert_eq!(
        app.cert(&format!("otpTokenp={token}")).await.result_code(),
        "404"
    );
    app.gate(json!({"cmpyCd": "J01", "custId": "J01A00038746", "vndrNo": "VR000216"}))
        .await;
    app.token().await;
    app.cert("otpTokenp=00000000000000000000000000000000").await;
    let b = Browser::start(true).await;
    b.phone().await;
    b.goto(&format!("{}/_sim/journal", app.http)).await;
    let journal = b.text("#journal").await;
    assert!(
        journal.contains("CERT") && journal.contains("GATE"),
        "{journal}"
    );
    // The page refreshes itself every 3 s: a script may land on the page being replaced.
    let mut problems = None;
    for _ in 0..20 {
        if let Ok(p) = b.c().execute(BROKEN_OR_HIDDEN_WORDS, vec![]).await {
            problems = Some(p);
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(problems, Some(json!([])), "{journal}");
    b.assert_fits("the journal").await;
    b.screenshot("journal-375.png").await;
    b.close().await;
}

#[actix_web::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it with --include-ignored"]
async fn on_a_phone_the_login_fields_match_and_the_test_partners_url_stays_in_its_card() {
    let app = spawn_app().await;
    let b = Browser::start(true).await;
    b.phone().await;
    b.goto(&format!("{}/member/login?cmpyNo=J01", app.http))
        .await;
    b.wait_for("input[name='passwd']").await;
    let looks = b
        .eval(
            "const look = i => { const s = getComputedStyle(i); \
             return [s.width, s.height, s.paddingLeft, s.borderTopColor, s.borderTopLeftRadius].join(' '); }; \
             return [look(document.querySelector('input[name=memID]')), look(document.querySelector('input[name=passwd]'))];",
        )
        .await;
    assert_eq!(looks[0], looks[1], "the ID and password fields differ");
    b.assert_fits("the login page").await;
    // 차세대테 has consented: the tile leads to the partner, which calls the cert endpoint.
    b.click("button[data-cust-id='J01A00038745']").await;
    b.click("#tile-VR000216").await;
    assert_eq!(b.text("#result-code").await, "OK");
    let url = b
        .eval("const card = document.querySelector('#cert-json').closest('.card'); const u = card.querySelector('code'); return [u.getBoundingClientRect().right, card.getBoundingClientRect().right];")
        .await;
    assert!(
        url[0].as_f64().unwrap() <= url[1].as_f64().unwrap(),
        "the URL runs out of its card: {url}"
    );
    b.assert_fits("the test partner").await;
    b.close().await;
}

#[actix_web::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it with --include-ignored"]
async fn on_a_phone_every_page_of_the_mall_and_the_tools_fits_the_screen() {
    let app = spawn_app().await;
    let b = Browser::start(true).await;
    b.phone().await;
    for (path, shown) in [
        ("/", "a[href='/_sim/demo']"),
        ("/member/login", "a[href='/member/login?cmpyNo=J01']"),
        ("/_sim/demo", "#send"),
        ("/_sim/partner/gate", "h1"),
    ] {
        b.goto(&format!("{}{path}", app.http)).await;
        b.wait_for(shown).await;
        b.assert_fits(path).await;
    }
    // 김민지 has not agreed with VR000216: the consent page, then the held GATE page.
    log_in(&b, &app, "J01", "J01A00038746").await;
    b.assert_fits("/mall").await;
    b.goto(&format!("{}/mall/go?vndrNo=VR000216&hold=1", app.http))
        .await;
    b.wait_for("#agree").await;
    b.assert_fits("/mall/consent").await;
    b.click("#agree").await;
    b.wait_for("#go").await;
    b.assert_fits("the held GATE page").await;
    b.goto(&format!("{}/mall/point", app.http)).await;
    b.wait_for("#balance").await;
    b.assert_fits("/mall/point").await;
    b.close().await;
}
