"use strict";
// The `*.lily.json` config: the one source of truth. `npm run schema` generates the committed
// JSON Schema (schemas/lily.schema.json) from these types; a test fails when they drift.
// Doc comments become hover docs in VS Code, so write them for users.
// Field names in `adapter` follow PEFT (`r`, `stride_A`, `num_B`, ...), an ecosystem convention.
Object.defineProperty(exports, "__esModule", { value: true });
//# sourceMappingURL=types.js.map