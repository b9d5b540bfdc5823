// Reference partner (제휴사) for benecafe-sim, STEP1 "서비스바로가기 및 회원연동" — JDK 17, no dependencies.
// Run: java examples/java/Partner.java            (java examples/java/Partner.java --self-test checks the decryption)
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.*;
import java.net.*;
import java.net.http.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.security.*;
import java.security.cert.*;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.regex.*;
import java.util.stream.Stream;
import javax.crypto.Cipher;
import javax.crypto.spec.*;
import javax.net.ssl.*;

public class Partner {
    // ---- settings (the same environment variables in the Node and Python partners) ----
    static final Map<String, String> ENV = System.getenv();
    static final int PORT = Integer.parseInt(ENV.getOrDefault("PORT", "3000"));
    static final String VNDR_NO = ENV.getOrDefault("VNDR_NO", "VR000301");
    static final List<String> MALL_HOSTS = Arrays.stream(ENV.getOrDefault("MALL_HOSTS",
            "localhost,127.0.0.1,.benecafe.localhost,cert.benecafe.co.kr").split(","))
            .map(h -> h.trim().toLowerCase(Locale.ROOT)).filter(h -> !h.isEmpty()).toList();
    static final String FALLBACK_CUS_URL = ENV.getOrDefault("FALLBACK_CUS_URL", "https://cert.benecafe.co.kr"); // "해당 값이 없는 경우"
    static final List<String> ENCRYPTED_FIELDS = List.of("OTP_TOKEN", "cmpy_cd", "CFM_CUS_ID", "USER_NAME");
    static final Map<String, String> REFUSALS = Map.of(
            "400", "OTP 토큰이 전달되지 않았습니다.",
            "401", "유효하지 않거나 만료된 토큰입니다. 복리후생관에서 다시 들어와 주세요.",
            "403", "이 제휴사 서버의 IP가 복리후생관에 허용되어 있지 않습니다.",
            "404", "이미 사용된 토큰입니다. 복리후생관에서 다시 들어와 주세요.");

    // ---- sessions: a random id in a cookie, the data in memory (a real app uses its framework's store) ----
    static final class Session { volatile Map<?, ?> member; String pointName, popupUrl; }
    static final Map<String, Session> SESSIONS = new ConcurrentHashMap<>();
    /** custId -> the member fields the mall sent (only on the first visit and after a change). */
    static final Map<String, Map<String, String>> MEMBERS = new ConcurrentHashMap<>();
    static final SecureRandom RANDOM = new SecureRandom();

    static HttpClient client;
    static Decrypter decrypter;

    public static void main(String[] args) throws Exception {
        if (Arrays.asList(args).contains("--self-test")) System.exit(Decrypter.selfTest());
        try { decrypter = Decrypter.fromEnv(ENV.get("PARAM_ENC_SCHEME"), ENV.get("PARAM_ENC_KEY")); }
        catch (GeneralSecurityException | IllegalArgumentException e) { System.err.println(e.getMessage()); System.exit(2); }
        Path ca = caFile();
        client = HttpClient.newBuilder().sslContext(ca == null ? SSLContext.getDefault() : trusting(ca))
                .connectTimeout(Duration.ofSeconds(5)).build(); // follows no redirects: the token goes nowhere else
        HttpServer server = HttpServer.create(new InetSocketAddress(PORT), 0);
        server.createContext("/", ex -> {
            try { route(ex); } catch (Exception e) { e.printStackTrace(); problem(ex, 400, "요청을 처리하지 못했습니다."); }
            finally { ex.close(); }
        });
        server.setExecutor(Executors.newCachedThreadPool());
        server.start();
        System.out.printf("partner %s on http://localhost:%d/gate; trusts %s; CA %s; parameter encryption %s%n", VNDR_NO, PORT,
                String.join(",", MALL_HOSTS), ca == null ? "(system roots)" : ca, decrypter == null ? "off" : decrypter.scheme());
    }

    // The simulator's CA: SIM_CA, else its data folder (ca.pem, or cert.pem of older versions), else the
    // system roots (what a partner talking to the real mall uses). Verification is never turned off.
    static Path caFile() {
        if (!ENV.getOrDefault("SIM_CA", "").isEmpty()) return Path.of(ENV.get("SIM_CA"));
        Path data = Path.of(ENV.getOrDefault("XDG_DATA_HOME", System.getProperty("user.home") + "/.local/share"), "benecafe-sim");
        return Stream.of("ca.pem", "cert.pem").map(data::resolve).filter(Files::exists).findFirst().orElse(null);
    }

