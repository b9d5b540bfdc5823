package benecafe.sim;

import java.net.http.HttpClient;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.net.ssl.SSLContext;

/**
 * A benecafe-sim simulator for a partner's JUnit tests: one started on free ports for the test
 * run, or one already running (a shared QA simulator), and the sandboxes made in it.
 *
 * <p>Why this file exists: it is the Java side of the one interface the helpers in
 * {@code clients/} share (Python, Java, Node; see {@code clients/README.md}), so a partner's
 * Java test says "give me a simulator" and "give me a sandbox" and gets them, with no URLs or CA
 * paths copied by hand. It speaks the control API over plain HTTP and makes the cert call the way
 * a partner's server does: over HTTPS, trusting only the simulator's CA, following no redirects.
 * {@link BenecafeSimExtension} builds on it for JUnit Jupiter.
 *
 * <pre>{@code
 * try (BenecafeSim sim = BenecafeSim.fromEnvironment(); BenecafeSim.Sandbox sb = sim.sandbox()) {
 *     Map<String, Object> gate = sb.gate("J01A00038745", "VR000216");
 *     Map<String, Object> answer = sb.cert((String) gate.get("otpToken"));
 * }
 * }</pre>
 *
 * <p>JSON answers are plain Jackson trees of {@code Map<String, Object>}, {@code List<Object>},
 * strings, numbers ({@code Integer}, {@code Long}, {@code Double} ...), booleans and nulls.
 * A control API answer outside 2xx throws {@link SimException}.
 */
public final class BenecafeSim implements AutoCloseable {
    private static final Duration CONTROL_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration CONFORM_TIMEOUT = Duration.ofSeconds(300);
    /** The cert call's: an injected delay fault may hold it 120 s. */
    private static final Duration CERT_TIMEOUT = Duration.ofSeconds(150);

    private final String httpUrl;
    private final String cusUrl;
    private final Path caPath;
    private final String controlToken;
    /** The process of a started simulator; null for a connected one. */
    private final Launcher.Started started;
    private final HttpClient http;
    private final AtomicBoolean closed = new AtomicBoolean();
    private SSLContext sslContext;
    private HttpClient https;

    private BenecafeSim(String httpUrl, String cusUrl, Path caPath, String controlToken, Launcher.Started started) {
        this.httpUrl = Control.stripSlash(httpUrl);
        this.cusUrl = Control.stripSlash(cusUrl);
        this.caPath = caPath;
        this.controlToken = controlToken;
        this.started = started;
        this.http = Control.plainClient();
    }

    // ------------------------------------------------------------------ making one

    /**
     * Starts a simulator of this test run's own: {@code benecafe-sim --data-dir <new temp folder>
     * --https-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --ready-file <temp folder>/ready.json
     * --log warn --stop-when-stdin-closes} plus {@code args}, and waits (up to 60 s) for its ready
     * file. A default flag the caller gives in {@code args} is left out (the simulator takes each
     * flag once). The binary is {@code BENECAFE_SIM_BIN} when set, else {@code benecafe-sim} on
     * {@code PATH}. The process is stopped by {@link #close()}, and at the latest when the JVM
     * exits: by a shutdown hook, and, when the JVM is killed and no hook runs, by itself, as its
     * standard input is a pipe this JVM holds (never written) that closes with it.
     *
     * <p>The process gets none of this JVM's {@code SIM_*} environment variables: it is what its
     * flags say, even where {@code SIM_CONTROL_TOKEN} is set for connecting to a shared simulator.
     * Its control token is the {@code --control-token} in {@code args}, if any.
     *
     * @param args more flags for the simulator, such as {@code "--token-ttl-seconds", "30"}
     * @return the running simulator
     * @throws SimException when it cannot be run, ends before it is ready (the message carries the
     *                      last lines of its output), or is not ready within 60 s
     */
    public static BenecafeSim start(String... args) {
        List<String> given = args == null ? Collections.<String>emptyList() : Arrays.asList(args);
        String token = Launcher.flagValue(given, "--control-token");
        if (token != null && token.isEmpty()) {
            token = null;
        }
        Launcher.Started started = Launcher.launch(given);
        Map<String, Object> info = started.ready;
        Object ca = info.get("caPath");
        return new BenecafeSim(String.valueOf(info.get("httpUrl")), String.valueOf(info.get("cusUrl")),
                ca == null ? null : Paths.get(ca.toString()), token, started);
    }

