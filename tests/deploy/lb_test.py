#!/usr/bin/env python3
"""Two kvserve replicas behind nginx, one of them stopped mid-run.

Starts two real `kvserve serve` CPU replicas and nginx (the Debian package)
with deploy/nginx/kvserve.conf.template (ports filled in), drives load through
nginx with kvserve-bench (non-streaming and streaming at once), and SIGTERMs
one replica while that load runs. Checks, per issue #10:
  - zero failed requests, streaming or not: nginx moves a request that the
    draining replica answers 503 (or whose connection it refuses) to the
    other replica;
  - the draining replica had requests in flight when it got SIGTERM, finished
    them, and exited cleanly;
  - once it is gone, every request (HTTP and gRPC through nginx) lands on the
    survivor, counted by the survivor's own /metrics.

Usage: lb_test.py --kvserve build/kvserve --bench build/kvserve-bench
                  --model MODEL --source-dir REPO [--nginx /usr/sbin/nginx]
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

ARGS = None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path, timeout=5):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as response:
        return response.status, response.read().decode()


def wait_until(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def render_template(text, values):
    """Fills ${NAME} placeholders like the nginx image's envsubst step."""
    missing = set(re.findall(r"\$\{([A-Z0-9_]+)\}", text)) - set(values)
    if missing:
        raise AssertionError(f"template placeholders without a value: {sorted(missing)}")
    return re.sub(r"\$\{([A-Z0-9_]+)\}", lambda m: str(values[m.group(1)]), text)


