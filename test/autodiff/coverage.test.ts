// Every op the engine knows has a gradient rule or an explicit non-differentiable mark, and
// every rule is exercised by at least one finite-difference case.
import { strict as assert } from 'assert';
import { KNOWN_OPS, NON_DIFFERENTIABLE, RULES } from '../../native-runtime/autodiff';
import { CASES } from './cases';
import { buildForward } from './helpers/gradcheck';

describe('autodiff: rule coverage', () => {
  it('every known op has a rule or a non-differentiable mark, not both', () => {
    const missing = KNOWN_OPS.filter((op) => !RULES[op] && !NON_DIFFERENTIABLE.has(op));
    assert.deepEqual(missing, [], `ops with neither a rule nor a mark: ${missing.join(', ')}`);
    const both = KNOWN_OPS.filter((op) => RULES[op] && NON_DIFFERENTIABLE.has(op));
    assert.deepEqual(both, [], `ops both differentiable and marked non-differentiable: ${both.join(', ')}`);
  });

  it('every rule and every mark is listed among the known ops', () => {
    const known = new Set(KNOWN_OPS);
    const unlisted = [...Object.keys(RULES), ...NON_DIFFERENTIABLE].filter((op) => !known.has(op));
    assert.deepEqual(unlisted, []);
  });

  it('every rule has at least one finite-difference case', () => {
    const exercised = new Set<string>();
    for (const c of CASES) for (const n of buildForward(c, 'float64').model.graph.nodes) exercised.add(n.opType);
    const untested = Object.keys(RULES).filter((op) => !exercised.has(op));
    assert.deepEqual(untested, [], `rules without a finite-difference case: ${untested.join(', ')}`);
  });
});
