package benecafe.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import java.io.File;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;

/**
 * The helper's own behaviour beyond the shared cases: what the extension injects and when it
 * cleans up, connecting to a running simulator, errors, redirects (never followed), and a start
 * that fails.
 *
 * <p>Why this file exists: {@link CasesTest} proves the helper speaks the protocol like the
 * Python and Node ones; this class proves the JUnit lifecycle (one simulator per class, a fresh
 * sandbox per test, removed afterwards) and the error paths a partner's suite relies on.
 */
@ExtendWith(BenecafeSimExtension.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ExtensionTest {
    private static BenecafeSim firstSim;
    private static String firstSandboxId;
    private BenecafeSim.Sandbox fromBeforeEach;

    @BeforeEach
    void remember(BenecafeSim.Sandbox sandbox) {
        fromBeforeEach = sandbox;
    }

    @Test
    @Order(1)
    void parametersAreInjected(BenecafeSim sim, BenecafeSim.Sandbox sandbox) {
        assertNotNull(sim);
        assertTrue(sim.cusUrl().startsWith("https://"), sim.cusUrl());
        assertTrue(sim.httpUrl().startsWith("http://"), sim.httpUrl());
        assertTrue(Files.isRegularFile(sim.caPath()), "caPath " + sim.caPath());
        assertTrue(sandbox.id().matches("[0-9a-f]{16}"), sandbox.id());
        assertSame(sandbox, fromBeforeEach, "@BeforeEach and the test share the test's sandbox");
        firstSim = sim;
        firstSandboxId = sandbox.id();
    }

    @Test
    @Order(2)
    void aSecondTestGetsTheSameSimulatorAndAnotherSandbox(BenecafeSim sim, BenecafeSim.Sandbox sandbox) throws Exception {
        assumeTrue(firstSim != null, "the first test ran");
        assertSame(firstSim, sim);
        assertNotEquals(firstSandboxId, sandbox.id());
        // the first test's sandbox was removed after it
        SimException gone = assertThrows(SimException.class,
                () -> sandbox.request("GET", "/_sim/api/sandboxes/" + firstSandboxId, null));
        assertEquals(404, gone.status());
        assertTrue(gone.error().contains(firstSandboxId), gone.error());
        // and the same through a plain client, without the helper
        HttpResponse<String> plain = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create(sim.httpUrl() + "/_sim/api/sandboxes/" + firstSandboxId))
                        .headers(authHeader()).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(404, plain.statusCode(), plain.body());
    }

    @Test
    void aClosedSandboxAnswers404AndClosesTwice(BenecafeSim sim, BenecafeSim.Sandbox sandbox) {
        BenecafeSim.Sandbox other = sim.sandbox(Collections.singletonMap("name", "closed early"));
        assertNotEquals(sandbox.id(), other.id());
        assertTrue(sandbox.request("GET", "/_sim/api/sandboxes/" + other.id(), null) instanceof Map);
        other.close();
        other.close();
        SimException e = assertThrows(SimException.class,
                () -> sandbox.request("GET", "/_sim/api/sandboxes/" + other.id(), null));
        assertEquals(404, e.status());
        SimException inside = assertThrows(SimException.class, other::members);
        assertEquals(404, inside.status());
    }

    @Test
    void connectingToAStartedOneLearnsTheSameUrls(BenecafeSim sim) throws Exception {
        BenecafeSim connected = BenecafeSim.connect(sim.httpUrl() + "/", null);
        try {
            assertEquals(sim.cusUrl(), connected.cusUrl());
            assertEquals(sim.httpUrl(), connected.httpUrl());
            assertEquals(Files.readString(sim.caPath()).trim(), Files.readString(connected.caPath()).trim());
            try (BenecafeSim.Sandbox sandbox = connected.sandbox()) {
                Map<String, Object> gate = sandbox.gate("J01A00038745", "VR000216");
                assertEquals("OK", sandbox.cert((String) gate.get("otpToken")).get("resultCode"));
            }
        } finally {
            connected.close();
        }
        // closing a connected one leaves the simulator running
        try (BenecafeSim.Sandbox after = sim.sandbox()) {
            assertTrue(after.members().size() > 0);
        }
    }

    /** Behind a proxy the simulator names a URL this process cannot reach: httpUrl is the URL given. */
    @Test
    void connectKeepsTheUrlGivenAndADefaultFlagGivenIsTakenOnce() throws Exception {
        assumeTrue(binaryAvailable(), "no benecafe-sim to start (BENECAFE_SIM_BIN unset, none on PATH)");
        Path dir = Files.createTempDirectory("benecafe-sim-test-");
        Path ready = dir.resolve("ready.json");
        String token = "a-token-of-this-test-0123456789";
        try (BenecafeSim own = BenecafeSim.start("--public-http-url", "http://sim.example.invalid:1234", "--control-token",
                token, "--ready-file", ready.toString(), "--log", "info", "--stop-when-stdin-closes")) {
            assertEquals("http://sim.example.invalid:1234", own.httpUrl());
            String url = "http://" + ((Map<?, ?>) new ObjectMapper().readValue(ready.toFile(), Map.class)).get("httpAddr");
            BenecafeSim reached = BenecafeSim.connect(url + "/", token);
            assertEquals(url, reached.httpUrl(), "the URL given, its trailing slash trimmed");
            try (BenecafeSim.Sandbox sandbox = reached.sandbox()) {
                assertTrue(sandbox.members().size() > 0);
            }
        } finally {
            try (Stream<Path> paths = Files.walk(dir)) {
                for (Path p : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** The bearer token goes where it was sent only: a redirect is an answer, not followed. */
    @Test
    void noControlCallFollowsARedirect() throws Exception {
        List<String> seen = new CopyOnWriteArrayList<>();
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", exchange -> {
            String path = exchange.getRequestURI().getPath();
            seen.add(path + " " + exchange.getRequestHeaders().getFirst("Authorization"));
            byte[] body = "{\"cusUrl\":\"https://localhost:1\",\"id\":\"x\"}".getBytes(StandardCharsets.UTF_8);
            if (path.startsWith("/elsewhere")) {
                exchange.getResponseHeaders().set("Content-Type", "application/json");
                exchange.sendResponseHeaders(200, body.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            } else {
                exchange.getResponseHeaders().set("Location", "/elsewhere" + path);
                exchange.sendResponseHeaders(307, -1);
            }
            exchange.close();
        });
        server.start();
        try {
            String url = "http://127.0.0.1:" + server.getAddress().getPort();
            SimException e = assertThrows(SimException.class, () -> BenecafeSim.connect(url, "a-token"));
            assertEquals(307, e.status(), e.getMessage());
            assertEquals(Collections.singletonList("/_sim/version Bearer a-token"), seen);
        } finally {
            server.stop(0);
        }
    }

    /** A sandbox where no test method is known ({@code @BeforeAll}, a constructor) would be shared. */
    @Test
    void aSandboxOutsideATestMethodIsRefused() throws Exception {
        Method beforeAll = ExtensionTest.class.getDeclaredMethod("likeABeforeAll", BenecafeSim.Sandbox.class);
        ParameterContext parameter = (ParameterContext) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {ParameterContext.class}, (proxy, method, args) -> {
                    switch (method.getName()) {
                        case "getParameter":
                            return beforeAll.getParameters()[0];
                        case "getDeclaringExecutable":
                            return beforeAll;
                        default:
                            throw new UnsupportedOperationException(method.getName());
                    }
                });
        ExtensionContext classLevel = (ExtensionContext) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {ExtensionContext.class}, (proxy, method, args) -> {
                    if (method.getName().equals("getTestMethod")) {
                        return Optional.empty();
                    }
                    throw new UnsupportedOperationException(method.getName() + ": no store may be asked");
                });
        BenecafeSimExtension extension = new BenecafeSimExtension();
        assertTrue(extension.supportsParameter(parameter, classLevel));
        ParameterResolutionException e = assertThrows(ParameterResolutionException.class,
                () -> extension.resolveParameter(parameter, classLevel));
        assertTrue(e.getMessage().contains("@BeforeEach") && e.getMessage().contains("sim.sandbox()"), e.getMessage());
    }

    @SuppressWarnings("unused") // its parameter is what aSandboxOutsideATestMethodIsRefused asks for
    private static void likeABeforeAll(BenecafeSim.Sandbox sandbox) {
    }

    @Test
    void aControlApiErrorCarriesTheStatusAndTheBodysError(BenecafeSim.Sandbox sandbox) {
        SimException e = assertThrows(SimException.class, () -> sandbox.request("POST", "/_sim/api/gate", new LinkedHashMap<>()));
        assertEquals(400, e.status());
        assertTrue(e.error().contains("cmpyCd"), e.error());
        assertTrue(e.getMessage().contains("POST /_sim/api/gate") && e.getMessage().contains("400"), e.getMessage());
        SimException noMember = assertThrows(SimException.class, () -> sandbox.gate("NOBODY", "VR000216"));
        assertTrue(noMember.getMessage().contains("NOBODY"), noMember.getMessage());
        assertEquals(404, noMember.status(), "a member not in the sandbox: 404");
        assertNull(sandbox.request("DELETE", "/_sim/api/faults", null), "204: null");
    }

    @Test
    void aCertBodyThatIsNotJsonThrowsNamingTheStatus(BenecafeSim.Sandbox sandbox) {
        Map<String, Object> http500 = new LinkedHashMap<>();
        http500.put("endpoint", "cert");
        http500.put("count", 1);
        http500.put("kind", "http500");
        sandbox.fault(http500);
        Map<String, Object> malformed = new LinkedHashMap<>(http500);
        malformed.put("kind", "malformed");
        sandbox.fault(malformed);
        String token = (String) sandbox.gate("J01A00038745", "VR000216").get("otpToken");
        SimException first = assertThrows(SimException.class, () -> sandbox.cert(token));
        assertEquals(500, first.status());
        assertTrue(first.getMessage().contains("HTTP 500"), first.getMessage());
        SimException second = assertThrows(SimException.class, () -> sandbox.cert(token));
        assertTrue(second.getMessage().contains("HTTP 200"), second.getMessage());
        Map<String, String> filters = new LinkedHashMap<>();
        filters.put("endpoint", "cert");
        filters.put("token", token);
        List<Map<String, Object>> calls = sandbox.journal(filters);
        assertEquals(2, calls.size(), calls.toString());
        assertEquals("HTTP 500", calls.get(0).get("fault"));
    }

    @Test
    void aStartThatFailsCarriesTheProcessOutput() {
        assumeTrue(binaryAvailable(), "no benecafe-sim to start (BENECAFE_SIM_BIN unset, none on PATH)");
        SimException e = assertThrows(SimException.class,
                () -> BenecafeSim.start("--control-token", "a-secret", "--no-such-flag"));
        String message = e.getMessage();
        assertTrue(message.contains("before it was ready"), message);
        int output = message.indexOf("its last output:");
        assertTrue(output > 0 && message.substring(output).contains("--no-such-flag"), "the process's own words: " + message);
        assertFalse(message.contains("a-secret"), "the control token is not shown: " + message);
        assertTrue(message.substring(0, output).contains("--stop-when-stdin-closes"), message);
    }

    @Test
    void aStartedOneWithAControlTokenSendsIt() {
        assumeTrue(binaryAvailable(), "no benecafe-sim to start (BENECAFE_SIM_BIN unset, none on PATH)");
        try (BenecafeSim guarded = BenecafeSim.start("--control-token", "java-helper-test-token")) {
            try (BenecafeSim.Sandbox sandbox = guarded.sandbox()) {
                assertTrue(sandbox.members().size() > 0);
            }
            BenecafeSim wrong = BenecafeSim.connect(guarded.httpUrl(), "not-the-token");
            SimException e = assertThrows(SimException.class, wrong::sandbox);
            assertEquals(401, e.status());
            BenecafeSim right = BenecafeSim.connect(guarded.httpUrl(), "java-helper-test-token");
            try (BenecafeSim.Sandbox sandbox = right.sandbox()) {
                assertEquals(sandbox.id(), ((Map<?, ?>) sandbox.request("GET", "/_sim/api/sandboxes/" + sandbox.id(), null)).get("id"));
            }
        }
    }

    static boolean binaryAvailable() {
        String bin = System.getenv("BENECAFE_SIM_BIN");
        if (bin != null && !bin.isEmpty()) {
            return true;
        }
        String path = System.getenv("PATH");
        return path != null && Arrays.stream(path.split(File.pathSeparator))
                .anyMatch(dir -> !dir.isEmpty() && new File(dir, "benecafe-sim").canExecute());
    }

    private static String[] authHeader() {
        String token = System.getenv("SIM_CONTROL_TOKEN");
        return token == null || token.isEmpty() ? new String[] {"Accept", "application/json"}
                : new String[] {"Authorization", "Bearer " + token};
    }
}
