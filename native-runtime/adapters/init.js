"use strict";
// Seeded, deterministic initialisation of adapter tensors. Each tensor draws from its own
// stream, seeded by (seed, tensor name), so adding or reordering adapted layers never changes
// the initial values of the others and two runs with one seed start identically.
Object.defineProperty(exports, "__esModule", { value: true });
exports.mulberry32 = mulberry32;
exports.streamSeed = streamSeed;
exports.kaimingUniform = kaimingUniform;
/** mulberry32: a tiny 32-bit PRNG, good enough for weight initialisation. Returns [0, 1). */
function mulberry32(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}
/** FNV-1a hash of a string, mixed with the seed. */
function streamSeed(seed, name) {
    let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
    for (let i = 0; i < name.length; i++) {
        h ^= name.charCodeAt(i);
        h = Math.imul(h, 0x01000193) >>> 0;
    }
    // One extra round so that seeds differing in one bit give unrelated streams.
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    return h >>> 0;
}
/**
 * torch.nn.init.kaiming_uniform_(w, a=sqrt(5)) as torch.nn.Linear uses it: gain sqrt(2/(1+a^2)) =
 * sqrt(1/3), bound = gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in); values uniform in [-bound, bound).
 * `fanIn` is the input size of the torch Linear the tensor stands for (not necessarily dims[0]).
 */
function kaimingUniform(size, fanIn, seed, name) {
    const bound = 1 / Math.sqrt(fanIn);
    const rand = mulberry32(streamSeed(seed, name));
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++)
        out[i] = (rand() * 2 - 1) * bound;
    return out;
}
//# sourceMappingURL=init.js.map