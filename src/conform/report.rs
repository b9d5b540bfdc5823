//! A conformance run as a person or a CI server reads it: a table for the terminal, a
//! self-contained HTML page (Korean and English labels, like the rest of the UI), and JUnit XML
//! (`testsuite` named `benecafe-conform VNDR`, one `testcase` per case id).

use std::fmt::Write;

use super::kit::{Report, Status};

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
        r.vndr_no, r.gate_url, r.cust_id
    );
    for c in &r.cases {
        let _ = writeln!(out, "{:<5} {:<17} {}", mark(c.status), c.id, c.happened);
        if c.status == Status::Fail {
            let _ = writeln!(out, "{:<23} expected: {}", "", c.expected);
            if let Some(why) = c.why_it_matters {
                let _ = writeln!(out, "{:<23} why it matters: {why}", "");
            }
            for call in &c.calls {
                let _ = writeln!(
                    out,
                    "{:<23} journal #{}: {} ({})",
                    "", call.id, call.result_code, call.reason
                );
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

fn xml(s: &str) -> String {
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
        let _ = write!(
            out,
            "  <testcase classname=\"{}\" name=\"{}\"",
            xml(&format!("benecafe-conform.{}", r.vndr_no)),
            c.id
        );
        match c.status {
            Status::Pass => out.push_str("/>\n"),
            Status::Skip => {
                let _ = writeln!(
                    out,
                    ">\n    <skipped message=\"{}\"/>\n  </testcase>",
                    xml(&c.happened)
                );
            }
            Status::Fail => {
                let mut detail = format!("expected: {}\nhappened: {}", c.expected, c.happened);
                if let Some(why) = c.why_it_matters {
                    detail.push_str(&format!("\nwhy it matters: {why}"));
                }
                for call in &c.calls {
                    detail.push_str(&format!(
                        "\njournal #{}: {} ({})",
                        call.id, call.result_code, call.reason
                    ));
                }
                let _ = writeln!(
                    out,
                    ">\n    <failure message=\"{}\">{}</failure>\n  </testcase>",
                    xml(&c.happened),
                    xml(&detail)
                );
            }
        }
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
