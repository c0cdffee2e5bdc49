#!/usr/bin/python3
"""One embedding lookup, operator by operator, in stock PyTorch (1 thread, warm
cache: the same ids every call): the FP32 bag, PyTorch's row-wise INT8 bag
operator, and the gather + unpack + FP32 bag path tzrec's INT8 tables take from
256 ids on. Microseconds per call for 1, 64 and 512 ids from a 2M x 16 table.

  /usr/bin/python3 bench/int8_lookup_ops.py
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
    packed = torch.ops.quantized.embedding_bag_byte_prepack(weight)
    print("| ids | FP32 bag, us | INT8 bag operator, us | INT8 gather + unpack + FP32 bag, us |")
    print("|---|---|---|---|")
    with torch.inference_mode():
        for n in (1, 64, 512):
            ids = torch.randint(0, weight.size(0), (n,))
            offsets = torch.arange(n)
            fp32 = per_call_us(lambda: torch.embedding_bag(weight, ids, offsets, False, 0, False, None, False))
            op = per_call_us(lambda: torch.ops.quantized.embedding_bag_byte_rowwise_offsets(
                packed, ids, offsets, False, 0, False, None, None, False))
            gather = per_call_us(lambda: torch.embedding_bag(
                torch.ops.quantized.embedding_bag_byte_unpack(torch.index_select(packed, 0, ids)),
                torch.arange(n), offsets, False, 0, False, None, False))
            print(f"| {n} | {fp32:.1f} | {op:.1f} | {gather:.1f} |")


if __name__ == "__main__":
    main()