    /**
     * Uses a simulator that is already running (a shared QA simulator, one in Docker). The rest is
     * learnt from it: {@code GET /_sim/version} gives {@code cusUrl}, {@code GET /_sim/ca.pem} the
     * CA, saved to a temp file for {@link #caPath()}. {@link #httpUrl()} and the control API calls
     * are {@code url} itself, the URL known to reach it (behind a proxy or in a container, the
     * {@code httpUrl} it reports may not). {@link #close()} leaves the simulator running.
     *
     * @param url          the simulator's plain-HTTP base URL, such as {@code http://127.0.0.1:8080}
     * @param controlToken the control token sent as {@code Authorization: Bearer ...}; null: the
     *                     environment's {@code SIM_CONTROL_TOKEN}; empty: none
     * @return the simulator
     * @throws SimException when it cannot be reached or answers outside 2xx
     */
    public static BenecafeSim connect(String url, String controlToken) {
        Objects.requireNonNull(url, "url");
        String base = Control.stripSlash(url.trim());
        String token = controlToken != null ? (controlToken.isEmpty() ? null : controlToken) : Launcher.env("SIM_CONTROL_TOKEN");
        HttpClient client = Control.plainClient();
        Object version = Control.send(client, base, token, "GET", "/_sim/version", null, null, CONTROL_TIMEOUT);
        if (!(version instanceof Map) || ((Map<?, ?>) version).get("cusUrl") == null) {
            throw new SimException(0, null, "GET " + base + "/_sim/version answered no cusUrl: is this a benecafe-sim? "
                    + version);
        }
        Object pem = Control.send(client, base, token, "GET", "/_sim/ca.pem", null, null, CONTROL_TIMEOUT);
        return new BenecafeSim(base, String.valueOf(((Map<?, ?>) version).get("cusUrl")), Control.saveCa(pem), token, null);
    }

    /** For the helper's own tests: these URLs and control token, another CA ({@link #close()}: no-op). */
    BenecafeSim trustingOnly(Path otherCaPath) {
        return new BenecafeSim(httpUrl, cusUrl, otherCaPath, controlToken, null);
    }

    /** For the helper's own tests: the started process's pid, else -1. */
    long pid() {
        return started == null ? -1 : started.process.pid();
    }

    /**
     * The simulator the environment asks for: {@code BENECAFE_SIM_URL} set (and not empty):
     * {@link #connect(String, String) connect} to it (token from {@code SIM_CONTROL_TOKEN}); else
     * {@link #start(String...) start} one.
     *
     * @return the simulator
     * @throws SimException when it can be neither reached nor started
     */
    public static BenecafeSim fromEnvironment() {
        return fromEnvironment(new String[0]);
    }

    /**
     * {@link #fromEnvironment()}, with flags for a simulator it starts (a connected one runs as it
     * was started).
     *
     * @param args flags for {@link #start(String...)}
     * @return the simulator
     * @throws SimException when it can be neither reached nor started
     */
    public static BenecafeSim fromEnvironment(String... args) {
        String url = Launcher.env("BENECAFE_SIM_URL");
        return url != null ? connect(url, null) : start(args);
    }

    // ------------------------------------------------------------------ what it is

    /**
     * The mall's {@code CUS_URL} (HTTPS): where a partner makes the cert call.
     *
     * @return the URL, without a trailing slash, such as {@code https://localhost:40123}
     */
    public String cusUrl() {
        return cusUrl;
    }

    /**
     * The plain-HTTP base URL of the pages and the control API: for a connected simulator, the URL
     * given to {@link #connect(String, String)}.
     *
     * @return the URL, without a trailing slash, such as {@code http://127.0.0.1:40124}
     */
    public String httpUrl() {
        return httpUrl;
    }

    /**
     * The PEM file of the CA to trust for {@link #cusUrl()}: the data folder's {@code ca.pem} of a
     * started simulator, a temp copy of {@code GET /_sim/ca.pem} for a connected one. Give it to
     * the partner under test (the reference partners read {@code SIM_CA}).
     *
     * @return the file, or null when a started simulator reported none
     */
    public Path caPath() {
        return caPath;
    }

