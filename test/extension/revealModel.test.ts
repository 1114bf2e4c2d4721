// Where "Reveal" shows a run: the OS file manager only in a local desktop window; elsewhere the
// Explorer (inside the workspace) or the clipboard (outside).
import * as assert from 'assert';
import { isInside, revealWay, type RevealContext } from '../../src/revealModel';

const desktop: RevealContext = { hasRevealInOS: true, remoteName: undefined, desktop: true, workspaceFolders: ['/ws'] };

describe('reveal: choosing the way', () => {
  it('uses the OS file manager in a local desktop window', () => {
    assert.strictEqual(revealWay('/ws/.lily/runs/a', desktop), 'os');
    assert.strictEqual(revealWay('/elsewhere/run', desktop), 'os');
  });

  it('falls back to the Explorer in remote and web windows (no revealFileInOS there) for paths in the workspace', () => {
    assert.strictEqual(revealWay('/ws/.lily/runs/a', { ...desktop, hasRevealInOS: false }), 'explorer');
    assert.strictEqual(revealWay('/ws/.lily/runs/a', { ...desktop, remoteName: 'ssh-remote' }), 'explorer', 'the OS command would open the local machine');
    assert.strictEqual(revealWay('/ws/.lily/runs/a', { ...desktop, desktop: false }), 'explorer');
  });

  it('copies the path when the Explorer cannot show it either', () => {
    assert.strictEqual(revealWay('/other/run', { ...desktop, remoteName: 'ssh-remote' }), 'clipboard');
    assert.strictEqual(revealWay('/wsx/run', { ...desktop, hasRevealInOS: false }), 'clipboard', 'a sibling folder sharing a prefix is outside');
  });

  it('tells inside from outside by path segments', () => {
    assert.ok(isInside('/ws', '/ws'));
    assert.ok(isInside('/ws', '/ws/a/b'));
    assert.ok(!isInside('/ws', '/ws2/a'));
    assert.ok(!isInside('/ws', '/'));
  });
});
