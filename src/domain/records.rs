//! The mall's actors as records: a company, a member, a vendor, a consent, as the fixture files
//! and the control API write them.
//!
//! Values with a form of their own are parsed as the record is read (a vendor's `allowedIps`
//! as networks, a member's `receiptYn` as `Y` or `N`), so that a bad one is refused at the
//! edge, naming the field; each record's `validate` checks what is left (non-empty keys, dates,
//! references to other records). The whole set, read and checked, is `Fixtures` in `fixtures.rs`.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// A customer company (고객사) of the mall.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Company {
    /// Company key (`cmpy_cd` / `cmpyCd`), 3 characters.
    #[serde(rename = "cmpyCd")]
    pub code: String,
    /// Display name of the company.
    pub name: String,
    /// The company's own name for welfare points (`pntNm`, `pointname`).
    #[serde(rename = "pntNm")]
    pub point_name: String,
    /// The point name used on mobile (`moblPntNm`).
    #[serde(rename = "moblPntNm")]
    pub mobile_point_name: String,
    /// Point name code (`pointnamecode` of the GATE form).
    #[serde(rename = "pointNameCode")]
    pub point_name_code: String,
    /// The company's own mall domain (`CUS_URL`, an `https://` URL), as each real customer
    /// company has one; without it the simulator's public HTTPS URL.
    #[serde(rename = "cusUrl", default, skip_serializing_if = "Option::is_none")]
    pub cus_url: Option<String>,
    /// Whether an unknown `memID` arriving through `/sso/loginSsoGate` becomes a new member.
    #[serde(rename = "autoJoin", default, skip_serializing_if = "is_false")]
    pub auto_join: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A member (임직원 회원) of a company.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Member key (`custId`, the GATE form's `CFM_CUS_ID`); unique across the mall.
    #[serde(rename = "custId")]
    pub customer_id: String,
    /// The company this member belongs to.
    #[serde(rename = "cmpyCd")]
    pub company: String,
    /// Member number (`mbrNo`).
    #[serde(rename = "mbrNo")]
    pub member_no: String,
    /// Login id (`mbrId`; `mbrld` in the scanned guide is accepted on input).
    #[serde(rename = "mbrId", alias = "mbrld")]
    pub login_id: String,
    /// Name (`mbrNm`, the GATE form's `USER_NAME`).
    #[serde(rename = "mbrNm")]
    pub name: String,
    /// Employee number (`empen`).
    #[serde(rename = "empen")]
    pub employee_no: String,
    /// Birth date, `YYYYMMDD` (`dob`).
    #[serde(rename = "dob")]
    pub birth_date: String,
    /// Home phone (`hmeTelNo`).
    #[serde(rename = "hmeTelNo", default)]
    pub home_phone: String,
    /// Postal code (`postNo`).
    #[serde(rename = "postNo", default)]
    pub postal_code: String,
    /// Base address (`baseAddr`).
    #[serde(rename = "baseAddr", default)]
    pub base_address: String,
    /// Detail address (`dtlsAddr`).
    #[serde(rename = "dtlsAddr", default)]
    pub detail_address: String,
    /// Welfare-point balance shown in the point popup.
    #[serde(rename = "pointBalance", default)]
    pub point_balance: i64,
    /// Whether the member asks for cash receipts by default (`ReceiptYN`).
    #[serde(rename = "receiptYn", default)]
    pub receipt_yn: ReceiptYn,
    /// Inactive members exist but fail CHECKURL and cannot enter the mall.
    #[serde(default = "default_true")]
    pub active: bool,
    /// The password of the login page (`/member/login`); without one, the member logs in with
    /// the ID alone (a simulator, not a vault: it is kept and compared as plain text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// A partner vendor (제휴사).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Vendor {
    /// Vendor number (`vndrNo`).
    #[serde(rename = "vndrNo")]
    pub vendor_no: String,
    /// Vendor interwork info number (`vndrItwkInfoNo`; the scan's `vndrltwklnfoNo` is accepted).
    #[serde(rename = "vndrItwkInfoNo", alias = "vndrltwklnfoNo")]
    pub interwork_no: String,
    /// Display name of the vendor.
    pub name: String,
    /// The GATE URL registered in advance. A value starting with `/` is a path on the
    /// simulator itself (the built-in test partner uses this).
    #[serde(rename = "gateUrl")]
    pub gate_url: String,
    /// Base for relative DirectURLs, when the vendor has one.
    #[serde(
        rename = "directUrlBase",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub direct_url_base: Option<String>,
    /// Addresses and networks allowed to call the cert endpoint with this vendor's tokens (a
    /// bare address is a /32 or /128, and is written back bare).
    #[serde(rename = "allowedIps", with = "allowed_ips")]
    pub allowed_ips: Vec<IpNet>,
    /// Token lifetime for this vendor, overriding the global one.
    #[serde(
        rename = "tokenTtlSeconds",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub token_ttl_seconds: Option<u64>,
    /// Parameter encryption: `false`, or the scheme and key; when on, the GATE form carries
    /// `ranNum` and its member fields and token encrypted.
    #[serde(rename = "paramEncryption", default)]
    pub param_encryption: crate::domain::encryption::ParamEncryption,
    /// Whether the GATE carries `CUS_URL` (false: the partner must fall back to
    /// `https://cert.benecafe.co.kr`, as the guide says).
    #[serde(
        rename = "sendCusUrl",
        default = "default_true",
        skip_serializing_if = "is_true"
    )]
    pub send_cus_url: bool,
    /// An optional partner page that answers the logged-in member's `custId` (conformance).
    #[serde(rename = "whoamiUrl", default, skip_serializing_if = "Option::is_none")]
    pub whoami_url: Option<String>,
}

