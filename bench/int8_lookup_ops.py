#!/usr/bin/python3
"""One embedding lookup, operator by operator (1 thread, warm cache: the same
ids every call): the FP32 bag, PyTorch's row-wise INT8 and INT4 bag operators,
and the gather + unpack + FP32 bag path tzrec's quantized tables take for
large lookups where libtorch lacks FBGEMM (models/modules/embedding_table.cc).
Microseconds per call for 1, 64, 256, 512 and 4096 ids from a 2M x 16 table.

  /usr/bin/python3 bench/int8_lookup_ops.py        # Debian's torch 1.13, no FBGEMM
  $(scripts/venv.sh) bench/int8_lookup_ops.py      # stock torch 2.12, FBGEMM
"""
import time

import torch


def per_call_us(fn, calls=2000):
    for _ in range(50):
        fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def main():
    torch.set_num_threads(1)
    weight = torch.randn(2_000_000, 16)
    q = torch.ops.quantized
    packed = {"INT8": (q.embedding_bag_byte_prepack(weight), q.embedding_bag_byte_rowwise_offsets,
                       q.embedding_bag_byte_unpack),
              "INT4": (q.embedding_bag_4bit_prepack(weight, False, 200, 0.16), q.embedding_bag_4bit_rowwise_offsets,
                       q.embedding_bag_4bit_unpack)}
    print(f"torch {torch.__version__}, quantized engines {torch.backends.quantized.supported_engines}")
    print("| ids | FP32 bag, us | " + " | ".join(f"{k} bag operator, us | {k} gather + unpack + FP32 bag, us"
                                              for k in packed) + " |")
    print("|---|---|" + "---|---|" * len(packed))
    with torch.inference_mode():
        for n in (1, 64, 256, 512, 4096):
            ids = torch.randint(0, weight.size(0), (n,))
            offsets = torch.arange(n)
            row = [per_call_us(lambda: torch.embedding_bag(weight, ids, offsets, False, 0, False, None, False))]
            for table, op, unpack in packed.values():
                row.append(per_call_us(lambda: op(table, ids, offsets, False, 0, False, None, None, False)))
                row.append(per_call_us(lambda: torch.embedding_bag(
                    unpack(torch.index_select(table, 0, ids)), torch.arange(n), offsets, False, 0, False, None,
                    False)))
            print(f"| {n} | " + " | ".join(f"{v:.1f}" for v in row) + " |")


if __name__ == "__main__":
    main()
