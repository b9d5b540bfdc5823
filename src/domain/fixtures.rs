//! The fixture set: the four files of a fixtures folder (companies, members, vendors, consents)
//! read and checked as a whole.
//!
//! Everything the simulator knows about the mall's actors comes from here at start, so that
//! changing a member never needs a rebuild. Each record is read on its own, so that a value
//! that does not parse (an `allowedIps` entry, a `receiptYn`) is refused naming the file, the
//! record and the field; then every record and every reference between records is checked.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::records::{Company, Consent, Member, Vendor};

/// The whole set of fixtures, as loaded and validated.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Fixtures {
    pub companies: Vec<Company>,
    pub members: Vec<Member>,
    pub vendors: Vec<Vendor>,
    pub consents: Vec<Consent>,
}

/// Why a fixture set was refused: which file, which record, which field, what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}: not valid JSON for this file: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{file}: record {index} ({key}): field `{field}`: {problem}")]
    Invalid {
        file: String,
        index: usize,
        key: String,
        field: String,
        problem: String,
    },
    /// A record that is not one (a field missing, not an object).
    #[error("{file}: record {index} ({key}): {problem}")]
    Record {
        file: String,
        index: usize,
        key: String,
        problem: String,
    },
}

/// The names of the four fixture files inside a fixtures folder.
pub const FILES: [&str; 4] = [
    "companies.json",
    "members.json",
    "vendors.json",
    "consents.json",
];

impl Fixtures {
    /// The fixtures shipped inside the binary (the `fixtures/` folder of the source tree), so
    /// that the simulator runs from any folder, installed or in a container.
    pub fn builtin() -> Self {
        fn parse<T: serde::de::DeserializeOwned>(name: &str, text: &str) -> Vec<T> {
            serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("the built-in {name} is valid JSON: {e}"))
        }
        let fixtures = Fixtures {
            companies: parse(
                "companies.json",
                include_str!("../../fixtures/companies.json"),
            ),
            members: parse("members.json", include_str!("../../fixtures/members.json")),
            vendors: parse("vendors.json", include_str!("../../fixtures/vendors.json")),
            consents: parse(
                "consents.json",
                include_str!("../../fixtures/consents.json"),
            ),
        };
        fixtures
            .validate("built-in")
            .unwrap_or_else(|e| panic!("the built-in fixtures are valid: {e}"));
        fixtures
    }

    /// Reads and validates the four files of `dir`. `consents.json` may be absent.
    pub fn load(dir: &Path) -> Result<Self, FixtureError> {
        let fixtures = Fixtures {
            companies: read_file(&dir.join("companies.json"), false, |r| key(r, &["cmpyCd"]))?,
            members: read_file(&dir.join("members.json"), false, |r| key(r, &["custId"]))?,
            vendors: read_file(&dir.join("vendors.json"), false, |r| key(r, &["vndrNo"]))?,
            consents: read_file(&dir.join("consents.json"), true, |r| {
                key(r, &["custId", "vndrNo"])
            })?,
        };
        fixtures.validate(&dir.display().to_string())?;
        Ok(fixtures)
    }

    /// Checks every record and every reference. `origin` prefixes the file names in errors.
    pub fn validate(&self, origin: &str) -> Result<(), FixtureError> {
        let file = |name: &str| format!("{origin}/{name}");
        let invalid = |name: &str, index, key: &str, field: &str, problem| FixtureError::Invalid {
            file: file(name),
            index,
            key: key.to_owned(),
            field: field.to_owned(),
            problem,
        };
        let mut codes = HashSet::new();
        for (i, c) in self.companies.iter().enumerate() {
            let bad = |field, problem| invalid("companies.json", i, &c.code, field, problem);
            c.validate().map_err(|(field, p)| bad(field, p))?;
            if !codes.insert(c.code.as_str()) {
                return Err(bad("cmpyCd", "duplicate company code".into()));
            }
        }
        let mut members = HashSet::new();
        for (i, m) in self.members.iter().enumerate() {
            let bad = |field, problem| invalid("members.json", i, &m.customer_id, field, problem);
            m.validate(&codes).map_err(|(field, p)| bad(field, p))?;
            if !members.insert(m.customer_id.as_str()) {
                return Err(bad("custId", "duplicate member key".into()));
            }
        }
        let mut vendors = HashSet::new();
        for (i, v) in self.vendors.iter().enumerate() {
            let bad = |field, problem| invalid("vendors.json", i, &v.vendor_no, field, problem);
            v.validate().map_err(|(field, p)| bad(field, p))?;
            if !vendors.insert(v.vendor_no.as_str()) {
                return Err(bad("vndrNo", "duplicate vendor number".into()));
            }
        }
        for (i, c) in self.consents.iter().enumerate() {
            let key = format!("{}/{}", c.customer_id, c.vendor_no);
            c.validate(&members, &vendors)
                .map_err(|(field, p)| invalid("consents.json", i, &key, field, p))?;
        }
        Ok(())
    }
}

