package benecafe.sim;

/**
 * A JVM that starts a simulator and then waits to be killed, for
 * {@link StartedSimulatorTest#aStartedSimulatorEndsWithItsJvmEvenWhenThatJvmIsKilled()}: it prints
 * one line, {@code <simulator pid> <httpUrl> <caPath>}, and sleeps. Killed with SIGKILL, it runs no
 * shutdown hook, so only the simulator's own {@code --stop-when-stdin-closes} can stop it.
 *
 * <p>Why this file exists: the test needs a JVM it may kill; it cannot kill its own.
 */
final class SimulatorInChildJvm {
    private SimulatorInChildJvm() {
    }

    /**
     * Starts the simulator ({@code BENECAFE_SIM_BIN}, else {@code benecafe-sim} on {@code PATH}),
     * prints where it is, and sleeps until killed.
     *
     * @param args more flags for the simulator
     * @throws InterruptedException never, in practice: nothing interrupts the sleep
     */
    public static void main(String[] args) throws InterruptedException {
        BenecafeSim sim = BenecafeSim.start(args);
        System.out.println(sim.pid() + " " + sim.httpUrl() + " " + sim.caPath());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
