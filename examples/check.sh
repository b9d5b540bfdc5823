#!/usr/bin/env bash
# Checks a partner's STEP1 GATE receiver against a running benecafe-sim, for real: it issues GATEs
# through the control API, posts their fields to the partner as a member's browser would (with a
# cookie jar), and reads the simulator's journal to see what the partner's server did.
#
#   examples/check.sh PARTNER_URL [SIM_URL] [VNDR_NO]
#   examples/check.sh http://localhost:3000 http://127.0.0.1:8080 VR000301
#
# PARTNER_URL: the partner's base (it must serve POST /gate and GET /whoami answering the custId as
# plain text, empty when anonymous). SIM_URL: the simulator's HTTP base (control API, open on
# loopback; set SIM_CONTROL_TOKEN if it needs one). The vendor must be registered with this
# partner's GATE URL, allowedIps including the partner's address, and (for direct-url) a
# directUrlBase on the partner's host. MEMBER and MEMBER2 name two members who may consent.
# Needs curl and python3. Prints one line per check and a summary; exit 1 when a check fails.
set -u
PARTNER=${1:?usage: check.sh PARTNER_URL [SIM_URL] [VNDR_NO]}; PARTNER=${PARTNER%/}
SIM=${2:-http://127.0.0.1:8080}; SIM=${SIM%/}
VNDR=${3:-VR000301}
MEMBER=${MEMBER:-J01A00038745}; MEMBER2=${MEMBER2:-AA5A00001201}
FOREIGN_VNDR=${FOREIGN_VNDR:-VR000216}
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
AUTH=(); [ -n "${SIM_CONTROL_TOKEN:-}" ] && AUTH=(-H "authorization: Bearer $SIM_CONTROL_TOKEN")
PASS=0; FAIL=0

api() { # METHOD PATH [JSON]
  curl -s -X "$1" "${AUTH[@]}" -H 'content-type: application/json' ${3:+-d "$3"} "$SIM$2"
}
json() { # FILE EXPR: evaluate a python expression over the JSON in FILE (as j)
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print("" if v is None else v)' "$1" "$2"
}
cmpy_of() { api GET /_sim/api/members | python3 -c 'import json,sys; print(next(m["cmpyCd"] for m in json.load(sys.stdin) if m["custId"]==sys.argv[1]))' "$1"; }
gate() { # NAME JSON-extra: issue a GATE for vendor/member, answer in $WORK/NAME.json
  local name=$1 vndr=$2 cust=$3 extra=${4:-}
  api POST /_sim/api/gate "{\"cmpyCd\":\"$(cmpy_of "$cust")\",\"custId\":\"$cust\",\"vndrNo\":\"$vndr\"$extra}" >"$WORK/$name.json"
}
post() { # NAME JAR [FIELD=VALUE...]: post the GATE's fields to the partner; sets STATUS, LOCATION, SECS
  local name=$1 jar=$2; shift 2
  python3 -c 'import json,sys,urllib.parse as u
f=json.load(open(sys.argv[1]))["fields"]
for kv in sys.argv[2:]: k,v=kv.split("=",1); f[k]=v
sys.stdout.write(u.urlencode(f))' "$WORK/$name.json" "$@" >"$WORK/$name.form"
  local out; out=$(curl -s -m 20 -o "$WORK/$name.page" -b "$jar" -c "$jar" -w '%{http_code} %{time_total} %{redirect_url}' \
    -H 'content-type: application/x-www-form-urlencoded' --data-binary @"$WORK/$name.form" "$PARTNER/gate")
  read -r STATUS SECS LOCATION <<<"$out"; LOCATION=${LOCATION:-}
}
token_of() { json "$WORK/$1.json" 'j["otpToken"]'; }
cert_codes() { # TOKEN: the resultCodes of the cert calls made with it, comma-separated
  api GET "/_sim/api/journal?endpoint=cert&token=$1" | python3 -c 'import json,sys; print(",".join(e.get("resultCode","?") for e in json.load(sys.stdin)))'
}
cert_count() { api GET "/_sim/api/journal?endpoint=cert&vndrNo=$VNDR" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
whoami() { curl -s -m 5 -b "$1" "$PARTNER/whoami"; }
loc_path() { python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(p.path + ("?"+p.query if p.query else ""))' "$1"; }
sid() { grep -v '^# ' "$1" 2>/dev/null | awk 'NF>=7{print $6"="$7}' | sort | tr '\n' ' '; } # the partner's cookies
check() { # NAME CONDITION-EXIT-CODE DETAIL
  if [ "$2" = 0 ]; then PASS=$((PASS+1)); printf 'PASS  %-18s %s\n' "$1" "$3"; else FAIL=$((FAIL+1)); printf 'FAIL  %-18s %s\n' "$1" "$3"; fi
}
ok() { "$@" >/dev/null 2>&1; echo $?; }
not5xx() { [ "$STATUS" -ge 200 ] && [ "$STATUS" -lt 500 ]; }

api GET /_sim/healthz >/dev/null || { echo "simulator not reachable at $SIM"; exit 2; }
curl -s -o /dev/null "$PARTNER/whoami" || { echo "partner not reachable at $PARTNER"; exit 2; }
api DELETE /_sim/api/faults >/dev/null
J1=$WORK/jar1; J2=$WORK/jar2; J3=$WORK/jar3

# first-visit: 303 (Post/Redirect/Get), one cert call answered OK, the member logged in
gate first "$VNDR" "$MEMBER" ',"consent":"agree","forceMemberFields":true'; post first "$J1"; T=$(token_of first)
W=$(whoami "$J1"); C=$(cert_codes "$T")
check first-visit "$(ok test "$STATUS" = 303 -a "$C" = OK -a "$W" = "$MEMBER")" "status $STATUS, cert calls [$C], whoami '$W'"

# double-post: the same fields again (a refresh, a replay): the token is used, the mall says 404
post first "$J1"; C=$(cert_codes "$T"); W=$(whoami "$J1")
check double-post "$(ok eval 'not5xx && [ "$C" = OK,404 ] && [ -z "$W" ]')" "status $STATUS, cert calls [$C], whoami '$W' (session reset, not logged in)"

# later-visit: no member fields in the form this time; the cert answer alone logs the member in
gate later "$VNDR" "$MEMBER"; post later "$J1"; C=$(cert_codes "$(token_of later)"); W=$(whoami "$J1")
F=$(json "$WORK/later.json" '"with member fields" if "CFM_CUS_ID" in j["fields"] else "no member fields"')
check later-visit "$(ok test "$STATUS" = 303 -a "$C" = OK -a "$W" = "$MEMBER")" "$F, status $STATUS, cert calls [$C], whoami '$W'"

# direct-url: DirectFlag=Y goes to DirectURL on the partner itself
gate direct "$VNDR" "$MEMBER" ",\"directUrl\":\"$PARTNER/goods/1?opt=2\""; post direct "$J1"; P=$(loc_path "$LOCATION")
check direct-url "$(ok test "$STATUS" = 303 -a "$P" = "/goods/1?opt=2")" "status $STATUS, to '$P'"

# baro-item: a product code opens that product
gate baro "$VNDR" "$MEMBER" ',"baroItem":"G1234"'; post baro "$J1"; P=$(loc_path "$LOCATION")
check baro-item "$(ok eval '[ "$STATUS" = 303 ] && [[ "$P" == *G1234* ]]')" "status $STATUS, to '$P'"

# session-reset: a second member's GATE in the same browser replaces the first, with a new session id
S1=$(sid "$J1"); gate second "$VNDR" "$MEMBER2" ',"consent":"agree"'; post second "$J1"; W=$(whoami "$J1"); S2=$(sid "$J1")
check session-reset "$(ok test "$W" = "$MEMBER2" -a -n "$S2" -a "$S1" != "$S2")" "whoami '$W', session id changed: $([ "$S1" != "$S2" ] && echo yes || echo no)"

# no-consent: no token, no member fields, no cert call, anonymous (the earlier member is gone)
N0=$(cert_count); gate decline "$VNDR" "$MEMBER" ',"consent":"decline"'; post decline "$J1"; N1=$(cert_count); W=$(whoami "$J1")
HAS=$(json "$WORK/decline.json" '"OTP_TOKEN" in j["fields"]')
check no-consent "$(ok eval 'not5xx && [ "$HAS" = False ] && [ "$N0" = "$N1" ] && [ -z "$W" ]')" "status $STATUS, cert calls $((N1-N0)), whoami '$W'"

# spoofed-cus-url: a CUS_URL naming another host gets no cert call (it would hand that host the token)
gate spoof "$VNDR" "$MEMBER" ',"consent":"agree"'; T=$(token_of spoof)
EVIL=$(json "$WORK/spoof.json" '"https://evil.example:" + str(__import__("urllib.parse").parse.urlsplit(j["fields"]["CUS_URL"]).port or 443)')
post spoof "$J2" "CUS_URL=$EVIL"; C=$(cert_codes "$T"); ST=$(api GET "/_sim/api/tokens/$T" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
check spoofed-cus-url "$(ok eval '[ "$STATUS" -ge 400 ] && [ "$STATUS" -lt 500 ] && [ -z "$C" ] && [ "$ST" = issued ]')" "status $STATUS, cert calls [$C], token $ST"

# foreign-vendor: a valid token of another vendor: the mall answers OK, the partner must refuse it
gate foreign "$FOREIGN_VNDR" "$MEMBER" ',"consent":"agree"'; post foreign "$J2"; C=$(cert_codes "$(token_of foreign)"); W=$(whoami "$J2")
check foreign-vendor "$(ok eval 'not5xx && [ -z "$W" ]')" "status $STATUS, cert calls [$C] (vndrNo $FOREIGN_VNDR), whoami '$W'"

# expired-token: the mall answers 401
gate expired "$VNDR" "$MEMBER"; T=$(token_of expired); api POST "/_sim/api/tokens/$T/expire" >/dev/null
post expired "$J2"; C=$(cert_codes "$T"); W=$(whoami "$J2")
check expired-token "$(ok eval 'not5xx && [ "$C" = 401 ] && [ -z "$W" ]')" "status $STATUS, cert calls [$C], whoami '$W'"

# faults: the mall refuses the IP, drops the connection, answers 500, broken JSON, or too slowly
for f in 'resultCode:"resultCode":"403"' 'drop:' 'http500:' 'malformed:' 'delay:"delayMs":8000'; do
  kind=${f%%:*}; extra=${f#*:}
  api POST /_sim/api/faults "{\"endpoint\":\"cert\",\"vndrNo\":\"$VNDR\",\"count\":1,\"kind\":\"$kind\"${extra:+,$extra}}" >/dev/null
  gate "fault-$kind" "$VNDR" "$MEMBER"; post "fault-$kind" "$J3"; W=$(whoami "$J3")
  check "mall-$kind" "$(ok eval 'not5xx && [ -z "$W" ] && python3 -c "import sys; sys.exit(float(sys.argv[1]) > 12)" "$SECS"')" "status $STATUS in ${SECS}s, whoami '$W'"
done
api DELETE /_sim/api/faults >/dev/null

# whoami without any session
W=$(curl -s -m 5 "$PARTNER/whoami"); check whoami-anonymous "$(ok test -z "$W")" "whoami '$W'"

echo "$PASS passed, $FAIL failed ($PARTNER, vendor $VNDR, simulator $SIM)"
[ "$FAIL" = 0 ]
