// The reference Java partner (Partner.java, in this folder) tested the way a partner tests its own
// GATE receiver: JUnit Jupiter, the benecafe-sim helper (clients/java) injecting the simulator and
// a sandbox per test, and an HttpClient with a cookie jar playing the member's browser.
// Built and run by `clients/java/build.sh --examples`; needs JDK 17 to run Partner.java.
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import benecafe.sim.BenecafeSim;
import benecafe.sim.BenecafeSimExtension;
import java.io.IOException;
import java.net.CookieManager;
import java.net.CookiePolicy;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The reference partner's STEP1 (GATE, cert call, login) against the simulator.
 *
 * <p>Why this file exists: it is the example of a partner's own test suite using the Java helper,
 * run against the Java reference partner. The partner is started once for the class (on a free
 * port, trusting the simulator's CA, with the shipped vendor's AES-128-CBC parameter encryption);
 * each test registers it as vendor VR000301 in its own sandbox, issues GATEs through the control
 * API, posts their fields as the member's browser would, and reads the journal to see what the
 * partner's server did.
 */
@ExtendWith(BenecafeSimExtension.class)
class PartnerTest {
    static final String VENDOR = "VR000301";
    static final String MEMBER = "J01A00038745";
    static final String SCHEME = "AES-128-CBC";
    static final String KEY = "62656e65636166652d73696d2d6b6579";

    static Process partner;
    static int port;
    static Path partnerLog;

    @BeforeAll
    static void startPartner(BenecafeSim sim) throws Exception {
        Path source = partnerSource();
        port = freePort();
        partnerLog = Files.createTempFile("benecafe-partner-", ".log");
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder builder = new ProcessBuilder(java, source.toString()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.to(partnerLog.toFile()));
        Map<String, String> env = builder.environment();
        env.put("PORT", String.valueOf(port));
        env.put("VNDR_NO", VENDOR);
        env.put("SIM_CA", sim.caPath().toString());
        env.put("PARAM_ENC_SCHEME", SCHEME);
        env.put("PARAM_ENC_KEY", KEY);
        partner = builder.start();
        Process started = partner;
        // stopped when this JVM exits; unlike the simulator (--stop-when-stdin-closes), a JVM killed
        // outright leaves it running, as Partner.java does not watch its standard input
        Runtime.getRuntime().addShutdownHook(new Thread(started::destroyForcibly));
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try {
                HttpResponse<String> res = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/whoami"))
                        .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
                if (res.statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // still compiling or binding
            }
            if (!partner.isAlive()) {
                fail("the partner ended with status " + partner.exitValue() + ":\n" + Files.readString(partnerLog));
            }
            if (System.nanoTime() > deadline) {
                fail("the partner did not answer /whoami within 60 s:\n" + Files.readString(partnerLog));
            }
            Thread.sleep(100);
        }
    }

