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

/// A self-contained HTML page.
pub fn html(r: &Report) -> String {
    let mut rows = String::new();
    for c in &r.cases {
        let class = match c.status {
            Status::Pass => "ok",
            Status::Fail => "bad",
            Status::Skip => "skip",
        };
        let calls: String = c
            .calls
            .iter()
            .map(|call| {
                format!(
                    "<li>#{} {} — {}</li>",
                    call.id,
                    xml(&call.result_code),
                    xml(&call.reason)
                )
            })
            .collect();
        let why = c
            .why_it_matters
            .map(|w| {
                format!(
                    "<p class=\"why\">왜 중요한가 (why it matters): {}</p>",
                    xml(w)
                )
            })
            .unwrap_or_default();
        let _ = write!(
            rows,
            "<tr class=\"{class}\"><td><strong>{}</strong></td><td>{}</td><td><p>기대 (expected): {}</p><p>결과 (happened): {}</p>{why}<ul>{calls}</ul></td></tr>",
            c.id,
            mark(c.status),
            xml(c.expected),
            xml(&c.happened)
        );
    }
    format!(
        "<!doctype html><html lang=\"ko\"><head><meta charset=\"utf-8\"><title>제휴사 적합성 시험 {vendor}</title>\
<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#101828}}table{{border-collapse:collapse;width:100%}}\
td{{border-bottom:1px solid #e4e7ec;padding:.5rem;vertical-align:top}}tr.ok td:nth-child(2){{color:#1a7f37}}\
tr.bad td:nth-child(2){{color:#b42318;font-weight:700}}tr.skip td:nth-child(2){{color:#667085}}.why{{color:#b42318}}</style></head>\
<body><h1>제휴사 적합성 시험 (partner conformance) · {vendor}</h1>\
<p>GATE {gate} · 회원 (member) {member} · {passed} 통과 (passed), {failed} 실패 (failed), {skipped} 해당 없음 (skipped) · {secs:.1} s</p>\
<table><thead><tr><th>case</th><th>결과</th><th>내용 (details)</th></tr></thead><tbody>{rows}</tbody></table></body></html>\n",
        vendor = xml(&r.vndr_no),
        gate = xml(&r.gate_url),
        member = xml(&r.cust_id),
        passed = r.passed,
        failed = r.failed,
        skipped = r.skipped,
        secs = r.seconds,
    )
}