    /** An SSLContext that trusts exactly the certificates in a PEM file (not a JVM-wide trust store). */
    static SSLContext trusting(Path pem) throws Exception {
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        store.load(null, null);
        try (InputStream in = Files.newInputStream(pem)) {
            int n = 0;
            for (java.security.cert.Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in))
                store.setCertificateEntry("sim-ca-" + n++, c);
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(store);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    // ---- routes ----
    static void route(HttpExchange ex) throws Exception {
        String path = ex.getRequestURI().getRawPath(), method = ex.getRequestMethod();
        if (method.equals("POST") && path.equals("/gate")) {
            byte[] body = ex.getRequestBody().readNBytes(65537);
            if (body.length > 65536) { problem(ex, 413, "요청이 너무 큽니다."); return; }
            gate(ex, parseForm(new String(body, StandardCharsets.UTF_8)));
        } else if (method.equals("GET") && path.equals("/whoami")) {
            // The vendor's whoamiUrl: exactly the logged-in member's custId, an empty body when anonymous.
            Map<?, ?> m = current(ex).member;
            ex.getResponseHeaders().set("Cache-Control", "no-store");
            send(ex, 200, "text/plain; charset=utf-8", m == null ? "" : String.valueOf(m.get("custId")));
        } else if (method.equals("GET")) {
            Matcher product = Pattern.compile("/product/([^/]+)").matcher(path);
            home(ex, product.matches() ? "<p>상품 " + esc(URLDecoder.decode(product.group(1), StandardCharsets.UTF_8)) + " 상세</p>"
                    : path.equals("/") ? "" : "<p>페이지 " + esc(ex.getRequestURI().toString()) + "</p>");
        } else {
            ex.getResponseHeaders().set("Allow", "GET, POST");
            html(ex, 405, "<p>허용되지 않는 요청입니다.</p>");
        }
    }

    // ---- the GATE ----
    static void gate(HttpExchange ex, Map<String, String> form) throws Exception {
        // "요청시마다 세션정보 삭제후 재세팅": every GATE starts a new session, so the member of an earlier
        // visit (maybe someone else on a shared PC) never survives a GATE that fails or carries no token.
        String old = sessionId(ex);
        if (old != null) SESSIONS.remove(old);
        byte[] idBytes = new byte[24];
        RANDOM.nextBytes(idBytes);
        String id = Base64.getUrlEncoder().withoutPadding().encodeToString(idBytes);
        Session session = new Session();
        session.popupUrl = form.get("POPUPURL");
        session.pointName = form.get("pointname");
        try { // pointnameBase64 is sent for partners whose decoding garbles Korean
            String decoded = new String(Base64.getDecoder().decode(form.getOrDefault("pointnameBase64", "")), StandardCharsets.UTF_8);
            if (!decoded.isEmpty()) session.pointName = decoded;
        } catch (IllegalArgumentException notBase64) { /* keep pointname */ }
        SESSIONS.put(id, session);
        ex.getResponseHeaders().add("Set-Cookie", "psid=" + id + "; Path=/; HttpOnly; SameSite=Lax");

        if (decrypter != null && form.containsKey("OTP_TOKEN")) {
            try {
                for (String f : ENCRYPTED_FIELDS)
                    if (form.containsKey(f)) form.put(f, decrypter.decrypt(form.get(f), form.get("ranNum")));
            } catch (GeneralSecurityException | IllegalArgumentException e) {
                System.out.println("gate: cannot decrypt: " + e);
                problem(ex, 400, "암호화된 파라미터를 풀 수 없습니다."); return;
            }
        }
        String token = form.get("OTP_TOKEN");
        if (token != null && !token.isEmpty()) { // no token: the member did not consent, so the visitor stays anonymous
            String cusUrl = form.getOrDefault("CUS_URL", "").isEmpty() ? FALLBACK_CUS_URL : form.get("CUS_URL");
            String origin = trustedMallOrigin(cusUrl);
            if (origin == null) {
                System.out.println("gate: CUS_URL " + cusUrl + " is not a trusted mall domain; no cert call");
                problem(ex, 403, "신뢰하는 복리후생관 도메인이 아닙니다: " + cusUrl); return;
            }
            Object answer;
            try {
                HttpRequest req = HttpRequest.newBuilder(URI.create(origin + "/sso/vendorUserCertTonken?otpTokenp="
                        + URLEncoder.encode(token, StandardCharsets.UTF_8))).timeout(Duration.ofSeconds(5)).GET().build();
                HttpResponse<String> res = client.send(req, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
                try { answer = Json.parse(res.body()); }
                catch (IllegalArgumentException e) { throw new IOException("HTTP " + res.statusCode() + ", not JSON"); }
            } catch (IOException e) { // refused, TLS, timeout, not JSON
                System.out.println("gate: cert call to " + origin + ": " + e);
                problem(ex, 200, "복리후생관 인증 서버에 연결하지 못했습니다. 비회원으로 이용할 수 있습니다."); return; // detail: the log
            }
            String code = answer instanceof Map<?, ?> a ? String.valueOf(a.get("resultCode")) : "?";
            Map<?, ?> user = answer instanceof Map<?, ?> a && "OK".equals(code) && a.get("resultMap") instanceof Map<?, ?> r
                    && r.get("user") instanceof Map<?, ?> u ? u : Map.of();
            System.out.println("gate: cert call to " + origin + ": " + code + (user.isEmpty() ? "" : " " + user.get("custId") + " " + user.get("vndrNo")));
            if (!(user.get("custId") instanceof String custId)) {
                problem(ex, 403, REFUSALS.getOrDefault(code, "인증 실패 (" + code + ")")); return;
            }
            // A token issued for another vendor is a real, valid token: the mall answers OK with that vendor's
            // number. Accepting it would let anyone who got a token at some other partner log in here.
            if (!VNDR_NO.equals(user.get("vndrNo"))) {
                problem(ex, 403, "다른 제휴사(" + user.get("vndrNo") + ")용 토큰입니다."); return;
            }
            session.member = user; // the cert answer is the truth; the form's member fields are only hints
            if (custId.equals(form.get("CFM_CUS_ID"))) // sent on the first visit and after a change: keep them
                MEMBERS.put(custId, Map.of("cmpy_cd", form.getOrDefault("cmpy_cd", ""),
                        "USER_NAME", form.getOrDefault("USER_NAME", ""), "ReceiptYN", form.getOrDefault("ReceiptYN", "")));
        }
        // Post/Redirect/Get: a refresh must not post the one-time token again.
        ex.getResponseHeaders().set("Location", landing(ex, form));
        ex.sendResponseHeaders(303, -1);
    }

    /** CUS_URL comes from the member's browser: calling any host it names would hand that host a live
     *  token and let it answer with any member. Only HTTPS URLs of known mall domains. */
    static String trustedMallOrigin(String cusUrl) {
        try {
            URI u = new URI(cusUrl);
            String host = u.getHost() == null ? "" : u.getHost().replaceAll("^\\[|\\]$", "").toLowerCase(Locale.ROOT);
            boolean known = MALL_HOSTS.stream().anyMatch(h -> h.startsWith(".")
                    ? host.equals(h.substring(1)) || host.endsWith(h) : host.equals(h));
            if (!known || !"https".equalsIgnoreCase(u.getScheme())) return null; // the cert endpoint is HTTPS only
            return "https://" + (host.contains(":") ? "[" + host + "]" : host) + (u.getPort() == -1 ? "" : ":" + u.getPort());
        } catch (URISyntaxException e) { return null; }
    }

    /** BaroItem opens that product; DirectFlag=Y opens DirectURL, but only a page of this partner (no open redirect). */
    static String landing(HttpExchange ex, Map<String, String> form) {
        if (!form.getOrDefault("BaroItem", "").isEmpty())
            return "/product/" + URLEncoder.encode(form.get("BaroItem"), StandardCharsets.UTF_8).replace("+", "%20");
        if ("Y".equals(form.get("DirectFlag")) && form.get("DirectURL") != null) {
            try {
                URI u = new URI(form.get("DirectURL"));
                String ownHost = ex.getRequestHeaders().getFirst("Host");
                String target = u.getRawPath() + (u.getRawQuery() == null ? "" : "?" + u.getRawQuery());
                // Our own host only, and a plain ASCII path: "//x" would leave the site.
                if ((u.getRawAuthority() == null || u.getRawAuthority().equals(ownHost)) && target.matches("/(?![/\\\\])[!-\\[\\]-~]*"))
                    return target;
            } catch (URISyntaxException e) { /* not a URL: the main page */ }
        }
        return "/";
    }

    // ---- pages ----
    static void home(HttpExchange ex, String where) throws IOException {
        Session s = current(ex);
        Map<?, ?> m = s.member;
        String who = m == null ? "<p>비회원(익명)으로 이용 중입니다.</p>"
                : "<p><b>" + esc(m.get("mbrNm")) + "</b> 님 (" + esc(m.get("custId")) + ", 사번 " + esc(m.get("empen")) + ") 로그인됨. 현금영수증 신청: "
                + esc(MEMBERS.getOrDefault(String.valueOf(m.get("custId")), Map.of()).getOrDefault("ReceiptYN", "-")) + "</p>";
        String point = s.pointName != null && s.popupUrl != null && s.popupUrl.matches("https?:.*")
                ? "<p><a href=\"" + esc(s.popupUrl) + "\" target=\"_blank\">" + esc(s.pointName) + " 조회</a></p>" : "";
        html(ex, 200, "<h1>제휴사 " + esc(VNDR_NO) + "</h1>" + where + who + point);
    }

    static void problem(HttpExchange ex, int status, String why) throws IOException {
        html(ex, status, "<h1>로그인하지 못했습니다</h1><p>" + esc(why) + "</p><p><a href=\"/\">비회원으로 둘러보기</a></p>");
    }

    static void html(HttpExchange ex, int status, String body) throws IOException {
        send(ex, status, "text/html; charset=utf-8", "<!doctype html><html lang=\"ko\"><meta charset=\"utf-8\"><title>제휴사 "
                + esc(VNDR_NO) + "</title><body>" + body + "</body></html>");
    }

    static void send(HttpExchange ex, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        ex.getResponseBody().write(bytes);
    }

    static String esc(Object o) {
        return o == null ? "" : o.toString().replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                .replace("\"", "&quot;").replace("'", "&#39;");
    }

    static String sessionId(HttpExchange ex) {
        Matcher m = Pattern.compile("(?:^|;\\s*)psid=([\\w-]+)").matcher(String.valueOf(ex.getRequestHeaders().getFirst("Cookie")));
        return m.find() ? m.group(1) : null;
    }

    static Session current(HttpExchange ex) {
        return SESSIONS.getOrDefault(Objects.toString(sessionId(ex), ""), new Session());
    }

    static Map<String, String> parseForm(String body) {
        Map<String, String> form = new HashMap<>();
        for (String pair : body.split("&")) {
            if (pair.isEmpty()) continue;
            int eq = pair.indexOf('=');
            form.put(URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8),
                    eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
        return form;
    }
}

/** Parameter encryption (ranNum): Base64(CIPHER(key, IV = the 16 ASCII bytes of ranNum, PKCS#7)). The JDK has AES
 *  but no ARIA: ARIA-128-CBC needs a provider that has it (Bouncy Castle), else the partner refuses to start. */
record Decrypter(String scheme, String algorithm, byte[] key) {
    static final Map<String, Integer> KEY_BYTES = Map.of("AES-128-CBC", 16, "AES-256-CBC", 32, "ARIA-128-CBC", 16);

    static Decrypter fromEnv(String scheme, String keyHex) throws GeneralSecurityException {
        if (scheme == null || scheme.isEmpty()) return null;
        if (!KEY_BYTES.containsKey(scheme)) throw new IllegalArgumentException("PARAM_ENC_SCHEME: unknown scheme " + scheme);
        byte[] key = HexFormat.of().parseHex(keyHex == null ? "" : keyHex);
        if (key.length != KEY_BYTES.get(scheme))
            throw new IllegalArgumentException("PARAM_ENC_KEY: " + scheme + " needs " + KEY_BYTES.get(scheme) * 2 + " hex digits");
        Decrypter d = new Decrypter(scheme, scheme.substring(0, scheme.indexOf('-')), key);
        Cipher.getInstance(d.algorithm + "/CBC/PKCS5Padding"); // NoSuchAlgorithmException now rather than at the first GATE
        return d;
    }

    String decrypt(String value, String ranNum) throws GeneralSecurityException {
        if (ranNum == null || !ranNum.matches("\\d{16}")) throw new IllegalArgumentException("ranNum is not 16 digits");
        Cipher c = Cipher.getInstance(algorithm + "/CBC/PKCS5Padding"); // PKCS5Padding is PKCS#7 for 16-byte blocks
        c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, algorithm), new IvParameterSpec(ranNum.getBytes(StandardCharsets.US_ASCII)));
        return new String(c.doFinal(Base64.getDecoder().decode(value)), StandardCharsets.UTF_8);
    }

    static int selfTest() {
        String k16 = "000102030405060708090a0b0c0d0e0f", k32 = k16 + "101112131415161718191a1b1c1d1e1f";
        String[][] vectors = {{"AES-128-CBC", k16, "zq3jqBoVu/c5lRJ2/aRLXw==", "J01"}, {"AES-256-CBC", k32, "Ok/31/Oh6XrHNhC5HQlQZg==", "J01"},
                {"ARIA-128-CBC", k16, "um8zAsYsnvR35gfmPGiI9A==", "J01"}, {"ARIA-128-CBC", k16, "bsXzd2N5QR+F+8mZNPtAnw==", "차세대테"}};
        int failed = 0;
        for (String[] v : vectors) {
            try {
                String got = fromEnv(v[0], v[1]).decrypt(v[2], "1234567890123456");
                if (!got.equals(v[3])) failed++;
                System.out.println((got.equals(v[3]) ? "ok   " : "FAIL ") + v[0] + " " + v[2] + " -> " + got);
            } catch (NoSuchAlgorithmException e) {
                System.out.println("skip " + v[0] + " " + v[2] + ": no provider in this JDK has " + v[0]);
            } catch (Exception e) { failed++; System.out.println("FAIL " + v[0] + " " + v[2] + ": " + e); }
        }
        return failed == 0 ? 0 : 1;
    }
}

/** Just enough JSON for the cert answer (the JDK has no parser): objects, arrays, strings, numbers, literals. */
final class Json {
    private final String s;
    private int i;
    private Json(String s) { this.s = s; }

