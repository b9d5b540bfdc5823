package benecafe.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Runs the shared table {@code clients/cases.json}: first its {@code "grammar"} (one dynamic test
 * per check on a fixed answer: it holds, does not hold, or is an error), then one dynamic test per
 * case, each in a sandbox of its own (and a second one for steps {@code "in": "other"}), removed
 * afterwards.
 *
 * <p>Why this file exists: the Python, Java and Node helpers all run that one table in their own
 * tests, so the three cannot drift apart. The table's {@code "about"} is the grammar this class
 * interprets, and {@code resolve}, {@code same}, {@code substitute} and {@code holds} here do what
 * the functions of those names in {@code clients/python/tests/test_cases.py} do: strict JSON
 * equality (true is not 1, 1 equals 1.0), {@code matches} on strings only ({@code find}, Java's
 * regular expressions), {@code length} of a list, a string (in code points) or an object,
 * {@code includes} and {@code excludes} on lists only; a check without {@code "at"} or without
 * exactly one kind, or whose {@code "at"}, {@code absent}, {@code length} or {@code matches} is of
 * the wrong type, a {@code ${name.path}} that leads nowhere, and an {@code "in"} other than
 * {@code main} or {@code other} are errors ({@link TableError}), not checks that fail.
 *
 * <p>The file is {@code -Dbenecafe.cases=<path>}, else {@code clients/cases.json} (or
 * {@code cases.json} in a {@code clients} folder) found from the working directory upwards.
 */
