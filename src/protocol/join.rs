//! Auto-join: a company-side entry (`/sso/loginSsoGate`) for a login ID the mall does not know
//! creates the member when the company has auto-join on: a new `custId` in the mall's form
//! (company code, `A`, eight digits), the ID and name given, nothing else known yet.
//!
//! Looking the login ID up and creating the member are one atomic store update, so two entries
//! at once for the same new login ID (a double click, two replicas) make one member, and only
//! the new member is checked (not the whole directory).

use std::collections::HashSet;

use crate::domain::directory::Directory;
use crate::domain::records::{Member, ReceiptYn};
use crate::store::{Decision, Store, StoreError};

/// Why a member could not be found or made.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("unknown company '{0}'")]
    UnknownCompany(String),
    /// No member with that login ID, and the company does not auto-join.
    #[error("no member '{0}', and the company does not auto-join")]
    NotMember(String),
    /// The new member would not be valid.
    #[error("auto-join refused: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The member of `company` whose login ID is `login_id`, made now when the company auto-joins;
/// `true` when it was made now.
pub async fn member_or_join(
    store: &Store,
    company: &str,
    login_id: &str,
    name: &str,
) -> Result<(Member, bool), JoinError> {
    let joined = store
        .decide(|dir| decide(dir, company, login_id, name))
        .await??;
    if joined.1 {
        tracing::info!(company, member = %joined.0.customer_id, "a new member joined");
    }
    Ok(joined)
}

/// The active or inactive member with this login ID, if any.
pub fn by_login_id(dir: &Directory, company: &str, login_id: &str) -> Option<Member> {
    dir.members()
        .find(|m| m.company == company && m.login_id == login_id)
        .map(|m| (**m).clone())
}

fn decide(
    dir: &Directory,
    company: &str,
    login_id: &str,
    name: &str,
) -> Result<Decision<(Member, bool)>, JoinError> {
    let Some((_, c)) = dir.company(company) else {
        return Err(JoinError::UnknownCompany(company.to_owned()));
    };
    if let Some(member) = by_login_id(dir, company, login_id) {
        return Ok(Decision::keep((member, false)));
    }
    if !c.auto_join {
        return Err(JoinError::NotMember(login_id.to_owned()));
    }
    if login_id.trim().is_empty() || name.trim().is_empty() {
        return Err(JoinError::Invalid("memID and mbrNm are required".into()));
    }
    let mut seq = dir.members().filter(|m| m.company == company).count() + 1;
    let customer_id = loop {
        let id = format!("{company}A{:08}", 90_000_000 + seq);
        if dir.member(&id).is_none() {
            break id;
        }
        seq += 1;
    };
    let member = Member {
        customer_id,
        company: company.to_owned(),
        member_no: format!("{company}{:011}", 90_000_000 + seq),
        login_id: login_id.to_owned(),
        name: name.to_owned(),
        employee_no: String::new(),
        birth_date: "19900101".into(),
        home_phone: String::new(),
        postal_code: String::new(),
        base_address: String::new(),
        detail_address: String::new(),
        point_balance: 0,
        receipt_yn: ReceiptYn::N,
        active: true,
        password: None,
    };
    let companies: HashSet<&str> = [company].into();
    member
        .validate(&companies)
        .map_err(|(field, problem)| JoinError::Invalid(format!("{field}: {problem}")))?;
    let made = member.clone();
    Ok(Decision::change((member, true), move |d| {
        d.put_member(made.clone())
    }))
}
