"""The engine's seeded generator (native-runtime/train/rng.ts: xoshiro128** seeded through
splitmix32), bit for bit, so the torch backend shuffles the training data into exactly the order
the ONNX engine uses. test/torch/dataOrder.test.ts compares both."""

M32 = 0xFFFFFFFF


def _splitmix32(seed: int):
    state = seed & M32

    def nxt() -> int:
        nonlocal state
        state = (state + 0x9E3779B9) & M32
        z = state
        z = ((z ^ (z >> 16)) * 0x85EBCA6B) & M32
        z = ((z ^ (z >> 13)) * 0xC2B2AE35) & M32
        return (z ^ (z >> 16)) & M32

    return nxt


def _rotl(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & M32


class Rng:
    def __init__(self, *seeds: float):
        mixed = 0x6A09E667
        for x in seeds:
            lo = int(x) & M32  # Math.trunc(x) >>> 0
            hi = int(x / 4294967296) & M32
            mixed = (_splitmix32((mixed ^ lo) & M32)() ^ hi) & M32
            mixed = _splitmix32(mixed)()
        sm = _splitmix32(mixed)
        self.s = [sm(), sm(), sm(), sm()]
        if not any(self.s):
            self.s[0] = 1

    def next_uint32(self) -> int:
        s = self.s
        result = (_rotl((s[1] * 5) & M32, 7) * 9) & M32
        t = (s[1] << 9) & M32
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 11)
        return result

    def int(self, n: int) -> int:
        """Uniform integer in [0, n) without modulo bias (n <= 2**32, as the engine's datasets)."""
        limit = (4294967296 // n) * n
        while True:
            x = self.next_uint32()
            if x < limit:
                return x % n

    def shuffle(self, a: list) -> list:
        for i in range(len(a) - 1, 0, -1):
            j = self.int(i + 1)
            a[i], a[j] = a[j], a[i]
        return a


def epoch_permutation(n: int, seed: int, epoch: int) -> list:
    """A permutation of 0..n-1 that depends only on (seed, epoch), as plan.ts draws it."""
    return Rng(seed, epoch, 0x5EED).shuffle(list(range(n)))
