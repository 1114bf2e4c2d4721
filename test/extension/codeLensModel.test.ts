// The budget lens while a config is being edited: the field to fix, not a raw message.
import * as assert from 'assert';
import { budgetUnavailableTitle } from '../../src/codeLensModel';

describe('budget code lens text', () => {
  it('names the field to fix', () => {
    assert.strictEqual(budgetUnavailableTitle('adapter.r: expected an integer >= 1, found 0 (fix it to see the budget)'), 'Budget: fix adapter.r first');
    assert.strictEqual(budgetUnavailableTitle('adapter.target_modules[1]: "vlaue" matches no linear layer'), 'Budget: fix adapter.target_modules[1] first');
  });
  it('shortens anything else', () => {
    const t = budgetUnavailableTitle(`the backend stopped: ${'x'.repeat(200)}\nmore`);
    assert.ok(t.startsWith('Budget unavailable: the backend stopped: ') && t.length <= 100, t);
  });
});
