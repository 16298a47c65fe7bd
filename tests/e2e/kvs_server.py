"""One `kvserve serve` process for end-to-end tests: the shared start-up helper.

Every e2e, soak and load test starts the real binary through this module:

    from kvs_server import Server
    with Server(binary, "--model", model, "--threads", "1") as server:
        server.client().completions.create(...)

`Server(binary, *args)` runs `<binary> serve --port P --grpc-port G *args` on free
loopback ports, logs to a temporary file, and returns once `GET /health` answers
200 (or raises with the log if the process exits or does not come up in time).
Not thread-safe to construct; `raw`, `metrics` and `client` may be called from
any thread (each call opens its own connection).
"""
import argparse
import http.client
import os
import signal
import socket
import subprocess
import tempfile
import sys
import time
import unittest


def parse_test_args(model_required=True):
    """An e2e script's command line: --binary (required) and --model; returns
    (args, the arguments left for unittest)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--model", required=model_required, default="")
    return parser.parse_known_args()


def run_tests(unittest_args):
    """Runs the calling script's tests verbosely; exits 0 only when all pass."""
    program = unittest.main(module="__main__", argv=[sys.argv[0], *unittest_args], verbosity=2, exit=False)
    sys.exit(0 if program.result.wasSuccessful() else 1)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `kvserve serve` process; `stop()` sends SIGTERM and returns the exit status."""

    def __init__(self, binary, *args, env=None, startup_timeout=120, grpc=True):
        self.port = free_port()
        self.grpc_port = free_port() if grpc else 0
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.command = [binary, "serve", "--port", str(self.port), "--grpc-port", str(self.grpc_port), *args]
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=None if env is None else {**os.environ, **env})
        try:
            self._wait_healthy(startup_timeout)
        except BaseException:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            raise

    def _wait_healthy(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited early:\n" + self.output())
            try:
                if self._http("GET", "/health", timeout=5)[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not come up:\n" + self.output())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def output(self):
        """The server's log so far (stdout and stderr)."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def raw(self, method, path, body=None, headers=None, timeout=60):
        """One HTTP request on a fresh connection: (status, headers dict, body bytes)."""
        return self._http(method, path, body, headers, timeout)

    def _http(self, method, path, body=None, headers=None, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            res = conn.getresponse()
            return res.status, dict(res.getheaders()), res.read()
        finally:
            conn.close()

    def model_id(self):
        import json
        return json.loads(self._http("GET", "/v1/models")[2])["data"][0]["id"]

    def client(self, key="EMPTY", **kw):
        """The official openai client for this server (no retries)."""
        import openai
        return openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0, **kw)

    def metric_samples(self):
        """Every /metrics sample as (name, labels dict, value)."""
        from prometheus_client.parser import text_string_to_metric_families
        status, _, body = self._http("GET", "/metrics")
        assert status == 200, status
        return [(s.name, s.labels, s.value) for f in text_string_to_metric_families(body.decode()) for s in f.samples]

    def metrics(self):
        """{name: value} of the samples without labels (or with `model_name` only)."""
        return {name: value for name, labels, value in self.metric_samples()
                if not labels or set(labels) == {"model_name"}}

    def metric_sum(self, name):
        """The sum of every sample of one series, whatever its labels."""
        return sum(value for n, _, value in self.metric_samples() if n == name)

    def wait_idle(self, timeout=20):
        """Waits until no request runs or waits and no KV block is in use; returns metrics()."""
        deadline = time.time() + timeout
        m = self.metrics()
        while time.time() < deadline:
            m = self.metrics()
            if (m.get("kvserve:kv_blocks_used") == 0 and m.get("vllm:num_requests_running") == 0
                    and m.get("vllm:num_requests_waiting") == 0 and m.get("kvserve:active_requests", 0) == 0):
                return m
            time.sleep(0.05)
        raise AssertionError(f"server not idle: {m}")

    def rss_bytes(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def stop(self, sig=signal.SIGTERM, timeout=120):
        """Signals the server (SIGTERM: drain) and returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
