#!/usr/bin/env python3
"""Helper of scripts/gpu-check.sh on the device (standard library only: no xz
or zstd binary is assumed there).

  gpu_check.py unpack TAR_XZ DEST            extract the bundle's payload
  gpu_check.py unxz OUT PART...              decompress the concatenated parts of an .xz file
  gpu_check.py first-failed WORK BINARY      the test of BINARY to rerun under memcheck, or nothing
  gpu_check.py hung WORK BINARY              the test BINARY crashed or hung in, or nothing
  gpu_check.py report WORK OUT START MANIFEST
      writes OUT/report.md and OUT/results.json from WORK (steps.tsv, junit/,
      logs/, bench JSONs), prints a short summary as the last lines, and exits
      1 if a test binary failed, 2 if only another step failed, 0 otherwise
      (skips are not failures).
"""
import json
import lzma
import os
import re
import shutil
import sys
import tarfile
import time
import xml.etree.ElementTree as ET

TEST_BINS = ["kvs_gpu_tests", "kvs_gpu_parallel_tests", "kvs_gpu_engine_tests"]
RESULT = re.compile(r"^\[ +(OK|FAILED|SKIPPED) +\] (\S+?)(?:,.*)? \(\d+ ms\)$")
RUN = re.compile(r"^\[ RUN +\] (\S+)$")


def read(path, default=""):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return default


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def steps(work):
    out = {}
    for line in read(os.path.join(work, "steps.tsv")).splitlines():
        name, status, secs, limit = (line.split("\t") + ["", "", ""])[:4]
        out[name] = {"status": status, "seconds": int(secs or 0), "limit": int(limit or 0)}
    return out


def describe(status):
    if status.startswith("skipped"):
        return status
    rc = int(status)
    return {0: "ok", 1: "failed", 86: "memcheck errors", 124: "timed out", 137: "killed (timeout)",
            127: "did not start"}.get(
        rc, f"crashed (signal {rc - 128})" if rc > 128 else f"exit {rc}")


def test_results(work, binary):
    """(passed, failed, skipped, failed names) from the JUnit XML, else from the log."""
    xml_path = os.path.join(work, "junit", binary + ".xml")
    if os.path.exists(xml_path):
        try:
            passed = skipped = 0
            failed = []
            for case in ET.parse(xml_path).iter("testcase"):
                name = f"{case.get('classname')}.{case.get('name')}"
                if case.find("failure") is not None or case.find("error") is not None:
                    failed.append(name)
                elif case.get("result") == "skipped" or case.get("status") == "notrun" or case.find("skipped") is not None:
                    skipped += 1
                else:
                    passed += 1
            return passed, len(failed), skipped, failed
        except ET.ParseError:
            pass
    counts, failed, running = {"OK": 0, "SKIPPED": 0}, [], None
    for line in read(os.path.join(work, "logs", binary + ".log")).splitlines():
        if m := RUN.match(line):
            running = m.group(1)
        elif m := RESULT.match(line):
            running = None
            if m.group(1) == "FAILED":
                failed.append(m.group(2))
            else:
                counts[m.group(1)] += 1
    if running:  # crashed or timed out inside this test
        failed.append(running + " (did not finish)")
    return counts["OK"], len(failed), counts["SKIPPED"], failed


def first_skip_reason(work, binary):
    lines = read(os.path.join(work, "logs", binary + ".log")).splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.endswith(": Skipped") or line.endswith("Skipped"):
            return lines[i + 1].strip()
    return ""


def first_failed(work, binary, hung_only=False):
    """The test to rerun under memcheck: the one a crash stopped in, else the first
    failure (a test that hung comes last: memcheck would likely hang too).
    hung_only: only a test the binary crashed or hung in, to leave out of a rerun."""
    if not os.path.exists(os.path.join(work, "logs", binary + ".log")):
        return ""
    failed = test_results(work, binary)[3]
    unfinished = [n.split(" ")[0] for n in failed if n.endswith("(did not finish)")]
    finished = [n for n in failed if not n.endswith("(did not finish)")]
    if hung_only:
        return unfinished[0] if unfinished else ""
    timed_out = steps(work).get(binary, {}).get("status") in ("124", "137")
    order = finished + unfinished if timed_out else unfinished + finished
    return order[0] if order else ""