fn is_true(b: &bool) -> bool {
    *b
}

/// A member's agreement to share data with a vendor (개인정보 제3자 제공 동의).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    /// The member who agreed.
    #[serde(rename = "custId")]
    pub customer_id: String,
    /// The vendor the member agreed to share data with.
    #[serde(rename = "vndrNo")]
    pub vendor_no: String,
    /// When, as `YYYY-MM-DD HH:MM:SS.0` (`agrDts`).
    #[serde(rename = "agrDts")]
    pub agreed_at: String,
}

fn default_true() -> bool {
    true
}

/// A member's cash-receipt default (`ReceiptYN`): `Y` or `N`, written as those letters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum ReceiptYn {
    Y,
    #[default]
    N,
}

impl ReceiptYn {
    /// The letter, as the GATE form and the fixture files carry it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptYn::Y => "Y",
            ReceiptYn::N => "N",
        }
    }
}

impl FromStr for ReceiptYn {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "Y" => Ok(ReceiptYn::Y),
            "N" => Ok(ReceiptYn::N),
            other => Err(format!("must be \"Y\" or \"N\", not {other:?}")),
        }
    }
}

impl TryFrom<String> for ReceiptYn {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<ReceiptYn> for &'static str {
    fn from(r: ReceiptYn) -> Self {
        r.as_str()
    }
}

