//! Parameter encryption of GATE form fields. Some partner contracts require the mall to encrypt
//! the member fields it posts; partners test their decryption against this simulator, so the
//! rule is fixed: the GATE carries `ranNum` (16 random decimal digits), the IV is those 16 ASCII
//! bytes, and each value is standard padded Base64 of `cipher(key, IV, PKCS#7(UTF-8 value))`.
//!
//! Schemes are pluggable. Adding a contract's own scheme means one new file implementing
//! [`FieldCipher`] (with its `mod` line) and one line in the `schemes!` table below.

mod aes;
mod aria;
mod cbc_pkcs7;
mod config;

pub use config::{ConfigError, ParamCipher, ParamEncryption};

use std::{fmt, str::FromStr};

use base64::{engine::general_purpose::STANDARD, Engine};
use serde::{Deserialize, Serialize};

/// One scheme's cipher with its key already set; the IV changes per GATE, the key per vendor.
pub trait FieldCipher: Send + Sync {
    /// Pads and encrypts; cannot fail.
    fn encrypt(&self, iv: &[u8; 16], plain: &[u8]) -> Vec<u8>;
    /// Decrypts and unpads.
    fn decrypt(&self, iv: &[u8; 16], data: &[u8]) -> Result<Vec<u8>, DecryptError>;
}

/// The one table of schemes: variant = JSON name, key length in bytes, constructor (which
/// returns `None` for a key of the wrong length).
macro_rules! schemes {
    ($($variant:ident = $name:literal, $key_len:literal, $make:path;)+) => {
        /// A cipher scheme a vendor's `paramEncryption` can name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Scheme {
            $(#[serde(rename = $name)] $variant,)+
        }

        impl Scheme {
            pub const ALL: &'static [Scheme] = &[$(Scheme::$variant),+];

            /// The exact name partners see in the vendor config.
            pub fn name(self) -> &'static str {
                match self { $(Scheme::$variant => $name,)+ }
            }

            pub fn key_len(self) -> usize {
                match self { $(Scheme::$variant => $key_len,)+ }
            }

            fn cipher(self, key: &[u8]) -> Option<Box<dyn FieldCipher>> {
                match self { $(Scheme::$variant => $make(key),)+ }
            }
        }
    };
}

schemes! {
    Aes128Cbc = "AES-128-CBC", 16, aes::aes_128_cbc;
    Aes256Cbc = "AES-256-CBC", 32, aes::aes_256_cbc;
    Aria128Cbc = "ARIA-128-CBC", 16, aria::aria_128_cbc;
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scheme {
    type Err = ConfigError;

    /// Exact names only: partners copy them from the config, so a near miss is a fixture bug.
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        Scheme::ALL
            .iter()
            .copied()
            .find(|scheme| scheme.name() == s)
            .ok_or_else(|| ConfigError::UnknownScheme(s.to_owned()))
    }
}

fn scheme_names() -> String {
    let names: Vec<_> = Scheme::ALL.iter().map(|s| s.name()).collect();
    names.join(", ")
}

/// Why a field did not decrypt. Partners see these, so each names the likely cause.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecryptError {
    #[error("ranNum must be exactly 16 ASCII digits (0-9), but it is {0:?}")]
    RanNum(String),
    #[error("the value is not standard Base64")]
    NotBase64,
    #[error("the value decodes to {0} bytes, not a whole number of 16-byte blocks: it was cut or altered")]
    Length(usize),
    #[error(
        "the padding is wrong after decryption: a different key or ranNum, or a tampered value"
    )]
    Padding,
    #[error("the decrypted bytes are not UTF-8")]
    NotUtf8,
}

/// The GATE's `ranNum`: 16 decimal digits whose ASCII bytes are the IV.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RanNum([u8; 16]);

impl RanNum {
    /// Draws from the operating system's CSPRNG: a guessable IV would let a partner's test pass
    /// against a simulator that the real mall would not match.
    pub fn generate() -> Self {
        use rand::{Rng, TryRngCore};
        let mut rng = rand::rngs::OsRng.unwrap_err();
        RanNum(std::array::from_fn(|_| rng.random_range(b'0'..=b'9')))
    }

    /// Exactly 16 ASCII digits: no trimming, no signs, as the partner received it.
    pub fn parse(s: &str) -> Result<Self, DecryptError> {
        match <[u8; 16]>::try_from(s.as_bytes()) {
            Ok(digits) if digits.iter().all(u8::is_ascii_digit) => Ok(RanNum(digits)),
            _ => Err(DecryptError::RanNum(s.to_owned())),
        }
    }

    pub fn iv(&self) -> &[u8; 16] {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ranNum holds ASCII digits only")
    }
}

impl fmt::Display for RanNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RanNum {
    type Err = DecryptError;

    fn from_str(s: &str) -> Result<Self, DecryptError> {
        RanNum::parse(s)
    }
}

/// The value as it goes into the GATE form.
pub fn encrypt_field(cipher: &ParamCipher, ran_num: &RanNum, value: &str) -> String {
    STANDARD.encode(cipher.cipher.encrypt(ran_num.iv(), value.as_bytes()))
}

