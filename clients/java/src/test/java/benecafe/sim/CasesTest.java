package benecafe.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.function.Executable;

/**
 * Runs the shared table {@code clients/cases.json}: one dynamic test per case, each in a sandbox
 * of its own (and a second one for steps {@code "in": "other"}), removed afterwards.
 *
 * <p>Why this file exists: the Python, Java and Node helpers all run that one table in their own
 * tests, so the three cannot drift apart. The table's {@code "about"} is the grammar this class
 * interprets: ops {@code gate}, {@code cert}, {@code journal}, {@code fault}, {@code members},
 * {@code put_member}; {@code "save"}; whole-string {@code ${name.path}} substitution (with
 * {@code sim.cusUrl}); checks {@code equals}, {@code matches}, {@code length}, {@code absent},
 * {@code includes}, {@code excludes} at a path ({@code '.'}-joined keys, list indexes, {@code '*'}
 * over every item, {@code ''} the whole answer).
 *
 * <p>The file is {@code -Dbenecafe.cases=<path>}, else {@code clients/cases.json} (or
 * {@code cases.json} in a {@code clients} folder) found from the working directory upwards.
 */
@ExtendWith(BenecafeSimExtension.class)
class CasesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern REFERENCE = Pattern.compile("^\\$\\{([^}]*)\\}$");
    private static final Pattern INDEX = Pattern.compile("\\d+");
    private static final List<String> CHECK_KINDS = Arrays.asList("equals", "matches", "length", "absent", "includes", "excludes");

    /** What a path that leads nowhere resolves to. */
    static final Object MISSING = new Object() {
        @Override
        public String toString() {
            return "(nothing)";
        }
    };

    @TestFactory
    List<DynamicTest> sharedCases(BenecafeSim sim) throws IOException {
        Path file = casesFile();
        Map<String, Object> table = map(JSON.readValue(file.toFile(), Object.class), "the table " + file);
        List<Object> cases = list(table.get("cases"), "the table's cases");
        assertFalse(cases.isEmpty(), "no cases in " + file);
        List<DynamicTest> tests = new ArrayList<>();
        for (Object c : cases) {
            Map<String, Object> theCase = map(c, "a case");
            String name = theCase.get("id") + ": " + theCase.get("title");
            tests.add(DynamicTest.dynamicTest(name, () -> runCase(sim, theCase)));
        }
        return tests;
    }

    // ------------------------------------------------------------------ the interpreter

    static void runCase(BenecafeSim sim, Map<String, Object> theCase) {
        String id = String.valueOf(theCase.get("id"));
        Map<String, Object> saved = new HashMap<>();
        Map<String, Object> simValues = new LinkedHashMap<>();
        simValues.put("cusUrl", sim.cusUrl());
        simValues.put("httpUrl", sim.httpUrl());
        saved.put("sim", simValues);
        BenecafeSim.Sandbox main = sim.sandbox(Collections.singletonMap("name", "java cases: " + id));
        BenecafeSim.Sandbox other = null;
        try {
            int n = 0;
            for (Object s : list(theCase.get("steps"), "the steps of " + id)) {
                n++;
                Map<String, Object> step = map(s, "a step of " + id);
                String op = String.valueOf(step.get("op"));
                String where = id + ", step " + n + " (" + op + ")";
                Object in = step.get("in");
                BenecafeSim.Sandbox sandbox;
                if (in == null || "main".equals(in)) {
                    sandbox = main;
                } else if ("other".equals(in)) {
                    if (other == null) {
                        other = sim.sandbox(Collections.singletonMap("name", "java cases: " + id + " (other)"));
                    }
                    sandbox = other;
                } else {
                    throw new AssertionError(where + ": unknown \"in\": " + in);
                }
                Object args = substitute(step.containsKey("args") ? step.get("args") : new LinkedHashMap<>(), saved, where);
                Object answer = perform(sandbox, op, map(args, where + " args"), where);
                if (step.get("save") != null) {
                    saved.put(String.valueOf(step.get("save")), answer);
                }
                if (step.get("expect") != null) {
                    List<Executable> checks = new ArrayList<>();
                    for (Object c : list(step.get("expect"), where + " expect")) {
                        Map<String, Object> check = map(substitute(c, saved, where), where + " check");
                        checks.add(() -> check(check, answer, where));
                    }
                    Assertions.assertAll(where, checks);
                }
            }
        } finally {
            try {
                if (other != null) {
                    other.close();
                }
            } finally {
                main.close();
            }
        }
    }

    static Object perform(BenecafeSim.Sandbox sandbox, String op, Map<String, Object> args, String where) {
        switch (op) {
            case "gate": {
                Object consent = args.containsKey("consent") ? args.get("consent") : "agree";
                Object opts = args.get("opts");
                return sandbox.gate(string(args.get("member"), where + " member"), string(args.get("vendor"), where + " vendor"),
                        consent == null ? null : consent.toString(), opts == null ? null : map(opts, where + " opts"));
            }
            case "cert":
                return sandbox.cert(string(args.get("token"), where + " token"));
            case "journal": {
                Map<String, String> filters = new LinkedHashMap<>();
                if (args.get("filters") != null) {
                    for (Map.Entry<String, Object> f : map(args.get("filters"), where + " filters").entrySet()) {
                        if (f.getValue() != null) {
                            filters.put(f.getKey(), f.getValue().toString());
                        }
                    }
                }
                return sandbox.journal(filters);
            }
            case "fault":
                return sandbox.fault(map(args.get("spec"), where + " spec"));
            case "members":
                return sandbox.members();
            case "put_member":
                return sandbox.putMember(map(args.get("record"), where + " record"));
            default:
                throw new AssertionError(where + ": unknown op " + op);
        }
    }

    /** A copy of the value with every string that is exactly {@code ${name.path}} replaced. */
    static Object substitute(Object value, Map<String, Object> saved, String where) {
        if (value instanceof String) {
            Matcher m = REFERENCE.matcher((String) value);
            if (!m.matches()) {
                return value;
            }
            String ref = m.group(1);
            int dot = ref.indexOf('.');
            String name = dot < 0 ? ref : ref.substring(0, dot);
            if (!saved.containsKey(name)) {
                throw new AssertionError(where + ": " + value + " names nothing saved (saved: " + saved.keySet() + ")");
            }
            Object found = at(saved.get(name), dot < 0 ? "" : ref.substring(dot + 1));
            if (found == MISSING) {
                throw new AssertionError(where + ": " + value + " leads nowhere in " + render(saved.get(name)));
            }
            return found;
        }
        if (value instanceof Map) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
                out.put(String.valueOf(e.getKey()), substitute(e.getValue(), saved, where));
            }
            return out;
        }
        if (value instanceof List) {
            List<Object> out = new ArrayList<>();
            for (Object item : (List<?>) value) {
                out.add(substitute(item, saved, where));
            }
            return out;
        }
        return value;
    }

    /**
     * The value at a path: keys joined by '.', a number indexes a list, '*' takes the rest of the
     * path of every item of a list (items where it leads nowhere are left out), '' the whole value.
     * {@link #MISSING} when the path leads nowhere.
     */
    static Object at(Object value, String path) {
        if (path.isEmpty()) {
            return value;
        }
        return at(value, Arrays.asList(path.split("\\.", -1)), 0);
    }

    private static Object at(Object value, List<String> segments, int i) {
        if (i == segments.size()) {
            return value;
        }
        String seg = segments.get(i);
        if (seg.equals("*")) {
            if (!(value instanceof List)) {
                return MISSING;
            }
            List<Object> all = new ArrayList<>();
            for (Object item : (List<?>) value) {
                Object found = at(item, segments, i + 1);
                if (found != MISSING) {
                    all.add(found);
                }
            }
            return all;
        }
        if (value instanceof Map) {
            Map<?, ?> m = (Map<?, ?>) value;
            return m.containsKey(seg) ? at(m.get(seg), segments, i + 1) : MISSING;
        }
        if (value instanceof List && INDEX.matcher(seg).matches()) {
            List<?> l = (List<?>) value;
            int index;
            try {
                index = Integer.parseInt(seg);
            } catch (NumberFormatException tooBig) {
                return MISSING;
            }
            return index < l.size() ? at(l.get(index), segments, i + 1) : MISSING;
        }
        return MISSING;
    }

    /** One check of a step's answer; throws an AssertionError saying what was expected and found. */
    static void check(Map<String, Object> check, Object answer, String where) {
        String path = check.get("at") == null ? "" : String.valueOf(check.get("at"));
        Object actual = at(answer, path);
        String kind = null;
        for (String k : CHECK_KINDS) {
            if (check.containsKey(k)) {
                if (kind != null) {
                    throw new AssertionError(where + ": a check with both " + kind + " and " + k + ": " + render(check));
                }
                kind = k;
            }
        }
        if (kind == null) {
            throw new AssertionError(where + ": a check of no known kind " + CHECK_KINDS + ": " + render(check));
        }
        Object expected = check.get(kind);
        String says = where + ": at '" + path + "' " + kind + " " + render(expected) + ", found " + render(actual);
        boolean ok;
        switch (kind) {
            case "equals":
                ok = actual != MISSING && jsonEquals(actual, expected);
                break;
            case "matches":
                ok = (actual instanceof String || actual instanceof Number || actual instanceof Boolean)
                        && Pattern.compile(String.valueOf(expected)).matcher(String.valueOf(actual)).find();
                break;
            case "length": {
                long length;
                if (actual instanceof List) {
                    length = ((List<?>) actual).size();
                } else if (actual instanceof Map) {
                    length = ((Map<?, ?>) actual).size();
                } else if (actual instanceof String) {
                    length = ((String) actual).codePointCount(0, ((String) actual).length());
                } else {
                    throw new AssertionError(says + " (no list, string or object: no length)");
                }
                ok = jsonEquals(length, expected);
                says += " of length " + length;
                break;
            }
            case "absent":
                ok = Boolean.TRUE.equals(expected) ? actual == MISSING : actual != MISSING;
                break;
            case "includes":
            case "excludes": {
                if (!(actual instanceof List)) {
                    throw new AssertionError(says + " (no list)");
                }
                boolean holds = false;
                for (Object item : (List<?>) actual) {
                    holds |= jsonEquals(item, expected);
                }
                ok = kind.equals("includes") == holds;
                break;
            }
            default:
                throw new AssertionError(where + ": unknown check " + kind);
        }
        if (!ok) {
            throw new AssertionError(says);
        }
    }

    /** JSON equality: numbers by value (1 equals 1.0), objects by their keys, lists in order. */
    static boolean jsonEquals(Object a, Object b) {
        if (a == null || b == null) {
            return a == b;
        }
        if (a instanceof Number && b instanceof Number) {
            return new BigDecimal(a.toString()).compareTo(new BigDecimal(b.toString())) == 0;
        }
        if (a instanceof List && b instanceof List) {
            List<?> x = (List<?>) a;
            List<?> y = (List<?>) b;
            if (x.size() != y.size()) {
                return false;
            }
            Iterator<?> i = x.iterator();
            Iterator<?> j = y.iterator();
            while (i.hasNext()) {
                if (!jsonEquals(i.next(), j.next())) {
                    return false;
                }
            }
            return true;
        }
        if (a instanceof Map && b instanceof Map) {
            Map<?, ?> x = (Map<?, ?>) a;
            Map<?, ?> y = (Map<?, ?>) b;
            if (!x.keySet().equals(y.keySet())) {
                return false;
            }
            for (Map.Entry<?, ?> e : x.entrySet()) {
                if (!jsonEquals(e.getValue(), y.get(e.getKey()))) {
                    return false;
                }
            }
            return true;
        }
        if (a instanceof String || a instanceof Boolean) {
            return a.equals(b);
        }
        return false;
    }

    static String render(Object value) {
        if (value == MISSING) {
            return "(nothing)";
        }
        try {
            String text = JSON.writeValueAsString(value);
            return text.length() <= 400 ? text : text.substring(0, 400) + "...";
        } catch (IOException e) { // JsonProcessingException; some builds declare IOException too
            return String.valueOf(value);
        }
    }

    static Path casesFile() {
        String given = System.getProperty("benecafe.cases");
        if (given != null && !given.isEmpty()) {
            Path p = Paths.get(given);
            assertTrue(Files.isRegularFile(p), "-Dbenecafe.cases=" + given + ": no such file");
            return p;
        }
        for (Path dir = Paths.get("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path inRepo = dir.resolve("clients").resolve("cases.json");
            if (Files.isRegularFile(inRepo)) {
                return inRepo;
            }
            Path here = dir.resolve("cases.json");
            if (dir.getFileName() != null && dir.getFileName().toString().equals("clients") && Files.isRegularFile(here)) {
                return here;
            }
        }
        return fail("clients/cases.json not found from " + Paths.get("").toAbsolutePath() + " upwards; give -Dbenecafe.cases=<path>");
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object value, String what) {
        if (!(value instanceof Map)) {
            throw new AssertionError(what + " is no JSON object: " + render(value));
        }
        return (Map<String, Object>) value;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object value, String what) {
        if (!(value instanceof List)) {
            throw new AssertionError(what + " is no JSON list: " + render(value));
        }
        return (List<Object>) value;
    }

    private static String string(Object value, String what) {
        if (!(value instanceof String)) {
            throw new AssertionError(what + " is no string: " + render(value));
        }
        return (String) value;
    }

    // ------------------------------------------------------------------ the interpreter itself

    /** The path grammar and the checks on a fixed answer, without a simulator: a wrong check fails. */
    @Test
    void theGrammarJudgesAFixedAnswer() throws IOException {
        Object answer = JSON.readValue("{\"a\":{\"b\":[{\"c\":1},{\"c\":2.0},{\"d\":3}]},\"s\":\"한글ab\",\"n\":null}", Object.class);
        assertTrue(jsonEquals(Arrays.asList(1, 2), at(answer, "a.b.*.c")));
        assertEquals(3, at(answer, "a.b.2.d"));
        assertEquals(MISSING, at(answer, "a.b.3"));
        assertEquals(MISSING, at(answer, "a.x"));
        assertEquals(null, at(answer, "n"));
        assertEquals(answer, at(answer, ""));
        Map<String, Object> saved = new HashMap<>();
        saved.put("g", answer);
        assertEquals(Collections.singletonMap("x", "한글ab"), substitute(Collections.singletonMap("x", "${g.s}"), saved, "t"));
        assertEquals("a ${g.s}", substitute("a ${g.s}", saved, "t"));
        String[] passing = {
            "{\"at\":\"a.b.*.c\",\"equals\":[1,2]}", "{\"at\":\"s\",\"matches\":\"^한\"}", "{\"at\":\"s\",\"length\":4}",
            "{\"at\":\"a.b\",\"length\":3}", "{\"at\":\"a.q\",\"absent\":true}", "{\"at\":\"n\",\"absent\":false}",
            "{\"at\":\"a.b.*.c\",\"includes\":2}", "{\"at\":\"a.b.*.c\",\"excludes\":3}", "{\"at\":\"\",\"length\":3}",
        };
        for (String c : passing) {
            check(map(JSON.readValue(c, Object.class), c), answer, "pass");
        }
        String[] failing = {
            "{\"at\":\"a.b.*.c\",\"equals\":[1]}", "{\"at\":\"s\",\"matches\":\"^b\"}", "{\"at\":\"s\",\"length\":6}",
            "{\"at\":\"n\",\"absent\":true}", "{\"at\":\"a.b.*.c\",\"includes\":3}", "{\"at\":\"a.b.*.c\",\"excludes\":1}",
            "{\"at\":\"a.q\",\"equals\":null}", "{\"at\":\"a\",\"frobs\":1}",
        };
        for (String c : failing) {
            assertThrows(AssertionError.class, () -> check(map(JSON.readValue(c, Object.class), c), answer, "fail"), c);
        }
    }
}
