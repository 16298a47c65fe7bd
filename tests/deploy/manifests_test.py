#!/usr/bin/env python3
"""Offline checks of deploy/: Kubernetes manifests, compose file, nginx template.

Schema: every Kubernetes object is validated (strict: unknown fields fail)
against the official OpenAPI schemas that the kubernetes-validate package
carries, for Kubernetes 1.31. Consistency: probe paths are routes the server
registers, probe/Service/port names and numbers agree with the container's
environment, the termination grace period covers preStop + drain_timeout,
the ConfigMap equals configs/serve-default.json and holds only keys
`kvserve serve --config` accepts, selectors match the pod labels, the HPA's
metric is the adapter rule's output and that rule reads a metric the server
exports. The compose file and nginx template get the same treatment.

Usage: manifests_test.py --source-dir REPO --binary build/kvserve
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

import kubernetes_validate
import yaml

ARGS = None
K8S_VERSION = "1.31.0"


def source(*parts):
    return os.path.join(ARGS.source_dir, *parts)


def read(*parts):
    with open(source(*parts), encoding="utf-8") as f:
        return f.read()


def load_k8s_objects():
    objects = []
    for name in sorted(os.listdir(source("deploy", "k8s"))):
        if name.endswith(".yaml") and name != "kustomization.yaml":
            for doc in yaml.safe_load_all(read("deploy", "k8s", name)):
                if doc:
                    objects.append((name, doc))
    return objects


def server_routes():
    """GET routes the HTTP server registers (server_.Get("/path", ...))."""
    text = "".join(read("server", "http", f) for f in os.listdir(source("server", "http")) if f.endswith(".cpp"))
    return set(re.findall(r'server_\.Get\("([^"]+)"', text))


def parse_duration_seconds(text):
    match = re.fullmatch(r"(\d+)(s|m)", str(text))
    if not match:
        raise ValueError(f"unparsed duration {text!r}")
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


class KubernetesManifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.objects = load_k8s_objects()
        cls.by_kind = {}
        for _, obj in cls.objects:
            cls.by_kind.setdefault(obj["kind"], []).append(obj)
        cls.deployment = cls.by_kind["Deployment"][0]
        cls.pod = cls.deployment["spec"]["template"]
        cls.container = next(c for c in cls.pod["spec"]["containers"] if c["name"] == "kvserve")
        cls.config = json.loads(next(c for c in cls.by_kind["ConfigMap"]
                                     if c["metadata"]["name"] == "kvserve-config")["data"]["serve.json"])

    def test_every_object_passes_the_kubernetes_schema(self):
        kinds = set()
        for name, obj in self.objects:
            with self.subTest(file=name, kind=obj.get("kind")):
                kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
                kinds.add(obj["kind"])
        self.assertTrue({"Deployment", "Service", "PodDisruptionBudget", "ConfigMap",
                         "HorizontalPodAutoscaler"} <= kinds, kinds)

    def test_kustomization_lists_every_manifest(self):
        listed = set(yaml.safe_load(read("deploy", "k8s", "kustomization.yaml"))["resources"])
        files = {n for n, _ in self.objects if n != "prometheus-adapter-rules.yaml"}
        self.assertEqual(listed, files)

    def test_configmap_is_configs_serve_default(self):
        self.assertEqual(self.config, json.loads(read("configs", "serve-default.json")))

    def test_configmap_is_accepted_by_the_server(self):
        # kvserve rejects unknown keys and bad values before loading a model;
        # a missing model file is the first thing it finds after the config.
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "serve.json")
            with open(path, "w") as f:
                json.dump(self.config, f)
            run = subprocess.run([ARGS.binary, "serve", "--config", path, "--model", os.path.join(tmp, "absent.gguf")],
                                 capture_output=True, text=True, timeout=60)
        output = run.stdout + run.stderr
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("absent.gguf", output, output)
        self.assertNotRegex(output.lower(), r"unknown (key|option)|invalid", output)

    def test_ports_and_probes_agree_with_the_server(self):
        env = {e["name"]: e["value"] for e in self.container["env"]}
        ports = {p["name"]: p["containerPort"] for p in self.container["ports"]}
        self.assertEqual(ports["http"], int(env["KVSERVE_PORT"]))
        self.assertEqual(ports["grpc"], int(env["KVSERVE_GRPC_PORT"]))
        routes = server_routes()
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            with self.subTest(probe=probe):
                get = self.container[probe]["httpGet"]
                self.assertIn(get["path"], routes)
                self.assertIn(get["port"], ports)
        self.assertEqual(self.container["readinessProbe"]["httpGet"]["path"], "/ready")
        annotations = self.pod["metadata"]["annotations"]
        self.assertEqual(int(annotations["prometheus.io/port"]), ports["http"])
        self.assertIn(annotations["prometheus.io/path"], routes)

    def test_grace_period_covers_prestop_and_drain(self):
        grace = self.pod["spec"]["terminationGracePeriodSeconds"]
        pre_stop = self.container["lifecycle"]["preStop"]["exec"]["command"]
        self.assertEqual(pre_stop[0], "sleep")
        self.assertGreaterEqual(grace, float(self.config["drain_timeout"]) + float(pre_stop[1]))

    def test_cpu_image_asks_for_no_gpu_and_not_root(self):
        for container in self.pod["spec"]["containers"] + self.pod["spec"]["initContainers"]:
            self.assertEqual(container["image"], "kvserve:cpu")
        self.assertNotIn("nvidia.com/gpu", self.container["resources"].get("limits", {}))
        self.assertNotIn("nvidia.com/gpu", self.container["resources"].get("requests", {}))
        self.assertTrue(self.pod["spec"]["securityContext"]["runAsNonRoot"])
        self.assertNotEqual(self.pod["spec"]["securityContext"]["runAsUser"], 0)

    def test_gpu_overlay_gives_the_cuda_image_one_gpu(self):
        overlay = yaml.safe_load(read("deploy", "k8s", "gpu", "kustomization.yaml"))
        self.assertEqual(overlay["resources"], [".."])
        patch = yaml.safe_load(read("deploy", "k8s", "gpu", overlay["patches"][0]["path"]))
        self.assertEqual((patch["kind"], patch["metadata"]["name"]), ("Deployment", self.deployment["metadata"]["name"]))
        # Apply the strategic-merge patch (containers merge by name) and validate the result.
        merged = json.loads(json.dumps(self.deployment))
        spec = merged["spec"]["template"]["spec"]
        for key in ("containers", "initContainers"):
            for change in patch["spec"]["template"]["spec"][key]:
                target = next(c for c in spec[key] if c["name"] == change["name"])
                target["image"] = change["image"]
                if "resources" in change:
                    target["resources"]["limits"].update(change["resources"]["limits"])
        kubernetes_validate.validate(merged, K8S_VERSION, strict=True)
        kvserve = next(c for c in spec["containers"] if c["name"] == "kvserve")
        self.assertEqual(kvserve["image"], "kvserve:cuda")
        self.assertEqual(kvserve["resources"]["limits"]["nvidia.com/gpu"], 1)
        self.assertEqual({c["image"] for c in spec["initContainers"]}, {"kvserve:cuda"})

    def test_service_pdb_and_hpa_point_at_the_deployment(self):
        labels = self.pod["metadata"]["labels"]
        self.assertEqual(self.deployment["spec"]["selector"]["matchLabels"], labels)
        service = self.by_kind["Service"][0]
        self.assertEqual(service["spec"]["selector"], labels)
        names = {p["name"] for p in self.container["ports"]}
        for port in service["spec"]["ports"]:
            self.assertIn(port["targetPort"], names)
        self.assertEqual(self.by_kind["PodDisruptionBudget"][0]["spec"]["selector"]["matchLabels"], labels)
        hpa = self.by_kind["HorizontalPodAutoscaler"][0]
        self.assertEqual(hpa["spec"]["scaleTargetRef"]["name"], self.deployment["metadata"]["name"])
        self.assertEqual(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment")
        self.assertGreaterEqual(hpa["spec"]["minReplicas"],
                                self.by_kind["PodDisruptionBudget"][0]["spec"]["minAvailable"] + 1)

    def test_hpa_metric_comes_from_a_metric_the_server_exports(self):
        hpa = self.by_kind["HorizontalPodAutoscaler"][0]
        metric = hpa["spec"]["metrics"][0]["pods"]["metric"]["name"]
        adapter = next(c for c in self.by_kind["ConfigMap"] if c["metadata"]["name"] == "prometheus-adapter-kvserve")
        rules = yaml.safe_load(adapter["data"]["config.yaml"])["rules"]
        rule = next(r for r in rules if r["name"]["as"] == metric)
        series = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)", rule["seriesQuery"]).group(1)
        self.assertIn(f'"{series}"', read("server", "metrics", "server_metrics.cpp"))


class ComposeAndNginx(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.compose = yaml.safe_load(read("deploy", "compose", "compose.yaml"))
        cls.gpu = yaml.safe_load(read("deploy", "compose", "compose.gpu.yaml"))
        cls.template = read("deploy", "nginx", "kvserve.conf.template")
        cls.config = json.loads(read("configs", "serve-default.json"))

    def test_two_replicas_behind_nginx_with_every_placeholder_set(self):
        services = self.compose["services"]
        self.assertIn("kvserve-1", services)
        self.assertIn("kvserve-2", services)
        placeholders = set(re.findall(r"\$\{([A-Z0-9_]+)\}", self.template))
        env = services["nginx"]["environment"]
        self.assertEqual(placeholders, set(env))
        for replica in ("kvserve-1", "kvserve-2"):
            port = services[replica]["environment"]["KVSERVE_PORT"]
            grpc_port = services[replica]["environment"]["KVSERVE_GRPC_PORT"]
            self.assertIn(f"{replica}:{port}", env.values())
            self.assertIn(f"{replica}:{grpc_port}", env.values())

    def test_stop_grace_covers_drain_and_health_check_is_a_route(self):
        for replica in ("kvserve-1", "kvserve-2"):
            service = self.compose["services"][replica]
            self.assertGreaterEqual(parse_duration_seconds(service["stop_grace_period"]), self.config["drain_timeout"])
            url = service["healthcheck"]["test"][-1]
            self.assertIn(re.sub(r"^https?://[^/]+", "", url), server_routes())

    def test_gpu_override_gives_each_replica_its_own_gpu(self):
        ids = [self.gpu["services"][r]["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"]
               for r in ("kvserve-1", "kvserve-2")]
        self.assertNotEqual(ids[0], ids[1])

    def test_nginx_settings_suit_streaming_and_retries(self):
        for directive in ("least_conn;", "proxy_buffering off;", "proxy_read_timeout 3600s;",
                          "proxy_next_upstream error timeout http_502 http_503 non_idempotent;",
                          "grpc_pass grpc://kvserve_grpc;", "http2;"):
            self.assertIn(directive, self.template)

    def test_dockerfiles_run_the_readme_scripts(self):
        for name in ("Dockerfile.cpu", "Dockerfile.cuda"):
            text = read("deploy", "docker", name)
            with self.subTest(image=name):
                self.assertIn("scripts/install-deps.sh", text)
                self.assertIn("scripts/build.sh", text)
                self.assertIn("scripts/fetch-model.sh", text)
                self.assertRegex(text, r"\nUSER kvserve\n")
                self.assertIn("HEALTHCHECK", text)
                self.assertEqual(text.count("\nFROM "), 2, "multi-stage: build and runtime")
        self.assertIn("scripts/fetch-model.sh", read("deploy", "docker", "entrypoint.sh"))


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--binary", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
