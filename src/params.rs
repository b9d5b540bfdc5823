//! Strict reading of `application/x-www-form-urlencoded` text (query strings and form bodies):
//! unlike a lossy decoder, it tells which values are not valid percent-encoding or not UTF-8,
//! so that bad input gets a clear answer instead of a silently altered value.

use std::borrow::Cow;

/// Why a value could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// A `%` not followed by two hex digits.
    PercentEncoding,
    /// The decoded bytes are not UTF-8.
    Utf8,
}

impl Problem {
    pub fn describe(self) -> &'static str {
        match self {
            Problem::PercentEncoding => "is not valid percent-encoding",
            Problem::Utf8 => "is not valid UTF-8 once decoded",
        }
    }
}

/// One `name=value` pair: the name decoded leniently, the value strictly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair<'a> {
    pub name: Cow<'a, str>,
    pub value: Result<String, Problem>,
}

/// Splits urlencoded text into pairs, lazily. Empty pieces (`a=1&&b=2`) are skipped; a piece
/// without `=` is a name with an empty value.
pub fn pairs(input: &[u8]) -> impl Iterator<Item = Pair<'_>> {
    input
        .split(|b| *b == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = match piece.iter().position(|b| *b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &b""[..]),
            };
            let name = match std::str::from_utf8(name) {
                // Names without escapes (all the protocol's) are borrowed, not copied.
                Ok(plain) if !name.contains(&b'%') && !name.contains(&b'+') => Cow::Borrowed(plain),
                _ => match decode(name) {
                    Ok(s) => Cow::Owned(s),
                    Err(_) => String::from_utf8_lossy(name),
                },
            };
            Pair {
                name,
                value: decode(value),
            }
        })
}

/// Decodes one urlencoded component: `+` is a space, `%XX` a byte; the result must be UTF-8.
pub fn decode(input: &[u8]) -> Result<String, Problem> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = input.get(i + 1).and_then(|c| hex(*c));
                let lo = input.get(i + 2).and_then(|c| hex(*c));
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err(Problem::PercentEncoding),
                }
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| Problem::Utf8)
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_decode_strictly() {
        assert_eq!(decode(b"a+b%20c"), Ok("a b c".into()));
        assert_eq!(decode(b"%EB%B3%B5"), Ok("복".into()));
        assert_eq!(decode(b"%zz"), Err(Problem::PercentEncoding));
        assert_eq!(decode(b"abc%4"), Err(Problem::PercentEncoding));
        assert_eq!(decode(b"%ff%fe"), Err(Problem::Utf8));
    }

    #[test]
    fn pairs_keep_every_occurrence_in_order() {
        let p: Vec<_> = pairs(b"a=1&&b&a=%zz").collect();
        assert_eq!(p.len(), 3);
        assert_eq!(
            (p[0].name.as_ref(), p[0].value.clone()),
            ("a", Ok("1".into()))
        );
        assert_eq!(
            (p[1].name.as_ref(), p[1].value.clone()),
            ("b", Ok(String::new()))
        );
        assert_eq!(p[2].value, Err(Problem::PercentEncoding));
    }
}
