//! Reading a vendor's `paramEncryption` setting. A bad fixture is refused when it is loaded,
//! with a message naming what was expected, rather than when a partner's test first fails.

use std::{fmt, sync::Arc};

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use super::{scheme_names, FieldCipher, Scheme};

/// Why a `paramEncryption` setting is refused when the config is read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("unknown paramEncryption scheme {0:?}; expected one of {list}", list = scheme_names())]
    UnknownScheme(String),
    #[error("the paramEncryption key is not hex: it needs two hex digits (0-9, a-f) per byte")]
    KeyNotHex,
    #[error("{scheme} needs a {expected}-byte key ({} hex digits), but this key is {got} bytes", expected * 2)]
    KeyLength {
        scheme: Scheme,
        expected: usize,
        got: usize,
    },
}

/// A vendor's `paramEncryption`: JSON `false`, or `{"scheme": ..., "key": "<hex>"}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ParamEncryption {
    #[default]
    Off,
    On(ParamCipher),
}

impl ParamEncryption {
    pub fn cipher(&self) -> Option<&ParamCipher> {
        match self {
            ParamEncryption::Off => None,
            ParamEncryption::On(cipher) => Some(cipher),
        }
    }
}

impl Serialize for ParamEncryption {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ParamEncryption::Off => s.serialize_bool(false),
            ParamEncryption::On(cipher) => cipher.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ParamEncryption {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = ParamEncryption;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "false, or {{\"scheme\": one of {}, \"key\": \"<hex>\"}}",
                    scheme_names()
                )
            }

            // `true` alone is refused: encryption without a scheme and key cannot be tested.
            fn visit_bool<E: de::Error>(self, on: bool) -> Result<ParamEncryption, E> {
                if on {
                    Err(E::invalid_value(de::Unexpected::Bool(true), &self))
                } else {
                    Ok(ParamEncryption::Off)
                }
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<ParamEncryption, A::Error> {
                ParamCipher::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(ParamEncryption::On)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A validated scheme and key, ready to encrypt: the `On` side of [`ParamEncryption`].
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "CipherSpec", into = "CipherSpec")]
pub struct ParamCipher {
    scheme: Scheme,
    key: Vec<u8>,
    pub(super) cipher: Arc<dyn FieldCipher>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CipherSpec {
    scheme: Scheme,
    key: String,
}

impl ParamCipher {
    pub fn new(scheme: Scheme, key: &[u8]) -> Result<Self, ConfigError> {
        let wrong_length = || ConfigError::KeyLength {
            scheme,
            expected: scheme.key_len(),
            got: key.len(),
        };
        if key.len() != scheme.key_len() {
            return Err(wrong_length());
        }
        let cipher = scheme.cipher(key).ok_or_else(wrong_length)?;
        Ok(ParamCipher {
            scheme,
            key: key.to_vec(),
            cipher: cipher.into(),
        })
    }

    /// Upper or lower case hex, as partners paste it.
    pub fn from_hex(scheme: Scheme, key_hex: &str) -> Result<Self, ConfigError> {
        ParamCipher::new(scheme, &decode_hex(key_hex).ok_or(ConfigError::KeyNotHex)?)
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Lowercase hex: what the config is saved with and what a partner's developer is shown.
    pub fn key_hex(&self) -> String {
        self.key.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl PartialEq for ParamCipher {
    fn eq(&self, other: &Self) -> bool {
        self.scheme == other.scheme && self.key == other.key
    }
}

impl Eq for ParamCipher {}

// Keeps keys out of logs that print a vendor with `{:?}`.
impl fmt::Debug for ParamCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParamCipher")
            .field("scheme", &self.scheme)
            .field("key", &format_args!("<{} bytes>", self.key.len()))
            .finish()
    }
}

impl TryFrom<CipherSpec> for ParamCipher {
    type Error = ConfigError;

    fn try_from(spec: CipherSpec) -> Result<Self, ConfigError> {
        ParamCipher::from_hex(spec.scheme, &spec.key)
    }
}

impl From<ParamCipher> for CipherSpec {
    fn from(cipher: ParamCipher) -> Self {
        CipherSpec {
            scheme: cipher.scheme,
            key: cipher.key_hex(),
        }
    }
}

/// The project has no `hex` dependency and this is its only hex input.
pub(super) fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| char::from(c).to_digit(16);
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| Some(((digit(pair[0])? << 4) | digit(pair[1])?) as u8))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aes128() -> ParamCipher {
        ParamCipher::from_hex(Scheme::Aes128Cbc, "000102030405060708090a0b0c0d0e0f").unwrap()
    }

    #[test]
    fn hex_keys_in_either_case() {
        assert_eq!(decode_hex("00aAfF"), Some(vec![0, 0xaa, 0xff]));
        assert_eq!(decode_hex(""), Some(vec![]));
        for bad in ["0", "0g", "+1", "é0", " 00"] {
            assert_eq!(decode_hex(bad), None, "{bad:?}");
        }
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Vendor {
        #[serde(default)]
        param_encryption: ParamEncryption,
    }

    fn vendor(json: &str) -> Result<ParamEncryption, String> {
        serde_json::from_str::<Vendor>(json)
            .map(|v| v.param_encryption)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn config_json_round_trips() {
        assert_eq!(
            vendor(r#"{"paramEncryption": false}"#),
            Ok(ParamEncryption::Off)
        );
        assert_eq!(vendor("{}"), Ok(ParamEncryption::Off));
        let on = vendor(r#"{"paramEncryption": {"scheme": "ARIA-128-CBC", "key": "000102030405060708090A0B0C0D0E0F"}}"#).unwrap();
        assert_eq!(on.cipher().unwrap().scheme(), Scheme::Aria128Cbc);
        let json = |p| {
            serde_json::to_string(&Vendor {
                param_encryption: p,
            })
            .unwrap()
        };
        assert_eq!(
            json(on),
            r#"{"paramEncryption":{"scheme":"ARIA-128-CBC","key":"000102030405060708090a0b0c0d0e0f"}}"#
        );
        assert_eq!(json(ParamEncryption::Off), r#"{"paramEncryption":false}"#);
    }

    #[test]
    fn bad_configs_are_refused_with_the_reason() {
        let refused = |p: &str, needle: &str| {
            let err = vendor(&format!(r#"{{"paramEncryption": {p}}}"#)).unwrap_err();
            assert!(err.contains(needle), "{p}: {err}");
        };
        refused("true", "expected false, or {\"scheme\"");
        refused("\"AES-128-CBC\"", "expected false, or");
        refused(
            r#"{"scheme": "SEED-CBC", "key": "00"}"#,
            "unknown variant `SEED-CBC`, expected one of `AES-128-CBC`",
        );
        refused(
            r#"{"scheme": "AES-256-CBC", "key": "000102030405060708090a0b0c0d0e0f"}"#,
            "AES-256-CBC needs a 32-byte key (64 hex digits), but this key is 16 bytes",
        );
        refused(
            r#"{"scheme": "AES-128-CBC", "key": "xyz"}"#,
            "key is not hex",
        );
        refused(
            r#"{"scheme": "AES-128-CBC", "key": "000102030405060708090a0b0c0d0e0f", "iv": "0"}"#,
            "unknown field `iv`",
        );
        refused(r#"{"scheme": "AES-128-CBC"}"#, "missing field `key`");
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(
            format!("{:?}", aes128()),
            "ParamCipher { scheme: Aes128Cbc, key: <16 bytes> }"
        );
    }
}
