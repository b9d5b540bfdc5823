package benecafe.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link BenecafeSimArgs} reaches the simulator the extension starts: with
 * {@code --force-member-fields} a later visit still carries the member's fields (by default it
 * carries none).
 */
@ExtendWith(BenecafeSimExtension.class)
@BenecafeSimArgs({"--force-member-fields"})
class ArgsTest {
    @Test
    void theClassesFlagsReachItsSimulator(BenecafeSim.Sandbox sandbox) {
        String url = System.getenv("BENECAFE_SIM_URL");
        assumeTrue(url == null || url.isEmpty(), "a simulator named by BENECAFE_SIM_URL runs with its own flags");
        Map<String, Object> first = sandbox.gate("J01A00038745", "VR000216");
        assertEquals("OK", sandbox.cert((String) first.get("otpToken")).get("resultCode"));
        Map<String, Object> later = sandbox.gate("J01A00038745", "VR000216");
        @SuppressWarnings("unchecked")
        Map<String, Object> fields = (Map<String, Object>) later.get("plainFields");
        assertEquals("J01A00038745", fields.get("CFM_CUS_ID"), "a later visit with --force-member-fields");
    }
}
