"""The chart's rendering, made playable by `podman kube play` on one host.

Reads the rendered manifests (stdin) and writes, into the folder given:
  migrate.yaml  the migrate Job's pod (kube play runs Pods, not Jobs),
                with its ConfigMap;
  app.yaml      the ConfigMaps and every Deployment;
  secret-NAME.json  each Secret's data, as podman 4.3 reads a secret for
                secretKeyRef (`podman secret create NAME secret-NAME.json`:
                a JSON object of key to base64 value);
  pods.tsv      per Deployment: its name, the loopback address it serves on;
  skipped.txt   the kinds kube play cannot run (validated only).

kube play has no Services and no cluster DNS. Each pod therefore shares the
host's network (PostgreSQL, RabbitMQ and Redis answer on 127.0.0.1 there),
serves on a loopback address of its own (127.0.1.N: the chart's ports
unchanged, no pod in another's way), and reaches the Services the chart
names (the portal's intake, notification, routing, reporting and
escalation URLs) at the address of the pod behind each, set in its
environment (podman ignores hostAliases on the host's network); the
containers' port lists go (on the host's network they are where the
process listens anyway). Nothing else of the manifests changes: image,
arguments, environment from the Secret, the settings file, security
context, probes, volumes.
"""

import base64
import json
import sys

import yaml

out = sys.argv[1]
docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
secrets = [d for d in docs if d["kind"] == "Secret"]
for s in secrets:
    # podman reads `data`; the chart writes `stringData` (the API server
    # would convert it).
    data = {k: base64.b64encode(str(v).encode()).decode() for k, v in s.pop("stringData", {}).items()}
    s.setdefault("data", {}).update(data)
configmaps = [d for d in docs if d["kind"] == "ConfigMap" and "acikkapi.toml" in d.get("data", {})]
deployments = [d for d in docs if d["kind"] == "Deployment"]
jobs = [d for d in docs if d["kind"] == "Job"]
played = {"Secret", "ConfigMap", "Deployment", "Job"}
skipped = sorted({d["kind"] for d in docs} - played)

addr = {}
for i, d in enumerate(deployments):
    addr[d["metadata"]["name"]] = f"127.0.1.{i + 1}"
# The Services the chart points the portal at (config portal.*_url: the
# release's intake, notification, routing, reporting and escalation), by
# the address of the pod behind each: podman ignores hostAliases on the
# host's network, so cluster DNS is stood in for by these settings.
service_urls = []
for name, ip in addr.items():
    svc = name.removeprefix("acikkapi-")
    key = {"intake": "GRPC_URL"}.get(svc, f"{svc.upper()}_URL")
    if svc in ("intake", "notification", "routing", "reporting", "escalation"):
        service_urls.append({"name": f"ACIKKAPI__PORTAL__{key}", "value": f"http://{ip}:50051"})


def on_host(spec, ip):
    spec["hostNetwork"] = True
    for c in spec["containers"]:
        # On the host's network a container port is where the process
        # listens already; podman would try to publish it and refuses.
        c.pop("ports", None)
    if ip:
        env = spec["containers"][0].setdefault("env", [])
        env += [
            {"name": "ACIKKAPI__SERVER__GRPC_ADDR", "value": f"{ip}:50051"},
            {"name": "ACIKKAPI__SERVER__HTTP_ADDR", "value": f"{ip}:9464"},
            {"name": "ACIKKAPI__PORTAL__ADDR", "value": f"{ip}:8080"},
        ] + service_urls


for d in deployments:
    on_host(d["spec"]["template"]["spec"], addr[d["metadata"]["name"]])
    # One pod of each: kube play runs one; the HPA's replicas are not ours.
    d["spec"]["replicas"] = 1

pods = []
for j in jobs:
    tpl = j["spec"]["template"]
    on_host(tpl["spec"], None)
    pods.append({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": j["metadata"]["name"], "labels": tpl["metadata"].get("labels", {})},
        "spec": tpl["spec"],
    })

for sec in secrets:
    with open(f"{out}/secret-{sec['metadata']['name']}.json", "w") as f:
        json.dump(sec["data"], f)
with open(f"{out}/migrate.yaml", "w") as f:
    yaml.safe_dump_all(configmaps + pods, f)
with open(f"{out}/app.yaml", "w") as f:
    yaml.safe_dump_all(configmaps + deployments, f)
with open(f"{out}/pods.tsv", "w") as f:
    for name, ip in addr.items():
        f.write(f"{name}\t{ip}\n")
with open(f"{out}/skipped.txt", "w") as f:
    f.write(" ".join(skipped) + "\n")