/// What a partner does with a GATE field; the simulator's own check of its output.
pub fn decrypt_field(
    cipher: &ParamCipher,
    ran_num: &RanNum,
    value: &str,
) -> Result<String, DecryptError> {
    let data = STANDARD
        .decode(value)
        .map_err(|_| DecryptError::NotBase64)?;
    let plain = cipher.cipher.decrypt(ran_num.iv(), &data)?;
    String::from_utf8(plain).map_err(|_| DecryptError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_128: &str = "000102030405060708090a0b0c0d0e0f";

    fn ran() -> RanNum {
        RanNum::parse("1234567890123456").unwrap()
    }

    fn aes128() -> ParamCipher {
        ParamCipher::from_hex(Scheme::Aes128Cbc, KEY_128).unwrap()
    }

    /// Also checks the table: each constructor takes the key length its row declares.
    fn any_key(scheme: Scheme) -> ParamCipher {
        let key: Vec<u8> = (0..scheme.key_len() as u8).collect();
        ParamCipher::new(scheme, &key).unwrap()
    }

    #[test]
    fn hand_checkable_aes_128_example() {
        // printf 'J01' | openssl enc -aes-128-cbc -a -K 000102030405060708090a0b0c0d0e0f \
        //   -iv 31323334353637383930313233343536
        assert_eq!(ran().iv(), b"1234567890123456");
        assert_eq!(
            encrypt_field(&aes128(), &ran(), "J01"),
            "zq3jqBoVu/c5lRJ2/aRLXw=="
        );
        assert_eq!(
            decrypt_field(&aes128(), &ran(), "zq3jqBoVu/c5lRJ2/aRLXw==").unwrap(),
            "J01"
        );
    }

    #[test]
    fn every_scheme_round_trips() {
        let values = [
            "차세대테",
            "",
            "0123456789abcdef",
            "0123456789abcdef0123456789ABCDEF",
        ];
        for &scheme in Scheme::ALL {
            let cipher = any_key(scheme);
            let ran = RanNum::generate();
            for value in values {
                let sealed = encrypt_field(&cipher, &ran, value);
                // PKCS#7 always adds padding, so a whole block of it for block-sized values.
                let len = STANDARD.decode(&sealed).unwrap().len();
                assert_eq!(len, (value.len() / 16 + 1) * 16, "{scheme} {value:?}");
                assert_eq!(decrypt_field(&cipher, &ran, &sealed).unwrap(), value);
            }
        }
    }

    #[test]
    fn wrong_key_or_ran_num_is_a_padding_error() {
        let wrong =
            ParamCipher::from_hex(Scheme::Aes128Cbc, "0f0e0d0c0b0a09080706050403020100").unwrap();
        let other_ran = RanNum::parse("6543210987654321").unwrap();
        let sealed = "zq3jqBoVu/c5lRJ2/aRLXw==";
        assert_eq!(
            decrypt_field(&wrong, &ran(), sealed),
            Err(DecryptError::Padding)
        );
        assert_eq!(
            decrypt_field(&aes128(), &other_ran, sealed),
            Err(DecryptError::Padding)
        );
    }

    #[test]
    fn tampered_values_are_errors() {
        let c = aes128();
        let err = |v: &str| decrypt_field(&c, &ran(), v).unwrap_err();
        assert_eq!(err("zq3jqBoVu/c5lRJ2/aRLXw="), DecryptError::NotBase64);
        assert_eq!(err("zq3jqBoVu/c5lRJ2/aRLXw"), DecryptError::NotBase64);
        assert_eq!(err("zq3jqBoVu_c5lRJ2-aRLXw=="), DecryptError::NotBase64);
        assert_eq!(err("zq3jqBoVu/c5lRJ2/aRLXw== "), DecryptError::NotBase64);
        assert_eq!(err("zq3jqBoVu/c5lRJ2/aRLXx=="), DecryptError::NotBase64);
        assert_eq!(err("zq3jqBoVu/c5lRJ2/aRL"), DecryptError::Length(15));
        assert_eq!(err(""), DecryptError::Length(0));
        assert_eq!(err("Aq3jqBoVu/c5lRJ2/aRLXw=="), DecryptError::Padding);
    }

    #[test]
    fn non_utf8_plaintext_is_reported() {
        let c = aes128();
        let sealed = STANDARD.encode(c.cipher.encrypt(ran().iv(), &[0xff, 0xfe]));
        assert_eq!(
            decrypt_field(&c, &ran(), &sealed),
            Err(DecryptError::NotUtf8)
        );
    }

    #[test]
    fn ran_num_is_exactly_16_ascii_digits() {
        assert_eq!(ran().to_string(), "1234567890123456");
        for bad in [
            "123456789012345",
            "12345678901234567",
            "12345678901234a6",
            "",
            "+234567890123456",
            "１234567890123456",
        ] {
            assert_eq!(RanNum::parse(bad), Err(DecryptError::RanNum(bad.into())));
        }
        let a = RanNum::generate();
        assert!(a.as_str().bytes().all(|b| b.is_ascii_digit()) && a.as_str().len() == 16);
        assert_ne!(a, RanNum::generate());
    }

    #[test]
    fn scheme_names_are_exact() {
        for &scheme in Scheme::ALL {
            assert_eq!(scheme.to_string().parse::<Scheme>(), Ok(scheme));
            any_key(scheme);
        }
        let err = "aes-128-cbc".parse::<Scheme>().unwrap_err().to_string();
        assert_eq!(err, "unknown paramEncryption scheme \"aes-128-cbc\"; expected one of AES-128-CBC, AES-256-CBC, ARIA-128-CBC");
    }
}
