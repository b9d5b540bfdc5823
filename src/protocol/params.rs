//! Strict reading of `application/x-www-form-urlencoded` text (query strings and form bodies):
//! unlike a lossy decoder, it tells which values are not valid percent-encoding or not UTF-8,
//! so that bad input gets a clear answer instead of a silently altered value. The cert
//! endpoint's token parameter ([`find_token`]) and CHECKURL's parameters ([`CheckParams`]) are
//! read here, by the same rules: every occurrence is read, the same value repeated is fine,
//! conflicting values or undecodable ones make the parameter unusable, with the reason.

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
    /// The value as sent, still encoded.
    pub raw: &'a [u8],
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
                raw: value,
            }
        })
}

/// Decodes one urlencoded component: `+` is a space, `%XX` a byte; the result must be UTF-8.
pub fn decode(input: &[u8]) -> Result<String, Problem> {
    String::from_utf8(decode_bytes(input)?).map_err(|_| Problem::Utf8)
}

/// Decodes one urlencoded component to bytes, whatever their encoding.
pub fn decode_bytes(input: &[u8]) -> Result<Vec<u8>, Problem> {
    // Nothing to decode (a token, every value of the protocol's own): one copy.
    if !input.iter().any(|b| matches!(b, b'+' | b'%')) {
        return Ok(input.to_vec());
    }
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
    Ok(out)
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Which parameter carried the token and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    /// `otpTokenp`, the guide's spelling.
    Guide,
    /// `otpToken`, what partners in the wild send.
    Common,
}

impl Spelling {
    pub fn name(self) -> &'static str {
        match self {
            Spelling::Guide => "otpTokenp",
            Spelling::Common => "otpToken",
        }
    }
}

/// The token parameter as found in the request.
#[derive(Debug, Clone)]
pub struct TokenParam {
    pub value: String,
    pub spelling: Spelling,
    /// `query` or `form`.
    pub place: &'static str,
    /// Set when the parameter cannot be taken at face value: the token then counts as not of
    /// the simulator's format (401), and the sentence says why.
    pub problem: Option<String>,
}

/// Finds the token parameter in the query and a form body. Every occurrence of `otpTokenp` and
/// `otpToken` is read: the same value repeated is fine; different values, or a value that is
/// not valid percent-encoding or UTF-8, make the parameter unusable (with the reason).
pub fn find_token(query: &str, form: Option<&[u8]>) -> Option<TokenParam> {
    let mut found: Vec<(Spelling, &'static str, Result<String, Problem>)> = Vec::new();
    let mut legacy = None;
    let mut collect = |bytes: &[u8], place: &'static str| {
        for pair in pairs(bytes) {
            let spelling = match pair.name.as_ref() {
                "otpTokenp" => Spelling::Guide,
                "otpToken" => Spelling::Common,
                _ => continue,
            };
            if pair.value == Err(Problem::Utf8) {
                legacy = legacy.take().or_else(|| euc_kr(pair.raw));
            }
            found.push((spelling, place, pair.value));
        }
    };
    collect(query.as_bytes(), "query");
    if let Some(body) = form {
        collect(body, "form");
    }
    // The guide's spelling first, then the query before the form.
    let chosen = found
        .iter()
        .position(|(s, _, _)| *s == Spelling::Guide)
        .or(if found.is_empty() { None } else { Some(0) })?;
    let (spelling, place, first) = found.swap_remove(chosen);
    let mut param = TokenParam {
        value: String::new(),
        spelling,
        place,
        problem: None,
    };
    match first {
        Err(Problem::Utf8) if legacy.is_some() => {
            param.problem = Some(format!(
                "the {} parameter is EUC-KR-encoded '{}'; the mall reads UTF-8",
                spelling.name(),
                legacy.unwrap_or_default()
            ));
            return Some(param);
        }
        Err(p) => {
            param.problem = Some(format!(
                "the {} parameter {}",
                spelling.name(),
                p.describe()
            ));
            return Some(param);
        }
        Ok(v) => param.value = v,
    }
    for (s, at, v) in &found {
        match v {
            Err(p) => {
                param.problem = Some(format!(
                    "a {} parameter in the {at} {}",
                    s.name(),
                    p.describe()
                ));
            }
            Ok(v) if *v != param.value => {
                param.problem = Some(
                    "the token is given more than once with different values (otpTokenp/otpToken, query/form)"
                        .into(),
                );
            }
            Ok(_) => {}
        }
    }
    Some(param)
}

/// What an encoded value reads as in EUC-KR, when its bytes are not UTF-8 but are EUC-KR (a
/// partner whose platform still sends the legacy Korean encoding).
pub fn euc_kr(raw: &[u8]) -> Option<String> {
    let bytes = decode_bytes(raw).ok()?;
    let (text, _, had_errors) = encoding_rs::EUC_KR.decode(&bytes);
    (!had_errors).then(|| text.into_owned())
}

/// CHECKURL's parameters: `cmpyCd` (or `cmpy_cd`), `CFM_CUS_ID`, `userName` (or `USER_NAME`),
/// from the query and a form body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckParams {
    pub company: Option<String>,
    pub customer_id: Option<String>,
    pub name: Option<String>,
    /// Why the parameters cannot be taken at face value (CHECKURL then answers `N`).
    pub problem: Option<String>,
    /// A `userName` whose bytes are not UTF-8 but EUC-KR, as it reads in EUC-KR (the
    /// diagnosis of a legacy encoding).
    pub legacy_name: Option<String>,
}

impl CheckParams {
    /// Reads the query string and an optional form body.
    pub fn read(query: &str, form: Option<&[u8]>) -> Self {
        let mut params = CheckParams::default();
        for input in [Some(query.as_bytes()), form].into_iter().flatten() {
            for pair in pairs(input) {
                let (slot, name) = match pair.name.as_ref() {
                    "cmpyCd" | "cmpy_cd" => (&mut params.company, "cmpyCd"),
                    "CFM_CUS_ID" => (&mut params.customer_id, "CFM_CUS_ID"),
                    "userName" | "USER_NAME" => (&mut params.name, "userName"),
                    _ => continue,
                };
                match pair.value {
                    Err(p) => {
                        if name == "userName" && p == Problem::Utf8 {
                            params.legacy_name = euc_kr(pair.raw);
                        }
                        params
                            .problem
                            .get_or_insert(format!("{name} {}", p.describe()));
                    }
                    Ok(v) => match slot {
                        Some(old) if *old != v => {
                            params.problem.get_or_insert(format!(
                                "{name} is given more than once with different values"
                            ));
                        }
                        _ => *slot = Some(v),
                    },
                }
            }
        }
        params
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
        // Nothing escaped (the copy without decoding): the same bytes, still checked as UTF-8.
        let token = "0123456789abcdef".repeat(4);
        assert_eq!(decode(token.as_bytes()), Ok(token.clone()));
        assert_eq!(decode(b"\xff"), Err(Problem::Utf8));
        assert_eq!(decode_bytes(b""), Ok(Vec::new()));
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
