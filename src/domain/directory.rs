//! The mall's actors as they are now: the loaded fixtures plus every change made at run time,
//! the consents, and what was last delivered to each vendor about each member.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::domain::fixtures::Fixtures;
use crate::domain::records::{Company, Consent, Member, Vendor};

/// A vendor as the directory holds it.
#[derive(Debug)]
pub struct VendorEntry {
    pub vendor: Vendor,
}

impl VendorEntry {
    /// Whether `ip` may call the cert endpoint with this vendor's tokens.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.vendor.allowed_ips.iter().any(|n| n.contains(&ip))
    }
}

/// When member fields were last delivered to a vendor, and for which member data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Fingerprint of the member data delivered (see [`member_fingerprint`]).
    pub fingerprint: u64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// The current companies, members, vendors, consents and delivery memory.
///
/// Keys are `Arc<str>` so that tokens can name their company, member and vendor without a copy
/// of the string each.
#[derive(Debug, Default, Clone)]
pub struct Directory {
    companies: BTreeMap<Arc<str>, Arc<Company>>,
    members: BTreeMap<Arc<str>, Arc<Member>>,
    vendors: BTreeMap<Arc<str>, Arc<VendorEntry>>,
    /// (member, vendor) → `agrDts`.
    consents: HashMap<(Arc<str>, Arc<str>), String>,
    /// (member, vendor) → what was delivered last.
    deliveries: HashMap<(Arc<str>, Arc<str>), Delivery>,
    /// The union of every vendor's allowed networks, for callers whose token is unknown.
    all_networks: Vec<IpNet>,
}

impl Directory {
    /// A directory holding exactly `fixtures` (already validated), with no deliveries.
    pub fn from_fixtures(fixtures: &Fixtures) -> Self {
        let mut dir = Directory::default();
        for c in &fixtures.companies {
            dir.companies
                .insert(Arc::from(c.code.as_str()), Arc::new(c.clone()));
        }
        for m in &fixtures.members {
            dir.members
                .insert(Arc::from(m.customer_id.as_str()), Arc::new(m.clone()));
        }
        for v in &fixtures.vendors {
            dir.put_vendor(v.clone());
        }
        for c in &fixtures.consents {
            dir.put_consent(c);
        }
        dir
    }

    /// The directory as fixtures again (for listing and saving).
    pub fn to_fixtures(&self) -> Fixtures {
        let mut consents: Vec<Consent> = self
            .consents
            .iter()
            .map(|((m, v), at)| Consent {
                customer_id: m.to_string(),
                vendor_no: v.to_string(),
                agreed_at: at.clone(),
            })
            .collect();
        consents
            .sort_by(|a, b| (&a.customer_id, &a.vendor_no).cmp(&(&b.customer_id, &b.vendor_no)));
        Fixtures {
            companies: self.companies.values().map(|c| (**c).clone()).collect(),
            members: self.members.values().map(|m| (**m).clone()).collect(),
            vendors: self.vendors.values().map(|v| v.vendor.clone()).collect(),
            consents,
        }
    }

    pub fn companies(&self) -> impl Iterator<Item = &Arc<Company>> {
        self.companies.values()
    }

    pub fn members(&self) -> impl Iterator<Item = &Arc<Member>> {
        self.members.values()
    }

    pub fn vendors(&self) -> impl Iterator<Item = &Arc<VendorEntry>> {
        self.vendors.values()
    }

    /// The company and its shared key.
    pub fn company(&self, code: &str) -> Option<(&Arc<str>, &Arc<Company>)> {
        self.companies.get_key_value(code)
    }

    /// The member and its shared key.
    pub fn member(&self, customer_id: &str) -> Option<(&Arc<str>, &Arc<Member>)> {
        self.members.get_key_value(customer_id)
    }

    /// The vendor and its shared key.
    pub fn vendor(&self, vendor_no: &str) -> Option<(&Arc<str>, &Arc<VendorEntry>)> {
        self.vendors.get_key_value(vendor_no)
    }

