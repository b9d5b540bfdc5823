package benecafe.sim;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Runs a simulator process of this test run's own for {@link BenecafeSim#start(String...)}: the
 * command line, the temp folder, the wait for the ready file, and stopping it again.
 *
 * <p>Why this file exists: starting and stopping a child process (flags, temp files, shutdown hook,
 * the log's last lines for a message) is a concern of its own, apart from what a simulator offers
 * once it runs; kept here, {@link BenecafeSim} stays the readable public face of the helper.
 */
final class Launcher {
    private static final long READY_TIMEOUT_MS = 60_000;
    private static final long READY_POLL_MS = 50;
    private static final int LOG_TAIL_LINES = 25;

    private Launcher() {
    }

    /** A simulator process that is ready: what {@link #launch(List)} hands to {@link BenecafeSim}. */
    static final class Started {
        /** The running process. */
        final Process process;
        /**
         * Its standard input: a pipe held open and never written. When this JVM ends, however it
         * ends, the pipe closes and the simulator ({@code --stop-when-stdin-closes}) stops by itself.
         */
        final OutputStream stdin;
        /** Its temp folder (data, ready file, log), removed when it is stopped. */
        final Path tempDir;
        /** The shutdown hook that stops it when the JVM exits. */
        final Thread hook;
        /** Its ready file: {@code cusUrl}, {@code httpUrl}, {@code caPath} ... */
        final Map<String, Object> ready;

        private Started(Process process, OutputStream stdin, Path tempDir, Thread hook, Map<String, Object> ready) {
            this.process = process;
            this.stdin = stdin;
            this.tempDir = tempDir;
            this.hook = hook;
            this.ready = ready;
        }
    }

    /**
     * Starts the simulator as {@link BenecafeSim#start(String...)} says and waits for its ready file.
     *
     * @param given the caller's flags
     * @return the ready process
     * @throws SimException when it cannot be run, ends before it is ready, or is not ready in time
     */
    static Started launch(List<String> given) {
        String bin = env("BENECAFE_SIM_BIN");
        if (bin == null) {
            bin = "benecafe-sim";
        }
        Path tmp;
        try {
            tmp = Files.createTempDirectory("benecafe-sim-");
        } catch (IOException e) {
            throw new SimException(0, null, "cannot make a temp folder for the simulator: " + e, e);
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(bin);
        Path ready;
        try {
            if (!hasFlag(given, "--data-dir")) {
                Path data = Files.createDirectories(tmp.resolve("data"));
                cmd.add("--data-dir");
                cmd.add(data.toString());
            }
            if (!hasFlag(given, "--https-addr")) {
                cmd.add("--https-addr");
                cmd.add("127.0.0.1:0");
            }
            if (!hasFlag(given, "--http-addr")) {
                cmd.add("--http-addr");
                cmd.add("127.0.0.1:0");
            }
            String readyGiven = flagValue(given, "--ready-file");
            ready = readyGiven != null ? Paths.get(readyGiven) : tmp.resolve("ready.json");
            if (readyGiven == null) {
                cmd.add("--ready-file");
                cmd.add(ready.toString());
            }
            Files.deleteIfExists(ready); // a stale file must not pass for this process's
            if (!hasFlag(given, "--log")) {
                cmd.add("--log");
                cmd.add("warn");
            }
            if (!hasFlag(given, "--stop-when-stdin-closes")) {
                cmd.add("--stop-when-stdin-closes");
            }
        } catch (IOException e) {
            deleteTree(tmp);
            throw new SimException(0, null, "cannot prepare the simulator's temp folder " + tmp + ": " + e, e);
        }
        cmd.addAll(given);
        Path log = tmp.resolve("simulator.log");
        Process process;
        try {
            ProcessBuilder builder = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.to(log.toFile()));
            builder.environment().keySet().removeIf(name -> name.startsWith("SIM_"));
            process = builder.start();
        } catch (IOException e) {
            deleteTree(tmp);
            throw new SimException(0, null, "cannot run " + bin + ": " + e.getMessage()
                    + " (set BENECAFE_SIM_BIN to the binary, or put benecafe-sim on PATH)", e);
        }
        // never outlives the JVM: the hook stops it at an orderly exit, and its standard input (a
        // pipe only this JVM holds, never written) reaches its end when the JVM is killed
        OutputStream stdin = process.getOutputStream();
        Thread hook = new Thread(() -> stopProcess(process, stdin, tmp), "benecafe-sim-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        String shown = shown(cmd);
        Map<String, Object> info = null;
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(READY_TIMEOUT_MS);
        try {
            while (info == null) {
                info = readReady(ready);
                if (info != null) {
                    break;
                }
                if (!process.isAlive()) {
                    String tail = tail(log);
                    removeHook(hook);
                    closeQuietly(stdin);
                    deleteTree(tmp);
                    throw new SimException(0, null, "benecafe-sim ended with status " + process.exitValue()
                            + " before it was ready (" + shown + "); its last output:\n" + tail);
                }
                if (System.nanoTime() > deadline) {
                    String tail = tail(log);
                    removeHook(hook);
                    stopProcess(process, stdin, tmp);
                    throw new SimException(0, null, "benecafe-sim was not ready within " + READY_TIMEOUT_MS / 1000
                            + " s (" + shown + "); its last output:\n" + tail);
                }
                Thread.sleep(READY_POLL_MS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            removeHook(hook);
            stopProcess(process, stdin, tmp);
            throw new SimException(0, null, "interrupted while waiting for benecafe-sim to be ready", e);
        }
        return new Started(process, stdin, tmp, hook, info);
    }

    private static Map<String, Object> readReady(Path ready) {
        if (!Files.isRegularFile(ready)) {
            return null;
        }
        try {
            Object info = Control.JSON.readValue(ready.toFile(), Object.class);
            if (info instanceof Map && ((Map<?, ?>) info).get("cusUrl") != null && ((Map<?, ?>) info).get("httpUrl") != null) {
                @SuppressWarnings("unchecked")
                Map<String, Object> map = (Map<String, Object>) info;
                return map;
            }
        } catch (IOException halfWritten) {
            // read again at the next poll
        }
        return null;
    }

    /**
     * Stops the process: closes its standard input (the simulator stops by itself), sends SIGTERM,
     * waits 10 s for it to end, then SIGKILL; removes {@code tempDir} when not null.
     */
    static void stopProcess(Process process, OutputStream stdin, Path tempDir) {
        closeQuietly(stdin);
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        if (tempDir != null) {
            deleteTree(tempDir);
        }
    }

    private static void closeQuietly(OutputStream stdin) {
        try {
            stdin.close();
        } catch (IOException alreadyGone) {
            // the process ended: nothing reads the pipe
        }
    }

    static void removeHook(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or about to: it stops the process
        }
    }

    /** The command line for a message, the control token's value hidden. */
    private static String shown(List<String> cmd) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < cmd.size(); i++) {
            String a = cmd.get(i);
            if (a.startsWith("--control-token=")) {
                out.add("--control-token=***");
            } else {
                out.add(i > 0 && "--control-token".equals(cmd.get(i - 1)) ? "***" : a);
            }
        }
        return String.join(" ", out);
    }

    private static String tail(Path log) {
        try {
            String[] lines = new String(Files.readAllBytes(log), StandardCharsets.UTF_8).split("\\R");
            int from = Math.max(0, lines.length - LOG_TAIL_LINES);
            return String.join("\n", Arrays.asList(lines).subList(from, lines.length));
        } catch (IOException e) {
            return "(no output: " + e + ")";
        }
    }

    private static void deleteTree(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort: a temp folder
                }
            });
        } catch (IOException ignored) {
            // best effort
        }
    }

    private static boolean hasFlag(List<String> args, String flag) {
        for (String a : args) {
            if (a != null && (a.equals(flag) || a.startsWith(flag + "="))) {
                return true;
            }
        }
        return false;
    }

    /** The value of {@code flag} in {@code args} ({@code --flag value} or {@code --flag=value}), else null. */
    static String flagValue(List<String> args, String flag) {
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a == null) {
                continue;
            }
            if (a.equals(flag) && i + 1 < args.size()) {
                return args.get(i + 1);
            }
            if (a.startsWith(flag + "=")) {
                return a.substring(flag.length() + 1);
            }
        }
        return null;
    }

    /** The environment variable {@code name}, null when it is unset or empty. */
    static String env(String name) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? null : v;
    }
}
