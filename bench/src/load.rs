//! The load: wrk runs with the Lua scripts that shape each row (a fixed URL, a fresh token a
//! request, complete flows, GATE issuance), and wrk's figures read back from the one line each
//! script prints.

use std::path::{Path, PathBuf};

use crate::run::Plan;

/// wrk's figures for one row.
#[derive(Clone, Default)]
pub struct Load {
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub ok_share: f64,
    /// Answers with resultCode OK per second.
    pub oks_per_second: f64,
    /// Requests answered in all.
    pub requests: f64,
    /// CPU time a request cost, in microseconds: the server process's and Redis's (the Redis
    /// rows only).
    pub cpu_us: Option<[f64; 2]>,
    /// What Redis ran for a request, by command: calls and microseconds a request (as Redis
    /// timed them; the Redis rows only).
    pub commands: Vec<(String, f64, f64)>,
}

/// Reports wrk's figures in one line. No `response` callback: reading every body in Lua would
/// make wrk the bottleneck; the OK rows are checked by counting the tokens used instead.
pub const LUA_REPORT: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.requests - e.status, e.status + e.connect + e.read + e.write + e.timeout))
end
"#;

/// The `done` of the scripts that count OK answers themselves (`oks`, `others`): the same line.
const LUA_REPORT_COUNTED: &str = r#"local threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  local o, n = 0, 0
  for _, t in ipairs(threads) do o = o + t:get("oks"); n = n + t:get("others") end
  io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), o, n))
end
"#;

/// Complete flows: a GATE through the control API, then the cert call with its token; a flow
/// counts when its cert call answered OK.
const LUA_FLOWS: &str = r#"local queue = {}
local gate
init = function(args)
  gate = wrk.format("POST", "/_sim/api/gate", {["Content-Type"] = "application/json"},
    '{"cmpyCd":"J01","custId":"J01A00038745","vndrNo":"VR000216"}')
end
request = function()
  if #queue > 0 then
    return wrk.format("GET", "/sso/vendorUserCertTonken?otpTokenp=" .. table.remove(queue))
  end
  return gate
end
oks, others = 0, 0
response = function(status, headers, body)
  local t = string.match(body, '"otpToken":"(%x+)"')
  if t and not string.find(body, '"resultCode"', 1, true) then table.insert(queue, t)
  elseif string.find(body, '"resultCode":"OK"', 1, true) then oks = oks + 1
  else others = others + 1 end
end
"#;

/// [`wrk`], with the CPU time the processes `pids` (the server, then Redis) spent meanwhile, a
/// request, and what Redis (at `redis_url`) ran: where each call's microseconds go.
pub fn wrk_costed(
    url: &str,
    script: &Path,
    plan: &Plan,
    pids: [u32; 2],
    redis_url: &str,
) -> Result<Load, String> {
    let before = pids.map(crate::servers::cpu_us);
    let stats_before = crate::servers::command_stats(redis_url);
    let mut load = wrk(url, script, plan)?;
    let after = pids.map(crate::servers::cpu_us);
    let stats_after = crate::servers::command_stats(redis_url);
    let requests = load.requests.max(1.0);
    let per_request = |i: usize| (after[i] - before[i]) as f64 / requests;
    load.cpu_us = Some([per_request(0), per_request(1)]);
    for (name, (calls, usec)) in stats_after {
        let (calls0, usec0) = stats_before.get(&name).copied().unwrap_or((0, 0));
        // The commands a row makes, not the INFO calls that measure it.
        if calls > calls0 && name != "info" {
            let per = |n: u64| n as f64 / requests;
            load.commands
                .push((name, per(calls - calls0), per(usec - usec0)));
        }
    }
    load.commands.sort_by(|a, b| b.2.total_cmp(&a.2));
    Ok(load)
}