    /// The vendor whose allow-list holds `ip`, when exactly one does (to name CHECKURL's caller).
    pub fn only_vendor_allowing(&self, ip: IpAddr) -> Option<&str> {
        let mut allowing = self.vendors.iter().filter(|(_, v)| v.allows(ip));
        let (first, _) = allowing.next()?;
        allowing.next().is_none().then_some(&**first)
    }

    /// Whether `ip` is allowed by any vendor.
    pub fn any_vendor_allows(&self, ip: IpAddr) -> bool {
        self.all_networks.iter().any(|n| n.contains(&ip))
    }

    /// The member's consent for the vendor (`agrDts`), if any.
    pub fn consent(&self, customer_id: &str, vendor_no: &str) -> Option<&str> {
        // Keys are Arc<str>; a lookup by &str pair needs owned keys, so search via the Arcs.
        let (m, _) = self.members.get_key_value(customer_id)?;
        let (v, _) = self.vendors.get_key_value(vendor_no)?;
        self.consents
            .get(&(m.clone(), v.clone()))
            .map(String::as_str)
    }

    /// Records (or replaces) a consent. The member and vendor must exist.
    pub fn put_consent(&mut self, consent: &Consent) -> bool {
        let (Some((m, _)), Some((v, _))) = (
            self.members.get_key_value(consent.customer_id.as_str()),
            self.vendors.get_key_value(consent.vendor_no.as_str()),
        ) else {
            return false;
        };
        self.consents
            .insert((m.clone(), v.clone()), consent.agreed_at.clone());
        true
    }

    /// Withdraws a consent; true when there was one.
    pub fn remove_consent(&mut self, customer_id: &str, vendor_no: &str) -> bool {
        let (Some((m, _)), Some((v, _))) = (
            self.members.get_key_value(customer_id),
            self.vendors.get_key_value(vendor_no),
        ) else {
            return false;
        };
        self.consents.remove(&(m.clone(), v.clone())).is_some()
    }

    /// What was last delivered to the vendor about the member.
    pub fn delivery(&self, member: &Arc<str>, vendor: &Arc<str>) -> Option<Delivery> {
        self.deliveries
            .get(&(member.clone(), vendor.clone()))
            .copied()
    }

    /// Remembers a delivery of member fields.
    pub fn record_delivery(&mut self, member: Arc<str>, vendor: Arc<str>, delivery: Delivery) {
        self.deliveries.insert((member, vendor), delivery);
    }

    /// Forgets a delivery (a GATE that recorded one and then failed).
    pub fn forget_delivery(&mut self, member: &Arc<str>, vendor: &Arc<str>) {
        self.deliveries.remove(&(member.clone(), vendor.clone()));
    }

    /// Remembers a delivery by names (restoring state); unknown members or vendors are skipped.
    pub fn record_delivery_named(&mut self, member: &str, vendor: &str, delivery: Delivery) {
        if let (Some((m, _)), Some((v, _))) = (
            self.members.get_key_value(member),
            self.vendors.get_key_value(vendor),
        ) {
            let key = (m.clone(), v.clone());
            self.deliveries.insert(key, delivery);
        }
    }

    /// Every remembered delivery (for saving state).
    pub fn deliveries(&self) -> impl Iterator<Item = (&str, &str, Delivery)> {
        self.deliveries
            .iter()
            .map(|((m, v), d)| (m.as_ref(), v.as_ref(), *d))
    }

    /// Takes over the deliveries of `old` for members and vendors that exist here too.
    pub fn carry_deliveries_from(&mut self, old: &Directory) {
        for ((m, v), d) in &old.deliveries {
            if let (Some((m, _)), Some((v, _))) =
                (self.members.get_key_value(m), self.vendors.get_key_value(v))
            {
                let key = (m.clone(), v.clone());
                self.deliveries.insert(key, *d);
            }
        }
    }

    /// Adds or replaces a company.
    pub fn put_company(&mut self, company: Company) {
        self.companies
            .insert(Arc::from(company.code.as_str()), Arc::new(company));
    }

    /// Adds or replaces a member.
    pub fn put_member(&mut self, member: Member) {
        self.members
            .insert(Arc::from(member.customer_id.as_str()), Arc::new(member));
    }