    @AfterAll
    static void stopPartner() throws Exception {
        if (partner != null) {
            partner.destroy();
            if (!partner.waitFor(10, TimeUnit.SECONDS)) {
                partner.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
        if (partnerLog != null) {
            Files.deleteIfExists(partnerLog);
        }
    }

    /** Each test's sandbox sends VR000301's GATE to this partner. */
    @BeforeEach
    void registerPartner(BenecafeSim.Sandbox sandbox) {
        String base = "http://localhost:" + port;
        Map<String, Object> encryption = new LinkedHashMap<>();
        encryption.put("scheme", SCHEME);
        encryption.put("key", KEY);
        Map<String, Object> vendor = new LinkedHashMap<>();
        vendor.put("vndrNo", VENDOR);
        vendor.put("vndrItwkInfoNo", "415");
        vendor.put("name", "reference partner (Java)");
        vendor.put("gateUrl", base + "/gate");
        vendor.put("directUrlBase", base);
        vendor.put("whoamiUrl", base + "/whoami");
        vendor.put("allowedIps", Arrays.asList("127.0.0.1", "::1"));
        vendor.put("tokenTtlSeconds", 600);
        vendor.put("paramEncryption", encryption);
        sandbox.putVendor(vendor);
    }

    // ANCHOR: first_visit
    @Test
    void firstVisitLogsTheMemberIn(BenecafeSim.Sandbox sandbox) throws Exception {
        Map<String, Object> gate = sandbox.gate(MEMBER, VENDOR, "agree", Map.of("forceMemberFields", true));
        assertEquals(MEMBER, plainFields(gate).get("CFM_CUS_ID"), "a first visit carries the member");
        assertPostingLogsTheMemberIn(sandbox, gate);
    }
    // ANCHOR_END: first_visit

    @Test
    void laterVisitWithoutMemberFieldsLogsTheMemberIn(BenecafeSim.Sandbox sandbox) throws Exception {
        Map<String, Object> first = sandbox.gate(MEMBER, VENDOR, "agree", Map.of("forceMemberFields", true));
        assertEquals(303, new Browser().post(first).statusCode());
        Map<String, Object> later = sandbox.gate(MEMBER, VENDOR, "agree");
        assertFalse(plainFields(later).containsKey("CFM_CUS_ID"), "a later visit carries no member fields: " + plainFields(later));
        assertPostingLogsTheMemberIn(sandbox, later);
    }

    @Test
    void theSameFieldsTwiceMeet404AndNobodyIsLoggedIn(BenecafeSim.Sandbox sandbox) throws Exception {
        Map<String, Object> gate = sandbox.gate(MEMBER, VENDOR, "agree");
        Browser browser = new Browser();
        assertEquals(303, browser.post(gate).statusCode());
        HttpResponse<String> again = browser.post(gate);
        assertTrue(again.statusCode() < 500, "the second post answered " + again.statusCode());
        assertEquals(List.of("OK", "404"), certCalls(sandbox, gate));
        assertEquals("", browser.whoami());
    }

    @Test
    void theConformanceKitPasses(BenecafeSim.Sandbox sandbox) {
        Map<String, Object> report = sandbox.conform(VENDOR);
        List<?> cases = (List<?>) report.get("cases");
        String notPassed = cases.stream().map(c -> (Map<?, ?>) c).filter(c -> !"pass".equals(c.get("status")))
                .map(c -> c.get("id") + " " + c.get("status") + ": " + c.get("happened")).collect(Collectors.joining("\n"));
        assertEquals(0, ((Number) report.get("failed")).intValue(), notPassed);
        assertTrue(((Number) report.get("passed")).intValue() > 0, report.toString());
    }

    // ------------------------------------------------------------------ helpers

    /** The member's browser: a cookie jar, no redirects followed. */
    static final class Browser {
        final HttpClient client = HttpClient.newBuilder().cookieHandler(new CookieManager(null, CookiePolicy.ACCEPT_ALL))
                .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(Duration.ofSeconds(10)).build();

        /** Posts the GATE's fields to its gateUrl, form-urlencoded in UTF-8, as the mall's page does. */
        HttpResponse<String> post(Map<String, Object> gate) throws Exception {
            Map<?, ?> fields = (Map<?, ?>) gate.get("fields");
            String form = fields.entrySet().stream()
                    .map(e -> URLEncoder.encode(String.valueOf(e.getKey()), StandardCharsets.UTF_8) + "="
                            + URLEncoder.encode(String.valueOf(e.getValue()), StandardCharsets.UTF_8))
                    .collect(Collectors.joining("&"));
            return client.send(HttpRequest.newBuilder(URI.create((String) gate.get("gateUrl"))).timeout(Duration.ofSeconds(30))
                    .header("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
                    .POST(HttpRequest.BodyPublishers.ofString(form, StandardCharsets.UTF_8)).build(),
                    HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        }

        /** Who the partner says is logged in, with this browser's cookie: the custId, or "". */
        String whoami() throws Exception {
            HttpResponse<String> res = client.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/whoami"))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            assertEquals(200, res.statusCode(), res.body());
            return res.body();
        }
    }

    // ANCHOR: posting
    /**
     * Posts the GATE's fields from a fresh browser and checks that the partner logged the member in:
     * it answered 303, made one cert call with the GATE's token (answered OK), and its /whoami names
     * the member for that browser's cookie.
     */
    private static void assertPostingLogsTheMemberIn(BenecafeSim.Sandbox sandbox, Map<String, Object> gate) throws Exception {
        Browser browser = new Browser();
        HttpResponse<String> answer = browser.post(gate);
        assertEquals(303, answer.statusCode(), answer.body());
        assertEquals(List.of("OK"), certCalls(sandbox, gate));
        assertEquals(MEMBER, browser.whoami());
    }
    // ANCHOR_END: posting

    /** The resultCodes of the cert calls made with the GATE's token, oldest first. */
    static List<String> certCalls(BenecafeSim.Sandbox sandbox, Map<String, Object> gate) {
        Map<String, String> filters = new LinkedHashMap<>();
        filters.put("endpoint", "cert");
        filters.put("token", (String) gate.get("otpToken"));
        return sandbox.journal(filters).stream().map(e -> String.valueOf(e.get("resultCode"))).collect(Collectors.toList());
    }

    static Map<?, ?> plainFields(Map<String, Object> gate) {
        return (Map<?, ?>) gate.get("plainFields");
    }

    /** Partner.java: -Dbenecafe.partner, else examples/java/Partner.java from the working directory upwards. */
    static Path partnerSource() {
        String given = System.getProperty("benecafe.partner");
        if (given != null && !given.isEmpty()) {
            return Paths.get(given);
        }
        for (Path dir = Paths.get("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path p = dir.resolve("examples").resolve("java").resolve("Partner.java");
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        return fail("examples/java/Partner.java not found; give -Dbenecafe.partner=<path>");
    }

    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