def sanitizer_findings(work, binary):
    log = read(os.path.join(work, "logs", f"sanitizer-{binary}.log"))
    lines = [ln for ln in log.splitlines() if ln.startswith("=========")]
    summary = next((ln for ln in reversed(lines) if "ERROR SUMMARY" in ln), "no ERROR SUMMARY line")
    return summary.replace("=========", "").strip(), lines[:40]


def engine_rows(work):
    peer = load_json(os.path.join(work, "hf_decode.json")) or {}
    by_batch = {r.get("batch"): r for r in peer.get("results", [])}
    rows = []
    for b in (1, 64):
        ours = load_json(os.path.join(work, f"engine_b{b}.json")) or {}
        hf = by_batch.get(b, {})
        row = {"batch": b, "ours_ms": ours.get("decode_step_ms"), "hf_ms": hf.get("decode_step_ms"),
               "ours_tok_s": ours.get("tokens_per_s"), "hf_tok_s": hf.get("tokens_per_s")}
        row["speedup"] = row["hf_ms"] / row["ours_ms"] if row["ours_ms"] and row["hf_ms"] else None
        rows.append(row)
    return rows, peer


def fmt(x, spec=".2f"):
    return "—" if x is None else format(x, spec)


def report(work, out, start, manifest):
    st = steps(work)
    wall = time.time() - float(start)
    device = read(os.path.join(work, "device.txt")).strip() or "unknown"
    model = read(os.path.join(work, "model.txt")).strip() or "unknown"
    md = [f"# GPU check, {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}", "",
          f"- device: {device}", f"- default model: {model}",
          f"- random models: {read(os.path.join(work, 'random_models.txt')).strip() or 'unknown'}",
          f"- bundle: {' / '.join(read(manifest).splitlines()[1:3]) or 'no MANIFEST'}",
          f"- wall time: {wall:.0f} s", "", "## Tests", "",
          "| binary | status | passed | failed | skipped | s |", "| --- | --- | --- | --- | --- | --- |"]
    results = {"device": device, "default_model": model, "wall_s": round(wall, 1), "tests": {}, "steps": st}
    test_failed = other_failed = False
    for b in [x for t in TEST_BINS for x in (t, t + "-rest")]:
        s = st.get(b)
        if s is None:
            continue
        status = describe(s["status"])
        p, f, k, names = test_results(work, b) if not s["status"].startswith("skipped") else (0, 0, 0, [])
        if not s["status"].startswith("skipped") and (s["status"] != "0" or f):
            test_failed = True
        results["tests"][b] = {"status": status, "passed": p, "failed": f, "skipped": k, "failed_tests": names}
        md.append(f"| {b} | {status} | {p} | {f} | {k} | {s['seconds']} |")
    has_gpu = not device.startswith("no GPU")
    for b, r in results["tests"].items():
        if r["failed_tests"]:
            md += ["", f"Failed in {b}: " + ", ".join(f"`{n}`" for n in r["failed_tests"])]
        if r["skipped"]:
            r["first_skip_reason"] = first_skip_reason(work, b)
            md += ["", f"Skipped in {b}: {r['skipped']}, the first because: {r['first_skip_reason'] or '?'}"]
        reason = r.get("first_skip_reason", "")
        if has_gpu and ("no CUDA device" in reason or "found 0" in reason):
            # e.g. a driver too old for CUDA 13: the tests see no device and skip
            r["status"] += " (NO DEVICE SEEN)"
            md.append(f"**{b}: tests saw no CUDA device although nvidia-smi sees a GPU** (driver? logs/{b}.log)")
            other_failed = True
    md += ["", "## compute-sanitizer (memcheck) on the first failure", ""]
    any_san = False
    for b in TEST_BINS:
        test = read(os.path.join(work, "logs", f"sanitizer-{b}.test")).strip()
        if not test:
            continue
        any_san = True
        s = st.get(f"sanitizer-{b}", {"status": "skipped: not run"})
        summary, lines = sanitizer_findings(work, b)
        results.setdefault("sanitizer", {})[b] = {"test": test, "status": describe(s["status"]), "summary": summary}
        md += [f"- {b} `{test}`: {describe(s['status'])}; {summary}"]
        if lines:
            md += ["", "```", *lines, "```", ""]
    if not any_san:
        md.append("- nothing failed, nothing rerun")
    md += ["", "## Benchmarks", ""]
    for key, title, table in (("bench-lean", "LeanAttention decode vs split-K vs copy vs SDPA", "bench_lean"),
                              ("bench-prefill", "Varlen prefill attention vs SDPA", "bench_prefill")):
        s = st.get(key, {"status": "skipped: not run"})
        md += [f"### {title}: {describe(s['status'])}", ""]
        if s["status"] != "0" and not s["status"].startswith("skipped"):
            other_failed = True
        body = read(os.path.join(work, table, "table.md")).strip()
        md += [body or f"(no table; logs/{key}.log)", ""]
    rows, peer = engine_rows(work)
    results["engine_decode"] = {"rows": rows, "peer_method": peer.get("method"), "peer_errors": peer.get("errors")}
    md += ["### Engine decode, random Llama-3.2-1B bf16, context 512, 64 steps", "",
           "steps: " + ", ".join(f"{k} {describe(st.get(k, {'status': 'skipped: not run'})['status'])}"
                                 for k in ("engine-b1", "engine-b64", "hf-peer")), "",
           "| batch | ours ms/step | HF ms/step | ours tok/s | HF tok/s | speed-up (HF ms / ours ms) |",
           "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        md.append(f"| {r['batch']} | {fmt(r['ours_ms'], '.3f')} | {fmt(r['hf_ms'], '.3f')} | {fmt(r['ours_tok_s'], '.0f')} "
                  f"| {fmt(r['hf_tok_s'], '.0f')} | {fmt(r['speedup'])} |")
    md += ["", f"Peer: transformers {peer.get('versions', {}).get('transformers', '?')}, {peer.get('method', 'not run')}"]
    for e in peer.get("errors") or []:
        md.append(f"- peer error ({e.get('stage')}): {e.get('error')}")
    for k in ("engine-b1", "engine-b64", "hf-peer"):
        s = st.get(k, {"status": "skipped"})["status"]
        other_failed |= s != "0" and not s.startswith("skipped")
    md += ["", "## Steps", "", "| step | status | s | limit s |", "| --- | --- | --- | --- |"]
    md += [f"| {k} | {describe(v['status'])} | {v['seconds']} | {v['limit']} |" for k, v in st.items()]
    rc = 1 if test_failed else 2 if other_failed else 0
    results["exit_code"] = rc
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    # The summary: the last lines of stdout.
    print(f"\n== gpu-check summary ({out}/report.md, logs in {out}/logs.tar.gz)")
    print(f"device: {device.splitlines()[0] if device else '?'}")
    print(f"default model: {model}")
    for b, r in results["tests"].items():
        print(f"{b:28s} {r['status']:18s} passed {r['passed']:3d}  failed {r['failed']:3d}  skipped {r['skipped']:3d}")
    for k in ("bench-lean", "bench-prefill", "engine-b1", "engine-b64", "hf-peer"):
        print(f"{k:28s} {describe(st.get(k, {'status': 'skipped: not run'})['status'])}")
    for r in rows:
        if r["ours_ms"] or r["hf_ms"]:
            print(f"decode batch {r['batch']:<3d}             ours {fmt(r['ours_ms'], '.3f')} ms  HF {fmt(r['hf_ms'], '.3f')} ms"
                  f"  speed-up {fmt(r['speedup'])}")
    print(f"wall {wall:.0f} s; exit {rc} ({'test failed' if rc == 1 else 'a step failed' if rc == 2 else 'ok'})")
    return rc


def unpack(tar_xz, dest):
    with tarfile.open(tar_xz, "r:xz") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:
            tar.extractall(dest)
    return 0


def unxz(out, parts):
    """The parts are consecutive pieces of one .xz stream."""
    class Joined:
        def __init__(self, paths):
            self.files = [open(p, "rb") for p in paths]

        def read(self, n=-1):
            while self.files:
                data = self.files[0].read(n)
                if data:
                    return data
                self.files.pop(0).close()
            return b""

    with lzma.open(Joined(parts)) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 22)
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "unpack":
        return unpack(argv[2], argv[3])
    if len(argv) >= 4 and argv[1] == "unxz":
        return unxz(argv[2], argv[3:])
    if len(argv) == 4 and argv[1] in ("first-failed", "hung"):
        print(first_failed(argv[2], argv[3], hung_only=argv[1] == "hung"))
        return 0
    if len(argv) == 6 and argv[1] == "report":
        return report(*argv[2:6])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
