package benecafe.sim;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * The JUnit Jupiter extension: declare a {@link BenecafeSim} or a {@link BenecafeSim.Sandbox}
 * parameter and get one.
 *
 * <pre>{@code
 * @ExtendWith(BenecafeSimExtension.class)
 * class GateTest {
 *     @Test
 *     void redeemsOnce(BenecafeSim sim, BenecafeSim.Sandbox sandbox) {
 *         Map<String, Object> gate = sandbox.gate("J01A00038745", "VR000216");
 *         assertEquals("OK", sandbox.cert((String) gate.get("otpToken")).get("resultCode"));
 *     }
 * }
 * }</pre>
 *
 * <p>Why this file exists: the shared interface ({@code clients/README.md}) gives each test a
 * sandbox of its own so tests run in parallel on one simulator; in JUnit that lifecycle is an
 * extension. What it gives:
 *
 * <ul>
 *   <li>{@code BenecafeSim}: one per test class, from {@link BenecafeSim#fromEnvironment(String...)}
 *       with the class's {@link BenecafeSimArgs}
 *       ({@code BENECAFE_SIM_URL} set: that simulator, else one started for the class), kept in the
 *       class-level {@link ExtensionContext.Store} and closed after the class's last test (a started
 *       one is stopped, a connected one left running). It may be injected in {@code @BeforeAll}
 *       methods, test methods and lifecycle methods alike.</li>
 *   <li>{@code BenecafeSim.Sandbox}: a fresh sandbox per test method, made in that simulator and
 *       removed after the test (after its {@code @AfterEach} methods). A test method and its
 *       {@code @BeforeEach} and {@code @AfterEach} methods get the same sandbox; no two tests
 *       share one. It is given only where a test method is known: a {@code Sandbox} parameter of a
 *       {@code @BeforeAll} or {@code @AfterAll} method, or of the test class's constructor, is an
 *       error ({@link ParameterResolutionException}); for a sandbox of the whole class, call
 *       {@code sim.sandbox()} in {@code @BeforeAll} and close it in {@code @AfterAll}.</li>
 * </ul>
 */
public class BenecafeSimExtension implements ParameterResolver {
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(BenecafeSimExtension.class);
    private static final String SIMULATOR = "simulator";
    private static final String SANDBOX = "sandbox";

    /** Made by JUnit from {@code @ExtendWith(BenecafeSimExtension.class)}. */
    public BenecafeSimExtension() {
    }

    /**
     * Whether the parameter is one this extension gives: a {@code BenecafeSim} or a
     * {@code BenecafeSim.Sandbox}.
     *
     * @param parameterContext the parameter
     * @param extensionContext where it is asked for
     * @return true for those two types
     */
    @Override
    public boolean supportsParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        Class<?> type = parameterContext.getParameter().getType();
        return type == BenecafeSim.class || type == BenecafeSim.Sandbox.class;
    }

    /**
     * The class's simulator, or the test method's sandbox (made at the first ask).
     *
     * @param parameterContext the parameter
     * @param extensionContext where it is asked for
     * @return the {@code BenecafeSim} or {@code BenecafeSim.Sandbox}
     * @throws ParameterResolutionException for a sandbox asked for where no test method is known
     *                                      ({@code @BeforeAll}, {@code @AfterAll}, a constructor)
     */
    @Override
    public Object resolveParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        if (parameterContext.getParameter().getType() == BenecafeSim.class) {
            return simulator(extensionContext);
        }
        if (!extensionContext.getTestMethod().isPresent()) {
            throw new ParameterResolutionException("a BenecafeSim.Sandbox is made for one test method, and "
                    + parameterContext.getDeclaringExecutable() + " serves no single test: inject it into a @Test,"
                    + " @BeforeEach or @AfterEach method, or call sim.sandbox() for a class-wide one (and close it)");
        }
        // keyed by the test's own id: the store's lookup reaches the parent stores too, and a key
        // found there would hand one sandbox to several tests
        return extensionContext.getStore(NAMESPACE)
                .getOrComputeIfAbsent(SANDBOX + " " + extensionContext.getUniqueId(),
                        key -> new SandboxResource(simulator(extensionContext).sandbox()), SandboxResource.class)
                .sandbox;
    }

    /** The simulator of the test class this context belongs to, made at the first ask. */
    private static BenecafeSim simulator(ExtensionContext context) {
        ExtensionContext classContext = context;
        while (classContext.getTestMethod().isPresent() && classContext.getParent().isPresent()) {
            classContext = classContext.getParent().get();
        }
        String[] args = args(classContext);
        return classContext.getStore(NAMESPACE)
                .getOrComputeIfAbsent(SIMULATOR, key -> new SimulatorResource(BenecafeSim.fromEnvironment(args)),
                        SimulatorResource.class)
                .sim;
    }

    /** The class's {@link BenecafeSimArgs}, or none. */
    private static String[] args(ExtensionContext classContext) {
        return classContext.getTestClass()
                .map(c -> c.getAnnotation(BenecafeSimArgs.class))
                .map(BenecafeSimArgs::value)
                .orElse(new String[0]);
    }

    /** Closes the class's simulator when JUnit closes the class-level store. */
    private static final class SimulatorResource implements ExtensionContext.Store.CloseableResource {
        final BenecafeSim sim;

        SimulatorResource(BenecafeSim sim) {
            this.sim = sim;
        }

        @Override
        public void close() {
            sim.close();
        }
    }

    /** Removes the test's sandbox when JUnit closes the test method's store. */
    private static final class SandboxResource implements ExtensionContext.Store.CloseableResource {
        final BenecafeSim.Sandbox sandbox;

        SandboxResource(BenecafeSim.Sandbox sandbox) {
            this.sandbox = sandbox;
        }

        @Override
        public void close() {
            sandbox.close();
        }
    }
}
