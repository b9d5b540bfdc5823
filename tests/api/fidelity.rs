//! Fidelity to the real mall where the guide only hints: each company's own mall domain under
//! one local CA, parameter encryption with ranNum, the company-side entry, the point popup in the
//! member's session, legacy encodings, and a binary that runs from any folder.

use std::time::Duration;

use awc::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Reply, TestApp};

const AA5_MEMBER: &str = "AA5A00001201";

/// AA5's mall domain: the shipped `cusUrl` names no port, so it follows the HTTPS listener's.
fn aa5_mall(app: &TestApp) -> String {
    let port = app.https.rsplit_once(':').unwrap().1;
    format!("https://aa5.benecafe.localhost:{port}")
}

impl TestApp {
    async fn post_form_http(&self, path: &str, form: &str) -> Reply {
        let client = self.client_without_redirects();
        self.send(
            client.post(format!("{}{path}", self.http)),
            Some((
                "application/x-www-form-urlencoded",
                form.as_bytes().to_vec(),
            )),
        )
        .await
    }

    async fn get_http_raw(&self, path: &str, cookie: Option<&str>) -> Reply {
        let client = self.client_without_redirects();
        let mut req = client.get(format!("{}{path}", self.http));
        if let Some(c) = cookie {
            req = req.insert_header(("Cookie", c));
        }
        self.send(req, None).await
    }
}

