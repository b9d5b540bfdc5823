//! CHECKURL's decision (`/sso/vendorUserCheck`): `Y` when an active member with that key exists
//! in that company and the name matches, else `N`, with the reason. A name that is not UTF-8 but
//! reads as EUC-KR is named in the reason: the mall reads UTF-8, so a partner sending EUC-KR
//! gets `N` there too, and here it learns why.

use super::params::CheckParams;
use crate::domain::directory::Directory;

/// CHECKURL's answer and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// `Y` or `N`.
    pub answer: &'static str,
    pub reason: String,
}

fn no(reason: String) -> CheckOutcome {
    CheckOutcome {
        answer: "N",
        reason,
    }
}

pub fn decide(dir: &Directory, params: &CheckParams) -> CheckOutcome {
    if let Some(name) = &params.legacy_name {
        return no(format!(
            "userName is EUC-KR-encoded '{name}'; the mall reads UTF-8"
        ));
    }
    if let Some(problem) = &params.problem {
        return no(problem.clone());
    }
    let (Some(company), Some(customer), Some(name)) =
        (&params.company, &params.customer_id, &params.name)
    else {
        return no("cmpyCd, CFM_CUS_ID and userName are all required".into());
    };
    let Some((_, member)) = dir.member(customer) else {
        return no(format!("no member {customer}"));
    };
    if member.company != *company {
        return no(format!("member {customer} is not in company {company}"));
    }
    if !member.active {
        return no(format!("member {customer} is inactive"));
    }
    if member.name != *name {
        return no(format!("member {customer}'s name does not match"));
    }
    CheckOutcome {
        answer: "Y",
        reason: format!("active member {customer} of {company}, name matches"),
    }
}
