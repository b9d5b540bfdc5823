package benecafe.sim;

/**
 * Why this file exists: every helper in {@code clients/} raises one kind of error for a control
 * API answer outside 2xx, carrying the HTTP status and the body's {@code error} (see
 * {@code clients/README.md}, "Errors"). In Java that is this unchecked exception, so a partner's
 * test can let it propagate (JUnit reports it as the failure) or catch it to look at the status.
 *
 * <p>It is also thrown when a simulator cannot be started or reached, and when the cert call
 * answers a body that is not JSON; then {@link #status()} is the HTTP status when there was one,
 * else {@code 0}. A {@code gate} for a member not in the sandbox throws it with status 404, as the
 * control API answers for a record it does not hold.
 */
public class SimException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The HTTP status, or 0. */
    private final int status;
    /** The body's {@code error}, or null. */
    private final String error;

    /**
     * An error with an HTTP status and the body's {@code error}.
     *
     * @param status  the HTTP status of the answer, or 0 when there was no answer
     * @param error   the {@code error} field of the JSON body (or the body's text), may be null
     * @param message the whole message (what was called and what it answered)
     */
    public SimException(int status, String error, String message) {
        super(message);
        this.status = status;
        this.error = error;
    }

    /**
     * An error with an HTTP status, the body's {@code error} and the cause.
     *
     * @param status  the HTTP status of the answer, or 0 when there was no answer
     * @param error   the {@code error} field of the JSON body (or the body's text), may be null
     * @param message the whole message
     * @param cause   what went wrong underneath (an I/O error, for instance)
     */
    public SimException(int status, String error, String message, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.error = error;
    }

    /**
     * The HTTP status the simulator answered, or 0 when the error came from no HTTP answer
     * (the process did not start, the connection failed).
     *
     * @return the status, or 0
     */
    public int status() {
        return status;
    }

    /**
     * The {@code error} field of the answer's JSON body; the body's text when it was not JSON
     * with an {@code error}; null when there was no body.
     *
     * @return the error, or null
     */
    public String error() {
        return error;
    }
}
