package benecafe.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * What a started simulator promises beyond the protocol: the cert call trusts only the CA it was
 * given, and the simulator never outlives the JVM that started it, even a JVM killed outright.
 *
 * <p>Why this file exists: both are easy to break without any other test noticing (a trust-all
 * manager still redeems tokens; a simulator left running still passes every test), and both need
 * simulators of their own: a second one for a foreign CA, one in a child JVM to kill.
 */
@ExtendWith(BenecafeSimExtension.class)
class StartedSimulatorTest {
    private static final String NO_BINARY = "no benecafe-sim to start (BENECAFE_SIM_BIN unset, none on PATH)";

    @Test
    void theCertCallRefusesACaItWasNotGiven(BenecafeSim sim, BenecafeSim.Sandbox sandbox) throws Exception {
        assumeTrue(ExtensionTest.binaryAvailable(), NO_BINARY);
        try (BenecafeSim second = BenecafeSim.start()) {
            assertNotEquals(Files.readString(sim.caPath()).trim(), Files.readString(second.caPath()).trim(),
                    "two simulators, two CAs");
            // the first simulator's URLs (control API and CUS_URL), the second one's CA
            BenecafeSim misled = sim.trustingOnly(second.caPath());
            try (BenecafeSim.Sandbox wrong = misled.sandbox()) {
                String token = (String) wrong.gate("J01A00038745", "VR000216").get("otpToken");
                SimException refused = assertThrows(SimException.class, () -> wrong.cert(token),
                        "a certificate the CA did not sign is refused");
                assertTrue(causedBy(refused, SSLHandshakeException.class), "a refused handshake: " + refused);
                // the handshake ended before any request: the token is still unused, and the cert
                // endpoint finds its sandbox from the token alone
                Map<String, Object> answer = sandbox.cert(token);
                assertEquals("OK", answer.get("resultCode"), answer.toString());
                Map<String, String> filters = new LinkedHashMap<>();
                filters.put("endpoint", "cert");
                filters.put("token", token);
                List<Map<String, Object>> calls = wrong.journal(filters);
                assertEquals(1, calls.size(), "the one call that reached the simulator: " + calls);
                assertEquals("OK", calls.get(0).get("resultCode"));
            }
        }
    }

    @Test
    void aStartedSimulatorEndsWithItsJvmEvenWhenThatJvmIsKilled() throws Exception {
        assumeTrue(ExtensionTest.binaryAvailable(), NO_BINARY);
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "-cp", childClassPath(), SimulatorInChildJvm.class.getName())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        ProcessHandle simulator = null;
        Path caPath = null;
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            String line = CompletableFuture.supplyAsync(() -> {
                try {
                    return out.readLine();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).get(90, TimeUnit.SECONDS);
            assertNotNull(line, "the child JVM ended without starting a simulator (its errors are above)");
            String[] where = line.trim().split(" ");
            assertEquals(3, where.length, line);
            caPath = Paths.get(where[2]);
            long pid = Long.parseLong(where[0]);
            simulator = ProcessHandle.of(pid).orElse(null);
            assertNotNull(simulator, "no process " + pid);
            assertEquals(child.pid(), simulator.parent().map(ProcessHandle::pid).orElse(-1L).longValue(), "the child JVM's own simulator");
            assertTrue(BenecafeSim.connect(where[1], "").cusUrl().startsWith("https://"), "it answers");

            child.destroyForcibly(); // SIGKILL: no shutdown hook runs in the child
            assertTrue(child.waitFor(10, TimeUnit.SECONDS), "the child JVM was killed");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (running(simulator) && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertFalse(running(simulator), "the simulator (pid " + pid + ") outlived its killed JVM by 15 s");
        } finally {
            child.destroyForcibly();
            if (simulator != null && simulator.isAlive()) {
                simulator.destroyForcibly(); // the handle checks the start time: never another process
                simulator.onExit().get(10, TimeUnit.SECONDS);
            }
            removeTempFolder(caPath);
        }
    }

    // ------------------------------------------------------------------ helpers

    private static boolean causedBy(Throwable e, Class<? extends Throwable> type) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
        }
        return false;
    }

    /**
     * This JVM's class path and where the classes the child needs were loaded from: the JUnit
     * console launcher loads the tests from its own {@code --class-path}, not from
     * {@code java.class.path}.
     */
    private static String childClassPath() throws Exception {
        Set<String> entries = new LinkedHashSet<>();
        for (Class<?> c : new Class<?>[] {SimulatorInChildJvm.class, BenecafeSim.class, ObjectMapper.class,
                JsonFactory.class, JsonProperty.class}) {
            entries.add(Paths.get(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString());
        }
        for (String e : System.getProperty("java.class.path", "").split(File.pathSeparator)) {
            if (!e.isEmpty()) {
                entries.add(e);
            }
        }
        return String.join(File.pathSeparator, entries);
    }

    /** Alive and not a zombie (an ended process its new parent has not reaped yet). */
    private static boolean running(ProcessHandle process) {
        if (!process.isAlive()) {
            return false;
        }
        try {
            String stat = new String(Files.readAllBytes(Paths.get("/proc", String.valueOf(process.pid()), "stat")),
                    StandardCharsets.UTF_8);
            return !stat.substring(stat.lastIndexOf(')') + 1).trim().startsWith("Z");
        } catch (IOException | RuntimeException noProc) {
            return process.isAlive(); // not Linux, or gone meanwhile
        }
    }

    /** The killed child's simulator left its temp folder ({@code <tmp>/benecafe-sim-*}): removed here. */
    private static void removeTempFolder(Path caPath) throws IOException {
        Path tmp = Paths.get(System.getProperty("java.io.tmpdir")).toRealPath();
        for (Path dir = caPath; dir != null; dir = dir.getParent()) {
            if (dir.getFileName() != null && dir.getFileName().toString().startsWith("benecafe-sim-")
                    && dir.getParent() != null && Files.isDirectory(dir) && dir.getParent().toRealPath().equals(tmp)) {
                try (Stream<Path> paths = Files.walk(dir)) {
                    for (Path p : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
                        Files.deleteIfExists(p);
                    }
                }
                return;
            }
        }
    }
}
