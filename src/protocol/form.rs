//! The GATE form: the fields the member's browser posts to the vendor, typed (`None` is a field
//! not sent), the demo page's hand edits over them, and their encoding in the guide's order: the
//! one place where `ranNum` is drawn and the vendor's parameter encryption applied.

use base64::Engine;

use crate::domain::encryption::{encrypt_field, ParamEncryption, RanNum};
use crate::domain::records::ReceiptYn;

/// What a tester typed over the mall's values on the demo page.
#[derive(Debug, Clone, Default)]
pub struct Edits {
    /// `DirectFlag=Y` even without a `DirectURL`.
    pub direct_flag: bool,
    pub point_name: Option<String>,
    pub point_name_code: Option<String>,
    pub cus_url: Option<String>,
}

/// The member fields of a GATE.
#[derive(Debug, Clone)]
pub struct MemberFields {
    pub company: String,
    pub customer_id: String,
    pub name: String,
    pub receipt_yn: ReceiptYn,
}

/// The GATE form, typed: `None` is a field not sent.
#[derive(Debug, Clone)]
pub struct GateForm {
    pub popup_url: String,
    pub direct_flag: bool,
    pub direct_url: Option<String>,
    pub cus_url: Option<String>,
    pub member: Option<MemberFields>,
    pub point_name: String,
    pub point_name_code: String,
    pub baro_item: Option<String>,
    pub check_url: String,
    pub otp_token: Option<String>,
}

/// The fields a GATE posts, before and after encryption, and the `ranNum` used.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub fields: Vec<(&'static str, String)>,
    pub plain_fields: Vec<(&'static str, String)>,
    pub ran_num: Option<String>,
}

/// The form as posted fields, in the guide's order. With the vendor's parameter encryption on,
/// `ranNum` is drawn here and `cmpy_cd`, `CFM_CUS_ID`, `USER_NAME` and `OTP_TOKEN` are sent
/// encrypted with it; the one place where either happens.
pub fn encode(form: &GateForm, encryption: &ParamEncryption) -> Encoded {
    let mut plain: Vec<(&'static str, String)> = Vec::with_capacity(15);
    plain.push(("POPUPURL", form.popup_url.clone()));
    plain.push((
        "DirectFlag",
        if form.direct_flag { "Y" } else { "N" }.into(),
    ));
    if let Some(d) = &form.direct_url {
        plain.push(("DirectURL", d.clone()));
    }
    if let Some(c) = &form.cus_url {
        plain.push(("CUS_URL", c.clone()));
    }
    if let Some(m) = &form.member {
        plain.push(("cmpy_cd", m.company.clone()));
        plain.push(("CFM_CUS_ID", m.customer_id.clone()));
        plain.push(("USER_NAME", m.name.clone()));
        plain.push(("ReceiptYN", m.receipt_yn.as_str().into()));
    }
    plain.push(("pointname", form.point_name.clone()));
    plain.push((
        "pointnameBase64",
        base64::engine::general_purpose::STANDARD.encode(form.point_name.as_bytes()),
    ));
    plain.push(("pointnamecode", form.point_name_code.clone()));
    if let Some(b) = &form.baro_item {
        plain.push(("BaroItem", b.clone()));
    }
    plain.push(("CHECKURL", form.check_url.clone()));
    let cipher = encryption.cipher();
    let ran_num = cipher.map(|_| RanNum::generate());
    if let Some(r) = &ran_num {
        plain.push(("ranNum", r.as_str().to_owned()));
    }
    if let Some(t) = &form.otp_token {
        plain.push(("OTP_TOKEN", t.clone()));
    }
    let fields = match (cipher, &ran_num) {
        (Some(cipher), Some(ran_num)) => plain
            .iter()
            .map(|(name, value)| match *name {
                "cmpy_cd" | "CFM_CUS_ID" | "USER_NAME" | "OTP_TOKEN" => {
                    (*name, encrypt_field(cipher, ran_num, value))
                }
                _ => (*name, value.clone()),
            })
            .collect(),
        _ => plain.clone(),
    };
    Encoded {
        fields,
        plain_fields: plain,
        ran_num: ran_num.map(|r| r.as_str().to_owned()),
    }
}

/// The demo page's hand edits replace what the mall would have sent.
pub(crate) fn apply_edits(form: &mut GateForm, edits: &Edits) {
    if edits.direct_flag {
        form.direct_flag = true;
    }
    if let Some(p) = &edits.point_name {
        form.point_name = p.clone();
    }
    if let Some(c) = &edits.point_name_code {
        form.point_name_code = c.clone();
    }
    if let Some(u) = &edits.cus_url {
        form.cus_url = Some(u.clone());
    }
}

/// A token as logs may show it: `32*****5c6a669`.
pub fn mask(token: &str) -> String {
    if token.len() <= 9 || !token.is_ascii() {
        return "*****".into();
    }
    format!("{}*****{}", &token[..2], &token[token.len() - 7..])
}