class Replica:
    def __init__(self, name, tmp):
        self.name = name
        self.port = free_port()
        self.grpc_port = free_port()
        self.log_path = os.path.join(tmp, f"{name}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [ARGS.kvserve, "serve", "--model", ARGS.model, "--port", str(self.port), "--grpc-port", str(self.grpc_port),
             "--threads", "1", "--max-num-seqs", "16", "--kv-cache-memory", "64MiB", "--drain-timeout", "60"],
            stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self):
        wait_until(lambda: self.proc.poll() is None and http_get(self.port, "/ready")[0] == 200, 120,
                   f"{self.name} ready")

    def successes(self):
        """Requests this replica finished (sum of vllm:request_success_total)."""
        _, text = http_get(self.port, "/metrics")
        return sum(float(m.group(1)) for m in
                   re.finditer(r"^vllm:request_success_total(?:\{[^}]*\})? ([0-9.e+]+)$", text, re.M))

    def output(self):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Nginx:
    def __init__(self, tmp, replicas):
        self.http_port = free_port()
        self.grpc_port = free_port()
        with open(os.path.join(ARGS.source_dir, "deploy", "nginx", "kvserve.conf.template")) as f:
            site = render_template(f.read(), {
                "KVSERVE_1_HTTP": f"127.0.0.1:{replicas[0].port}", "KVSERVE_2_HTTP": f"127.0.0.1:{replicas[1].port}",
                "KVSERVE_1_GRPC": f"127.0.0.1:{replicas[0].grpc_port}",
                "KVSERVE_2_GRPC": f"127.0.0.1:{replicas[1].grpc_port}",
                "NGINX_HTTP_PORT": f"127.0.0.1:{self.http_port}", "NGINX_GRPC_PORT": f"127.0.0.1:{self.grpc_port}"})
        site_path = os.path.join(tmp, "kvserve.conf")
        with open(site_path, "w") as f:
            f.write(site)
        # The main context a packaged nginx would have, kept inside tmp.
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp_paths = "".join(f"  {kind}_temp_path {tmp}/{kind};\n"
                             for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        conf_path = os.path.join(tmp, "nginx.conf")
        with open(conf_path, "w") as f:
            f.write(f"{user}worker_processes 1;\ndaemon off;\npid {tmp}/nginx.pid;\nerror_log {tmp}/nginx-error.log warn;\n"
                    f"events {{ worker_connections 1024; }}\n"
                    f"http {{\n  access_log {tmp}/nginx-access.log;\n{temp_paths}  include {site_path};\n}}\n")
        self.error_log = os.path.join(tmp, "nginx-error.log")
        subprocess.run([ARGS.nginx, "-t", "-p", tmp, "-c", conf_path], check=True, capture_output=True)
        self.proc = subprocess.Popen([ARGS.nginx, "-p", tmp, "-c", conf_path], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        wait_until(lambda: http_get(self.http_port, "/health")[0] == 200, 30, "nginx")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def bench(tmp, name, *extra):
    """Starts kvserve-bench; returns (process, result-json path)."""
    result = os.path.join(tmp, f"{name}.json")
    proc = subprocess.Popen([ARGS.bench, "--model", ARGS.served_name, "--seed", "7", "--result-json", result,
                             "--warmup-requests", "0", "--quiet", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, result


def finish(proc, result, timeout):
    output, _ = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"kvserve-bench exited {proc.returncode}:\n{output}")
    with open(result) as f:
        return json.load(f)["summary"], output


class LoadBalancedReplicas(unittest.TestCase):
    def test_sigterm_one_replica_under_load(self):
        tmp = tempfile.mkdtemp(prefix="kvs-lb-")
        replicas = [Replica("replica-a", tmp), Replica("replica-b", tmp)]
        nginx = None
        passed = False
        try:
            for replica in replicas:
                replica.wait_ready()
            nginx = Nginx(tmp, replicas)
            url = f"http://127.0.0.1:{nginx.http_port}"
            common = ["--url", url, "--dataset", "synthetic", "--input-len", "24", "--ignore-eos", "--duration", "20"]
            plain, plain_result = bench(tmp, "plain", *common, "--no-stream", "--concurrency", "4", "--output-len", "8")
            streams, streams_result = bench(tmp, "streams", *common, "--stream", "--concurrency", "2",
                                            "--endpoint", "chat", "--output-len", "48")
            # Let both replicas take load, then stop one while it serves.
            wait_until(lambda: replicas[0].successes() >= 3 and replicas[1].successes() >= 3, 60,
                       "both replicas serving")
            time.sleep(2)
            replicas[0].proc.send_signal(signal.SIGTERM)
            self.assertEqual(replicas[0].proc.wait(timeout=90), 0, replicas[0].output())

            plain_summary, plain_out = finish(plain, plain_result, 120)
            streams_summary, streams_out = finish(streams, streams_result, 120)
            for summary, out in ((plain_summary, plain_out), (streams_summary, streams_out)):
                self.assertEqual(summary["failed"], 0, out)
                self.assertGreater(summary["completed"], 0, out)
            print(f"non-streaming: {plain_summary['completed']} completed, 0 failed; "
                  f"streaming: {streams_summary['completed']} completed, 0 failed")

            # The drained replica had work in flight and finished it.
            drained = re.search(r"draining \((\d+) requests in flight\)", replicas[0].output())
            self.assertIsNotNone(drained, replicas[0].output())
            self.assertGreaterEqual(int(drained.group(1)), 1, "SIGTERM should land while requests run")
            self.assertNotIn("drain timeout", replicas[0].output())

            # With it gone, all traffic (HTTP and gRPC) lands on the survivor.
            before = replicas[1].successes()
            http_proc, http_result = bench(tmp, "after-http", "--url", url, "--no-stream", "--num-requests", "20",
                                           "--concurrency", "4", "--input-len", "16", "--output-len", "4",
                                           "--ignore-eos")
            http_summary, out = finish(http_proc, http_result, 120)
            self.assertEqual((http_summary["completed"], http_summary["failed"]), (20, 0), out)
            grpc_proc, grpc_result = bench(tmp, "after-grpc", "--grpc", f"127.0.0.1:{nginx.grpc_port}",
                                           "--num-requests", "10", "--concurrency", "2", "--input-len", "16",
                                           "--output-len", "4", "--ignore-eos")
            grpc_summary, out = finish(grpc_proc, grpc_result, 120)
            self.assertEqual((grpc_summary["completed"], grpc_summary["failed"]), (10, 0), out)
            self.assertEqual(replicas[1].successes() - before, 30)
            passed = True
        finally:
            if nginx:
                nginx.stop()
            for replica in replicas:
                replica.stop()
            if passed:
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                print(f"logs kept in {tmp}", file=sys.stderr)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--kvserve", required=True)
    parser.add_argument("--bench", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--served-name", default="SmolLM2-135M-Instruct.Q4_1")
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ARGS, rest = parser.parse_known_args()
    if not os.access(ARGS.nginx, os.X_OK):
        print(f"SKIP: nginx not found at {ARGS.nginx} (scripts/install-deps.sh installs it)")
        sys.exit(77)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