    /**
     * A TLS context that trusts exactly the simulator's CA ({@link #caPath()}), loaded into an
     * in-memory key store: nothing JVM-wide is changed, and host names are still verified by
     * {@code HttpClient}.
     *
     * @return the context (the same one on every call)
     * @throws SimException when the CA file cannot be read
     */
    public synchronized SSLContext sslContext() {
        if (sslContext == null) {
            sslContext = Control.trusting(caPath);
        }
        return sslContext;
    }

    /**
     * Makes a fresh sandbox: {@code POST /_sim/api/sandboxes} with {@code {"ttlSeconds": 600}}.
     * Close it when done (try-with-resources), or let {@link BenecafeSimExtension} do it.
     *
     * @return the sandbox
     * @throws SimException when the simulator refuses (429: too many sandboxes)
     */
    public Sandbox sandbox() {
        return sandbox(Collections.<String, Object>emptyMap());
    }

    /**
     * Makes a fresh sandbox with these fields of {@code POST /_sim/api/sandboxes} ({@code name},
     * {@code ttlSeconds}); {@code ttlSeconds} is 600 unless given.
     *
     * @param opts the body's fields
     * @return the sandbox
     * @throws SimException when the simulator refuses
     */
    public Sandbox sandbox(Map<String, ?> opts) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("ttlSeconds", 600);
        if (opts != null) {
            body.putAll(opts);
        }
        Object made = control("POST", "/_sim/api/sandboxes", body, null, CONTROL_TIMEOUT);
        if (!(made instanceof Map) || ((Map<?, ?>) made).get("id") == null) {
            throw new SimException(0, null, "POST /_sim/api/sandboxes answered no id: " + made);
        }
        return new Sandbox(this, String.valueOf(((Map<?, ?>) made).get("id")));
    }

    /**
     * Stops a simulator this object started (its standard input closed, SIGTERM, then SIGKILL after
     * 10 s) and removes its temp folder; a connected one is left running. Calling it again does
     * nothing.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true) || started == null) {
            return;
        }
        Launcher.removeHook(started.hook);
        Launcher.stopProcess(started.process, started.stdin, started.tempDir);
    }

    /**
     * Says which simulator this is.
     *
     * @return a short description with its URLs
     */
    @Override
    public String toString() {
        return "BenecafeSim[" + (started != null ? "started pid " + started.process.pid() : "connected") + ", cusUrl "
                + cusUrl + ", httpUrl " + httpUrl + "]";
    }

    // ------------------------------------------------------------------ a sandbox

    /**
     * A sandbox of the simulator: an isolated copy of the mall (members, vendors, consents, tokens,
     * faults, journal) for one test. Every control API call it makes carries
     * {@code X-Sim-Sandbox: <id>}; the cert call needs no header, as the token names its sandbox.
     *
     * <p>Why it is nested: a sandbox exists only in its simulator, and the shared interface writes
     * it {@code BenecafeSim.Sandbox}.
     */
    public static final class Sandbox implements AutoCloseable {
        private final BenecafeSim sim;
        private final String id;
        private final AtomicBoolean closed = new AtomicBoolean();

        private Sandbox(BenecafeSim sim, String id) {
            this.sim = sim;
            this.id = id;
        }

        /**
         * The sandbox's id (16 lowercase hex digits), sent as {@code X-Sim-Sandbox}.
         *
         * @return the id
         */
        public String id() {
            return id;
        }

        /**
         * Issues a GATE with consent {@code agree}: see {@link #gate(String, String, String, Map)}.
         *
         * @param member the member's {@code custId}
         * @param vendor the vendor's {@code vndrNo}
         * @return the GATE: {@code gateUrl}, {@code fields}, {@code plainFields}, {@code otpToken} ...
         */
        public Map<String, Object> gate(String member, String vendor) {
            return gate(member, vendor, "agree", null);
        }

        /**
         * Issues a GATE: see {@link #gate(String, String, String, Map)}.
         *
         * @param member  the member's {@code custId}
         * @param vendor  the vendor's {@code vndrNo}
         * @param consent {@code agree}, {@code decline} or {@code keep}; null: the simulator's default
         * @return the GATE
         */
        public Map<String, Object> gate(String member, String vendor, String consent) {
            return gate(member, vendor, consent, null);
        }

        /**
         * Issues a GATE: looks up the member's {@code cmpyCd} in this sandbox's
         * {@code GET /_sim/api/members}, then posts {@code {"cmpyCd", "custId", "vndrNo",
         * "consent", ...opts}} to {@code /_sim/api/gate}.
         *
         * @param member  the member's {@code custId}
         * @param vendor  the vendor's {@code vndrNo}
         * @param consent {@code agree}, {@code decline} or {@code keep}; null: the simulator's default
         * @param opts    more fields, by the control API's own names ({@code directUrl},
         *                {@code baroItem}, {@code forceMemberFields}, {@code ttlSeconds},
         *                {@code receiptYn}, {@code deliver}); may be null
         * @return the GATE: {@code gateUrl}, {@code fields} (to post), {@code plainFields},
         *         {@code otpToken}, {@code omitted} ...
         * @throws SimException when the member is not in the sandbox (status 404) or the simulator
         *                      refuses
         */
        public Map<String, Object> gate(String member, String vendor, String consent, Map<String, ?> opts) {
            Objects.requireNonNull(member, "member");
            Objects.requireNonNull(vendor, "vendor");
            Object cmpyCd = null;
            for (Map<String, Object> m : members()) {
                if (member.equals(m.get("custId"))) {
                    cmpyCd = m.get("cmpyCd");
                    break;
                }
            }
            if (cmpyCd == null) {
                throw new SimException(404, "no member " + member,
                        "no member " + member + " in sandbox " + id + " (GET /_sim/api/members)");
            }
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("cmpyCd", cmpyCd);
            body.put("custId", member);
            body.put("vndrNo", vendor);
            if (consent != null) {
                body.put("consent", consent);
            }
            if (opts != null) {
                body.putAll(opts);
            }
            return Control.asMap("POST /_sim/api/gate", call("POST", "/_sim/api/gate", body, CONTROL_TIMEOUT));
        }

        /**
         * Makes the cert call as a partner's server does: {@code GET <cusUrl>/sso/vendorUserCertTonken
         * ?otpTokenp=<token>} over HTTPS, the certificate checked against the simulator's CA, no
         * redirects followed, waiting up to 150 s (an injected delay may hold it 120 s). The mall
         * answers HTTP 200 with the outcome in {@code resultCode}.
         *
         * @param token the OTP token
         * @return the JSON body: {@code resultCode}, {@code message}, {@code resultMap} ...
         * @throws SimException when the body is not a JSON object (the message names the HTTP
         *                      status) or the call fails (TLS, connection)
         */
        public Map<String, Object> cert(String token) {
            Objects.requireNonNull(token, "token");
            return sim.certCall(token);
        }

        /**
         * The journal of this sandbox, oldest first: {@code GET /_sim/api/journal}.
         *
         * @return the events
         */
        public List<Map<String, Object>> journal() {
            return journal(null);
        }

        /**
         * The journal of this sandbox, oldest first, filtered: {@code GET /_sim/api/journal?...}
         * with the filters as query parameters (URL-encoded), such as {@code endpoint=cert},
         * {@code token=<otpToken>}.
         *
         * @param filters the query parameters; null values are left out; may be null
         * @return the events
         */
        public List<Map<String, Object>> journal(Map<String, String> filters) {
            String path = Control.withQuery("/_sim/api/journal", filters);
            return Control.asList("GET /_sim/api/journal", call("GET", path, null, CONTROL_TIMEOUT));
        }

        /**
         * Injects a fault: {@code POST /_sim/api/faults} with the spec, such as
         * {@code {"endpoint": "cert", "count": 1, "kind": "resultCode", "resultCode": "403"}}.
         *
         * @param spec the fault
         * @return the fault as recorded ({@code id}, {@code remaining}, {@code applied} ...)
         */
        public Map<String, Object> fault(Map<String, ?> spec) {
            return Control.asMap("POST /_sim/api/faults", call("POST", "/_sim/api/faults", spec, CONTROL_TIMEOUT));
        }

        /**
         * The members of this sandbox: {@code GET /_sim/api/members}.
         *
         * @return the member records
         */
        public List<Map<String, Object>> members() {
            return Control.asList("GET /_sim/api/members", call("GET", "/_sim/api/members", null, CONTROL_TIMEOUT));
        }

        /**
         * Creates or replaces a member: {@code PUT /_sim/api/members/{custId}} with the whole record.
         *
         * @param record the record; its {@code custId} names it
         * @return the record as stored
         */
        public Map<String, Object> putMember(Map<String, ?> record) {
            String path = "/_sim/api/members/" + Control.segment(record, "custId");
            return Control.asMap("PUT " + path, call("PUT", path, record, CONTROL_TIMEOUT));
        }

        /**
         * Creates or replaces a vendor: {@code PUT /_sim/api/vendors/{vndrNo}} with the whole record.
         *
         * @param record the record; its {@code vndrNo} names it
         * @return the record as stored
         */
        public Map<String, Object> putVendor(Map<String, ?> record) {
            String path = "/_sim/api/vendors/" + Control.segment(record, "vndrNo");
            return Control.asMap("PUT " + path, call("PUT", path, record, CONTROL_TIMEOUT));
        }

        /**
         * Runs the conformance kit against a vendor's GATE in (a copy of) this sandbox:
         * {@code POST /_sim/api/conform} with {@code {"vndrNo": vendor}}, waiting up to 300 s.
         *
         * @param vendor the vendor's {@code vndrNo}
         * @return the report: {@code passed}, {@code failed}, {@code skipped}, {@code cases} ...
         */
        public Map<String, Object> conform(String vendor) {
            return conform(vendor, null);
        }

        /**
         * Runs the conformance kit: {@code POST /_sim/api/conform} with {@code {"vndrNo": vendor,
         * ...opts}} ({@code custId}, {@code timeoutSeconds}, {@code skip}, {@code decoyPort}).
         *
         * @param vendor the vendor's {@code vndrNo}
         * @param opts   more fields; may be null
         * @return the report: {@code passed}, {@code failed}, {@code skipped}, {@code cases} ...
         * @throws SimException when the simulator refuses (429: two runs already going)
         */
        public Map<String, Object> conform(String vendor, Map<String, ?> opts) {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("vndrNo", vendor);
            if (opts != null) {
                body.putAll(opts);
            }
            return Control.asMap("POST /_sim/api/conform", call("POST", "/_sim/api/conform", body, CONFORM_TIMEOUT));
        }

        /**
         * Any control API call in this sandbox, waiting up to 60 s (300 s for
         * {@code /_sim/api/conform}).
         *
         * @param method the HTTP method ({@code GET}, {@code POST}, {@code PATCH} ...)
         * @param path   the path from the simulator's root, with any query string, such as
         *               {@code /_sim/api/tokens/<token>}
         * @param body   sent as JSON (Jackson writes it: a {@code Map}, a {@code List}; a
         *               {@code String} becomes a JSON string); null: no body
         * @return the parsed JSON answer ({@code Map}, {@code List} ...), null for an empty body
         *         (204), the text itself when a 2xx body is not JSON
         * @throws SimException for an answer outside 2xx
         */
        public Object request(String method, String path, Object body) {
            Objects.requireNonNull(path, "path");
            return call(method, path, body, path.startsWith("/_sim/api/conform") ? CONFORM_TIMEOUT : CONTROL_TIMEOUT);
        }

        /**
         * Removes the sandbox with everything in it: {@code DELETE /_sim/api/sandboxes/{id}}. Calling
         * it again does nothing; a sandbox already gone (404: expired) is fine, and so is a
         * simulator already stopped by this process.
         *
         * @throws SimException when the simulator answers another error
         */
        @Override
        public void close() {
            if ((sim.started != null && sim.closed.get()) || !closed.compareAndSet(false, true)) {
                return;
            }
            try {
                call("DELETE", "/_sim/api/sandboxes/" + id, null, CONTROL_TIMEOUT);
            } catch (SimException e) {
                if (e.status() != 404) {
                    closed.set(false);
                    throw e;
                }
            }
        }

        /**
         * Says which sandbox this is.
         *
         * @return {@code Sandbox[<id>]}
         */
        @Override
        public String toString() {
            return "Sandbox[" + id + "]";
        }

        private Object call(String method, String path, Object body, Duration timeout) {
            return sim.control(method, path, body, id, timeout);
        }
    }

    // ------------------------------------------------------------------ HTTP

    Object control(String method, String path, Object body, String sandbox, Duration timeout) {
        return Control.send(http, httpUrl, controlToken, method, path, body, sandbox, timeout);
    }

    Map<String, Object> certCall(String token) {
        HttpClient client;
        synchronized (this) {
            if (https == null) {
                https = Control.tlsClient(sslContext());
            }
            client = https;
        }
        return Control.cert(client, cusUrl, token, CERT_TIMEOUT);
    }
}