impl fmt::Display for ReceiptYn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A field name and what is wrong with it.
pub type FieldProblem = (&'static str, String);

impl Company {
    /// Checks the fields of one company.
    pub fn validate(&self) -> Result<(), FieldProblem> {
        check_company_code(&self.code).map_err(|p| ("cmpyCd", p))?;
        non_blank(&self.name).map_err(|p| ("name", p))?;
        non_blank(&self.point_name).map_err(|p| ("pntNm", p))?;
        non_blank(&self.mobile_point_name).map_err(|p| ("moblPntNm", p))?;
        if let Some(url) = &self.cus_url {
            check_mall_url(url).map_err(|p| ("cusUrl", p))?;
        }
        Ok(())
    }
}

impl Member {
    /// Checks the fields of one member against the known company codes.
    pub fn validate(&self, companies: &HashSet<&str>) -> Result<(), FieldProblem> {
        non_blank(&self.customer_id).map_err(|p| ("custId", p))?;
        printable(&self.customer_id, 64).map_err(|p| ("custId", p))?;
        if !companies.contains(self.company.as_str()) {
            return Err(("cmpyCd", format!("unknown company '{}'", self.company)));
        }
        non_blank(&self.member_no).map_err(|p| ("mbrNo", p))?;
        non_blank(&self.name).map_err(|p| ("mbrNm", p))?;
        if !is_date(&self.birth_date) {
            return Err((
                "dob",
                format!("'{}' is not a date as YYYYMMDD", self.birth_date),
            ));
        }
        Ok(())
    }
}

impl Vendor {
    /// Checks the fields of one vendor.
    pub fn validate(&self) -> Result<(), FieldProblem> {
        non_blank(&self.vendor_no).map_err(|p| ("vndrNo", p))?;
        printable(&self.vendor_no, 32).map_err(|p| ("vndrNo", p))?;
        non_blank(&self.interwork_no).map_err(|p| ("vndrItwkInfoNo", p))?;
        non_blank(&self.name).map_err(|p| ("name", p))?;
        // Both are requested server-side (the conformance kit): an http(s) URL or a path on
        // the simulator, nothing else.
        check_partner_url(&self.gate_url).map_err(|p| ("gateUrl", p))?;
        if let Some(url) = &self.whoami_url {
            check_partner_url(url).map_err(|p| ("whoamiUrl", p))?;
        }
        let max = crate::domain::grant::MAX_TTL_SECONDS;
        if self
            .token_ttl_seconds
            .is_some_and(|ttl| ttl == 0 || ttl > max)
        {
            return Err(("tokenTtlSeconds", format!("must be from 1 to {max}")));
        }
        Ok(())
    }
}

impl Consent {
    /// Checks that the consent names a known member and vendor and a well-formed date-time.
    pub fn validate(
        &self,
        members: &HashSet<&str>,
        vendors: &HashSet<&str>,
    ) -> Result<(), FieldProblem> {
        if !members.contains(self.customer_id.as_str()) {
            return Err(("custId", format!("unknown member '{}'", self.customer_id)));
        }
        if !vendors.contains(self.vendor_no.as_str()) {
            return Err(("vndrNo", format!("unknown vendor '{}'", self.vendor_no)));
        }
        if chrono::NaiveDateTime::parse_from_str(&self.agreed_at, "%Y-%m-%d %H:%M:%S%.f").is_err() {
            return Err((
                "agrDts",
                format!(
                    "'{}' is not a date-time as YYYY-MM-DD HH:MM:SS.0",
                    self.agreed_at
                ),
            ));
        }
        Ok(())
    }
}

/// Parses one entry of `allowedIps`: an address (`127.0.0.1`, `::1`) or a network (`10.0.0.0/8`).
pub fn parse_allowed(s: &str) -> Result<IpNet, String> {
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net);
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("'{s}' is not an IP address or network"))
}

/// A partner page the simulator requests (`gateUrl`, `whoamiUrl`): an http(s) URL, or a path on
/// the simulator itself.
fn check_partner_url(url: &str) -> Result<(), String> {
    let ok = url.starts_with('/') || url.starts_with("http://") || url.starts_with("https://");
    ok.then_some(())
        .ok_or_else(|| format!("'{url}' is neither an http(s) URL nor a path on the simulator"))
}

/// One entry of `allowedIps` as written: a single address bare (`127.0.0.1`), a network with
/// its length (`10.0.0.0/8`).
pub fn show_allowed(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// `allowedIps` read as networks, every entry or an error naming the one that is not, and
/// written back as the strings [`show_allowed`] gives.
mod allowed_ips {
    use ipnet::IpNet;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(nets: &[IpNet], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(nets.iter().map(super::show_allowed))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| super::parse_allowed(s))
            .collect::<Result<_, _>>()
            .map_err(D::Error::custom)
    }
}

/// A company's mall domain: an `https://` URL with a host, no path beyond `/`, no query.
pub fn check_mall_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("'{url}' is not a URL: {e}"))?;
    if parsed.scheme() != "https" {
        return Err(format!(
            "'{url}' must be an https:// URL: the mall answers HTTPS only"
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("'{url}' names no host"));
    }
    if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!(
            "'{url}' must be a bare domain, without a path or query"
        ));
    }
    Ok(())
}

/// A company code is 3 ASCII letters or digits (`J01`, `AA5`).
pub fn check_company_code(code: &str) -> Result<(), String> {
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(format!("'{code}' is not 3 letters or digits"))
    }
}

fn non_blank(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(())
    }
}

/// Keys travel in URLs and forms: no control characters, no spaces, bounded length.
fn printable(s: &str, max: usize) -> Result<(), String> {
    if s.len() > max {
        return Err(format!("longer than {max} characters"));
    }
    if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("must not contain spaces or control characters".into());
    }
    Ok(())
}

fn is_date(s: &str) -> bool {
    s.len() == 8 && chrono::NaiveDate::parse_from_str(s, "%Y%m%d").is_ok()
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
