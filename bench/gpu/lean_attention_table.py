#!/usr/bin/env python3
"""Joins kvs_bench_lean_attention's JSON and sdpa_peer.py's JSON into one
markdown table (for bench/RESULTS.md): time and effective bandwidth (K/V bytes
read / time) of LeanAttention, our fixed split-K kernel, torch SDPA, and the
device-to-device copy bandwidth of the same bytes.

  python3 bench/gpu/lean_attention_table.py lean.json sdpa.json
"""
import json
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: lean_attention_table.py LEAN_JSON SDPA_JSON")
    lean, sdpa = (json.load(open(p)) for p in sys.argv[1:])
    peer = {r["shape"]: r for r in sdpa["results"]}
    print(f"Device: {lean['device']} ({lean['num_sms']} SMs); K/V {lean['kv_dtype']}; heads {lean['num_heads']}/"
          f"{lean['num_kv_heads']}, head_dim {lean['head_dim']}, block {lean['block_size']}; L2 flushed: "
          f"{lean['l2_flush']}; median of {lean['iters']}; SDPA backend {sdpa['backend']}, torch {sdpa['torch']}.")
    print()
    print("| shape | B | K/V MB | lean us | lean TB/s | split-K us | split-K TB/s (splits) | SDPA us | SDPA TB/s "
          "| copy TB/s | lean / SDPA | lean / copy | lean + token mass us |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in lean["results"]:
        p = peer.get(r["shape"], {})
        s_us, s_tbs = p.get("sdpa_us", float("nan")), p.get("sdpa_tb_per_s", float("nan"))
        s_note = "*" if p.get("gqa") == "expanded" else ""
        print(f"| {r['shape']} | {r['num_seqs']} | {r['kv_bytes'] / 1e6:.1f} | {r['lean_us']:.1f} | "
              f"{r['lean_tb_per_s']:.2f} | {r['splitk_us']:.1f} | {r['splitk_tb_per_s']:.2f} ({r['splitk_num_splits']}) "
              f"| {s_us:.1f}{s_note} | {s_tbs:.2f}{s_note} | {r['copy_tb_per_s']:.2f} | {s_us / r['lean_us']:.2f}x | "
              f"{r['lean_tb_per_s'] / r['copy_tb_per_s']:.0%} | {r['lean_with_token_mass_us']:.1f} |")
    if any(r.get("gqa") == "expanded" for r in sdpa["results"]):
        print()
        print("\\* SDPA backend refused enable_gqa: K/V expanded to every query head beforehand (not timed).")


if __name__ == "__main__":
    main()
