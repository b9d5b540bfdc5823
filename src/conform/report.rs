//! A conformance run as a person or a CI server reads it: a table for the terminal, a
//! self-contained HTML page (Korean and English labels, like the rest of the UI), and JUnit XML
//! (`testsuite` named `benecafe-conform VNDR`, one `testcase` per case id, each with its time).
//!
//! Much of a report is the partner's own words (its answers, its pages) or, with
//! `conform --against`, another simulator's: every text is shown with its control characters
//! escaped ([`clean`]), so that no answer colours or clears a terminal or makes the JUnit file
//! not well-formed XML.

use std::fmt::Write;

use super::kit::{CaseReport, Report, Status};
use super::verdict::{answered, given};

/// `s` with every control character written out as an escape (`\x1b`, `\u{202e}`): C0 and C1
/// controls, DEL, the bidirectional overrides and what XML cannot carry (U+FFFE, U+FFFF).
/// `\n` and `\t` stay when `lines` (text of several lines), and are escaped otherwise.
pub fn clean(s: &str, lines: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let kept = lines && (c == '\n' || c == '\t');
        if kept || !hidden(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    out
}

/// Whether `c` acts rather than shows: a control character, a bidirectional mark or override,
/// a line or paragraph separator, or a noncharacter XML does not allow.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{fffe}'
                | '\u{ffff}'
        )
}

fn mark(s: Status) -> &'static str {
    match s {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Skip => "SKIP",
    }
}

/// The terminal table.
pub fn table(r: &Report) -> String {
    let mut out = format!(
        "benecafe-sim conform: vendor {} at {} (member {})\n\n",
        clean(&r.vndr_no, false),
        clean(&r.gate_url, false),
        clean(&r.cust_id, false)
    );
    for c in &r.cases {
        let _ = writeln!(
            out,
            "{:<5} {:<17} {}",
            mark(c.status),
            clean(&c.id, false),
            clean(&c.happened, false)
        );
        if c.status == Status::Fail {
            let _ = writeln!(out, "{:<23} expected: {}", "", clean(&c.expected, false));
            if let Some(why) = &c.why_it_matters {
                let _ = writeln!(out, "{:<23} why it matters: {}", "", clean(why, false));
            }
            for line in evidence(c) {
                let _ = writeln!(out, "{:<23} {}", "", clean(&line, false));
            }
        }
    }
    let _ = writeln!(
        out,
        "\n{} passed, {} failed, {} skipped in {:.1} s",
        r.passed, r.failed, r.skipped, r.seconds
    );
    out
}

/// The evidence behind a case, a line each: what the partner answered to each post (when, with
/// which `CUS_URL`, where it redirected) and the journal's cert calls.
fn evidence(c: &CaseReport) -> Vec<String> {
    let mut lines: Vec<String> = c
        .deliveries
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let to = d
                .location
                .as_deref()
                .map(|l| format!(", to {l}"))
                .unwrap_or_default();
            format!("post {}: {}{to}; {}", i + 1, answered(d), given(d))
        })
        .collect();
    if c.calls.is_empty() && !c.deliveries.is_empty() {
        lines.push("cert calls: none arrived".to_owned());
    }
    lines.extend(c.calls.iter().map(|call| {
        format!(
            "journal #{}: {} ({})",
            call.id, call.result_code, call.reason
        )
    }));
    lines
}

/// Text for an XML or HTML attribute or a line: escaped, control characters written out.
fn xml(s: &str) -> String {
    escape(&clean(s, false))
}

/// Text of several lines for an XML or HTML element.
fn xml_text(s: &str) -> String {
    escape(&clean(s, true))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// JUnit XML, as Jenkins and GitLab read it.
pub fn junit(r: &Report) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" errors=\"0\" time=\"{:.3}\">",
        xml(&format!("benecafe-conform {}", r.vndr_no)),
        r.cases.len(),
        r.failed,
        r.skipped,
        r.seconds
    );
    for c in &r.cases {
        let _ = writeln!(
            out,
            "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
            xml(&format!("benecafe-conform.{}", r.vndr_no)),
            xml(&c.id),
            c.seconds
        );
        let mut said = c.happened.clone();
        for line in evidence(c) {
            said.push('\n');
            said.push_str(&line);
        }
        match c.status {
            Status::Pass => {}
            Status::Skip => {
                let _ = writeln!(out, "    <skipped message=\"{}\"/>", xml(&c.happened));
            }
            Status::Fail => {
                let mut detail = format!("expected: {}\nhappened: {said}", c.expected);
                if let Some(why) = &c.why_it_matters {
                    detail.push_str(&format!("\nwhy it matters: {why}"));
                }
                let _ = writeln!(
                    out,
                    "    <failure message=\"{}\">{}</failure>",
                    xml(&c.happened),
                    xml_text(&detail)
                );
            }
        }
        if c.status == Status::Pass {
            let _ = writeln!(out, "    <system-out>{}</system-out>", xml_text(&said));
        }
        out.push_str("  </testcase>\n");
    }
    out.push_str("</testsuite>\n");
    out
}

