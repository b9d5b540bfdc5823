//! CHECKURL: `Y` for an active member of that company whose name matches, else `N`.

use crate::helpers::spawn_app;

#[actix_web::test]
async fn checkurl_says_y_for_a_matching_active_member_by_get_and_post() {
    let app = spawn_app().await;
    let q = "cmpyCd=J01&CFM_CUS_ID=J01A00038745&userName=%EC%B0%A8%EC%84%B8%EB%8C%80%ED%85%8C";
    let r = app.get(&format!("/sso/vendorUserCheck?{q}")).await;
    assert_eq!(r.text(), "Y");
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/plain;charset=UTF-8")
    );
    assert_eq!(app.post_form("/sso/vendorUserCheck", q).await.text(), "Y");
    // The GATE form's spellings are accepted too.
    let gate_spelling =
        "cmpy_cd=J01&CFM_CUS_ID=J01A00038745&USER_NAME=%EC%B0%A8%EC%84%B8%EB%8C%80%ED%85%8C";
    assert_eq!(
        app.get(&format!("/sso/vendorUserCheck?{gate_spelling}"))
            .await
            .text(),
        "Y"
    );
}

#[actix_web::test]
async fn checkurl_says_n_for_a_wrong_name_company_inactive_member_or_missing_parameter() {
    let app = spawn_app().await;
    for q in [
        "cmpyCd=J01&CFM_CUS_ID=J01A00038745&userName=%EA%B9%80%EB%AF%BC%EC%A7%80",
        "cmpyCd=AA5&CFM_CUS_ID=J01A00038745&userName=%EC%B0%A8%EC%84%B8%EB%8C%80%ED%85%8C",
        // 이준호 is inactive.
        "cmpyCd=J01&CFM_CUS_ID=J01A00038747&userName=%EC%9D%B4%EC%A4%80%ED%98%B8",
        "cmpyCd=J01&CFM_CUS_ID=NOBODY&userName=x",
        "cmpyCd=J01&CFM_CUS_ID=J01A00038745",
    ] {
        assert_eq!(
            app.get(&format!("/sso/vendorUserCheck?{q}")).await.text(),
            "N",
            "{q}"
        );
    }
}