    static Object parse(String text) {
        Json p = new Json(text);
        Object v = p.value();
        if (p.skip() < text.length()) throw p.error();
        return v;
    }

    private Object value() {
        if (skip() >= s.length()) throw error();
        if (s.charAt(i) == '"') return string();
        if (eat('{')) {
            Map<String, Object> m = new LinkedHashMap<>();
            skip(); if (eat('}')) return m;
            do { skip(); String k = string(); skip(); expect(':'); m.put(k, value()); skip(); } while (eat(','));
            expect('}');
            return m;
        }
        if (eat('[')) {
            List<Object> l = new ArrayList<>();
            skip(); if (eat(']')) return l;
            do { l.add(value()); skip(); } while (eat(','));
            expect(']');
            return l;
        }
        for (String lit : List.of("true", "false", "null"))
            if (s.startsWith(lit, i)) { i += lit.length(); return lit.equals("null") ? null : Boolean.valueOf(lit); }
        int start = i;
        while (i < s.length() && "+-.eE0123456789".indexOf(s.charAt(i)) >= 0) i++;
        return Double.valueOf(s.substring(start, i)); // NumberFormatException is an IllegalArgumentException
    }

    private String string() {
        expect('"');
        StringBuilder b = new StringBuilder();
        for (char c; (c = next()) != '"'; ) {
            if (c != '\\') { b.append(c); continue; }
            char e = next();
            int simple = "nrtbf".indexOf(e);
            if (simple >= 0) b.append("\n\r\t\b\f".charAt(simple));
            else if (e == 'u') { b.append((char) Integer.parseInt(s.substring(i, Math.min(i + 4, s.length())), 16)); i += 4; }
            else b.append(e); // \" \\ \/
        }
        return b.toString();
    }

    private char next() { if (i >= s.length()) throw error(); return s.charAt(i++); }
    private int skip() { while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) i++; return i; }
    private boolean eat(char c) { if (i < s.length() && s.charAt(i) == c) { i++; return true; } return false; }
    private void expect(char c) { if (!eat(c)) throw error(); }
    private IllegalArgumentException error() { return new IllegalArgumentException("not JSON at offset " + i); }
}
