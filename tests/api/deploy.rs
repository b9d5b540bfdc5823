//! The deployment files against the simulator they deploy: compose.yaml with its HAProxy
//! configuration, the Dockerfile's health check, and the Kubernetes manifests. Every probe and
//! health check asks a path the simulator serves (a real request, as the checker sends it, to a
//! simulator started with the settings the file gives it: 200, not the router's 404 nor a 421
//! for its `Host`), on a port one of its listeners has (the flags and environment the file
//! passes, else the image's environment, else the defaults), and the wiring between the parts
//! holds (Redis with its append-only file on a volume, the proxy's address trusted, …).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use benecafe_sim::app::settings::Settings;
use clap::{CommandFactory, Parser};
use yaml_rust2::{Yaml, YamlLoader};

use crate::helpers::spawn_app_with;

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn text(y: &Yaml) -> String {
    match y {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

fn items(y: &Yaml) -> &[Yaml] {
    y.as_vec().map(Vec::as_slice).unwrap_or_default()
}

/// `${NAME:-default}` and `${NAME:?message}` as compose reads them with NAME unset.
fn interpolate(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closed ${") + start;
        let inner = &rest[start + 2..end];
        if let Some((_, default)) = inner.split_once(":-") {
            out.push_str(default);
        } else {
            assert!(inner.contains(":?"), "{inner} has no default");
            out.push_str("required-secret-value-given-at-run-time");
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The image's environment (`ENV` of the Dockerfile's runtime stage) and its health check line.
fn dockerfile() -> (Vec<(String, String)>, String) {
    let file = read("Dockerfile").replace("\\\n", " ");
    let runtime = file.split("AS runtime").nth(1).expect("a runtime stage");
    let mut env = Vec::new();
    for line in runtime
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ENV "))
    {
        for pair in line.split_whitespace() {
            let (k, v) = pair.split_once('=').expect("ENV KEY=VALUE");
            env.push((k.to_owned(), v.to_owned()));
        }
    }
    let check = runtime
        .lines()
        .find_map(|l| l.trim().strip_prefix("HEALTHCHECK "))
        .expect("a HEALTHCHECK")
        .to_owned();
    (env, check)
}

/// The settings the simulator reads from `env` (the image's first, then the file's, the later
/// winning): each variable turned into the flag that names it, so nothing of this process's own
/// environment counts.
fn settings_from(env: &[(String, String)]) -> Settings {
    let command = Settings::command();
    let mut last: HashMap<&str, &str> = HashMap::new();
    for (k, v) in env {
        last.insert(k, v);
    }
    let mut args = vec!["benecafe-sim".to_owned()];
    for (name, value) in last {
        let arg = command
            .get_arguments()
            .find(|a| a.get_env().is_some_and(|e| e == name))
            .unwrap_or_else(|| panic!("{name} is no setting of the simulator"));
        args.push(format!("--{}={value}", arg.get_long().unwrap()));
    }
    Settings::try_parse_from(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Sends `request` as it is to the plain-HTTP listener of `http` (`http://host:port`): the
/// status code.
fn raw_status(http: &str, request: &str) -> u16 {
    let addr = http.trim_start_matches("http://");
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    tcp.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.split_whitespace().nth(1).unwrap_or_default();
    status
        .parse()
        .unwrap_or_else(|_| panic!("no status in {answer:?}"))
}

/// What a simulator started with `settings`' names and proxies answers to `request` (its
/// store is this test's own memory, its ports free ones).
async fn answer_with(settings: &Settings, request: &str) -> u16 {
    let given = settings.clone();
    let app = spawn_app_with(move |s| {
        s.public_url = given.public_url;
        s.public_http_url = given.public_http_url;
        s.allowed_hosts = given.allowed_hosts;
        s.trusted_proxies = given.trusted_proxies;
        s.control_token = given.control_token;
    })
    .await;
    let http = app.http.clone();
    let request = request.to_owned();
    actix_web::rt::task::spawn_blocking(move || raw_status(&http, &request))
        .await
        .unwrap()
}

#[actix_web::test]
async fn compose_haproxy_and_the_image_check_what_the_simulators_serve() {
    let (image_env, healthcheck) = dockerfile();
    let compose = &yaml("compose.yaml")[0];
    let services = &compose["services"];
    let sims: Vec<&str> = ["sim-1", "sim-2"].into();
    let mut sim_settings = Vec::new();
    for name in &sims {
        let service = &services[*name];
        // `<<: *sim`: the shared part, then the service's own keys.
        let merged = |key: &str| match &service[key] {
            Yaml::BadValue => &service["<<"][key],
            own => own,
        };
        let mut env = image_env.clone();
        for (k, v) in merged("environment").as_hash().expect("environment") {
            env.push((text(k), interpolate(&text(v))));
        }
        let settings = settings_from(&env);
        // They share Redis (the compose service), keeping it in an append-only file.
        let store = settings.store.to_string();
        assert!(store.contains("redis://redis:6379"), "{name}: {store}");
        let volumes: Vec<String> = items(merged("volumes")).iter().map(text).collect();
        assert!(
            volumes.contains(&"sim-data:/data".to_owned()),
            "{volumes:?}"
        );
        sim_settings.push(settings);
    }
    let redis = &services["redis"];
    let command: Vec<String> = items(&redis["command"]).iter().map(text).collect();
    assert!(
        command.windows(2).any(|w| w == ["--appendonly", "yes"]),
        "{command:?}"
    );
    let redis_volumes: Vec<String> = items(&redis["volumes"]).iter().map(text).collect();
    assert!(
        redis_volumes.iter().any(|v| v.ends_with(":/data")),
        "{redis_volumes:?}"
    );
    let lb = &services["lb"];
    assert!(text(&lb["image"]).starts_with("haproxy:"));
    let mounts: Vec<String> = items(&lb["volumes"]).iter().map(text).collect();
    assert!(
        mounts
            .iter()
            .any(|m| m.starts_with("./deploy/haproxy.cfg:")),
        "{mounts:?}"
    );
    // HAProxy is the trusted proxy the simulators believe.
    let lb_ip = text(&lb["networks"]["sim"]["ipv4_address"]);
    for s in &sim_settings {
        let ip: std::net::IpAddr = lb_ip.parse().unwrap();
        assert!(s.trusted_proxies.iter().any(|n| n.contains(&ip)), "{lb_ip}");
    }

    let haproxy = read("deploy/haproxy.cfg");
    let published: Vec<u16> = items(&lb["ports"])
        .iter()
        .map(|p| {
            interpolate(&text(p))
                .rsplit(':')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    let mut binds: Vec<u16> = Vec::new();
    let mut checked_paths = Vec::new();
    let mut servers = 0;
    let mut mode = "";
    for line in haproxy.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["frontend" | "backend", ..] => mode = "",
            ["mode", m] => mode = if *m == "http" { "http" } else { "tcp" },
            ["bind", addr, ..] => binds.push(addr.rsplit(':').next().unwrap().parse().unwrap()),
            ["option", "httpchk", "GET", path, ..] => checked_paths.push(path.to_string()),
            ["server", _, target, rest @ ..] => {
                servers += 1;
                let (host, port) = target.rsplit_once(':').unwrap();
                let i = sims
                    .iter()
                    .position(|s| *s == host)
                    .unwrap_or_else(|| panic!("{host} is no simulator service"));
                let port: u16 = port.parse().unwrap();
                let (http, https) = (
                    sim_settings[i].http_addr.port(),
                    sim_settings[i].https_addr.port(),
                );
                // HTTP mode to the HTTP listener, TCP (TLS passed through) to the HTTPS one.
                let wanted = if mode == "http" { http } else { https };
                assert_eq!(port, wanted, "{line}");
                assert!(rest.contains(&"check"), "no health check: {line}");
                // The health check asks the plain-HTTP listener, wherever the traffic goes.
                let check_port = rest
                    .windows(2)
                    .find(|w| w[0] == "port")
                    .map_or(port, |w| w[1].parse().unwrap());
                assert_eq!(check_port, http, "{line}");
            }
            _ => {}
        }
    }
    assert_eq!(servers, 4, "both simulators in both backends");
    binds.sort();
    let mut published_sorted = published.clone();
    published_sorted.sort();
    assert_eq!(
        binds, published_sorted,
        "the ports compose publishes are HAProxy's"
    );
    assert_eq!(checked_paths.len(), 2, "both backends are checked");
    for path in &checked_paths {
        assert_eq!(path, "/_sim/readyz");
        // HAProxy's check: HTTP/1.0, no Host.
        let request = format!("GET {path} HTTP/1.0\r\n\r\n");
        assert_eq!(answer_with(&sim_settings[0], &request).await, 200, "{path}");
    }

    // Docker's HEALTHCHECK: the path and the Host it names, on the image's HTTP port.
    let image = settings_from(&image_env);
    let path = healthcheck
        .split("GET ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("GET path");
    assert!(healthcheck.contains("SIM_HTTP_ADDR##*:"), "the HTTP port");
    assert_eq!(image.http_addr.port(), 8080);
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:8080\r\n\r\n");
    assert_eq!(answer_with(&sim_settings[0], &request).await, 200, "{path}");
}

/// The documents of every manifest, by kind and name.
fn manifests() -> HashMap<(String, String), Yaml> {
    let mut all = HashMap::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes");
    let kustomization = &yaml("deploy/kubernetes/kustomization.yaml")[0];
    let listed: Vec<String> = items(&kustomization["resources"])
        .iter()
        .map(text)
        .collect();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name == "kustomization.yaml" {
            continue;
        }
        assert!(
            listed.contains(&name),
            "{name} is not in kustomization.yaml"
        );
        for doc in yaml(&format!("deploy/kubernetes/{name}")) {
            let key = (text(&doc["kind"]), text(&doc["metadata"]["name"]));
            assert!(all.insert(key.clone(), doc).is_none(), "{key:?} twice");
        }
    }
    all
}

#[actix_web::test]
async fn the_kubernetes_probes_ask_what_the_simulator_serves_on_its_ports() {
    let all = manifests();
    let get = |kind: &str, name: &str| {
        all.get(&(kind.to_owned(), name.to_owned()))
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    };
    let deployment = get("Deployment", "benecafe-sim");
    assert_eq!(deployment["spec"]["replicas"].as_i64(), Some(2));
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    let container = &pod["containers"][0];
    assert_eq!(
        container["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true)
    );

    // What the simulator reads: the image's environment, the ConfigMap's, the container's.
    let (mut env, _) = dockerfile();
    for from in items(&container["envFrom"]) {
        let map = get("ConfigMap", &text(&from["configMapRef"]["name"]));
        for (k, v) in map["data"].as_hash().unwrap() {
            env.push((text(k), text(v)));
        }
    }
    for var in items(&container["env"]) {
        let value = match &var["value"] {
            Yaml::BadValue => {
                // The control token comes from a Secret made beside the manifests.
                let secret = &var["valueFrom"]["secretKeyRef"];
                assert!(!text(&secret["name"]).is_empty(), "{var:?}");
                "a-secret-control-token-given-at-run-time".to_owned()
            }
            v => text(v),
        };
        env.push((text(&var["name"]), value));
    }
    let settings = settings_from(&env);
    assert!(settings.control_token.is_some(), "the control token is set");
    // The container's ports are the simulator's listeners.
    let mut ports = HashMap::new();
    for port in items(&container["ports"]) {
        ports.insert(
            text(&port["name"]),
            port["containerPort"].as_i64().unwrap() as u16,
        );
    }
    assert_eq!(ports.get("http"), Some(&settings.http_addr.port()));
    assert_eq!(ports.get("https"), Some(&settings.https_addr.port()));
    let port_of = |p: &Yaml| match p {
        Yaml::Integer(n) => *n as u16,
        named => *ports
            .get(&text(named))
            .unwrap_or_else(|| panic!("no port {named:?}")),
    };

    // Each probe: on the plain-HTTP listener, a path that answers 200 with its headers.
    let mut asked = Vec::new();
    for kind in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let probe = &container[kind]["httpGet"];
        let path = text(&probe["path"]);
        assert_eq!(port_of(&probe["port"]), settings.http_addr.port(), "{kind}");
        assert!(
            matches!(probe["scheme"], Yaml::BadValue),
            "{kind}: plain HTTP"
        );
        let mut request = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n");
        for header in items(&probe["httpHeaders"]) {
            let line = format!("{}: {}\r\n", text(&header["name"]), text(&header["value"]));
            request.push_str(&line);
        }
        request.push_str("\r\n");
        assert_eq!(answer_with(&settings, &request).await, 200, "{kind} {path}");
        asked.push(path);
    }
    assert_eq!(asked, ["/_sim/livez", "/_sim/livez", "/_sim/readyz"]);

    // The Service sends to the container's ports.
    let service = get("Service", "benecafe-sim");
    for port in items(&service["spec"]["ports"]) {
        assert!(ports.contains_key(&text(&port["targetPort"])), "{port:?}");
    }

    // Redis: the Service the simulators' store names, a StatefulSet keeping its append-only
    // file on a volume of its own.
    let store = settings.store.to_string();
    let redis_service = get("Service", "benecafe-sim-redis");
    let redis_port = redis_service["spec"]["ports"][0]["port"].as_i64().unwrap();
    assert!(
        store.contains(&format!("redis://benecafe-sim-redis:{redis_port}/")),
        "{store}"
    );
    let redis = get("StatefulSet", "benecafe-sim-redis");
    assert_eq!(text(&redis["spec"]["serviceName"]), "benecafe-sim-redis");
    let redis_pod = &redis["spec"]["template"]["spec"];
    let redis_container = &redis_pod["containers"][0];
    let args: Vec<String> = items(&redis_container["args"]).iter().map(text).collect();
    assert!(
        args.windows(2).any(|w| w == ["--appendonly", "yes"]),
        "{args:?}"
    );
    let claim = text(&redis["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]);
    let mounted = items(&redis_container["volumeMounts"])
        .iter()
        .any(|m| text(&m["name"]) == claim && text(&m["mountPath"]) == "/data");
    assert!(mounted, "the claim {claim} holds /data");
    assert_eq!(
        redis_pod["securityContext"]["runAsNonRoot"].as_bool(),
        Some(true)
    );
}