/// Runs wrk on `url` with `script` as `plan` says: one thread, its connections, its seconds.
pub fn wrk(url: &str, script: &Path, plan: &Plan) -> Result<Load, String> {
    let out = std::process::Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{}", plan.connections),
            &format!("-d{}s", plan.seconds),
        ])
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()
        .map_err(|e| format!("cannot run wrk ({e}): install it (apt-get install wrk)"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .ok_or_else(|| {
            format!(
                "no result from wrk: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let n: Vec<f64> = line[7..]
        .split(' ')
        .filter_map(|x| x.parse().ok())
        .collect();
    if n.len() != 6 || n[1] <= 0.0 {
        return Err(format!("unexpected wrk result: {line}"));
    }
    Ok(Load {
        rps: n[0] / (n[1] / 1e6),
        p50_us: n[2],
        p99_us: n[3],
        ok_share: if n[4] + n[5] > 0.0 {
            n[4] / (n[4] + n[5])
        } else {
            0.0
        },
        oks_per_second: n[4] / (n[1] / 1e6),
        requests: n[0],
        cpu_us: None,
        commands: Vec::new(),
    })
}

/// Writes `report.lua` in `dir`: a fixed URL, reported with [`LUA_REPORT`].
pub fn report_script(dir: &Path) -> Result<PathBuf, String> {
    write(dir.join("report.lua"), LUA_REPORT)
}

/// A script sending the cert call with each of `tokens` in turn (at `prefix` + the cert path),
/// each once while they last.
pub fn tokens_script(dir: &Path, tokens: &[String], prefix: &str) -> Result<PathBuf, String> {
    let file = dir.join(format!("tokens-{}.txt", tokens.len()));
    std::fs::write(&file, tokens.join("\n")).map_err(|e| e.to_string())?;
    let lua = format!(
        r#"local tokens, i = {{}}, 0
for line in io.lines("{}") do tokens[#tokens + 1] = line end
request = function()
  i = i + 1
  if i > #tokens then i = 1 end
  return wrk.format("GET", "{prefix}/sso/vendorUserCertTonken?otpTokenp=" .. tokens[i])
end
{LUA_REPORT}"#,
        file.display()
    );
    write(dir.join(format!("ok{}.lua", prefix.len())), &lua)
}

/// The complete-flows script ([`LUA_FLOWS`]).
pub fn flows_script(dir: &Path) -> Result<PathBuf, String> {
    write(
        dir.join("flows.lua"),
        &format!("{LUA_FLOWS}{LUA_REPORT_COUNTED}"),
    )
}

/// GATE issuance through the control API for `vendor`, member fields forced so that every
/// vendor's GATE carries all of them; an issuance counts when it answered a token.
pub fn issuance_script(dir: &Path, vendor: &str) -> Result<PathBuf, String> {
    let lua = format!(
        r#"request = function()
  return wrk.format("POST", "/_sim/api/gate", {{["Content-Type"] = "application/json"}},
    '{{"cmpyCd":"J01","custId":"J01A00038745","vndrNo":"{vendor}","consent":"agree","forceMemberFields":true}}')
end
oks, others = 0, 0
response = function(status, headers, body)
  if status == 200 and string.find(body, '"otpToken":"', 1, true) then oks = oks + 1
  else others = others + 1 end
end
{LUA_REPORT_COUNTED}"#
    );
    write(dir.join(format!("issue-{vendor}.lua")), &lua)
}

fn write(path: PathBuf, text: &str) -> Result<PathBuf, String> {
    std::fs::write(&path, text).map_err(|e| e.to_string())?;
    Ok(path)
}

/// Errs unless an OK row consumed a fresh token per request (`used` tokens for the requests
/// `load` counts, none failed): a row that ran out would measure the used-token path instead.
pub fn check_fresh(row: &str, used: u64, load: &Load, plan: &Plan) -> Result<(), String> {
    let requests = (load.rps * plan.seconds as f64).round() as u64;
    if used + 64 < requests || load.ok_share < 0.999 {
        return Err(format!(
            "the {row} row did not use a fresh token per request ({used} tokens used, about {requests} requests); run again"
        ));
    }
    Ok(())
}
