package benecafe.sim;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Flags for the simulator {@link BenecafeSimExtension} starts for a test class, as pytest's
 * {@code benecafe_sim_args} and Node's {@code startSimulator({args})} take them.
 *
 * <pre>{@code
 * @ExtendWith(BenecafeSimExtension.class)
 * @BenecafeSimArgs({"--force-member-fields", "--token-ttl-seconds", "30"})
 * class LaterVisitTest { ... }
 * }</pre>
 *
 * <p>Why this file exists: a test class may need a simulator set up otherwise than by default,
 * and the extension, not the test, starts it. A simulator named by {@code BENECAFE_SIM_URL} runs
 * with the flags it was started with: these are not applied to it.
 */
@Documented
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface BenecafeSimArgs {
    /**
     * The flags, each argument an element ({@code "--token-ttl-seconds", "30"}).
     *
     * @return the flags
     */
    String[] value();
}