/// The `name=value` part of a `Set-Cookie`.
fn cookie_of(r: &Reply) -> String {
    r.header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn a_company_with_its_own_mall_domain_gets_it_in_cus_url_checkurl_and_popupurl() {
    let app = spawn_app().await;
    let aa5_mall = aa5_mall(&app);
    let g = app
        .gate(json!({"cmpyCd": "AA5", "custId": AA5_MEMBER, "vndrNo": "VR000216", "consent": "agree"}))
        .await
        .json();
    assert_eq!(g["fields"]["CUS_URL"], aa5_mall);
    assert_eq!(
        g["fields"]["CHECKURL"],
        format!("{aa5_mall}/sso/vendorUserCheck")
    );
    assert_eq!(g["fields"]["POPUPURL"], format!("{aa5_mall}/mall/point"));
    // A company without one gets the simulator's.
    let j = app
        .gate(json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216"}))
        .await
        .json();
    assert_eq!(j["fields"]["CUS_URL"], app.state.config.public_url);
    // The list shows every company's effective domain.
    let companies = app.get("/_sim/api/companies").await.json();
    for c in companies.as_array().unwrap() {
        let url = c["cusUrl"].as_str().unwrap();
        assert!(url.starts_with("https://"), "{c}");
        if c["cmpyCd"] == "AA5" {
            assert_eq!(url, aa5_mall);
        }
    }
}

#[actix_web::test]
async fn a_token_redeemed_through_another_host_answers_ok_and_the_journal_names_the_right_one() {
    let app = spawn_app().await;
    let aa5_mall = aa5_mall(&app);
    let g = app
        .gate(json!({"cmpyCd": "AA5", "custId": AA5_MEMBER, "vndrNo": "VR000216", "consent": "agree"}))
        .await
        .json();
    let token = g["otpToken"].as_str().unwrap();
    // The partner hard-coded the simulator's own domain instead of the company's CUS_URL.
    let r = app.cert(&format!("otpTokenp={token}")).await;
    assert_eq!(r.result_code(), "OK");
    let reason = r.header("x-sim-reason").unwrap();
    assert!(
        reason.contains("token of company AA5 redeemed through host 127.0.0.1")
            && reason.contains(&aa5_mall),
        "{reason}"
    );
    let journal = app.journal("endpoint=cert").await;
    assert!(journal[0]["reason"]
        .as_str()
        .unwrap()
        .contains(&format!("its CUS_URL is {aa5_mall}")));
}

#[actix_web::test]
async fn a_vendor_without_send_cus_url_gets_no_cus_url_and_the_reason() {
    let app = spawn_app().await;
    let r = app
        .api(
            "PATCH",
            "/_sim/api/vendors/VR000216",
            Some(json!({"sendCusUrl": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let g = app.token_gate("J01A00038745").await;
    assert!(g["fields"].get("CUS_URL").is_none());
    let omitted = g["omitted"].as_array().unwrap();
    let why = omitted.iter().find(|o| o["field"] == "CUS_URL").unwrap();
    assert!(why["reason"]
        .as_str()
        .unwrap()
        .contains("https://cert.benecafe.co.kr"));
}

impl TestApp {
    async fn token_gate(&self, member: &str) -> Value {
        let r = self
            .gate(json!({"cmpyCd": "J01", "custId": member, "vndrNo": "VR000216"}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()
    }
}

/// The status line of `GET /_sim/healthz` over TLS to `addr`, naming `sni`, trusting only `ca`.
fn healthz_via(addr: &str, sni: &str, ca: &[u8]) -> Result<String, String> {
    crate::helpers::get_via(addr, sni, ca, "/_sim/healthz").map(|(status, _)| status)
}

#[actix_web::test]
async fn a_client_trusting_only_the_local_ca_verifies_every_host_including_one_added_at_run_time() {
    let app = spawn_app().await;
    let ca = std::fs::read(app.data.join("ca.pem")).expect("the local CA is in the data folder");
    let addr = app.https.trim_start_matches("https://").to_owned();
    for name in ["localhost", "127.0.0.1", "aa5.benecafe.localhost"] {
        let status = healthz_via(&addr, name, &ca).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(status.contains(" 200 "), "{name}: {status}");
    }
    // Not served yet: the certificate does not name it.
    assert!(healthz_via(&addr, "bix.benecafe.co.kr", &ca).is_err());
    let r = app
        .api(
            "PATCH",
            "/_sim/api/companies/BIX",
            Some(json!({"cusUrl": "https://bix.benecafe.co.kr"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let status = healthz_via(&addr, "bix.benecafe.co.kr", &ca).expect("served without a restart");
    assert!(status.contains(" 200 "), "{status}");
    // A client that trusts something else fails.
    let other = tempfile::tempdir().unwrap();
    benecafe_sim::app::tls::TlsMaterial::load_or_generate(None, None, other.path(), &[]).unwrap();
    let foreign = std::fs::read(other.path().join("ca.pem")).unwrap();
    assert!(healthz_via(&addr, "localhost", &foreign).is_err());
}

/// Decrypts a field with the RustCrypto crates directly, as a partner would.
fn decrypt(scheme: &str, key: &[u8], ran_num: &str, value: &str) -> String {
    use aes::cipher::{block_padding::Pkcs7, BlockModeDecrypt, KeyIvInit};
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD
        .decode(value)
        .unwrap();
    let iv = ran_num.as_bytes();
    let plain = match scheme {
        "AES-128-CBC" => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .unwrap()
            .decrypt_padded_vec::<Pkcs7>(&data),
        "AES-256-CBC" => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .unwrap()
            .decrypt_padded_vec::<Pkcs7>(&data),
        _ => cbc::Decryptor::<aria::Aria128>::new_from_slices(key, iv)
            .unwrap()
            .decrypt_padded_vec::<Pkcs7>(&data),
    };
    String::from_utf8(plain.unwrap()).unwrap()
}

#[actix_web::test]
async fn every_scheme_encrypts_the_member_fields_and_token_so_a_partner_decrypts_them() {
    let app = spawn_app().await;
    let schemes = [
        ("AES-128-CBC", "000102030405060708090a0b0c0d0e0f"),
        (
            "AES-256-CBC",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        ),
        ("ARIA-128-CBC", "0f0e0d0c0b0a09080706050403020100"),
    ];
    for (scheme, key_hex) in schemes {
        let r = app
            .api(
                "PATCH",
                "/_sim/api/vendors/VR000301",
                Some(json!({"paramEncryption": {"scheme": scheme, "key": key_hex}})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let g = app
            .gate(
                json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000301",
                         "consent": "agree", "forceMemberFields": true}),
            )
            .await
            .json();
        let ran_num = g["ranNum"].as_str().unwrap();
        assert_eq!(ran_num.len(), 16);
        assert!(ran_num.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(g["fields"]["ranNum"], ran_num);
        let key: Vec<u8> = (0..key_hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&key_hex[i..i + 2], 16).unwrap())
            .collect();
        for field in ["cmpy_cd", "CFM_CUS_ID", "USER_NAME", "OTP_TOKEN"] {
            let sent = g["fields"][field].as_str().unwrap();
            let plain = g["plainFields"][field].as_str().unwrap();
            assert_ne!(sent, plain, "{scheme} {field} is encrypted");
            assert_eq!(
                decrypt(scheme, &key, ran_num, sent),
                plain,
                "{scheme} {field}"
            );
        }
        assert_eq!(g["plainFields"]["USER_NAME"], "차세대테");
        assert_eq!(g["fields"]["pointname"], g["plainFields"]["pointname"]);
        // The simulator's own decryption agrees. (A wrong ranNum only garbles the first block in
        // CBC: that is the cipher's nature, and the plain text comes out wrong.)
        let sent = g["fields"]["USER_NAME"].as_str().unwrap();
        let d = app
            .post_json(
                "/_sim/api/decrypt",
                &json!({"vndrNo": "VR000301", "ranNum": ran_num, "value": sent}),
            )
            .await;
        assert_eq!(d.json()["plain"], "차세대테", "{scheme}");
        let wrong_iv = if ran_num.starts_with('1') { "2" } else { "1" }.to_owned() + &ran_num[1..];
        let garbled = app
            .post_json(
                "/_sim/api/decrypt",
                &json!({"vndrNo": "VR000301", "ranNum": wrong_iv, "value": sent}),
            )
            .await;
        assert!(
            garbled.status == StatusCode::BAD_REQUEST || garbled.json()["plain"] != "차세대테",
            "{scheme}: {}",
            garbled.text()
        );
        // The encrypted token sent as it is: 401, saying so; the plain one redeems.
        let encrypted = g["fields"]["OTP_TOKEN"].as_str().unwrap();
        let enc_q: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("otpTokenp", encrypted)
            .finish();
        let r = app.cert(&enc_q).await;
        assert_eq!(r.result_code(), "401");
        assert!(r
            .header("x-sim-reason")
            .unwrap()
            .contains("looks encrypted"));
        let plain = g["plainFields"]["OTP_TOKEN"].as_str().unwrap();
        assert_eq!(
            app.cert(&format!("otpTokenp={plain}")).await.result_code(),
            "OK"
        );
    }
    // A wrong key (the vendor's key changed) gives 400 with a reason.
    let g = app
        .gate(json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000301", "forceMemberFields": true}))
        .await
        .json();
    app.api(
        "PATCH",
        "/_sim/api/vendors/VR000301",
        Some(json!({"paramEncryption": {"scheme": "ARIA-128-CBC", "key": "00000000000000000000000000000001"}})),
    )
    .await;
    let bad = app
        .post_json(
            "/_sim/api/decrypt",
            &json!({"vndrNo": "VR000301", "ranNum": g["ranNum"], "value": g["fields"]["USER_NAME"]}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.json()["error"].as_str().unwrap().contains("value:"));
}

#[actix_web::test]
async fn members_log_in_with_id_and_password_and_lc_never_leaves_the_simulator() {
    let app = spawn_app().await;
    let aa5 = format!("{}/mall", aa5_mall(&app));
    let page = app.get_http_raw("/member/login?&cmpyNo=J01", None).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    for shape in [
        "placeholder=\"아이디\"",
        "placeholder=\"비밀번호\"",
        ">로그인</button>",
    ] {
        assert!(html.contains(shape), "{shape}");
    }
    let wrong = app
        .post_form_http("/member/login", "cmpyNo=J01&memID=kimminji&passwd=nope")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.header("set-cookie").is_none());
    for (lc, to) in [
        ("", "/mall"),
        ("/mall/point", "/mall/point"),
        ("https://evil.example/steal", "/mall"),
        ("//evil.example/", "/mall"),
        (&aa5, &aa5),
        // Not the port AA5's mall is served on.
        ("https://aa5.benecafe.localhost:1/mall", "/mall"),
    ] {
        let body = format!(
            "cmpyNo=J01&memID=kimminji&passwd=test1234&lc={}",
            form_urlencoded::byte_serialize(lc.as_bytes()).collect::<String>()
        );
        let r = app.post_form_http("/member/login", &body).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "lc={lc}");
        assert_eq!(r.header("location").as_deref(), Some(to), "lc={lc}");
    }
    let logins = app.journal("endpoint=login").await;
    assert_eq!(logins.len(), 7);
    assert_eq!(logins[0]["result"], "refused");
}

#[actix_web::test]
async fn the_company_side_entry_logs_in_joins_or_refuses() {
    let app = spawn_app().await;
    let known = app
        .post_form_http(
            "/sso/loginSsoGate",
            "memID=kimminji&cmpyNo=J01&mbrNm=%EA%B9%80%EB%AF%BC%EC%A7%80&email=a%40b.c&lc=%2Fmall%2Fpoint",
        )
        .await;
    assert_eq!(known.status, StatusCode::SEE_OTHER);
    assert_eq!(known.header("location").as_deref(), Some("/mall/point"));
    let cookie = cookie_of(&known);
    let point = app.get_http_raw("/mall/point", Some(&cookie)).await;
    assert_eq!(point.status, StatusCode::OK);
    assert!(point.text().contains("김민지"));
    // Q15 auto-joins an unknown member.
    let joined = app
        .post_form_http(
            "/sso/loginSsoGate",
            "memID=newbie&cmpyNo=Q15&mbrNm=%EC%8B%A0%EC%9E%85&email=n%40q.c",
        )
        .await;
    assert_eq!(joined.status, StatusCode::SEE_OTHER, "{}", joined.text());
    let members = app.get("/_sim/api/members").await.json();
    assert!(members
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["cmpyCd"] == "Q15" && m["mbrId"] == "newbie" && m["mbrNm"] == "신입"));
    // J01 does not.
    let refused = app
        .post_form_http(
            "/sso/loginSsoGate",
            "memID=stranger&cmpyNo=J01&mbrNm=x&email=x",
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.header("set-cookie").is_none());
    let logins = app.journal("endpoint=login").await;
    let results: Vec<&str> = logins
        .iter()
        .map(|e| e["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["ok", "joined", "refused"]);
}

#[actix_web::test]
async fn the_point_popup_shows_a_member_only_inside_the_mall_session() {
    let app = spawn_app().await;
    let anonymous = app
        .get_http_raw("/mall/point?cmpyCd=J01&custId=J01A00038745", None)
        .await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert!(anonymous
        .header("location")
        .unwrap()
        .starts_with("/member/login"));
    let login = app
        .post_form_http("/member/login", "cmpyNo=J01&custId=J01A00038745")
        .await;
    let point = app
        .get_http_raw("/mall/point", Some(&cookie_of(&login)))
        .await;
    assert!(point.text().contains("350,000"));
}

#[actix_web::test]
async fn euc_kr_names_and_tokens_are_diagnosed() {
    let app = spawn_app().await;
    let r = app
        .get("/sso/vendorUserCheck?cmpyCd=J01&CFM_CUS_ID=J01A00038745&userName=%C2%F7%BC%BC%B4%EB%C5%D7")
        .await;
    assert_eq!(r.text(), "N");
    assert!(r
        .header("x-sim-reason")
        .unwrap()
        .contains("userName is EUC-KR-encoded"));
    let r = app.cert("otpTokenp=%C2%F7%BC%BC").await;
    assert_eq!(r.result_code(), "401");
    assert!(r.header("x-sim-reason").unwrap().contains("EUC-KR-encoded"));
}

#[actix_web::test]
async fn the_binary_started_in_an_empty_folder_serves_the_built_in_fixtures() {
    let here = tempfile::tempdir().unwrap();
    let (https, http) = (crate::helpers::free_port(), crate::helpers::free_port());
    let log = here.path().join("log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_benecafe-sim"))
        .current_dir(here.path())
        .args(["--https-addr", &format!("127.0.0.1:{https}")])
        .args(["--http-addr", &format!("127.0.0.1:{http}")])
        .arg("--data-dir")
        .arg(here.path().join("data"))
        .env_remove("SIM_FIXTURES")
        .env("SIM_LOG", "info")
        .stdout(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let client = awc::Client::default();
    let mut companies = None;
    for _ in 0..200 {
        if let Ok(mut r) = client
            .get(format!("http://127.0.0.1:{http}/_sim/api/companies"))
            .send()
            .await
        {
            companies = r.json::<Value>().await.ok();
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let companies = companies.expect("it started");
    assert_eq!(companies.as_array().unwrap().len(), 4);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("fixtures from the built-in set"), "{text}");
}