@ExtendWith(BenecafeSimExtension.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CasesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** A whole string {@code ${name}} or {@code ${name.path}}, as Python's {@code re.fullmatch}. */
    private static final Pattern REFERENCE = Pattern.compile("\\$\\{([A-Za-z0-9_]+)(?:\\.(.*))?\\}");
    private static final List<String> KINDS = Arrays.asList("equals", "matches", "length", "absent", "includes", "excludes");

    /** What a path that leads nowhere resolves to. */
    static final Object MISSING = new Object() {
        @Override
        public String toString() {
            return "(nothing)";
        }
    };

    /** The table breaks its own grammar: a malformed check, a name or path that leads nowhere. */
    static final class TableError extends RuntimeException {
        private static final long serialVersionUID = 1L;

        TableError(String message) {
            super(message);
        }
    }

    @TestFactory
    @Order(1)
    List<DynamicTest> grammar() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        List<Object> blocks = list(table().get("grammar"), "the table's grammar");
        for (int b = 0; b < blocks.size(); b++) {
            Map<String, Object> block = map(blocks.get(b), "a grammar block");
            Object answer = block.get("answer");
            List<Object> checks = list(block.get("checks"), "the grammar's checks");
            for (int i = 0; i < checks.size(); i++) {
                Map<String, Object> item = map(checks.get(i), "a grammar check");
                Map<String, Object> rule = map(item.get("rule"), "a grammar rule");
                boolean error = truthy(item.get("error"));
                Object want = item.get("holds");
                String name = "grammar " + b + "." + i + ": " + render(rule) + (error ? " is an error" : " holds: " + want);
                tests.add(DynamicTest.dynamicTest(name, () -> {
                    if (error) {
                        assertThrows(TableError.class, () -> holds(answer, rule), name);
                    } else {
                        assertTrue(want instanceof Boolean, name + ": \"holds\" is no boolean");
                        assertEquals(want, holds(answer, rule), name);
                    }
                }));
            }
        }
        assertFalse(tests.isEmpty(), "no grammar in the table");
        return tests;
    }

    @TestFactory
    @Order(2)
    List<DynamicTest> sharedCases(BenecafeSim sim) throws IOException {
        List<Object> cases = list(table().get("cases"), "the table's cases");
        assertFalse(cases.isEmpty(), "no cases in the table");
        List<DynamicTest> tests = new ArrayList<>();
        for (Object c : cases) {
            Map<String, Object> theCase = map(c, "a case");
            String name = theCase.get("id") + ": " + theCase.get("title");
            tests.add(DynamicTest.dynamicTest(name, () -> runCase(sim, theCase)));
        }
        return tests;
    }

    // ------------------------------------------------------------------ running a case

    static void runCase(BenecafeSim sim, Map<String, Object> theCase) {
        String id = String.valueOf(theCase.get("id"));
        Map<String, Object> saved = new HashMap<>();
        Map<String, Object> simValues = new LinkedHashMap<>();
        simValues.put("cusUrl", sim.cusUrl());
        simValues.put("httpUrl", sim.httpUrl());
        saved.put("sim", simValues);
        BenecafeSim.Sandbox main = sim.sandbox(Collections.singletonMap("name", "java cases: " + id));
        List<BenecafeSim.Sandbox> others = new ArrayList<>();
        Supplier<BenecafeSim.Sandbox> other = () -> {
            if (others.isEmpty()) {
                others.add(sim.sandbox(Collections.singletonMap("name", "java cases: " + id + " (other)")));
            }
            return others.get(0);
        };
        try {
            int n = 0;
            for (Object s : list(theCase.get("steps"), "the steps of " + id)) {
                n++;
                Map<String, Object> step = map(s, "a step of " + id);
                String op = String.valueOf(step.get("op"));
                String where = id + " step " + n + " (" + op + ")";
                BenecafeSim.Sandbox sandbox = sandboxFor(step.containsKey("in") ? step.get("in") : "main", main, other, where);
                Object args = substitute(step.containsKey("args") ? step.get("args") : new LinkedHashMap<>(), saved);
                Object answer = perform(sandbox, op, map(args, where + " args"), where);
                if (step.containsKey("save")) {
                    saved.put(String.valueOf(step.get("save")), answer);
                }
                List<String> failed = new ArrayList<>();
                for (Object r : step.containsKey("expect") ? list(step.get("expect"), where + " expect") : Collections.emptyList()) {
                    Map<String, Object> rule = map(substitute(r, saved), where + " check");
                    if (!holds(answer, rule)) {
                        Object got = rule.get("at") instanceof String ? resolve(answer, (String) rule.get("at")) : MISSING;
                        failed.add(render(rule) + " does not hold: at '" + rule.get("at") + "' got " + render(got));
                    }
                }
                if (!failed.isEmpty()) {
                    throw new AssertionError(where + ": " + String.join("; ", failed));
                }
            }
        } finally {
            try {
                for (BenecafeSim.Sandbox o : others) {
                    o.close();
                }
            } finally {
                main.close();
            }
        }
    }

    /** The sandbox a step runs in: {@code "main"}, {@code "other"} (made at the first ask); else an error. */
    static BenecafeSim.Sandbox sandboxFor(Object place, BenecafeSim.Sandbox main, Supplier<BenecafeSim.Sandbox> other,
                                          String where) {
        if ("main".equals(place)) {
            return main;
        }
        if ("other".equals(place)) {
            return other.get();
        }
        throw new TableError(where + ": no sandbox " + render(place) + " (\"in\" is \"main\" or \"other\")");
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

    // ------------------------------------------------------------------ the grammar

    /**
     * The value at {@code path}: keys joined by '.', a number indexes a list, '*' takes the rest of
     * the path of every item of a list and leaves out those where it leads nowhere, '' the whole;
     * {@link #MISSING} when it leads nowhere.
     */
    static Object resolve(Object value, String path) {
        if (path.isEmpty()) {
            return value;
        }
        int dot = path.indexOf('.');
        String head = dot < 0 ? path : path.substring(0, dot);
        String rest = dot < 0 ? "" : path.substring(dot + 1);
        if (head.equals("*")) {
            if (!(value instanceof List)) {
                return MISSING;
            }
            List<Object> found = new ArrayList<>();
            for (Object item : (List<?>) value) {
                Object f = resolve(item, rest);
                if (f != MISSING) {
                    found.add(f);
                }
            }
            return found;
        }
        if (value instanceof List && !head.isEmpty() && head.codePoints().allMatch(Character::isDigit)) {
            List<?> items = (List<?>) value;
            BigInteger index = new BigInteger(head);
            return index.compareTo(BigInteger.valueOf(items.size())) < 0 ? resolve(items.get(index.intValue()), rest) : MISSING;
        }
        if (value instanceof Map && ((Map<?, ?>) value).containsKey(head)) {
            return resolve(((Map<?, ?>) value).get(head), rest);
        }
        return MISSING;
    }

    /** Strict JSON equality: true is not 1; 1 equals 1.0; lists in order, objects by their keys. */
    static boolean same(Object a, Object b) {
        if (a instanceof Boolean || b instanceof Boolean) {
            return a instanceof Boolean && b instanceof Boolean && a.equals(b);
        }
        if (a instanceof Number && b instanceof Number) {
            return sameNumber((Number) a, (Number) b);
        }
        if (a instanceof List && b instanceof List) {
            List<?> x = (List<?>) a;
            List<?> y = (List<?>) b;
            if (x.size() != y.size()) {
                return false;
            }
            for (int i = 0; i < x.size(); i++) {
                if (!same(x.get(i), y.get(i))) {
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
                if (!same(e.getValue(), y.get(e.getKey()))) {
                    return false;
                }
            }
            return true;
        }
        return a == null ? b == null : b != null && a.getClass() == b.getClass() && a.equals(b);
    }

    /** Numbers by their exact value, as Python compares an int and a float. */
    private static boolean sameNumber(Number a, Number b) {
        if (!finite(a) || !finite(b)) {
            return a.doubleValue() == b.doubleValue();
        }
        return exact(a).compareTo(exact(b)) == 0;
    }

    private static boolean finite(Number n) {
        return !(n instanceof Double || n instanceof Float) || Double.isFinite(n.doubleValue());
    }

    private static BigDecimal exact(Number n) {
        if (n instanceof BigDecimal) {
            return (BigDecimal) n;
        }
        if (n instanceof BigInteger) {
            return new BigDecimal((BigInteger) n);
        }
        if (n instanceof Double || n instanceof Float) {
            return new BigDecimal(n.doubleValue());
        }
        return BigDecimal.valueOf(n.longValue());
    }

    /** A copy of {@code value} with every string that is exactly {@code ${name}} or {@code ${name.path}} replaced. */
    static Object substitute(Object value, Map<String, Object> saved) {
        if (value instanceof String) {
            Matcher whole = REFERENCE.matcher((String) value);
            if (!whole.matches()) {
                return value;
            }
            if (!saved.containsKey(whole.group(1))) {
                throw new TableError(value + ": nothing saved as " + whole.group(1));
            }
            Object found = resolve(saved.get(whole.group(1)), whole.group(2) == null ? "" : whole.group(2));
            if (found == MISSING) {
                throw new TableError(value + " names nothing");
            }
            return found;
        }
        if (value instanceof List) {
            List<Object> out = new ArrayList<>();
            for (Object item : (List<?>) value) {
                out.add(substitute(item, saved));
            }
            return out;
        }
        if (value instanceof Map) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
                out.put(String.valueOf(e.getKey()), substitute(e.getValue(), saved));
            }
            return out;
        }
        return value;
    }

    /**
     * Whether the check holds; a malformed check is a {@link TableError}: no {@code "at"}, not
     * exactly one kind, or an {@code "at"} that is no string, an {@code absent} no boolean, a
     * {@code length} no whole number, a {@code matches} no string (or no regular expression).
     */
    static boolean holds(Object answer, Map<String, Object> rule) {
        List<String> kinds = new ArrayList<>();
        for (String k : KINDS) {
            if (rule.containsKey(k)) {
                kinds.add(k);
            }
        }
        if (!rule.containsKey("at") || kinds.size() != 1) {
            throw new TableError("a check needs \"at\" and exactly one of " + KINDS + ": " + render(rule));
        }
        String kind = kinds.get(0);
        Object want = rule.get(kind);
        boolean malformed = !(rule.get("at") instanceof String)
                || (kind.equals("absent") && !(want instanceof Boolean))
                || (kind.equals("length") && !(want instanceof Integer || want instanceof Long || want instanceof BigInteger
                        || want instanceof Short || want instanceof Byte))
                || (kind.equals("matches") && !(want instanceof String));
        if (malformed) {
            throw new TableError("a check's at, absent, length or matches of the wrong type: " + render(rule));
        }
        Object got = resolve(answer, (String) rule.get("at"));
        if (kind.equals("absent")) {
            return (got == MISSING) == (Boolean) want;
        }
        if (got == MISSING) {
            return false;
        }
        switch (kind) {
            case "equals":
                return same(got, want);
            case "matches":
                return got instanceof String && search((String) want, (String) got);
            case "length":
                if (got instanceof String) {
                    return sameNumber(((String) got).codePointCount(0, ((String) got).length()), (Number) want);
                }
                if (got instanceof List || got instanceof Map) {
                    return sameNumber(got instanceof List ? ((List<?>) got).size() : ((Map<?, ?>) got).size(), (Number) want);
                }
                return false;
            default: // includes, excludes
                if (!(got instanceof List)) {
                    return false;
                }
                boolean found = false;
                for (Object item : (List<?>) got) {
                    found = found || same(item, want);
                }
                return kind.equals("includes") == found;
        }
    }

    private static boolean search(String pattern, String text) {
        try {
            return Pattern.compile(pattern).matcher(text).find();
        } catch (PatternSyntaxException e) {
            throw new TableError("matches " + render(pattern) + ": " + e.getDescription());
        }
    }

    // ------------------------------------------------------------------ reading the table

    static Map<String, Object> table() throws IOException {
        Path file = casesFile();
        return map(JSON.readValue(file.toFile(), Object.class), "the table " + file);
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

    /** Python's truth of a JSON value, as {@code item.get("error")} reads it. */
    private static boolean truthy(Object v) {
        if (v == null || Boolean.FALSE.equals(v) || "".equals(v)) {
            return false;
        }
        if (v instanceof Number) {
            return !sameNumber((Number) v, 0);
        }
        return !(v instanceof List && ((List<?>) v).isEmpty()) && !(v instanceof Map && ((Map<?, ?>) v).isEmpty());
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

    /** What the table's grammar block does not show: substitution, '*', code points, "in". */
    @Test
    void theInterpreterReadsWhatTheGrammarBlockDoesNotShow() throws IOException {
        Map<String, Object> saved = new HashMap<>();
        saved.put("g2", Collections.singletonMap("otpToken", "t"));
        assertEquals("t", substitute("${g2.otpToken}", saved));
        assertEquals(Collections.singletonMap("x", Collections.singletonList(Collections.singletonMap("otpToken", "t"))),
                substitute(Collections.singletonMap("x", Collections.singletonList("${g2}")), saved));
        assertEquals("a ${g2.otpToken}", substitute("a ${g2.otpToken}", saved), "only a whole string is replaced");
        assertEquals("${g-2.otpToken}", substitute("${g-2.otpToken}", saved), "a name is letters, digits and _");
        for (String wrong : new String[] {"${g3.otpToken}", "${g2.nothing}"}) {
            assertThrows(TableError.class, () -> substitute(wrong, saved), wrong);
        }
        Object answer = JSON.readValue("{\"a\":[{\"b\":[1,2]},{\"b\":[3]},{\"c\":0}],\"s\":\"한글ab\",\"0\":\"key\"}", Object.class);
        assertTrue(same(Arrays.asList(Arrays.asList(1, 2), Collections.singletonList(3)), resolve(answer, "a.*.b")));
        assertTrue(same(Arrays.asList(2), resolve(answer, "a.*.b.1")), "items where the rest leads nowhere are left out");
        assertEquals("key", resolve(answer, "0"), "a number is a key of an object");
        assertSame(MISSING, resolve(answer, "s.*"), "'*' on no list leads nowhere");
        assertTrue(holds(answer, rule("{\"at\":\"s\",\"length\":4}")), "a string's length in code points");
        assertFalse(holds(answer, rule("{\"at\":\"a.0\",\"matches\":\"b\"}")), "matches takes strings only");
        assertFalse(holds(answer, rule("{\"at\":\"x\",\"excludes\":1}")), "excludes at nowhere does not hold");
        assertTrue(same(1L, 1.0) && !same(0.1, 1) && same(Collections.singletonMap("k", 2), Collections.singletonMap("k", 2.0)));
        assertFalse(same(1, "1") || same(null, false) || same(Collections.emptyList(), Collections.emptyMap()));
        assertThrows(TableError.class, () -> holds(answer, rule("{\"at\":\"s\",\"frobs\":1}")), "no kind");
        assertThrows(TableError.class, () -> holds(answer, rule("{\"at\":\"s\",\"matches\":\"(\"}")), "no expression");
        assertThrows(TableError.class, () -> sandboxFor("elsewhere", null, () -> null, "t"));
        assertThrows(TableError.class, () -> sandboxFor(null, null, () -> null, "t"), "\"in\": null is no sandbox");
    }

    private static Map<String, Object> rule(String json) throws IOException {
        return map(JSON.readValue(json, Object.class), json);
    }
}