/// A self-contained HTML page in the site's layout (its styles inline, nothing loaded from
/// elsewhere), for a file: without the site's navigation, which only the simulator serves.
pub fn html(r: &Report) -> String {
    page_of(r, false)
}

/// The same page as the simulator serves it, under the site's navigation.
pub fn page(r: &Report) -> String {
    page_of(r, true)
}

#[derive(askama::Template)]
#[template(path = "conform_report.html")]
struct HtmlReport<'a> {
    r: &'a Report,
    site: bool,
}

/// Text for a page: control characters written out (askama escapes the markup).
fn shown(s: &str) -> String {
    clean(s, false)
}

/// A row's class.
fn class(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Skip => "skip",
    }
}

fn page_of(r: &Report, site: bool) -> String {
    askama::Template::render(&HtmlReport { r, site })
        .unwrap_or_else(|e| format!("the report could not be written: {e}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conform::browser::Delivery;
    use crate::conform::kit::{CallSeen, CaseReport};

    /// A report whose every text carries what a partner could send.
    fn noisy() -> Report {
        let noise = "a\u{1b}[31mb\u{0}c\u{7}\r\nd\u{202e}e\u{fffe}f\u{85}<&\"']]>";
        let case = |status| CaseReport {
            id: format!("first-visit{noise}"),
            status,
            expected: noise.into(),
            happened: noise.into(),
            why_it_matters: Some(noise.into()),
            seconds: 0.25,
            calls: vec![CallSeen {
                id: 7,
                result_code: noise.into(),
                tls: true,
                host: Some(noise.into()),
                reason: noise.into(),
            }],
            deliveries: vec![Delivery {
                status: 502,
                ms: 4,
                cus_url: Some(noise.into()),
                location: Some(noise.into()),
                error: Some(noise.into()),
                ..Delivery::default()
            }],
        };
        Report {
            vndr_no: noise.into(),
            gate_url: noise.into(),
            cust_id: noise.into(),
            passed: 1,
            failed: 1,
            skipped: 1,
            seconds: 1.5,
            cases: vec![case(Status::Pass), case(Status::Fail), case(Status::Skip)],
        }
    }

    fn controls(s: &str) -> Vec<char> {
        s.chars()
            .filter(|c| c.is_control() && *c != '\n' || ('\u{202a}'..='\u{202e}').contains(c))
            .collect()
    }

    #[test]
    fn no_report_carries_a_control_character_and_the_junit_parses() {
        let r = noisy();
        let table = table(&r);
        assert_eq!(controls(&table), Vec::<char>::new(), "{table}");
        assert!(table.contains("a\\x1b[31mb\\x00c\\x07\\x0d\\x0ad\\u{202e}e\\u{fffe}f\\u{85}"));
        let html = html(&r);
        assert_eq!(controls(&html), Vec::<char>::new());
        let xml = junit(&r);
        assert_eq!(controls(&xml), Vec::<char>::new());
        let doc = roxmltree::Document::parse(&xml).expect("the JUnit XML parses");
        let cases: Vec<_> = doc
            .root_element()
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 3);
        for case in &cases {
            assert_eq!(case.attribute("time"), Some("0.250"));
        }
        let out = |n: &roxmltree::Node| {
            n.children()
                .find(|c| c.has_tag_name("system-out"))
                .and_then(|c| c.text().map(str::to_owned))
        };
        let passed = out(&cases[0]).expect("a passing case says what happened");
        assert!(passed.contains("post 1: answered 502 after 4 ms") && passed.contains("<&"));
        assert!(cases[2].children().any(|c| c.has_tag_name("skipped")));
    }
}
