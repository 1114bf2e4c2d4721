// Mocha root hooks (loaded by .mocharc.json's `require`): remove the scratch folders the tests
// made with tempDir() once the whole run is over, after every file's own after() hooks.
import { removeTempDirs } from './tempDir';

export const mochaHooks = {
  afterAll(): void {
    removeTempDirs();
  },
};