    /// Adds or replaces a vendor.
    pub fn put_vendor(&mut self, vendor: Vendor) {
        self.vendors.insert(
            Arc::from(vendor.vendor_no.as_str()),
            Arc::new(VendorEntry { vendor }),
        );
        self.rebuild_networks();
    }

    /// Removes a company and everything that belongs to it; false when unknown.
    pub fn remove_company(&mut self, code: &str) -> bool {
        if self.companies.remove(code).is_none() {
            return false;
        }
        let gone: Vec<Arc<str>> = self
            .members
            .iter()
            .filter(|(_, m)| m.company == code)
            .map(|(k, _)| k.clone())
            .collect();
        for m in gone {
            self.remove_member(&m);
        }
        true
    }

    /// Removes a member with its consents and deliveries; false when unknown.
    pub fn remove_member(&mut self, customer_id: &str) -> bool {
        if self.members.remove(customer_id).is_none() {
            return false;
        }
        self.consents.retain(|(m, _), _| m.as_ref() != customer_id);
        self.deliveries
            .retain(|(m, _), _| m.as_ref() != customer_id);
        true
    }

    /// Removes a vendor with its consents and deliveries; false when unknown.
    pub fn remove_vendor(&mut self, vendor_no: &str) -> bool {
        if self.vendors.remove(vendor_no).is_none() {
            return false;
        }
        self.consents.retain(|(_, v), _| v.as_ref() != vendor_no);
        self.deliveries.retain(|(_, v), _| v.as_ref() != vendor_no);
        self.rebuild_networks();
        true
    }

    /// Company codes, for validating a member.
    pub fn company_codes(&self) -> HashSet<&str> {
        self.companies.keys().map(|k| k.as_ref()).collect()
    }

    fn rebuild_networks(&mut self) {
        let mut all: Vec<IpNet> = self
            .vendors
            .values()
            .flat_map(|v| v.vendor.allowed_ips.iter().copied())
            .collect();
        all.sort();
        all.dedup();
        self.all_networks = all;
    }
}

/// The directory written out: the fixtures as they are now and the delivery memory. The state
/// file (`--state`) and the Redis store keep it in this form.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Image {
    pub fixtures: Fixtures,
    pub deliveries: Vec<SavedDelivery>,
}

/// One remembered delivery, by names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SavedDelivery {
    pub cust_id: String,
    pub vndr_no: String,
    pub fingerprint: u64,
    pub at_ms: u64,
}

impl Directory {
    /// The directory written out.
    pub fn image(&self) -> Image {
        let mut deliveries: Vec<SavedDelivery> = self
            .deliveries()
            .map(|(m, v, d)| SavedDelivery {
                cust_id: m.to_owned(),
                vndr_no: v.to_owned(),
                fingerprint: d.fingerprint,
                at_ms: d.at_ms,
            })
            .collect();
        deliveries.sort_by(|a, b| (&a.cust_id, &a.vndr_no).cmp(&(&b.cust_id, &b.vndr_no)));
        Image {
            fixtures: self.to_fixtures(),
            deliveries,
        }
    }

    /// A directory read back from its image (the fixtures already validated).
    pub fn from_image(image: &Image) -> Self {
        let mut dir = Directory::from_fixtures(&image.fixtures);
        for d in &image.deliveries {
            dir.record_delivery_named(
                &d.cust_id,
                &d.vndr_no,
                Delivery {
                    fingerprint: d.fingerprint,
                    at_ms: d.at_ms,
                },
            );
        }
        dir
    }
}

/// A fingerprint of the member data a vendor sees, so that "the member's data changed" is
/// detected however the change came (control API, fixture reload). The point balance is not
/// member data in this sense. FNV-1a: stable across builds, so it can be saved.
pub fn member_fingerprint(m: &Member) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [
        m.customer_id.as_str(),
        m.company.as_str(),
        m.member_no.as_str(),
        m.login_id.as_str(),
        m.name.as_str(),
        m.employee_no.as_str(),
        m.birth_date.as_str(),
        m.home_phone.as_str(),
        m.postal_code.as_str(),
        m.base_address.as_str(),
        m.detail_address.as_str(),
        m.receipt_yn.as_str(),
    ] {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}
