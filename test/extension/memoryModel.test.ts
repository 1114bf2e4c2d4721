// The words for a config's expected peak memory (src/memoryModel.ts): the CodeLens / notification
// title says the total, what is available, whether checkpointing is on and whether it fits; the
// detail gives the parts, the checkpointed alternative and the options that would fit.
import * as assert from 'assert';
import { memorySummary } from '../../src/memoryModel';
import type { MemoryResult } from '../../native-runtime/protocol';

const MB = 2 ** 20;
const parts = (activations: number) => ({ weights: 2405 * MB, activations: activations * MB, logits: 159 * MB, adapter: 3 * MB, optimizer: 6 * MB, runtime: 160 * MB, total: (2405 + activations + 159 + 3 + 6 + 160) * MB });

describe('memory estimate summary', () => {
  it('fits, checkpointing off: the total, the parts and what checkpointing would need', () => {
    const r: MemoryResult = { estimate: parts(9916), available: { bytes: 18_000 * MB, source: 'available system memory' }, inputShapes: { input_ids: [4, 512] }, fits: true, gradientCheckpointing: false, withCheckpointing: parts(877) };
    const s = memorySummary(r);
    assert.strictEqual(s.title, 'Peak memory ≈ 12.4 GB of 17.6 GB available · gradient checkpointing off');
    assert.match(s.detail, /^Expected peak: weights 2,405 MB, activations 9,916 MB, logits 159 MB, adapter \+ optimizer 9 MB, runtime 160 MB\./);
    assert.match(s.detail, /With training\.gradient_checkpointing true: 3,610 MB \(activations 877 MB instead of 9,916 MB/);
    assert.strictEqual(s.fits, true);
  });

  it('does not fit: says so in the title and gives the refusal with its options', () => {
    const r: MemoryResult = { estimate: parts(877), available: { bytes: 3000 * MB, source: 'LILY_MEMORY_LIMIT_MB' }, inputShapes: {}, fits: false, overBudget: 'the run needs about 3610 MB ...; training.batch_size 2 (now 4) would fit', gradientCheckpointing: true };
    const s = memorySummary(r);
    assert.strictEqual(s.title, 'Peak memory ≈ 3,610 MB of 3,000 MB available · gradient checkpointing on · does not fit');
    assert.match(s.detail, /Does not fit: the run needs about 3610 MB .*training\.batch_size 2 \(now 4\) would fit\.$/);
    assert.doesNotMatch(s.detail, /With training\.gradient_checkpointing/);
    assert.strictEqual(s.fits, false);
  });
});