/// A record's key as written (`a/b` for a consent), for errors about a record that did not
/// parse; `?` for a part that is missing or not a string.
fn key(record: &serde_json::Value, fields: &[&str]) -> String {
    fields
        .iter()
        .map(|f| record.get(f).and_then(|v| v.as_str()).unwrap_or("?"))
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads one fixture file: a JSON array, each record parsed on its own so that an error names
/// the record (by index and `key`) and the field.
fn read_file<T: serde::de::DeserializeOwned>(
    path: &Path,
    optional: bool,
    key: impl Fn(&serde_json::Value) -> String,
) -> Result<Vec<T>, FixtureError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(cause) => {
            return Err(FixtureError::Read {
                path: path.to_owned(),
                cause,
            })
        }
    };
    let records: Vec<serde_json::Value> =
        serde_json::from_str(&text).map_err(|source| FixtureError::Parse {
            path: path.to_owned(),
            source,
        })?;
    let file = path.display().to_string();
    records
        .into_iter()
        .enumerate()
        .map(|(index, record)| {
            let key = key(&record);
            serde_path_to_error::deserialize(record).map_err(|e| {
                let field = e.path().to_string();
                let problem = e.into_inner().to_string();
                if field == "." {
                    FixtureError::Record {
                        file: file.clone(),
                        index,
                        key,
                        problem,
                    }
                } else {
                    FixtureError::Invalid {
                        file: file.clone(),
                        index,
                        key,
                        field,
                        problem,
                    }
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped fixtures in a temporary folder, with one text replaced in one file.
    fn shipped_with(file: &str, from: &str, to: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        for name in FILES {
            let text = std::fs::read_to_string(shipped.join(name)).unwrap();
            let text = if name == file {
                assert!(text.contains(from), "{file} has no {from:?}");
                text.replacen(from, to, 1)
            } else {
                text
            };
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn the_shipped_fixtures_load_as_the_built_in_ones() {
        let dir = shipped_with("companies.json", "", "");
        assert_eq!(Fixtures::load(dir.path()).unwrap(), Fixtures::builtin());
    }

    #[test]
    fn a_bad_allowed_ip_is_refused_at_load_naming_file_record_field_and_entry() {
        let dir = shipped_with("vendors.json", r#""203.0.113.10""#, r#""203.0.113.300""#);
        let err = Fixtures::load(dir.path()).unwrap_err().to_string();
        for part in [
            "vendors.json",
            "VR000452",
            "`allowedIps`",
            "'203.0.113.300'",
        ] {
            assert!(err.contains(part), "{part} in {err}");
        }
    }

    #[test]
    fn a_bad_receipt_yn_is_refused_at_load_naming_the_field() {
        let dir = shipped_with("members.json", r#""receiptYn": "N""#, r#""receiptYn": "X""#);
        let err = Fixtures::load(dir.path()).unwrap_err().to_string();
        for part in ["members.json", "J01A00038745", "`receiptYn`", r#""X""#] {
            assert!(err.contains(part), "{part} in {err}");
        }
    }

    #[test]
    fn a_record_missing_its_key_is_refused_naming_the_record() {
        let dir = shipped_with("vendors.json", r#""vndrNo": "VR000452","#, "");
        let err = Fixtures::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("vendors.json: record 2 (?)"), "{err}");
        assert!(err.contains("missing field `vndrNo`"), "{err}");
    }
}
