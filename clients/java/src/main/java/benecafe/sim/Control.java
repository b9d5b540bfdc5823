package benecafe.sim;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * The wire under {@link BenecafeSim}: control API calls over plain HTTP (token and sandbox
 * headers, JSON both ways, an answer outside 2xx turned into {@link SimException}), and the cert
 * call over HTTPS trusting only the simulator's CA, following no redirects.
 *
 * <p>Why this file exists: these HTTP details are shared by a started and a connected simulator
 * and by every sandbox call; kept here, apart from {@link BenecafeSim}, they are written once and
 * the public class reads as the interface it is.
 */
final class Control {
    /** Reads and writes every JSON body and file of the helper. */
    static final ObjectMapper JSON = new ObjectMapper();
    /** How long a connection to the simulator may take to open. */
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

    private Control() {
    }

    /**
     * Sends one call to {@code base + path} ({@code body} as JSON, {@code token} as a bearer,
     * {@code sandbox} as {@code X-Sim-Sandbox}, each when not null) and answers the parsed JSON,
     * null for an empty body, or the text of a 2xx body that is not JSON; throws
     * {@link SimException} for an answer outside 2xx or a call that fails.
     */
    static Object send(HttpClient client, String base, String token, String method, String path, Object body,
                       String sandbox, Duration timeout) {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(path, "path");
        if (!path.startsWith("/")) {
            throw new IllegalArgumentException("a path from the simulator's root, beginning with '/': " + path);
        }
        String what = method + " " + path + (sandbox == null ? "" : " (sandbox " + sandbox + ")");
        HttpRequest.BodyPublisher publisher = HttpRequest.BodyPublishers.noBody();
        HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(base + path)).timeout(timeout)
                .header("Accept", "application/json");
        if (body != null) {
            try {
                publisher = HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body));
            } catch (IOException e) { // JsonProcessingException; some builds declare IOException too
                throw new IllegalArgumentException("cannot write the body of " + what + " as JSON: " + e, e);
            }
            req.header("Content-Type", "application/json");
        }
        if (token != null) {
            req.header("Authorization", "Bearer " + token);
        }
        if (sandbox != null) {
            req.header("X-Sim-Sandbox", sandbox);
        }
        HttpResponse<String> res;
        try {
            res = client.send(req.method(method, publisher).build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new SimException(0, null, what + " at " + base + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SimException(0, null, what + ": interrupted", e);
        }
        String text = res.body() == null ? "" : res.body();
        Object parsed = null;
        boolean isJson = false;
        if (!text.isBlank()) {
            try {
                parsed = JSON.readValue(text, Object.class);
                isJson = true;
            } catch (IOException notJson) {
                parsed = text;
            }
        }
        int status = res.statusCode();
        if (status < 200 || status > 299) {
            String error = null;
            if (isJson && parsed instanceof Map && ((Map<?, ?>) parsed).get("error") != null) {
                error = String.valueOf(((Map<?, ?>) parsed).get("error"));
            } else if (!text.isBlank()) {
                error = shorten(text.trim());
            }
            throw new SimException(status, error, what + " answered " + status + (error == null ? "" : ": " + error));
        }
        return parsed;
    }

    /** A client for the control API: HTTP/1.1, no redirects followed. */
    static HttpClient plainClient() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(CONNECT_TIMEOUT).build();
    }

    /** The answer as a JSON object, else a {@link SimException} naming {@code what}. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> asMap(String what, Object answer) {
        if (!(answer instanceof Map)) {
            throw new SimException(0, null, what + " answered no JSON object: " + answer);
        }
        return (Map<String, Object>) answer;
    }

    /** The answer as a JSON list of objects, else a {@link SimException} naming {@code what}. */
    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> asList(String what, Object answer) {
        if (!(answer instanceof List)) {
            throw new SimException(0, null, what + " answered no JSON list: " + answer);
        }
        return (List<Map<String, Object>>) answer;
    }

    /**
     * A client for the cert call: HTTPS trusting {@code ctx}, no redirects followed. HTTP/1.1: an
     * idle HTTP/2 connection to the HTTPS listener holds the simulator's graceful shutdown (SIGTERM)
     * open, so {@link BenecafeSim#close()} would wait its 10 s for nothing.
     */
    static HttpClient tlsClient(SSLContext ctx) {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).sslContext(ctx)
                .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(CONNECT_TIMEOUT).build();
    }

    /**
     * A TLS context trusting exactly the certificates in the PEM file {@code caPath} (the JVM's
     * default context when it is null); throws {@link SimException} when it cannot be built.
     */
    static SSLContext trusting(Path caPath) {
        try {
            if (caPath == null) {
                return SSLContext.getDefault();
            }
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            try (InputStream in = Files.newInputStream(caPath)) {
                int n = 0;
                for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                    store.setCertificateEntry("benecafe-sim-ca-" + n++, c);
                }
                if (n == 0) {
                    throw new IOException("no certificate in " + caPath);
                }
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(store);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (Exception e) {
            throw new SimException(0, null, "cannot build a TLS context trusting " + caPath + ": " + e, e);
        }
    }

    /**
     * The cert call as a partner's server makes it, with {@code client} from {@link #tlsClient}:
     * answers the JSON object, else throws {@link SimException} naming the HTTP status.
     */
    static Map<String, Object> cert(HttpClient client, String cusUrl, String token, Duration timeout) {
        String url = cusUrl + "/sso/vendorUserCertTonken?otpTokenp=" + URLEncoder.encode(token, StandardCharsets.UTF_8);
        HttpResponse<String> res;
        try {
            res = client.send(HttpRequest.newBuilder(URI.create(url)).timeout(timeout).GET().build(),
                    HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new SimException(0, null, "the cert call GET " + cusUrl + "/sso/vendorUserCertTonken failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SimException(0, null, "the cert call was interrupted", e);
        }
        String text = res.body() == null ? "" : res.body();
        Object parsed;
        try {
            parsed = JSON.readValue(text, Object.class);
        } catch (IOException e) {
            parsed = null;
        }
        if (!(parsed instanceof Map)) {
            throw new SimException(res.statusCode(), shorten(text),
                    "the cert call answered HTTP " + res.statusCode() + " with a body that is not a JSON object: " + shorten(text));
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> map = (Map<String, Object>) parsed;
        return map;
    }

    /**
     * {@code path} with {@code params} as its query string, keys and values URL-encoded; a null
     * key or value is left out; {@code params} may be null.
     */
    static String withQuery(String path, Map<String, String> params) {
        StringBuilder out = new StringBuilder(path);
        if (params != null) {
            char sep = '?';
            for (Map.Entry<String, String> f : params.entrySet()) {
                if (f.getKey() == null || f.getValue() == null) {
                    continue;
                }
                out.append(sep).append(URLEncoder.encode(f.getKey(), StandardCharsets.UTF_8)).append('=')
                        .append(URLEncoder.encode(f.getValue(), StandardCharsets.UTF_8));
                sep = '&';
            }
        }
        return out.toString();
    }

    /** The record's {@code key} as one URL path segment, else an {@link IllegalArgumentException}. */
    static String segment(Map<String, ?> record, String key) {
        Object v = record == null ? null : record.get(key);
        if (v == null || v.toString().isEmpty()) {
            throw new IllegalArgumentException("the record has no " + key + ": " + record);
        }
        return URLEncoder.encode(v.toString(), StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** The PEM text {@code pem} saved to a new temp file (deleted at exit), else a {@link SimException}. */
    static Path saveCa(Object pem) {
        try {
            Path ca = Files.createTempFile("benecafe-sim-ca-", ".pem");
            ca.toFile().deleteOnExit();
            Files.write(ca, String.valueOf(pem).getBytes(StandardCharsets.UTF_8));
            return ca;
        } catch (IOException e) {
            throw new SimException(0, null, "cannot save the simulator's CA to a temp file: " + e, e);
        }
    }

    /** The URL without its trailing slashes. */
    static String stripSlash(String url) {
        String u = url;
        while (u.endsWith("/")) {
            u = u.substring(0, u.length() - 1);
        }
        return u;
    }

    /** A body's text cut to 500 characters for a message. */
    static String shorten(String text) {
        return text.length() <= 500 ? text : text.substring(0, 500) + "...";
    }
}
