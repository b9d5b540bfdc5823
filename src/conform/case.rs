//! The conformance cases: one [`Case`] each, with its fixed id (the JUnit `testcase` name),
//! what it expects, and why a failure matters. The order of [`Case::ALL`] is the order a run
//! takes: later cases rely on what earlier ones left (`later-visit` follows `first-visit`).

/// One conformance case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    FirstVisit,
    LaterVisit,
    DoublePost,
    ExpiredToken,
    NoConsent,
    DirectUrl,
    BaroItem,
    SessionReset,
    EncryptedFields,
    ForeignVendor,
    SpoofedCusUrl,
}

impl Case {
    /// Every case, in the order a run takes them.
    pub const ALL: [Case; 11] = [
        Case::FirstVisit,
        Case::LaterVisit,
        Case::DoublePost,
        Case::ExpiredToken,
        Case::NoConsent,
        Case::DirectUrl,
        Case::BaroItem,
        Case::SessionReset,
        Case::EncryptedFields,
        Case::ForeignVendor,
        Case::SpoofedCusUrl,
    ];

    /// The case's fixed id.
    pub const fn id(self) -> &'static str {
        match self {
            Case::FirstVisit => "first-visit",
            Case::LaterVisit => "later-visit",
            Case::DoublePost => "double-post",
            Case::ExpiredToken => "expired-token",
            Case::NoConsent => "no-consent",
            Case::DirectUrl => "direct-url",
            Case::BaroItem => "baro-item",
            Case::SessionReset => "session-reset",
            Case::EncryptedFields => "encrypted-fields",
            Case::ForeignVendor => "foreign-vendor",
            Case::SpoofedCusUrl => "spoofed-cus-url",
        }
    }

    /// The case with this id.
    pub fn from_id(id: &str) -> Option<Case> {
        Case::ALL.into_iter().find(|c| c.id() == id)
    }

    /// The case with this id, or an error naming every valid id (`--skip`, `"skip"`).
    pub fn parse(id: &str) -> Result<Case, String> {
        Case::from_id(id).ok_or_else(|| {
            let ids: Vec<&str> = Case::ALL.iter().map(|c| c.id()).collect();
            format!("unknown case '{id}' (the cases: {})", ids.join(", "))
        })
    }

    /// What the case expects, in a sentence.
    pub fn expectation(self) -> &'static str {
        match self {
            Case::FirstVisit => "member fields and a token: exactly one cert call with that token, over HTTPS, from an allowed IP, within the timeout, answered OK; the GATE post answered without a 5xx",
            Case::LaterVisit => "consent given, member fields not sent: the partner still calls the cert endpoint and gets OK",
            Case::DoublePost => "the same GATE posted twice: any second cert call gets 404, and the second post is answered without a 5xx",
            Case::ExpiredToken => "a token expired before the post: the partner's cert call gets 401 and its answer is not a 5xx",
            Case::NoConsent => "no member fields and no token: no cert call, and an answer without a 5xx",
            Case::DirectUrl => "DirectFlag=Y with a DirectURL: an answer without a 5xx (where it redirects is reported)",
            Case::BaroItem => "a BaroItem: an answer without a 5xx (where it redirects is reported)",
            Case::SessionReset => "two members' GATEs through one browser: the partner replaces its session on the second (and its whoamiUrl shows the second member)",
            Case::EncryptedFields => "parameter encryption: the partner decrypts OTP_TOKEN and redeems the plain token",
            Case::ForeignVendor => "a valid token of another vendor: the partner does not log that member in (the cert answer's vndrNo is not its own)",
            Case::SpoofedCusUrl => "a CUS_URL naming a host that is no mall domain: the partner makes no call to it",
        }
    }

    /// Why a failure matters, for the security cases.
    pub fn why_it_matters(self) -> Option<&'static str> {
        match self {
            Case::SpoofedCusUrl => Some(
                "CUS_URL travels through the member's browser: a partner that calls whatever arrives can be made to send its tokens, and so its members' data, to any server",
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Case;

    #[test]
    fn every_case_is_found_by_its_id_and_ids_are_distinct() {
        for case in Case::ALL {
            assert_eq!(Case::from_id(case.id()), Some(case));
        }
        let mut ids: Vec<&str> = Case::ALL.iter().map(|c| c.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), Case::ALL.len());
        assert_eq!(Case::from_id("no-such-case"), None);
        let e = Case::parse("no-such-case").unwrap_err();
        assert!(e.contains("'no-such-case'") && e.contains("first-visit, later-visit"));
        assert_eq!(Case::parse("baro-item"), Ok(Case::BaroItem));
    }
}
