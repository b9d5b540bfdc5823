//! Values parsed at the edge. Past these constructors the types say the value is valid.

use std::fmt;

/// A one-time OTP token: 32 random bytes, written as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OtpToken([u8; 32]);

/// Why a token parameter is not a token of this simulator.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenFormatError {
    /// Missing or only white space: the cert endpoint's 400.
    Blank,
    /// Present but not 64 lowercase hex characters: the cert endpoint's 401.
    Malformed,
}

impl OtpToken {
    /// Draws a new token from the operating system's CSPRNG.
    pub fn generate() -> Self {
        use rand::TryRngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .expect("the operating system's random number generator failed");
        OtpToken(bytes)
    }

    /// Parses a token exactly as issued: no trimming, no case folding (the real mall compares
    /// the string it issued).
    pub fn parse(s: &str) -> Result<Self, TokenFormatError> {
        if s.trim().is_empty() {
            return Err(TokenFormatError::Blank);
        }
        let b = s.as_bytes();
        if b.len() != 64 {
            return Err(TokenFormatError::Malformed);
        }
        let mut out = [0u8; 32];
        for (i, pair) in b.chunks_exact(2).enumerate() {
            out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Ok(OtpToken(out))
    }

    /// The raw bytes, the store's key.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Builds a token from stored bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        OtpToken(bytes)
    }

    /// The token as the guide's sample masks it in logs: first 2 and last 7 characters.
    pub fn masked(&self) -> String {
        let s = self.to_string();
        format!("{}*****{}", &s[..2], &s[57..])
    }
}

fn nibble(c: u8) -> Result<u8, TokenFormatError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(TokenFormatError::Malformed),
    }
}

impl fmt::Display for OtpToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0u8; 64];
        for (i, b) in self.0.iter().enumerate() {
            buf[2 * i] = HEX[(b >> 4) as usize];
            buf[2 * i + 1] = HEX[(b & 15) as usize];
        }
        // Only ASCII hex digits were written.
        f.write_str(std::str::from_utf8(&buf).expect("hex is ASCII"))
    }
}

impl fmt::Debug for OtpToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OtpToken({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_is_64_lowercase_hex_and_parses_back() {
        let t = OtpToken::generate();
        let s = t.to_string();
        assert_eq!(s.len(), 64);
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(OtpToken::parse(&s).unwrap(), t);
        assert_ne!(OtpToken::generate(), t);
    }

    #[test]
    fn blank_and_malformed_tokens_are_told_apart() {
        assert_eq!(OtpToken::parse(""), Err(TokenFormatError::Blank));
        assert_eq!(OtpToken::parse("   "), Err(TokenFormatError::Blank));
        assert_eq!(OtpToken::parse("abc"), Err(TokenFormatError::Malformed));
        let upper = "A".repeat(64);
        assert_eq!(OtpToken::parse(&upper), Err(TokenFormatError::Malformed));
        let spaced = format!(" {}", "a".repeat(64));
        assert_eq!(OtpToken::parse(&spaced), Err(TokenFormatError::Malformed));
        assert!(OtpToken::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn a_masked_token_shows_only_its_ends() {
        let t = OtpToken::parse(&format!("32{}5c6a669", "0".repeat(55))).unwrap();
        assert_eq!(t.masked(), "32*****5c6a669");
    }
}
