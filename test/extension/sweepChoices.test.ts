// "Lily: Sweep...": the grid's size, the runs-at-a-time choices with the CLI's thread split, and
// the arguments given to `lily sweep`.
import * as assert from 'assert';
import { gridProblem, gridSize, parallelChoices, sweepCliArgs } from '../../src/sweepChoices';

describe('extension: Lily: Sweep... choices', () => {
  it('counts the runs of a grid and refuses text that is not FIELD=V1,V2', () => {
    assert.strictEqual(gridSize('training.lr=1e-3,3e-3,1e-2  adapter.scaling=1,2'), 6);
    assert.strictEqual(gridSize('training.lr=1e-3'), 1);
    assert.strictEqual(gridProblem('training.lr=1e-3,3e-3 adapter.scaling=1,2'), undefined);
    assert.match(gridProblem('training.lr') ?? '', /FIELD\.PATH=V1,V2/);
    assert.match(gridProblem('  ') ?? '', /FIELD\.PATH=V1,V2/);
  });

  it('offers 1..min(runs, threads) at a time with floor(threads / N) threads each', () => {
    const c = parallelChoices(6, 8);
    assert.deepStrictEqual(c.map((x) => x.parallel), [1, 2, 3, 4, 5, 6]);
    assert.strictEqual(c[0].description, '6 runs, 8 threads each (8 / 1)');
    assert.strictEqual(c[2].description, '6 runs, 2 threads each (8 / 3)');
    assert.strictEqual(c[4].description, '6 runs, 1 thread each (8 / 5)');
    assert.deepStrictEqual(parallelChoices(6, 2).map((x) => x.parallel), [1, 2], 'no more at once than threads');
    assert.deepStrictEqual(parallelChoices(1, 16).map((x) => x.parallel), [1], 'no more at once than runs');
  });

  it('builds the lily sweep arguments (no --parallel for one at a time)', () => {
    assert.deepStrictEqual(sweepCliArgs('/w/a.lily.json', 'training.lr=1e-3,3e-3 adapter.scaling=1,2', { parallel: 2, threads: 4, device: 'cpu', maxSteps: 5 }),
      ['sweep', '/w/a.lily.json', '--grid', 'training.lr=1e-3,3e-3', 'adapter.scaling=1,2', '--parallel', '2', '--threads', '4', '--device', 'cpu', '--max-steps', '5']);
    assert.deepStrictEqual(sweepCliArgs('/w/a.lily.json', 'training.lr=1e-3', { parallel: 1 }), ['sweep', '/w/a.lily.json', '--grid', 'training.lr=1e-3']);
  });
});
